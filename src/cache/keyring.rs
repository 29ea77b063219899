//! Names and seals for what the portal keeps in Redis. Every key starts with a namespace
//! (`redis_namespace`), so two portals can share a Redis without meeting; every value the portal
//! reads back as trusted (a cached session, a cached fragment of HTML) carries an HMAC-SHA256
//! tag over its key and content, under a key derived from the portal's secret. A value someone
//! else wrote into Redis fails the check and is treated as a miss: refetched from PostgreSQL or
//! rendered again.
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::sync::Arc;

const TAG_HEX: usize = 64;

#[derive(Clone)]
pub struct Keyring {
    namespace: Arc<str>,
    signing_key: Arc<[u8; 32]>,
}

impl Keyring {
    /// `secret` is the portal's secret key (the bytes behind `PORTAL_SECRET_KEY`).
    pub fn new(namespace: &str, secret: &[u8]) -> Keyring {
        let derived = Sha256::new().chain_update(b"phaze-portal redis signing v1").chain_update(secret).finalize();
        let mut signing_key = [0u8; 32];
        signing_key.copy_from_slice(&derived);
        Keyring { namespace: Arc::from(format!("{namespace}:")), signing_key: Arc::new(signing_key) }
    }

    /// The full Redis key for `name` (e.g. `sess:…`): `NAMESPACE:name`.
    pub fn key(&self, name: &str) -> String {
        self.key_of(&[name])
    }

    /// `key` of the parts joined, built in one allocation (keys are made on every cached read).
    pub fn key_of(&self, parts: &[&str]) -> String {
        let mut key = String::with_capacity(self.namespace.len() + parts.iter().map(|p| p.len()).sum::<usize>());
        key.push_str(&self.namespace);
        parts.iter().for_each(|part| key.push_str(part));
        key
    }

    fn mac(&self, key: &str, value: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.signing_key.as_slice()).expect("any key size");
        mac.update(key.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac
    }

    /// `value` as stored under `key`: its tag (hex), then the value.
    pub fn seal(&self, key: &str, value: &str) -> String {
        format!("{}{value}", hex::encode(self.mac(key, value).finalize().into_bytes()))
    }

    /// The value stored under `key` if its tag is right (checked in constant time).
    pub fn open<'a>(&self, key: &str, stored: &'a str) -> Option<&'a str> {
        let (tag, value) = (stored.get(..TAG_HEX)?, stored.get(TAG_HEX..)?);
        let tag = hex::decode(tag).ok()?;
        self.mac(key, value).verify_slice(&tag).ok().map(|()| value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_key_and_secret() {
        let ring = Keyring::new("phaze", &[7u8; 32]);
        assert_eq!(ring.key("sess:ab"), "phaze:sess:ab");
        assert_eq!(ring.key_of(&["frag:", "list", ":", "7", ":"]), "phaze:frag:list:7:");
        let sealed = ring.seal("phaze:sess:ab", "{\"role\":\"user\"}");
        assert_eq!(ring.open("phaze:sess:ab", &sealed), Some("{\"role\":\"user\"}"));
        assert_eq!(ring.open("phaze:sess:cd", &sealed), None, "bound to its key");
        let forged = sealed.replace("user", "admin");
        assert_eq!(ring.open("phaze:sess:ab", &forged), None, "content changes break the tag");
        assert_eq!(Keyring::new("phaze", &[8u8; 32]).open("phaze:sess:ab", &sealed), None, "another secret");
        for junk in ["", "short", "é", &"z".repeat(80)] {
            assert_eq!(ring.open("phaze:sess:ab", junk), None);
        }
    }
}
