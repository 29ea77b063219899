//! Passwords, session tokens, request guards and CSRF.
pub mod api_token;
pub mod csrf;
pub mod guards;
pub mod node;
pub mod password;
pub mod tokens;

pub use csrf::CsrfForm;
pub use guards::{Admin, AdminActor, ClientInfo, CurrentUser};

/// Name of the session cookie (documented for CDN cache-bypass rules).
pub const SESSION_COOKIE: &str = "phaze_session";
/// Name of the CSRF cookie used by forms shown before sign-in (double submit).
pub const ANON_CSRF_COOKIE: &str = "phaze_csrf";
