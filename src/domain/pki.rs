//! The portal's OpenVPN CA: made on first start, kept sealed in PostgreSQL, opened at ignite.
use crate::store::{self, pki::PkiRow};
use crate::vault::{Vault, VaultError};
use crate::vpn::openvpn::{self, Ca, PkiError};
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

/// The current CRL: every revoked client certificate.
pub async fn crl_pem(pool: &PgPool, pki: &Pki) -> Result<String, PkiSetupError> {
    let revoked = store::clients::revoked_serials(pool).await?;
    let number = time::OffsetDateTime::now_utc().unix_timestamp().max(1) as u64;
    Ok(pki.ca.crl(number, &revoked, 7)?)
}
