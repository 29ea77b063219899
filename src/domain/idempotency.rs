//! Idempotency-Key on creates (draft-ietf-httpapi-idempotency-key-header): the first request
//! with a key is answered and its answer kept for a day; a retry with the same key and body gets
//! that answer back and makes nothing new; a retry while the first is still being answered is
//! told to wait (409); the same key with a different body is refused (422). Only successful
//! answers are kept: after an error the key is free again, so a corrected retry can succeed.
use crate::store::api_tokens as store;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// How long answers are kept.
pub const KEEP_SECS: i64 = 24 * 3600;
/// A key claimed this long ago and never answered belonged to a request that died.
const ABANDONED_SECS: i64 = 60;

#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This request answers the key; keep or release it afterwards.
    Ours,
    /// The key was answered before: send this again.
    Replay { status: u16, body: String },
    /// The first request with this key is still being answered.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}

/// 1 to 255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<(), String> {
    if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err("Idempotency-Key must be 1 to 255 visible ASCII characters.".into())
    }
}

pub async fn claim(pool: &PgPool, user_id: i64, key: &str, request: &[u8]) -> sqlx::Result<Claim> {
    let fingerprint = Sha256::digest(request).to_vec();
    // A key released between our claim and our read is claimed on the next turn.
    for _ in 0..3 {
        if store::claim_key(pool, user_id, key, &fingerprint, ABANDONED_SECS, KEEP_SECS).await? {
            return Ok(Claim::Ours);
        }
        let Some(kept) = store::kept_answer(pool, user_id, key).await? else { continue };
        if kept.fingerprint != fingerprint {
            return Ok(Claim::Mismatch);
        }
        return Ok(match (kept.status, kept.body) {
            (Some(status), Some(body)) => Claim::Replay { status: status as u16, body },
            _ => Claim::InProgress,
        });
    }
    Ok(Claim::InProgress)
}

pub async fn keep(pool: &PgPool, user_id: i64, key: &str, status: u16, body: &str) -> sqlx::Result<()> {
    store::keep_answer(pool, user_id, key, status, body).await
}

pub async fn release(pool: &PgPool, user_id: i64, key: &str) -> sqlx::Result<()> {
    store::release_key(pool, user_id, key).await
}

/// Deletes answers older than a day (every hour: `start_pruning`).
pub async fn prune(pool: &PgPool) -> sqlx::Result<u64> {
    store::prune_keys(pool, KEEP_SECS).await
}

/// Deletes old answers every hour.
pub fn start_pruning(pool: PgPool) {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            loop {
                match prune(&pool).await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => break,
                    Err(e) => {
                        log::error!(event = "idempotency_prune_failed"; "idempotency keys: {e}");
                        break;
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::check_key;

    #[test]
    fn keys_are_visible_ascii() {
        assert!(check_key("3f1c-retry").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("with space").is_err());
        assert!(check_key(&"k".repeat(256)).is_err());
    }
}
