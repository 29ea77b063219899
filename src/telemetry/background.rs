//! A log4rs appender that never makes a request wait on a write.
//!
//! A record is encoded on the caller's thread into that thread's reusable buffer, then copied
//! into one shared in-memory buffer (a short lock, no allocation, no wake-up). A writer thread
//! swaps that buffer out every few milliseconds and writes it. If the writer falls behind and the
//! buffer is full, the line is dropped and counted; the writer reports the count in a line of its
//! own. `flush` (called by `log::logger().flush()` on a clean shutdown) writes out everything
//! appended before it.
//!
//! ```yaml
//! appenders:
//!   main:
//!     kind: background
//!     path: /var/log/phaze/portal.log   # omit for stdout
//!     buffer_bytes: 8388608             # the most waiting for the writer; default 8 MiB
//!     encoder: { kind: portal_json }    # the default
//! ```
//!
//! (A channel of one allocation per line cost more than the write itself: each line's buffer was
//! freed on the writer thread, and glibc's arenas locked against the request threads.)
use super::encoder::LineEncoder;
use log::Record;
use log4rs::append::Append;
use log4rs::config::{Deserialize, Deserializers};
use log4rs::encode::writer::simple::SimpleWriter;
use log4rs::encode::{Encode, EncoderConfig};
use std::cell::RefCell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEFAULT_BUFFER_BYTES: usize = 8 * 1024 * 1024;
/// How long the writer naps when there is nothing to write.
const NAP: Duration = Duration::from_millis(5);

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

struct Shared {
    /// Lines waiting for the writer. Lock order: `out` before `pending`.
    pending: Mutex<Vec<u8>>,
    out: Mutex<Box<dyn Write + Send>>,
    capacity: usize,
    dropped: AtomicU64,
    stopped: AtomicBool,
}

impl Shared {
    /// Writes out what is pending (and reports drops); returns whether there was anything.
    fn write_pending(&self, spare: &mut Vec<u8>) -> bool {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()), spare);
        let lost = self.dropped.swap(0, Ordering::Relaxed);
        if spare.is_empty() && lost == 0 {
            return false;
        }
        let _ = out.write_all(spare);
        if lost > 0 {
            let _ = writeln!(
                out,
                r#"{{"level":"WARN","target":"portal::log","message":"the log writer fell behind; lines were dropped","attributes":{{"dropped":{lost}}}}}"#
            );
        }
        let _ = out.flush();
        spare.clear();
        true
    }
}

pub struct BackgroundAppender {
    encoder: Box<dyn Encode>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BackgroundAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundAppender").field("capacity", &self.shared.capacity).finish()
    }
}

impl BackgroundAppender {
    /// Starts the writer thread over `out`; at most `capacity` bytes wait for it.
    pub fn new(encoder: Box<dyn Encode>, out: Box<dyn Write + Send>, capacity: usize) -> Self {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::with_capacity(capacity.min(1 << 20))),
            out: Mutex::new(out),
            capacity,
            dropped: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
        });
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                let mut spare = Vec::with_capacity(capacity.min(1 << 20));
                while !writer.stopped.load(Ordering::Relaxed) {
                    if !writer.write_pending(&mut spare) {
                        std::thread::sleep(NAP);
                    }
                }
            })
            .expect("spawn the log writer thread");
        BackgroundAppender { encoder, shared }
    }

    pub fn stdout(encoder: Box<dyn Encode>) -> Self {
        Self::new(encoder, Box::new(std::io::stdout()), DEFAULT_BUFFER_BYTES)
    }
}

impl Drop for BackgroundAppender {
    fn drop(&mut self) {
        self.flush();
        self.shared.stopped.store(true, Ordering::Relaxed);
    }
}

