//! The portal's OpenVPN PKI (rcgen): its CA, node server certificates, one client certificate
//! per client, the CRL of revoked clients, the tls-crypt key, and `.ovpn` files.
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams,
    SerialNumber,
};
use std::fmt::Write;
use time::{Duration, OffsetDateTime};

pub const CA_NAME: &str = "Phaze Portal VPN CA";
pub const CLIENT_CERT_DAYS: i64 = 825;
pub const SERVER_CERT_DAYS: i64 = 825;
const CA_DAYS: i64 = 3650;

#[derive(Debug, thiserror::Error)]
#[error("certificate authority: {0}")]
pub struct PkiError(#[from] rcgen::Error);

/// A certificate and its private key, both PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    /// Hex, as the CRL and `openssl x509 -serial` show it.
    pub serial: String,
}

/// The parameters the CA was made with: an issuer is rebuilt from them and the CA key.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    dn.push(DnType::OrganizationName, "Phaze Portal");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.key_identifier_method = KeyIdMethod::Sha256;
    params
}

fn random_serial() -> (SerialNumber, String) {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("OS random source");
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // no leading zero byte, so the hex is stable
    (SerialNumber::from_slice(&bytes), hex::encode_upper(bytes))
}

/// A new CA: self-signed, ten years.
pub fn new_ca() -> Result<Issued, PkiError> {
    let key = KeyPair::generate()?;
    let mut params = ca_params();
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(CA_DAYS);
    let (serial_number, serial) = random_serial();
    params.serial_number = Some(serial_number);
    let cert = params.self_signed(&key)?;
    Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem(), serial })
}

pub struct Ca {
    key: KeyPair,
}

impl Ca {
    pub fn from_key_pem(ca_key_pem: &str) -> Result<Ca, PkiError> {
        Ok(Ca { key: KeyPair::from_pem(ca_key_pem)? })
    }

    fn issue(
        &self,
        common_name: &str,
        days: i64,
        usage: ExtendedKeyUsagePurpose,
        sans: Vec<String>,
    ) -> Result<Issued, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(sans)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(days);
        let (serial_number, serial) = random_serial();
        params.serial_number = Some(serial_number);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyAgreement];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let issuer = Issuer::new(ca_params(), &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem(), serial })
    }

    /// A client certificate: CN = the client's id, clientAuth only.
    pub fn issue_client(&self, client_id: &str) -> Result<Issued, PkiError> {
        self.issue(client_id, CLIENT_CERT_DAYS, ExtendedKeyUsagePurpose::ClientAuth, vec![])
    }

    /// A node's server certificate: CN and SAN = its host name, serverAuth only.
    pub fn issue_server(&self, host: &str) -> Result<Issued, PkiError> {
        self.issue(host, SERVER_CERT_DAYS, ExtendedKeyUsagePurpose::ServerAuth, vec![host.to_owned()])
    }

    /// The CRL of the given (serial hex, revoked at) pairs, issued at `this_update` and valid
    /// for `days` after it.
    pub fn crl(
        &self,
        crl_number: u64,
        this_update: OffsetDateTime,
        revoked: &[(String, OffsetDateTime)],
        days: i64,
    ) -> Result<String, PkiError> {
        let params = CertificateRevocationListParams {
            this_update,
            next_update: this_update + Duration::days(days),
            crl_number: SerialNumber::from(crl_number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .filter_map(|(serial, at)| {
                    Some(RevokedCertParams {
                        serial_number: SerialNumber::from_slice(&hex::decode(serial).ok()?),
                        revocation_time: *at,
                        reason_code: Some(RevocationReason::CessationOfOperation),
                        invalidity_date: None,
                    })
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&Issuer::new(ca_params(), &self.key))?.pem()?)
    }
}

/// A tls-crypt key: 256 random bytes in OpenVPN's static key file format.
pub fn new_tls_crypt_key() -> String {
    let mut key = [0u8; 256];
    getrandom::fill(&mut key).expect("OS random source");
    let mut out = String::from("-----BEGIN OpenVPN Static key V1-----\n");
    for line in key.chunks(16) {
        let _ = writeln!(out, "{}", hex::encode(line));
    }
    out.push_str("-----END OpenVPN Static key V1-----\n");
    out
}

pub struct ClientProfile<'a> {
    pub remote_host: &'a str,
    pub remote_port: u16,
    pub ca_pem: &'a str,
    pub cert_pem: &'a str,
    pub key_pem: &'a str,
    pub tls_crypt_key: &'a str,
}

