//! argon2id password hashing, run off the async workers.
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 256;

static COMMON: &str = include_str!("common_passwords.txt");

/// Whether the password is on the list of the most common passwords (case-insensitive).
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    COMMON.lines().any(|line| line == lower)
}

/// Hashes running at once: each argon2id run holds ~19 MiB, so a burst of logins queues here
/// instead of growing memory without bound.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores.max(2))
    })
}

pub async fn hash(password: &str) -> String {
    let password = password.to_owned();
    let _slot = hashing_slots().acquire().await.expect("never closed");
    rocket::tokio::task::spawn_blocking(move || hash_blocking(&password)).await.expect("hashing task")
}

pub fn hash_blocking(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 with default params").to_string()
}

/// Verifies against `stored`, or against a dummy hash when there is no user, so that both
/// answers take the same time.
pub async fn verify(password: &str, stored: Option<&str>) -> bool {
    let password = password.to_owned();
    let known = stored.is_some();
    let stored = stored.map(str::to_owned).unwrap_or_else(|| dummy_hash().to_owned());
    let _slot = hashing_slots().acquire().await.expect("never closed");
    let ok = rocket::tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false);
    ok && known
}

/// Computes the dummy hash ahead, so the first login for an unknown name is not the fast one.
pub async fn warm_up() {
    let _ = rocket::tokio::task::spawn_blocking(dummy_hash).await;
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("not a password anyone has"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rocket::async_test]
    async fn hash_then_verify() {
        let h = hash("correct horse battery").await;
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", Some(&h)).await);
        assert!(!verify("wrong horse battery", Some(&h)).await);
        assert!(!verify("not a password anyone has", None).await);
    }

    #[test]
    fn common_passwords_are_caught() {
        assert!(is_common("Password123"));
        assert!(is_common("qwertyuiop"));
        assert!(!is_common("violet-tractor-harbour"));
    }
}
