//! Private keys at rest: AES-256-GCM under the portal's secret key (`PORTAL_SECRET_KEY`).
//! A sealed value is `nonce (12 bytes) || ciphertext`, bound to what it belongs to (the AAD).
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the secret key is missing: set PORTAL_SECRET_KEY to 32 random bytes in base64 (openssl rand -base64 32)")]
    MissingKey,
    #[error("the secret key must be at least 32 bytes, in base64 or hex")]
    WeakKey,
    #[error("a sealed value could not be opened (wrong secret key, or tampered with)")]
    Unreadable,
}

#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
}

impl Vault {
    /// The bytes of the configured secret (base64 or hex, at least 256 bits).
    pub fn secret_bytes(secret: Option<&str>) -> Result<Vec<u8>, VaultError> {
        let secret = secret.map(str::trim).filter(|s| !s.is_empty()).ok_or(VaultError::MissingKey)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(secret)
            .or_else(|_| hex::decode(secret))
            .map_err(|_| VaultError::WeakKey)?;
        if bytes.len() < 32 {
            return Err(VaultError::WeakKey);
        }
        Ok(bytes)
    }

    /// From the configured secret (base64 or hex, at least 256 bits).
    pub fn from_secret(secret: Option<&str>) -> Result<Vault, VaultError> {
        let bytes = Self::secret_bytes(secret)?;
        // A separate key for this use, whatever else the secret serves.
        let key = Sha256::new().chain_update(b"phaze-portal vault v1").chain_update(&bytes).finalize();
        Ok(Vault { cipher: Aes256Gcm::new_from_slice(&key).expect("32-byte key") })
    }

    pub fn seal(&self, plaintext: &[u8], belongs_to: &str) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("OS random source");
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: belongs_to.as_bytes() })
            .expect("AES-GCM encryption");
        [nonce.as_slice(), &sealed].concat()
    }

    pub fn open(&self, sealed: &[u8], belongs_to: &str) -> Result<Vec<u8>, VaultError> {
        if sealed.len() < 12 + 16 {
            return Err(VaultError::Unreadable);
        }
        let (nonce, ciphertext) = sealed.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: belongs_to.as_bytes() })
            .map_err(|_| VaultError::Unreadable)
    }

    pub fn open_string(&self, sealed: &[u8], belongs_to: &str) -> Result<String, VaultError> {
        String::from_utf8(self.open(sealed, belongs_to)?).map_err(|_| VaultError::Unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_owner() {
        let vault = Vault::from_secret(Some(KEY)).unwrap();
        let sealed = vault.seal(b"private key", "client:1");
        assert!(!sealed.windows(11).any(|w| w == b"private key"));
        assert_eq!(vault.open(&sealed, "client:1").unwrap(), b"private key");
        assert!(vault.open(&sealed, "client:2").is_err(), "bound to its owner");
        let other = Vault::from_secret(Some(&"ab".repeat(32))).unwrap();
        assert!(other.open(&sealed, "client:1").is_err());
        assert!(matches!(Vault::from_secret(None), Err(VaultError::MissingKey)));
        assert!(matches!(Vault::from_secret(Some("c2hvcnQ=")), Err(VaultError::WeakKey)));
    }
}