/// A client's `NAME.ovpn`, everything inline.
pub fn client_profile(p: &ClientProfile) -> String {
    format!(
        "# Phaze VPN (OpenVPN)\nclient\ndev tun\nproto udp\nremote {} {}\nresolv-retry infinite\nnobind\npersist-key\npersist-tun\n\
         remote-cert-tls server\nverify-x509-name {} name\ncipher AES-256-GCM\ndata-ciphers AES-256-GCM:CHACHA20-POLY1305\n\
         auth SHA256\ntls-version-min 1.2\nverb 3\n<ca>\n{}</ca>\n<cert>\n{}</cert>\n<key>\n{}</key>\n<tls-crypt>\n{}</tls-crypt>\n",
        p.remote_host,
        p.remote_port,
        p.remote_host,
        ensure_newline(p.ca_pem),
        ensure_newline(p.cert_pem),
        ensure_newline(p.key_pem),
        ensure_newline(p.tls_crypt_key),
    )
}

/// A node's `server.conf`, with its files beside it (ca.crt, server.crt, server.key,
/// tls-crypt.key, crl.pem) and `ccd/`, one file per client the portal lists (`ccd-exclusive`:
/// a client without one is refused, so a client that leaves the peers list cannot connect).
pub fn server_config(port: u16, network: std::net::Ipv4Addr, netmask: std::net::Ipv4Addr) -> String {
    format!(
        "port {port}\nproto udp\ndev tun\ntopology subnet\nserver {network} {netmask}\n\
         ca ca.crt\ncert server.crt\nkey server.key\ntls-crypt tls-crypt.key\ncrl-verify crl.pem\ndh none\n\
         client-config-dir ccd\nccd-exclusive\n\
         cipher AES-256-GCM\ndata-ciphers AES-256-GCM:CHACHA20-POLY1305\nauth SHA256\ntls-version-min 1.2\n\
         remote-cert-tls client\nkeepalive 10 60\npersist-key\npersist-tun\nverb 3\n"
    )
}

/// A client's `ccd/COMMON_NAME` file: the address the portal assigned to it.
pub fn ccd_entry(address: std::net::Ipv4Addr, netmask: std::net::Ipv4Addr) -> String {
    format!("ifconfig-push {address} {netmask}\n")
}

fn ensure_newline(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_owned()
    } else {
        format!("{s}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_issues_client_and_server_certs_and_a_crl() {
        let ca_issued = new_ca().unwrap();
        assert!(ca_issued.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let ca = Ca::from_key_pem(&ca_issued.key_pem).unwrap();
        let client = ca.issue_client("0f8e1c2a-client").unwrap();
        let server = ca.issue_server("vpn.example.com").unwrap();
        assert_ne!(client.serial, server.serial);
        assert_eq!(client.serial.len(), 32);
        let crl =
            ca.crl(1, OffsetDateTime::now_utc(), &[(client.serial.clone(), OffsetDateTime::now_utc())], 7).unwrap();
        assert!(crl.starts_with("-----BEGIN X509 CRL-----"));
        let key = new_tls_crypt_key();
        assert_eq!(key.lines().count(), 18);
        let ovpn = client_profile(&ClientProfile {
            remote_host: "vpn.example.com",
            remote_port: 1194,
            ca_pem: &ca_issued.cert_pem,
            cert_pem: &client.cert_pem,
            key_pem: &client.key_pem,
            tls_crypt_key: &key,
        });
        for tag in ["<ca>", "</ca>", "<cert>", "<key>", "<tls-crypt>", "remote vpn.example.com 1194"] {
            assert!(ovpn.contains(tag), "{tag}");
        }
    }
}
