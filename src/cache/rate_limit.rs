//! Rate limits shared by every instance: fixed-window counters in Redis
//! (`rl:{rule}:{key}`), with an in-process governor limiter while Redis is unreachable.
use super::{Keyring, OutageWarning};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter as Governor};
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static OUTAGE: OutageWarning = OutageWarning::new("rate limiter (in-process governor)");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rule {
    pub name: &'static str,
    pub limit: u32,
    pub window: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Limited { retry_after_secs: u64 },
}

/// Limited when any counter (this attempt included) is over its rule's limit; wait for the
/// longest such window (its TTL, or the whole window if Redis gave none).
fn decide(counts: impl Iterator<Item = (u32, i64)>, checks: &[(Rule, &str)]) -> Decision {
    counts
        .zip(checks)
        .filter(|((count, _), (rule, _))| *count > rule.limit)
        .inspect(|(_, (rule, _))| crate::telemetry::metrics::rate_limited(rule.name))
        .map(|((_, ttl), (rule, _))| if ttl > 0 { ttl as u64 } else { rule.window.as_secs() })
        .max()
        .map_or(Decision::Allowed, |retry_after_secs| Decision::Limited { retry_after_secs })
}

#[derive(Clone)]
pub struct RateLimiter {
    redis: ConnectionManager,
    keys: Keyring,
    fallback: Arc<HashMap<&'static str, DefaultKeyedRateLimiter<String>>>,
    refused: Arc<Refusals>,
}

/// Counters this instance has seen over their limit, and until when (the counter's TTL). A fixed
/// window only ends when its key expires, so until then the answer is known without asking Redis:
/// a client that is already refused costs one map lookup. (An operator deleting a counter by hand
/// lifts the limit on other instances only once their memory of it runs out.)
#[derive(Default)]
struct Refusals(Mutex<HashMap<String, Instant>>);

impl Refusals {
    const MAX: usize = 100_000;

    /// How long the longest refusal among `keys` lasts, and which key it is.
    fn until(&self, keys: &[String]) -> Option<(Duration, usize)> {
        let now = Instant::now();
        let refused = self.0.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .enumerate()
            .filter_map(|(i, k)| Some((*refused.get(k)?, i)))
            .filter(|(until, _)| *until > now)
            .map(|(until, i)| (until - now, i))
            .max()
    }

    fn remember(&self, key: String, for_secs: u64) {
        let now = Instant::now();
        let mut refused = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if refused.len() >= Self::MAX {
            refused.retain(|_, until| *until > now);
            if refused.len() >= Self::MAX {
                return;
            }
        }
        refused.insert(key, now + Duration::from_secs(for_secs));
    }
}

impl RateLimiter {
    fn redis_key(&self, rule: &Rule, key: &str) -> String {
        self.keys.key_of(&["rl:", rule.name, ":", key])
    }

    pub fn new(redis: ConnectionManager, keys: Keyring, rules: &[Rule]) -> Self {
        let fallback = rules
            .iter()
            .map(|rule| {
                let burst = NonZeroU32::new(rule.limit.max(1)).expect("non-zero");
                let period = rule.window / rule.limit.max(1);
                let quota = Quota::with_period(period).expect("non-zero window").allow_burst(burst);
                (rule.name, Governor::keyed(quota))
            })
            .collect();
        RateLimiter { redis, keys, fallback: Arc::new(fallback), refused: Arc::default() }
    }

    /// Whether every `(rule, key)` is still under its limit. Reading does not count.
    /// With Redis down the in-process limiter counts this attempt instead (it cannot peek).
    pub async fn check(&self, checks: &[(Rule, &str)]) -> Decision {
        let mut pipe = redis::pipe();
        for (rule, key) in checks {
            let k = self.redis_key(rule, key);
            pipe.get(&k).ttl(&k);
        }
        let mut conn = self.redis.clone();
        match pipe.query_async::<Vec<(Option<u32>, i64)>>(&mut conn).await {
            // As if this attempt were counted too: the same verdict `take` would give.
            Ok(counts) => decide(counts.into_iter().map(|(count, ttl)| (count.unwrap_or(0) + 1, ttl)), checks),
            Err(e) => {
                OUTAGE.warn(&e);
                self.check_in_process(checks)
            }
        }
    }

