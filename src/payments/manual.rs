//! Manual payments: the user quotes a reference with a transfer; an admin marks it paid.

/// A new reference such as `PHZ-7KQ2-M9XD` (40 random bits), easy to read off a statement.
pub fn new_reference() -> String {
    let chars = crate::auth::tokens::readable_code(8);
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
