//! The near cache: this instance's in-memory copy of some of what Redis holds, so a warm
//! signed-in page makes no network round trip at all.
//!
//! It holds three things: owners' fragment generations (`gen:*`), the fragments stored under
//! them (`frag:*:{generation}`, never rewritten once a generation is dead), and sessions
//! (`sess:*`). It stays exact across instances through Redis itself: a dedicated RESP3
//! connection turns on `CLIENT TRACKING ON BCAST` for the `gen:` and `sess:` prefixes, so any
//! write to such a key, by any instance, makes Redis push an invalidation to every instance
//! before the writer's own reply is sent; `FLUSHALL` pushes "everything". The instance that
//! writes also forgets the key itself as soon as Redis has it.
//!
//! "Sent" is not yet "applied": under load the task reading the pushes may not have run. So a
//! request trusts the near cache only if the tracking socket has nothing unread (a non-blocking
//! peek, about a microsecond, once per request: `NearCheck`) and the reader is not midway
//! through applying what it read.
//! Anything a write's reply happened before is then applied; otherwise the request asks Redis.
//!
//! A read that raced an invalidation must not put back what was just invalidated: every read
//! from Redis takes a `Ticket` (the invalidation count) before asking, and what it stores is
//! dropped if any invalidation arrived in between. While the tracking connection is down the near
//! cache is empty and unused (every read goes to Redis, and from there to PostgreSQL), because
//! invalidations could be missed.
use crate::domain::sessions::ActiveSession;
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use redis::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// An entry lives at most this long even if no invalidation comes (a belt to the braces).
const MAX_AGE: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub enum Near {
    Text(Arc<str>),
    Session(Arc<ActiveSession>),
}

#[derive(Clone)]
struct Entry {
    value: Near,
    expires: Instant,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<String, Entry> for ByBytes {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        let value = match &entry.value {
            Near::Text(text) => text.len(),
            Near::Session(_) => 320,
        };
        (key.len() + value + 64) as u64
    }
}

/// One look at the tracking socket for a whole request. Every write whose reply came before the
/// request began is applied by the time of that look (or the request asks Redis), so the
/// request's later lookups need not look again: a write that returns while the request runs is
/// concurrent with it, and either answer is right. (The look is a system call: two per signed-in
/// page were about 4% of its CPU.)
#[derive(Default)]
pub struct NearCheck(std::sync::OnceLock<bool>);

/// The invalidation count when a read from Redis began.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

pub struct NearCache {
    live: AtomicBool,
    /// The tracking reader has read bytes it has not applied yet.
    busy: AtomicBool,
    /// The tracking socket, for requests to peek at.
    peeker: RwLock<Option<std::net::TcpStream>>,
    epoch: AtomicU64,
    entries: Cache<String, Entry, ByBytes>,
}

impl NearCache {
    /// A near cache of at most `capacity_bytes`; unused until `track` has Redis's invalidations.
    pub fn new(capacity_bytes: u64) -> Arc<Self> {
        let items = (capacity_bytes / 1024).max(16) as usize;
        Arc::new(NearCache {
            live: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            peeker: RwLock::new(None),
            epoch: AtomicU64::new(0),
            entries: Cache::with_weighter(items, capacity_bytes.max(1), ByBytes),
        })
    }

    /// A near cache that is never used (command-line tools, which do not stay to track).
    pub fn off() -> Arc<Self> {
        Self::new(0)
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    fn install(&self, peeker: std::net::TcpStream) {
        *self.peeker.write().unwrap_or_else(|e| e.into_inner()) = Some(peeker);
    }

    /// Live, and every invalidation Redis has sent so far is applied: nothing unread on the
    /// tracking socket (peeked first), and the reader not holding bytes it has not applied.
    /// Looked at once per request (`usable_in`), before the entries are read.
    pub fn usable(&self) -> bool {
        if !self.is_live() {
            return false;
        }
        let peeker = self.peeker.read().unwrap_or_else(|e| e.into_inner());
        let Some(socket) = peeker.as_ref() else { return false };
        let unread = match socket.peek(&mut [0u8; 1]) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            // Data waiting, the connection closed (Ok(0)) or an error: don't trust it.
            _ => true,
        };
        !unread && !self.busy.load(Ordering::SeqCst)
    }

