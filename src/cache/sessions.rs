//! Session cache: `sess:{sha256 hex}` → the session as JSON, for at most five minutes.
//! Postgres stays the truth: a miss (or a flushed Redis) reads it from there.
use super::{Keyring, OutageWarning};
use crate::domain::sessions::ActiveSession;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

const MAX_TTL_SECS: i64 = 300;
static OUTAGE: OutageWarning = OutageWarning::new("session cache (reads Postgres)");

#[derive(Clone)]
pub struct SessionCache {
    redis: ConnectionManager,
    keys: Keyring,
}

impl SessionCache {
    pub fn new(redis: ConnectionManager, keys: Keyring) -> Self {
        SessionCache { redis, keys }
    }

    fn key(&self, token_hash: &[u8]) -> String {
        self.keys.key(&format!("sess:{}", hex::encode(token_hash)))
    }

    /// The cached session, if Redis has one that this portal signed.
    pub async fn get(&self, token_hash: &[u8]) -> Option<ActiveSession> {
        let mut conn = self.redis.clone();
        let key = self.key(token_hash);
        match conn.get::<_, Option<String>>(&key).await {
            Ok(Some(stored)) => match self.keys.open(&key, &stored) {
                Some(json) => serde_json::from_str(json).ok(),
                None => {
                    log::warn!(event = "redis_value_rejected", kind = "session"; "a cached session failed its signature check");
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                OUTAGE.warn(&e);
                None
            }
        }
    }

    pub async fn put(&self, token_hash: &[u8], session: &ActiveSession) {
        let ttl = (session.expires_at - time::OffsetDateTime::now_utc()).whole_seconds().min(MAX_TTL_SECS);
        if ttl <= 0 {
            return;
        }
        let Ok(json) = serde_json::to_string(session) else { return };
        let key = self.key(token_hash);
        let sealed = self.keys.seal(&key, &json);
        let mut conn = self.redis.clone();
        if let Err(e) = conn.set_ex::<_, _, ()>(key, sealed, ttl as u64).await {
            OUTAGE.warn(&e);
        }
    }

    pub async fn forget(&self, token_hashes: &[Vec<u8>]) {
        if token_hashes.is_empty() {
            return;
        }
        let keys: Vec<String> = token_hashes.iter().map(|h| self.key(h)).collect();
        let mut conn = self.redis.clone();
        if let Err(e) = conn.del::<_, ()>(keys).await {
            OUTAGE.warn(&e);
        }
    }
}
