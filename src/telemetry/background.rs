//! A log4rs appender that never makes a request wait on a write.
//!
//! A record is encoded on the caller's thread (CPU only) and handed to one writer thread through a
//! bounded queue. If the writer falls behind and the queue is full, the line is dropped and
//! counted; the writer reports the count in its next line. `flush` (called by `log::logger()
//! .flush()` on a clean shutdown) waits until everything queued before it is written.
//!
//! ```yaml
//! appenders:
//!   main:
//!     kind: background
//!     path: /var/log/phaze/portal.log   # omit for stdout
//!     queue: 65536                      # lines; default 65536
//!     encoder: { kind: json }
//! ```
use log::Record;
use log4rs::append::Append;
use log4rs::config::{Deserialize, Deserializers};
use log4rs::encode::writer::simple::SimpleWriter;
use log4rs::encode::{json::JsonEncoder, Encode, EncoderConfig};
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;

const DEFAULT_QUEUE: usize = 65_536;

/// Lines dropped since start, over every background appender (for operators and tests).
static DROPPED_TOTAL: AtomicU64 = AtomicU64::new(0);

pub fn dropped_lines() -> u64 {
    DROPPED_TOTAL.load(Ordering::Relaxed)
}

enum Message {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

pub struct BackgroundAppender {
    encoder: Box<dyn Encode>,
    queue: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for BackgroundAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundAppender").field("dropped", &self.dropped).finish()
    }
}

impl BackgroundAppender {
    /// Starts the writer thread over `out`; at most `queue` lines wait for it.
    pub fn new(encoder: Box<dyn Encode>, out: Box<dyn Write + Send>, queue: usize) -> Self {
        let (sender, receiver) = sync_channel(queue.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = dropped.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_lines(receiver, BufWriter::with_capacity(64 * 1024, out), &counter))
            .expect("spawn the log writer thread");
        BackgroundAppender { encoder, queue: sender, dropped }
    }

    pub fn stdout(encoder: Box<dyn Encode>) -> Self {
        Self::new(encoder, Box::new(std::io::stdout()), DEFAULT_QUEUE)
    }
}

impl Append for BackgroundAppender {
    fn append(&self, record: &Record) -> anyhow::Result<()> {
        let mut line = SimpleWriter(Vec::with_capacity(256));
        self.encoder.encode(&mut line, record)?;
        match self.queue.try_send(Message::Line(line.0)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                DROPPED_TOTAL.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => anyhow::bail!("the log writer thread has stopped"),
        }
        Ok(())
    }

    fn flush(&self) {
        let (done, wait) = sync_channel(1);
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

fn write_lines(queue: Receiver<Message>, mut out: BufWriter<Box<dyn Write + Send>>, dropped: &AtomicU64) {
    let mut next = queue.recv().ok();
    while let Some(message) = next {
        match message {
            Message::Line(line) => {
                let _ = out.write_all(&line);
            }
            Message::Flush(done) => {
                let _ = out.flush();
                let _ = done.send(());
            }
        }
        next = match queue.try_recv() {
            Ok(message) => Some(message),
            Err(TryRecvError::Empty) => {
                // The queue is empty: report drops, then hand what we have to the OS and wait.
                let lost = dropped.swap(0, Ordering::Relaxed);
                if lost > 0 {
                    let _ = writeln!(
                        out,
                        r#"{{"level":"WARN","target":"portal::log","message":"the log writer fell behind; lines were dropped","dropped":{lost}}}"#
                    );
                }
                let _ = out.flush();
                queue.recv().ok()
            }
            Err(TryRecvError::Disconnected) => None,
        };
    }
    let _ = out.flush();
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackgroundConfig {
    path: Option<String>,
    queue: Option<usize>,
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
            None => Box::new(JsonEncoder::new()),
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
        Ok(Box::new(BackgroundAppender::new(encoder, out, config.queue.unwrap_or(DEFAULT_QUEUE))))
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
        let appender = BackgroundAppender::new(Box::new(JsonEncoder::new()), Box::new(sink), 4);
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
            .filter_map(|v| v["dropped"].as_u64())
            .sum();
        let written = text.lines().filter(|l| l.contains("\"line ")).count() as u64;
        assert_eq!(reported + written, 1000, "every line is either written or counted as dropped");
        // 4 queued and a few taken by the writer: the rest were dropped, not waited for.
        assert!(written <= 10, "{written} lines written past a stuck writer");
    }

    #[test]
    fn flush_waits_until_every_queued_line_is_written() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Stuck { gate: Arc::new(Mutex::new(())), got: got.clone() };
        let appender = BackgroundAppender::new(Box::new(JsonEncoder::new()), Box::new(sink), 10_000);
        for i in 0..5000 {
            record(&format!("line {i}"), |r| appender.append(r).unwrap());
        }
        appender.flush();
        let text = String::from_utf8(got.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 5000);
        assert!(text.lines().last().unwrap().contains("line 4999"));
    }
}
