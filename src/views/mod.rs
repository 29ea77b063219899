//! Pure functions from plain data to maud Markup: no I/O here.
pub mod account;
pub mod admin;
pub mod admin_audit;
pub mod admin_billing;
pub mod admin_users;
pub mod api_docs;
pub mod api_tokens;
pub mod auth;
pub mod billing;
pub mod clients;
pub mod components;
pub mod dashboard;
pub mod email;
pub mod errors;
pub mod layout;
pub mod public;
pub mod tickets;
pub mod two_factor;
pub mod usage;

pub use layout::{page, Flash, NavUser, PageContext};
