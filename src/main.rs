use clap::Parser;
use phaze_portal::cli::{self, Cli, Command};
use phaze_portal::{config, telemetry};
use std::process::ExitCode;

// mimalloc instead of glibc's malloc: a request allocates and frees many small blocks across
// worker threads, where glibc's arenas cost about a tenth of the CPU of a simple request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Both rustls providers end up compiled in; pick one before any TLS client starts.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    telemetry::init_logging();
    let figment = config::figment();
    let dsn: Option<String> = figment.extract_inner("sentry_dsn").ok();
    let _sentry = telemetry::init_sentry(dsn.as_deref());
    let outcome = rocket::execute(cli::run(cli.command.unwrap_or(Command::Serve), figment));
    telemetry::flush_logs();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("phaze-portal: {message}");
            ExitCode::FAILURE
        }
    }
}
