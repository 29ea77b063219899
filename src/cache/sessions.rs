//! Session cache: `sess:{sha256 hex}` → the session as JSON, for at most five minutes.
//! Postgres stays the truth: a miss (or a flushed Redis) reads it from there.
use super::OutageWarning;
use crate::domain::sessions::ActiveSession;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

const MAX_TTL_SECS: i64 = 300;
static OUTAGE: OutageWarning = OutageWarning::new("session cache (reads Postgres)");

#[derive(Clone)]
pub struct SessionCache {
    redis: ConnectionManager,
}

fn key(token_hash: &[u8]) -> String {
    format!("sess:{}", hex::encode(token_hash))
}

impl SessionCache {
    pub fn new(redis: ConnectionManager) -> Self {
        SessionCache { redis }
    }

    pub async fn get(&self, token_hash: &[u8]) -> Option<ActiveSession> {
        let mut conn = self.redis.clone();
        match conn.get::<_, Option<Vec<u8>>>(key(token_hash)).await {
            Ok(Some(json)) => serde_json::from_slice(&json).ok(),
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
        let Ok(json) = serde_json::to_vec(session) else { return };
        let mut conn = self.redis.clone();
        if let Err(e) = conn.set_ex::<_, _, ()>(key(token_hash), json, ttl as u64).await {
            OUTAGE.warn(&e);
        }
    }

    pub async fn forget(&self, token_hashes: &[Vec<u8>]) {
        if token_hashes.is_empty() {
            return;
        }
        let keys: Vec<String> = token_hashes.iter().map(|h| key(h)).collect();
        let mut conn = self.redis.clone();
        if let Err(e) = conn.del::<_, ()>(keys).await {
            OUTAGE.warn(&e);
        }
    }
}
