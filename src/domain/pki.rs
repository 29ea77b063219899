//! The portal's OpenVPN CA: made on first start, kept sealed in PostgreSQL, opened at ignite.
use crate::store::{self, pki::PkiRow};
use crate::vault::{Vault, VaultError};
use crate::vpn::openvpn::{self, Ca, PkiError};
use sha2::Digest;
use sqlx::PgPool;

const CA_KEY: &str = "pki:ca-key";
const TLS_CRYPT_KEY: &str = "pki:tls-crypt-key";

pub struct Pki {
    pub ca: Ca,
    pub ca_cert_pem: String,
    pub tls_crypt_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PkiSetupError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Pki(#[from] PkiError),
}

pub async fn load_or_create(pool: &PgPool, vault: &Vault) -> Result<Pki, PkiSetupError> {
    if store::pki::get(pool).await?.is_none() {
        let ca = openvpn::new_ca()?;
        let row = PkiRow {
            ca_cert_pem: ca.cert_pem,
            ca_key_sealed: vault.seal(ca.key_pem.as_bytes(), CA_KEY),
            tls_crypt_key_sealed: vault.seal(openvpn::new_tls_crypt_key().as_bytes(), TLS_CRYPT_KEY),
        };
        store::pki::insert_if_absent(pool, &row).await?;
        log::info!(event = "ca_created"; "ca_created");
    }
    let row = store::pki::get(pool).await?.ok_or(sqlx::Error::RowNotFound)?;
    Ok(Pki {
        ca: Ca::from_key_pem(&vault.open_string(&row.ca_key_sealed, CA_KEY)?)?,
        ca_cert_pem: row.ca_cert_pem,
        tls_crypt_key: vault.open_string(&row.tls_crypt_key_sealed, TLS_CRYPT_KEY)?,
    })
}

/// The current CRL of every revoked client certificate, with a weak ETag over what it says.
/// It is issued afresh each day (valid a week), so a node that polls with the ETag picks up a
/// new one daily even when nothing was revoked; its number grows with time and revocations.
pub async fn crl_pem(pool: &PgPool, pki: &Pki) -> Result<(String, String), PkiSetupError> {
    let revoked = store::clients::revoked_serials(pool).await?;
    let today = time::OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT);
    let latest = revoked.iter().map(|(_, at)| *at).max().unwrap_or(today).max(today);
    let number = latest.unix_timestamp().max(1) as u64;
    let mut digest = sha2::Sha256::new();
    for (serial, at) in &revoked {
        digest.update(format!("{serial}@{}\n", at.unix_timestamp()));
    }
    digest.update(number.to_be_bytes());
    let etag = format!("W/\"{}\"", hex::encode(&digest.finalize()[..16]));
    Ok((etag, pki.ca.crl(number, today, &revoked, 7)?))
}