impl Append for BackgroundAppender {
    fn append(&self, record: &Record) -> anyhow::Result<()> {
        SCRATCH.with(|scratch| {
            let mut line = SimpleWriter(std::mem::take(&mut *scratch.borrow_mut()));
            line.0.clear();
            let encoded = self.encoder.encode(&mut line, record);
            if encoded.is_ok() {
                let mut pending = self.shared.pending.lock().unwrap_or_else(|e| e.into_inner());
                if pending.len() + line.0.len() <= self.shared.capacity {
                    pending.extend_from_slice(&line.0);
                } else {
                    drop(pending);
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            *scratch.borrow_mut() = line.0;
            encoded
        })
    }

    fn flush(&self) {
        let mut spare = Vec::new();
        self.shared.write_pending(&mut spare);
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackgroundConfig {
    path: Option<String>,
    buffer_bytes: Option<usize>,
    encoder: Option<EncoderConfig>,
}

/// `kind: background` in a log4rs YAML file.
pub struct BackgroundDeserializer;

impl Deserialize for BackgroundDeserializer {
    type Trait = dyn Append;
    type Config = BackgroundConfig;

    fn deserialize(&self, config: BackgroundConfig, deserializers: &Deserializers) -> anyhow::Result<Box<dyn Append>> {
        let encoder: Box<dyn Encode> = match config.encoder {
            Some(encoder) => deserializers.deserialize(&encoder.kind, encoder.config)?,
            None => Box::new(LineEncoder),
        };
        let out: Box<dyn Write + Send> = match config.path {
            Some(path) => {
                if let Some(dir) = std::path::Path::new(&path).parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                Box::new(std::fs::OpenOptions::new().create(true).append(true).open(&path)?)
            }
            None => Box::new(std::io::stdout()),
        };
        Ok(Box::new(BackgroundAppender::new(encoder, out, config.buffer_bytes.unwrap_or(DEFAULT_BUFFER_BYTES))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A sink that blocks every write until the test lets it go, like a full disk or a stuck pipe.
    struct Stuck {
        gate: Arc<Mutex<()>>,
        got: Arc<Mutex<Vec<u8>>>,
    }
    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _open = self.gate.lock().unwrap();
            self.got.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            let _open = self.gate.lock().unwrap();
            Ok(())
        }
    }

    fn record(message: &str, f: impl FnOnce(&Record)) {
        f(&Record::builder().args(format_args!("{message}")).level(log::Level::Info).target("t").build())
    }

    #[test]
    fn a_stuck_writer_never_stalls_the_caller_and_the_drops_are_reported() {
        let gate = Arc::new(Mutex::new(()));
        let got = Arc::new(Mutex::new(Vec::new()));
        let held = gate.lock().unwrap();
        let sink = Stuck { gate: gate.clone(), got: got.clone() };
        let appender = BackgroundAppender::new(Box::new(LineEncoder), Box::new(sink), 1000);
        let started = std::time::Instant::now();
        for i in 0..1000 {
            record(&format!("line {i}"), |r| appender.append(r).unwrap());
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "appending blocked on the writer");
        drop(held);
        appender.flush();
        let text = String::from_utf8(got.lock().unwrap().clone()).unwrap();
        assert!(text.contains("line 0"), "{text}");
        assert!(text.contains("lines were dropped"), "{text}");
        let reported: u64 = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["attributes"]["dropped"].as_u64())
            .sum();
        let written = text.lines().filter(|l| l.contains("\"line ")).count() as u64;
        assert_eq!(reported + written, 1000, "every line is either written or counted as dropped");
        // 1000 bytes (a few lines) pending and a few taken by the writer: the rest were dropped.
        assert!(written <= 30, "{written} lines written past a stuck writer");
    }

    #[test]
    fn flush_writes_every_line_appended_before_it() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Stuck { gate: Arc::new(Mutex::new(())), got: got.clone() };
        let appender = BackgroundAppender::new(Box::new(LineEncoder), Box::new(sink), 10 << 20);
        for i in 0..5000 {
            record(&format!("line {i}"), |r| appender.append(r).unwrap());
        }
        appender.flush();
        let text = String::from_utf8(got.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 5000);
        assert!(text.lines().last().unwrap().contains("line 4999"));
    }
}