    /// `usable`, looked at once per `check` (per request).
    pub fn usable_in(&self, check: &NearCheck) -> bool {
        *check.0.get_or_init(|| self.usable())
    }

    /// Take before reading from Redis; None while invalidations cannot be trusted.
    pub fn ticket(&self) -> Option<Ticket> {
        self.is_live().then(|| Ticket(self.epoch.load(Ordering::Acquire)))
    }

    fn get(&self, key: &str) -> Option<Near> {
        if !self.is_live() {
            return None;
        }
        self.entries.get(key).filter(|entry| entry.expires > Instant::now()).map(|entry| entry.value)
    }

    pub fn text(&self, key: &str) -> Option<Arc<str>> {
        match self.get(key)? {
            Near::Text(text) => Some(text),
            Near::Session(_) => None,
        }
    }

    pub fn session(&self, key: &str) -> Option<Arc<ActiveSession>> {
        match self.get(key)? {
            Near::Session(session) => Some(session),
            Near::Text(_) => None,
        }
    }

    /// Keeps what a read that began at `ticket` found, unless an invalidation came since.
    pub fn put(&self, ticket: Ticket, key: String, value: Near, ttl: Duration) {
        let expires = Instant::now() + ttl.min(MAX_AGE);
        self.entries.insert(key.clone(), Entry { value, expires });
        // Inserted first, checked after: an invalidation that lands in between is caught here,
        // one that lands after removes the entry itself.
        if self.epoch.load(Ordering::Acquire) != ticket.0 || !self.is_live() {
            self.entries.remove(&key);
        }
    }

    /// Drops `key` (an invalidation, or this instance's own write once Redis has it).
    pub fn forget(&self, key: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.remove(key);
    }

    pub fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }

    fn set_live(&self, live: bool) {
        // Emptied on every change: whatever was kept may have missed an invalidation.
        self.forget_all();
        self.live.store(live, Ordering::Release);
        if !live {
            *self.peeker.write().unwrap_or_else(|e| e.into_inner()) = None;
            self.busy.store(false, Ordering::SeqCst);
        }
        self.forget_all();
    }

    /// Applies one invalidation push: the keys it names, or (nil) everything.
    fn on_invalidate(&self, keys: Option<&Value>) {
        match keys {
            Some(Value::Array(keys)) => {
                for key in keys {
                    if let Value::BulkString(bytes) = key {
                        self.forget(&String::from_utf8_lossy(bytes));
                    }
                }
            }
            // Nil: Redis flushed everything (FLUSHALL / FLUSHDB).
            _ => self.forget_all(),
        }
    }
}

