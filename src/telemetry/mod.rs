//! JSON logs (log4rs), one line per request, and Sentry.
mod background;
mod encoder;
mod logging;
pub mod metrics;
pub mod requests;
mod sentry_setup;

pub use logging::{flush_logs, init_logging};
pub use requests::{RequestId, RequestLog};
pub use sentry_setup::init_sentry;
