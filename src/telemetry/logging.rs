use log::LevelFilter;
use log4rs::append::console::{ConsoleAppender, Target};
use log4rs::config::{Appender, Config, Logger, Root};
use log4rs::encode::json::JsonEncoder;
use std::path::Path;

/// log4rs from `PORTAL_LOG_CONFIG` or ./log4rs.yaml if present, else JSON lines on stdout.
/// Safe to call more than once (tests): later calls are ignored.
pub fn init_logging() {
    let file = std::env::var("PORTAL_LOG_CONFIG").unwrap_or_else(|_| "log4rs.yaml".into());
    if Path::new(&file).exists() {
        match log4rs::init_file(&file, Default::default()) {
            Ok(()) => return,
            Err(e) if e.to_string().contains("already") => return,
            Err(e) => eprintln!("log config {file} could not be read ({e}); logging JSON to stdout"),
        }
    }
    let stdout = ConsoleAppender::builder().target(Target::Stdout).encoder(Box::new(JsonEncoder::new())).build();
    let config = Config::builder()
        .appender(Appender::builder().build("stdout", Box::new(stdout)))
        .logger(Logger::builder().build("rocket", LevelFilter::Warn))
        .logger(Logger::builder().build("_", LevelFilter::Warn))
        .build(Root::builder().appender("stdout").build(LevelFilter::Info))
        .expect("valid log config");
    let _ = log4rs::init_config(config);
}