/// Keeps a tracking connection to Redis open for as long as the portal runs, reconnecting with a
/// short pause; the near cache is live only while it is up. `prefixes` are full key prefixes.
/// Plain TCP only: with `rediss://` (TLS) or a Unix socket the near cache stays off.
pub fn track(near: Arc<NearCache>, redis_url: String, prefixes: Vec<String>) {
    tokio::spawn(async move {
        let mut warned = false;
        loop {
            match tracking::connect(&redis_url, &prefixes).await {
                Ok(connection) => {
                    if warned {
                        log::info!(event = "near_cache_live"; "near cache live again (Redis invalidations arrive)");
                    }
                    warned = false;
                    let stopped = connection.run(&near).await;
                    near.set_live(false);
                    log::warn!(event = "near_cache_off", error = stopped.to_string().as_str();
                        "near cache off: the Redis tracking connection ended");
                }
                Err(e) => {
                    if !warned {
                        log::warn!(event = "near_cache_off", error = e.to_string().as_str();
                            "near cache off until Redis invalidations can be tracked");
                        warned = true;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

mod tracking {
    //! The tracking connection: RESP3 over a socket of our own, so a request can peek at it.
    use super::NearCache;
    use redis::{ConnectionAddr, IntoConnectionInfo, PushKind, Value};
    use std::io::ErrorKind;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;

    pub struct Connection {
        stream: TcpStream,
        buffer: Vec<u8>,
    }

    type Failure = Box<dyn std::error::Error + Send + Sync>;

    pub async fn connect(url: &str, prefixes: &[String]) -> Result<Connection, Failure> {
        let info = url.into_connection_info()?;
        let ConnectionAddr::Tcp(host, port) = info.addr() else {
            return Err("the near cache tracks Redis over plain TCP only (not TLS or a Unix socket)".into());
        };
        let stream = tokio::time::timeout(super::Duration::from_secs(1), TcpStream::connect((host.as_str(), *port)))
            .await
            .map_err(|_| "connect timed out")??;
        stream.set_nodelay(true)?;
        let mut connection = Connection { stream, buffer: Vec::with_capacity(4096) };
        let settings = info.redis_settings();
        let mut hello = redis::cmd("HELLO");
        hello.arg(3);
        if let Some(password) = settings.password() {
            hello.arg("AUTH").arg(settings.username().unwrap_or("default")).arg(password);
        }
        connection.ask(&hello).await?;
        let mut tracking = redis::cmd("CLIENT");
        tracking.arg("TRACKING").arg("ON").arg("BCAST");
        for prefix in prefixes {
            tracking.arg("PREFIX").arg(prefix);
        }
        connection.ask(&tracking).await?;
        Ok(connection)
    }

    impl Connection {
        /// Sends a command and waits for its reply (only before tracking starts).
        async fn ask(&mut self, command: &redis::Cmd) -> Result<Value, Failure> {
            self.stream.write_all(&command.get_packed_command()).await?;
            loop {
                if let Some(value) = self.next_frame()? {
                    return match value {
                        Value::ServerError(e) => Err(format!("{e:?}").into()),
                        value => Ok(value),
                    };
                }
                let deadline = super::Duration::from_secs(1);
                tokio::time::timeout(deadline, self.stream.readable()).await.map_err(|_| "no reply from Redis")??;
                self.read_some()?;
            }
        }

        fn read_some(&mut self) -> Result<(), Failure> {
            let mut chunk = [0u8; 8192];
            match self.stream.try_read(&mut chunk) {
                Ok(0) => Err("Redis closed the connection".into()),
                Ok(n) => {
                    self.buffer.extend_from_slice(&chunk[..n]);
                    Ok(())
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(()),
                Err(e) => Err(e.into()),
            }
        }

        /// The first complete frame in the buffer, taken out of it.
        fn next_frame(&mut self) -> Result<Option<Value>, Failure> {
            let Some(len) = frame_len(&self.buffer, 0) else { return Ok(None) };
            let value = redis::parse_redis_value(&self.buffer[..len])?;
            self.buffer.drain(..len);
            Ok(Some(value))
        }

        /// Applies invalidations until the connection ends; says why it ended.
        pub async fn run(mut self, near: &Arc<NearCache>) -> Failure {
            let peeker = match self.peeker() {
                Ok(peeker) => peeker,
                Err(e) => return e,
            };
            near.install(peeker);
            near.set_live(true);
            loop {
                if let Err(e) = self.stream.readable().await {
                    return e.into();
                }
                // Busy from before the read until what it brought is applied: a request that
                // finds the socket empty and the reader idle knows every push so far is applied.
                near.busy.store(true, Ordering::SeqCst);
                if let Err(e) = self.read_some() {
                    return e;
                }
                loop {
                    match self.next_frame() {
                        Ok(Some(Value::Push { kind: PushKind::Invalidate, data })) => {
                            near.on_invalidate(data.first());
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => return e,
                    }
                }
                // A frame cut in half keeps the reader busy until the rest arrives.
                if self.buffer.is_empty() {
                    near.busy.store(false, Ordering::SeqCst);
                }
            }
        }

        /// A second handle on the same socket, for requests to peek at.
        fn peeker(&self) -> Result<std::net::TcpStream, Failure> {
            use std::os::fd::{AsFd, OwnedFd};
            let fd: OwnedFd = self.stream.as_fd().try_clone_to_owned()?;
            Ok(std::net::TcpStream::from(fd))
        }
    }

    /// The length of the RESP3 frame at `at`, if all of it is in `buf`.
    fn frame_len(buf: &[u8], at: usize) -> Option<usize> {
        let line_end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let header = std::str::from_utf8(&buf[at + 1..line_end]).ok()?;
        let after = line_end + 2;
        let count = || header.parse::<i64>().ok();
        match buf[at] {
            // Blobs: a length, then that many bytes and CRLF (-1: null).
            b'$' | b'=' | b'!' => match count()? {
                n if n < 0 => Some(after - at),
                n => (buf.len() >= after + n as usize + 2).then_some(after + n as usize + 2 - at),
            },
            // Aggregates of n values, or of n pairs.
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = count()?;
                let items = if matches!(buf[at], b'%' | b'|') { n * 2 } else { n.max(0) };
                let mut pos = after;
                for _ in 0..items {
                    pos += frame_len(buf, pos)?;
                }
                Some(pos - at)
            }
            // Everything else is one line.
            _ => Some(after - at),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::frame_len;

        #[test]
        fn frames_are_measured_only_when_complete() {
            let push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$11\r\nphaze:gen:1\r\n";
            assert_eq!(frame_len(push, 0), Some(push.len()));
            for cut in 0..push.len() {
                assert_eq!(frame_len(&push[..cut], 0), None, "cut at {cut}");
            }
            let flush = b">2\r\n$10\r\ninvalidate\r\n_\r\n+OK\r\n";
            assert_eq!(frame_len(flush, 0), Some(flush.len() - 5));
            let hello = b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nmodules\r\n*0\r\n";
            assert_eq!(frame_len(hello, 0), Some(hello.len()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_cache() -> Arc<NearCache> {
        let near = NearCache::new(1 << 20);
        near.set_live(true);
        near
    }

    fn text(s: &str) -> Near {
        Near::Text(Arc::from(s))
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_kept() {
        let near = live_cache();
        let ticket = near.ticket().unwrap();
        near.forget("phaze:gen:7"); // the write's invalidation arrives while the read is in flight
        near.put(ticket, "phaze:gen:7".into(), text("old"), MAX_AGE);
        assert!(near.text("phaze:gen:7").is_none());
        let ticket = near.ticket().unwrap();
        near.put(ticket, "phaze:gen:7".into(), text("new"), MAX_AGE);
        assert_eq!(near.text("phaze:gen:7").as_deref(), Some("new"));
    }

    #[test]
    fn invalidation_pushes_drop_their_keys_and_a_flush_drops_everything() {
        let near = live_cache();
        for key in ["phaze:gen:1", "phaze:gen:2", "phaze:sess:ab"] {
            near.put(near.ticket().unwrap(), key.into(), text("v"), MAX_AGE);
        }
        near.on_invalidate(Some(&Value::Array(vec![Value::BulkString(b"phaze:gen:1".to_vec())])));
        assert!(near.text("phaze:gen:1").is_none());
        assert!(near.text("phaze:gen:2").is_some());
        near.on_invalidate(Some(&Value::Nil));
        assert!(near.text("phaze:gen:2").is_none() && near.text("phaze:sess:ab").is_none());
    }

    #[test]
    fn without_the_tracking_connection_nothing_is_served_or_kept() {
        let near = live_cache();
        near.put(near.ticket().unwrap(), "phaze:gen:1".into(), text("v"), MAX_AGE);
        near.set_live(false);
        assert!(near.ticket().is_none());
        assert!(near.text("phaze:gen:1").is_none());
        near.set_live(true);
        assert!(near.text("phaze:gen:1").is_none(), "emptied when tracking stopped");
    }

    #[test]
    fn a_request_looks_at_the_tracking_socket_once() {
        let near = live_cache();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut redis_side = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (tracking, _) = listener.accept().unwrap();
        tracking.set_nonblocking(true).unwrap();
        near.install(tracking);
        let (earlier, later) = (NearCheck::default(), NearCheck::default());
        assert!(near.usable_in(&earlier), "nothing unread");
        std::io::Write::write_all(&mut redis_side, b">2\r\n").unwrap(); // an invalidation on its way
        std::thread::sleep(Duration::from_millis(20));
        assert!(near.usable_in(&earlier), "the request that looked before it keeps its answer");
        assert!(!near.usable_in(&later), "a request that begins after it does not trust the near cache");
        assert!(!near.usable(), "nor does a fresh look");
    }

    #[test]
    fn entries_expire_on_their_own() {
        let near = live_cache();
        near.put(near.ticket().unwrap(), "phaze:sess:1".into(), text("v"), Duration::from_millis(20));
        assert!(near.text("phaze:sess:1").is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(near.text("phaze:sess:1").is_none());
    }
}
