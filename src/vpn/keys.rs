//! x25519 key pairs (WireGuard and PhazeVPN), base64 as WireGuard writes them.
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use x25519_dalek::{PublicKey, StaticSecret};

pub struct KeyPair {
    pub private: [u8; 32],
    pub public: [u8; 32],
}

impl KeyPair {
    pub fn generate() -> Self {
        let mut private = [0u8; 32];
        getrandom::fill(&mut private).expect("OS random source");
        // WireGuard (like x25519-dalek) clamps the scalar when it uses it.
        let secret = StaticSecret::from(private);
        KeyPair { private, public: PublicKey::from(&secret).to_bytes() }
    }

    pub fn private_b64(&self) -> String {
        STANDARD.encode(self.private)
    }

    pub fn public_b64(&self) -> String {
        STANDARD.encode(self.public)
    }
}

/// The public key of a base64 private key, if it is one.
pub fn public_of(private_b64: &str) -> Option<String> {
    let private: [u8; 32] = decode(private_b64)?;
    Some(STANDARD.encode(PublicKey::from(&StaticSecret::from(private)).to_bytes()))
}

/// A base64 x25519 key (32 bytes), as WireGuard shows them.
pub fn decode(b64: &str) -> Option<[u8; 32]> {
    STANDARD.decode(b64.trim()).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pairs_are_consistent_and_distinct() {
        let a = KeyPair::generate();
        let b = KeyPair::generate();
        assert_ne!(a.private, b.private);
        assert_eq!(public_of(&a.private_b64()).unwrap(), a.public_b64());
        assert_eq!(a.private_b64().len(), 44);
        assert!(decode("not base64").is_none());
    }
}
