//! Generational fragment cache (DESIGN §5.2): `frag:{name}:{owner}:{generation}`.
//! A write sets the owner's generation to a fresh random value after it commits, so every
//! instance stops reading the old fragments at once; a flushed Redis just starts over.
use super::{Keyring, Near, NearCache, NearCheck, OutageWarning, Ticket};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
    near: Arc<NearCache>,
    pub stats: Arc<CacheStats>,
}

fn fresh_generation() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("OS random source");
    hex::encode(bytes)
}

impl FragmentCache {
    fn generation_key(&self, owner: &str) -> String {
        self.keys.key_of(&["gen:", owner])
    }

    fn prefix(&self, name: &str, owner: &str) -> String {
        self.keys.key_of(&["frag:", name, ":", owner, ":"])
    }

    pub fn new(redis: ConnectionManager, keys: Keyring, near: Arc<NearCache>) -> Self {
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
        FragmentCache { redis, keys, lookup: Arc::new(lookup), near, stats: Arc::default() }
    }

    /// Looks up several `(name, owner)` fragments: from the near cache when it knows every
    /// owner's generation (no round trip), else in one round trip to Redis; take them from the
    /// answer.
    pub async fn lookup(&self, wanted: &[(&str, &str)]) -> Lookup {
        self.lookup_in(wanted, &NearCheck::default()).await
    }

    /// `lookup` in a request that may already have looked at the near cache (`NearCheck`).
    pub async fn lookup_in(&self, wanted: &[(&str, &str)], check: &NearCheck) -> Lookup {
        if let Some(found) = self.near.usable_in(check).then(|| self.lookup_near(wanted)).flatten() {
            return Lookup { cache: self.clone(), ticket: self.near.ticket(), found: Some(found) };
        }
        let ticket = self.near.ticket();
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
                        let (prefix, generation) = (self.prefix(name, owner), pair[0].clone().unwrap_or_default());
                        let html = pair[1].as_deref().and_then(|stored| self.open(&prefix, &generation, stored));
                        if let Some(ticket) = ticket {
                            let near = |text: &str| Near::Text(Arc::from(text));
                            let ttl = Duration::from_secs(FRAGMENT_TTL_SECS);
                            self.near.put(ticket, self.generation_key(owner), near(&generation), ttl);
                            if let Some(html) = &html {
                                self.near.put(ticket, format!("{prefix}{generation}"), Near::Text(html.clone()), ttl);
                            }
                        }
                        Found { prefix, generation, html }
                    })
                    .collect(),
            ),
            Err(e) => {
                OUTAGE.warn(&e);
                None
            }
        };
        Lookup { cache: self.clone(), ticket, found }
    }

    /// Every wanted fragment's generation from the near cache (the fragment itself may be missing
    /// and is then rendered), or None if any generation is not there.
    fn lookup_near(&self, wanted: &[(&str, &str)]) -> Option<Vec<Found>> {
        wanted
            .iter()
            .map(|(name, owner)| {
                let generation = self.near.text(&self.generation_key(owner))?.to_string();
                let prefix = self.prefix(name, owner);
                let html = self.near.text(&format!("{prefix}{generation}"));
                Some(Found { prefix, generation, html })
            })
            .collect()
    }

    /// A stored fragment if its signature is right.
    fn open(&self, prefix: &str, generation: &str, stored: &str) -> Option<Arc<str>> {
        let opened = self.keys.open(&format!("{prefix}{generation}"), stored).map(Arc::from);
        if opened.is_none() {
            log::warn!(event = "redis_value_rejected", kind = "fragment"; "a cached fragment failed its signature check");
        }
        opened
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
        self.invalidate_all(&[owner]).await;
    }

    /// `invalidate` for several owners at once, in one command.
    pub async fn invalidate_all(&self, owners: &[impl AsRef<str>]) {
        if owners.is_empty() {
            return;
        }
        let keys: Vec<String> = owners.iter().map(|owner| self.generation_key(owner.as_ref())).collect();
        let fresh: Vec<(&str, String)> = keys.iter().map(|key| (key.as_str(), fresh_generation())).collect();
        let mut conn = self.redis.clone();
        if let Err(e) = conn.mset::<_, _, ()>(&fresh).await {
            OUTAGE.warn(&e);
        }
        // Redis has told every instance to forget the old generations; this one need not wait.
        for key in &keys {
            self.near.forget(key);
        }
    }
}

struct Found {
    prefix: String,
    generation: String,
    /// The fragment, its signature checked.
    html: Option<Arc<str>>,
}

/// The answer to one `FragmentCache::lookup`: (key prefix, generation, fragment) per fragment,
/// or None when Redis could not be asked (every fragment is then rendered, uncached).
pub struct Lookup {
    cache: FragmentCache,
    ticket: Option<Ticket>,
    found: Option<Vec<Found>>,
}

impl Lookup {
    /// The fragment if the lookup found it with a good tag (nothing is rendered or counted).
    pub fn cached(&self, name: &str, owner: &str) -> Option<&str> {
        self.entry(name, owner)?.html.as_deref()
    }

    fn entry(&self, name: &str, owner: &str) -> Option<&Found> {
        let wanted = self.cache.prefix(name, owner);
        self.found.as_ref()?.iter().find(|found| found.prefix == wanted)
    }

    /// The fragment if the lookup found it, else `render()`'s output, stored under the
    /// generation the lookup saw.
    pub async fn get_or_render<E, F, Fut>(&self, name: &str, owner: &str, render: F) -> Result<String, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, E>>,
    {
        let stats = &self.cache.stats;
        let Some(found) = self.entry(name, owner) else {
            stats.bypasses.fetch_add(1, Ordering::Relaxed);
            crate::telemetry::metrics::fragment(name, "bypass");
            return render().await;
        };
        if let Some(html) = &found.html {
            stats.hits.fetch_add(1, Ordering::Relaxed);
            crate::telemetry::metrics::fragment(name, "hit");
            return Ok(html.to_string());
        }
        stats.misses.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::metrics::fragment(name, "miss");
        let html = render().await?;
        let key = format!("{}{}", found.prefix, found.generation);
        let mut conn = self.cache.redis.clone();
        let sealed = self.cache.keys.seal(&key, &html);
        let stored: redis::RedisResult<()> = conn.set_ex(&key, sealed, FRAGMENT_TTL_SECS).await;
        match stored {
            // A fragment is never rewritten under a live generation: keep it near too.
            Ok(()) => {
                if let Some(ticket) = self.ticket {
                    let ttl = Duration::from_secs(FRAGMENT_TTL_SECS);
                    self.cache.near.put(ticket, key, Near::Text(Arc::from(html.as_str())), ttl);
                }
            }
            Err(e) => OUTAGE.warn(&e),
        }
        Ok(html)
    }
}
