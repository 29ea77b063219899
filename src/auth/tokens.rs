//! 256-bit random tokens, shown once and stored only as SHA-256.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// A new token (43 base64url characters) and the hash to store.
pub fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("OS random source");
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Characters people read off a screen or a statement and type back: no 0/O or 1/I.
const READABLE: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// `len` random characters of `READABLE` (5 bits each: 32 divides 256, so no bias).
pub fn readable_code(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("OS random source");
    bytes.iter().map(|b| READABLE[usize::from(*b) % READABLE.len()] as char).collect()
}

/// Whether a presented token has the shape of one of ours (cheap check before any lookup).
pub fn looks_like_token(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Compares two secrets without leaking where they differ: the digests of equal inputs match.
pub fn same_secret(a: &str, b: &str) -> bool {
    !a.is_empty() && Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_to_32_bytes() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert!(looks_like_token(&a));
        assert_eq!(ha.len(), 32);
        assert_eq!(ha, hash_token(&a));
    }

    #[test]
    fn empty_secret_never_matches() {
        assert!(!same_secret("", ""));
        assert!(same_secret("x", "x"));
        assert!(!same_secret("x", "y"));
    }
}
