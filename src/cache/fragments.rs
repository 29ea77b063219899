//! Generational fragment cache (DESIGN §5.2): `frag:{name}:{owner}:{generation}`.
//! A write sets the owner's generation to a fresh random value after it commits, so every
//! instance stops reading the old fragments at once; a flushed Redis just starts over.
use super::OutageWarning;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const FRAGMENT_TTL_SECS: u64 = 600;
static OUTAGE: OutageWarning = OutageWarning::new("fragment cache (renders uncached)");

/// Hit, miss and bypass counters, shown on the admin page.
#[derive(Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub bypasses: AtomicU64,
}

#[derive(Clone)]
pub struct FragmentCache {
    redis: ConnectionManager,
    lookup: Arc<Script>,
    pub stats: Arc<CacheStats>,
}

fn generation_key(owner: &str) -> String {
    format!("gen:{owner}")
}

fn fresh_generation() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("OS random source");
    hex::encode(bytes)
}

impl FragmentCache {
    pub fn new(redis: ConnectionManager) -> Self {
        // One round trip: read (or start) the owner's generation, then the fragment under it.
        let lookup = Script::new(
            r"
            local generation = redis.call('GET', KEYS[1])
            if not generation then
              redis.call('SET', KEYS[1], ARGV[1])
              generation = ARGV[1]
            end
            return {generation, redis.call('GET', ARGV[2] .. generation)}
            ",
        );
        FragmentCache { redis, lookup: Arc::new(lookup), stats: Arc::default() }
    }

    /// The cached fragment `name` of `owner`, or `render()`'s output, cached for next time.
    pub async fn get_or_render<E, F, Fut>(&self, name: &str, owner: &str, render: F) -> Result<String, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, E>>,
    {
        let prefix = format!("frag:{name}:{owner}:");
        let mut conn = self.redis.clone();
        let found: redis::RedisResult<(String, Option<String>)> =
            self.lookup.key(generation_key(owner)).arg(fresh_generation()).arg(&prefix).invoke_async(&mut conn).await;
        match found {
            Ok((_, Some(html))) => {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                Ok(html)
            }
            Ok((generation, None)) => {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
                let html = render().await?;
                let stored: redis::RedisResult<()> =
                    conn.set_ex(format!("{prefix}{generation}"), &html, FRAGMENT_TTL_SECS).await;
                if let Err(e) = stored {
                    OUTAGE.warn(&e);
                }
                Ok(html)
            }
            Err(e) => {
                OUTAGE.warn(&e);
                self.stats.bypasses.fetch_add(1, Ordering::Relaxed);
                render().await
            }
        }
    }

    /// Call after the write's transaction has committed.
    pub async fn invalidate(&self, owner: &str) {
        let mut conn = self.redis.clone();
        if let Err(e) = conn.set::<_, _, ()>(generation_key(owner), fresh_generation()).await {
            OUTAGE.warn(&e);
        }
    }
}