    /// Limited if this instance already saw one of the counters over its limit, for the rest of
    /// that window; else Allowed, without asking Redis (`take` still has to count the attempt).
    pub fn already_refused(&self, checks: &[(Rule, &str)]) -> Decision {
        let keys: Vec<String> = checks.iter().map(|(rule, key)| self.redis_key(rule, key)).collect();
        self.refused_here(checks, &keys)
    }

    fn refused_here(&self, checks: &[(Rule, &str)], keys: &[String]) -> Decision {
        match self.refused.until(keys) {
            Some((wait, which)) => {
                crate::telemetry::metrics::rate_limited(checks[which].0.name);
                Decision::Limited { retry_after_secs: wait.as_secs().max(1) }
            }
            None => Decision::Allowed,
        }
    }

    /// Counts this attempt against every `(rule, key)` and says whether it is within all of them,
    /// in one atomic step (INCR first), so concurrent attempts cannot all slip under a limit.
    /// A counter this instance already saw over its limit refuses at once, without Redis (and
    /// without counting: the window's end is fixed either way).
    pub async fn take(&self, checks: &[(Rule, &str)]) -> Decision {
        let keys: Vec<String> = checks.iter().map(|(rule, key)| self.redis_key(rule, key)).collect();
        if let refused @ Decision::Limited { .. } = self.refused_here(checks, &keys) {
            return refused;
        }
        let mut pipe = redis::pipe();
        for ((rule, _), k) in checks.iter().zip(&keys) {
            pipe.incr(k, 1u32);
            pipe.cmd("EXPIRE").arg(k).arg(rule.window.as_secs()).arg("NX").ignore();
            pipe.ttl(k);
        }
        let mut conn = self.redis.clone();
        match pipe.query_async::<Vec<(u32, i64)>>(&mut conn).await {
            Ok(counts) => {
                for (((count, ttl), (rule, _)), key) in counts.iter().zip(checks).zip(keys) {
                    if *count > rule.limit && *ttl > 0 {
                        self.refused.remember(key, *ttl as u64);
                    }
                }
                decide(counts.into_iter(), checks)
            }
            Err(e) => {
                OUTAGE.warn(&e);
                self.check_in_process(checks)
            }
        }
    }

    /// Undoes a `take` that turned out not to count (a login that succeeded).
    pub async fn give_back(&self, checks: &[(Rule, &str)]) {
        let mut pipe = redis::pipe();
        for (rule, key) in checks {
            pipe.decr(self.redis_key(rule, key), 1u32).ignore();
        }
        let mut conn = self.redis.clone();
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            OUTAGE.warn(&e);
        }
    }

    /// Counts one event (a failed login, a signup) against every `(rule, key)`.
    pub async fn hit(&self, checks: &[(Rule, &str)]) {
        let mut pipe = redis::pipe();
        for (rule, key) in checks {
            let k = self.redis_key(rule, key);
            pipe.incr(&k, 1u32).ignore();
            pipe.cmd("EXPIRE").arg(&k).arg(rule.window.as_secs()).arg("NX").ignore();
        }
        let mut conn = self.redis.clone();
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            OUTAGE.warn(&e);
        }
    }

    fn check_in_process(&self, checks: &[(Rule, &str)]) -> Decision {
        let now = governor::clock::Clock::now(&governor::clock::DefaultClock::default());
        checks
            .iter()
            .filter_map(|(rule, key)| {
                let limiter = self.fallback.get(rule.name)?;
                let refused = limiter.check_key(&key.to_string()).err()?;
                crate::telemetry::metrics::rate_limited(rule.name);
                Some(refused.wait_time_from(now))
            })
            .max()
            .map_or(Decision::Allowed, |wait| Decision::Limited { retry_after_secs: wait.as_secs().max(1) })
    }
}
