//! JSON logs (log4rs), one line per request, and Sentry.
mod logging;
mod requests;
mod sentry_setup;

pub use logging::init_logging;
pub use requests::{RequestId, RequestLog};
pub use sentry_setup::init_sentry;
