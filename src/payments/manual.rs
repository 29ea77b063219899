//! Manual payments: the user quotes a reference with a transfer; an admin marks it paid.

/// Characters that survive being read aloud or typed from a bank statement (no 0/O, 1/I).
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A new reference such as `PHZ-7KQ2-M9XD` (40 random bits).
pub fn new_reference() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("OS random source");
    let chars: String = bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    format!("PHZ-{}-{}", &chars[..4], &chars[4..])
}

#[cfg(test)]
mod tests {
    #[test]
    fn references_are_unambiguous_and_distinct() {
        let a = super::new_reference();
        assert_eq!(a.len(), 13);
        assert!(a.starts_with("PHZ-") && a.as_bytes()[8] == b'-');
        assert!(!a.contains(['0', 'O', '1', 'I']));
        assert_ne!(a, super::new_reference());
    }
}
