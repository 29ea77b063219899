//! Generational fragment cache (DESIGN §5.2): `frag:{name}:{owner}:{generation}`.
//! A write sets the owner's generation to a fresh random value after it commits, so every
//! instance stops reading the old fragments at once; a flushed Redis just starts over.
use super::{Keyring, OutageWarning};
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
    keys: Keyring,
    lookup: Arc<Script>,
    pub stats: Arc<CacheStats>,
}

fn fresh_generation() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("OS random source");
    hex::encode(bytes)
}

impl FragmentCache {
    fn generation_key(&self, owner: &str) -> String {
        self.keys.key(&format!("gen:{owner}"))
    }

    fn prefix(&self, name: &str, owner: &str) -> String {
        self.keys.key(&format!("frag:{name}:{owner}:"))
    }

    pub fn new(redis: ConnectionManager, keys: Keyring) -> Self {
        // One round trip for any number of fragments: read (or start) each owner's generation,
        // then the fragment under it. KEYS: generation keys; ARGV: a fresh generation, then
        // one key prefix per fragment.
        let lookup = Script::new(
            r"
            local out = {}
            for i, key in ipairs(KEYS) do
              local generation = redis.call('GET', key)
              if not generation then
                redis.call('SET', key, ARGV[1])
                generation = ARGV[1]
              end
              out[#out + 1] = generation
              out[#out + 1] = redis.call('GET', ARGV[i + 1] .. generation)
            end
            return out
            ",
        );
        FragmentCache { redis, keys, lookup: Arc::new(lookup), stats: Arc::default() }
    }

    /// Looks up several `(name, owner)` fragments in one round trip; take them from the answer.
    pub async fn lookup(&self, wanted: &[(&str, &str)]) -> Lookup {
        let mut invocation = self.lookup.prepare_invoke();
        invocation.arg(fresh_generation());
        for (name, owner) in wanted {
            invocation.key(self.generation_key(owner)).arg(self.prefix(name, owner));
        }
        let mut conn = self.redis.clone();
        let found = match invocation.invoke_async::<Vec<Option<String>>>(&mut conn).await {
            Ok(flat) => Some(
                wanted
                    .iter()
                    .zip(flat.chunks(2))
                    .map(|((name, owner), pair)| {
                        (self.prefix(name, owner), pair[0].clone().unwrap_or_default(), pair[1].clone())
                    })
                    .collect(),
            ),
            Err(e) => {
                OUTAGE.warn(&e);
                None
            }
        };
        Lookup { cache: self.clone(), found }
    }

    /// The cached fragment `name` of `owner`, or `render()`'s output, cached for next time.
    pub async fn get_or_render<E, F, Fut>(&self, name: &str, owner: &str, render: F) -> Result<String, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, E>>,
    {
        self.lookup(&[(name, owner)]).await.get_or_render(name, owner, render).await
    }

    /// Call after the write's transaction has committed.
    pub async fn invalidate(&self, owner: &str) {
        let mut conn = self.redis.clone();
        if let Err(e) = conn.set::<_, _, ()>(self.generation_key(owner), fresh_generation()).await {
            OUTAGE.warn(&e);
        }
    }
}

/// The answer to one `FragmentCache::lookup`: (key prefix, generation, fragment) per fragment,
/// or None when Redis could not be asked (every fragment is then rendered, uncached).
pub struct Lookup {
    cache: FragmentCache,
    found: Option<Vec<(String, String, Option<String>)>>,
}

impl Lookup {
    /// The fragment if the lookup found it with a good tag (nothing is rendered or counted).
    pub fn cached(&self, name: &str, owner: &str) -> Option<&str> {
        let wanted = self.cache.prefix(name, owner);
        let (prefix, generation, stored) = self.found.as_ref()?.iter().find(|(p, _, _)| *p == wanted)?;
        self.cache.keys.open(&format!("{prefix}{generation}"), stored.as_deref()?)
    }

    /// The fragment if the lookup found it, else `render()`'s output, stored under the
    /// generation the lookup saw.
    pub async fn get_or_render<E, F, Fut>(&self, name: &str, owner: &str, render: F) -> Result<String, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, E>>,
    {
        let stats = &self.cache.stats;
        let wanted = self.cache.prefix(name, owner);
        let Some(entry) = self.found.as_ref().and_then(|found| found.iter().find(|(p, _, _)| *p == wanted)) else {
            stats.bypasses.fetch_add(1, Ordering::Relaxed);
            return render().await;
        };
        let (prefix, generation, stored) = entry;
        let key = format!("{prefix}{generation}");
        if let Some(stored) = stored {
            if let Some(html) = self.cache.keys.open(&key, stored) {
                stats.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(html.to_owned());
            }
            log::warn!(event = "redis_value_rejected", kind = "fragment"; "a cached fragment failed its signature check");
        }
        stats.misses.fetch_add(1, Ordering::Relaxed);
        let html = render().await?;
        let mut conn = self.cache.redis.clone();
        let sealed = self.cache.keys.seal(&key, &html);
        let stored: redis::RedisResult<()> = conn.set_ex(key, sealed, FRAGMENT_TTL_SECS).await;
        if let Err(e) = stored {
            OUTAGE.warn(&e);
        }
        Ok(html)
    }
}
