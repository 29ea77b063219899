use super::background::{BackgroundAppender, BackgroundDeserializer};
use super::encoder::{LineEncoder, LineEncoderDeserializer};
use log::LevelFilter;
use log4rs::config::{Appender, Config, Logger, Root};
use std::path::Path;

/// log4rs from `PORTAL_LOG_CONFIG` or ./log4rs.yaml if present, else JSON lines on stdout, written
/// by a background thread either way (`kind: background`). Safe to call more than once (tests):
/// later calls are ignored.
pub fn init_logging() {
    let file = std::env::var("PORTAL_LOG_CONFIG").unwrap_or_else(|_| "log4rs.yaml".into());
    if Path::new(&file).exists() {
        match log4rs::init_file(&file, deserializers()) {
            Ok(()) => return,
            Err(e) if e.to_string().contains("already") => return,
            Err(e) => eprintln!("log config {file} could not be read ({e}); logging JSON to stdout"),
        }
    }
    let stdout = BackgroundAppender::stdout(Box::new(LineEncoder));
    let config = Config::builder()
        .appender(Appender::builder().build("stdout", Box::new(stdout)))
        .logger(Logger::builder().build("rocket", LevelFilter::Warn))
        .logger(Logger::builder().build("_", LevelFilter::Warn))
        .build(Root::builder().appender("stdout").build(LevelFilter::Info))
        .expect("valid log config");
    let _ = log4rs::init_config(config);
}

fn deserializers() -> log4rs::config::Deserializers {
    let mut deserializers = log4rs::config::Deserializers::default();
    deserializers.insert("background", BackgroundDeserializer);
    deserializers.insert("portal_json", LineEncoderDeserializer);
    deserializers
}

/// Writes out every queued line; call before the process exits.
pub fn flush_logs() {
    log::logger().flush();
}
