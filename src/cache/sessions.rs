//! Session cache: `sess:{sha256 hex}` → the session as JSON, for at most five minutes.
//! Postgres stays the truth: a miss (or a flushed Redis) reads it from there.
use super::{Keyring, Near, NearCache, NearCheck, OutageWarning};
use crate::domain::sessions::ActiveSession;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use std::sync::Arc;
use std::time::Duration;

const MAX_TTL_SECS: i64 = 300;
static OUTAGE: OutageWarning = OutageWarning::new("session cache (reads Postgres)");

#[derive(Clone)]
pub struct SessionCache {
    redis: ConnectionManager,
    keys: Keyring,
    near: Arc<NearCache>,
}

impl SessionCache {
    pub fn new(redis: ConnectionManager, keys: Keyring, near: Arc<NearCache>) -> Self {
        SessionCache { redis, keys, near }
    }

    fn key(&self, token_hash: &[u8]) -> String {
        self.keys.key_of(&["sess:", &hex::encode(token_hash)])
    }

    /// The cached session: from the near cache, else if Redis has one that this portal signed.
    pub async fn get(&self, token_hash: &[u8], check: &NearCheck) -> Option<ActiveSession> {
        let key = self.key(token_hash);
        if let Some(session) = self.near.usable_in(check).then(|| self.near.session(&key)).flatten() {
            return Some(ActiveSession::clone(&session));
        }
        let ticket = self.near.ticket();
        let mut conn = self.redis.clone();
        match conn.get::<_, Option<String>>(&key).await {
            Ok(Some(stored)) => match self.keys.open(&key, &stored) {
                Some(json) => {
                    let session: ActiveSession = serde_json::from_str(json).ok()?;
                    if let Some(ticket) = ticket {
                        let left = (session.expires_at - time::OffsetDateTime::now_utc()).whole_seconds();
                        let ttl = Duration::from_secs(left.clamp(0, MAX_TTL_SECS) as u64);
                        self.near.put(ticket, key, Near::Session(Arc::new(session.clone())), ttl);
                    }
                    Some(session)
                }
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
        if let Err(e) = conn.set_ex::<_, _, ()>(&key, sealed, ttl as u64).await {
            OUTAGE.warn(&e);
        }
        // Redis has told every instance (this one too, soon) to forget it; don't wait for that.
        self.near.forget(&key);
    }

    pub async fn forget(&self, token_hashes: &[Vec<u8>]) {
        if token_hashes.is_empty() {
            return;
        }
        let keys: Vec<String> = token_hashes.iter().map(|h| self.key(h)).collect();
        let mut conn = self.redis.clone();
        if let Err(e) = conn.del::<_, ()>(&keys).await {
            OUTAGE.warn(&e);
        }
        for key in &keys {
            self.near.forget(key);
        }
    }
}
