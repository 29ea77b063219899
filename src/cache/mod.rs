//! Redis: only what may be lost (fragment cache, rate-limit counters, session cache), each
//! with an in-process fallback when Redis is unreachable, and the near cache in front of it.
mod fragments;
mod keyring;
mod near;
mod rate_limit;
mod redis_pool;
mod sessions;

pub use fragments::{CacheStats, FragmentCache, Lookup};
pub use keyring::Keyring;
pub use near::{track, Near, NearCache, NearCheck, Ticket};
pub use rate_limit::{Decision, RateLimiter, Rule};
pub use redis_pool::{Redis, RedisPool};
pub use sessions::SessionCache;

use std::sync::atomic::{AtomicI64, Ordering};

/// Logs "Redis unreachable" at most once a minute per place, so an outage doesn't flood logs.
pub struct OutageWarning {
    what: &'static str,
    last_logged: AtomicI64,
}

impl OutageWarning {
    pub const fn new(what: &'static str) -> Self {
        OutageWarning { what, last_logged: AtomicI64::new(i64::MIN) }
    }

    pub fn warn(&self, error: &redis::RedisError) {
        crate::telemetry::metrics::redis_fallback(self.what);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let last = self.last_logged.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60
            && self.last_logged.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            log::warn!(event = "redis_unavailable", fallback = self.what; "Redis unreachable, {} uses its fallback: {error}", self.what);
        }
    }
}
