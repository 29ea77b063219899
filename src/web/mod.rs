//! Server-rendered pages: parse the request, call the domain, choose the view. No SQL here.
mod account;
mod admin;
mod admin_audit;
mod admin_billing;
mod admin_tickets;
mod admin_users;
mod api_docs;
mod api_tokens;
mod assets;
mod auth;
mod billing;
mod catchers;
mod clients;
pub mod context;
mod dashboard;
pub mod faults;
mod forms;
pub mod headers;
mod health;
mod metrics;
mod public;
mod recovery;
mod responses;
mod support;
mod two_factor;
mod usage;

pub use catchers::catchers;
pub use clients::NODES_OWNER;

pub fn routes() -> Vec<rocket::Route> {
    [
        public::routes(),
        auth::routes(),
        billing::routes(),
        dashboard::routes(),
        clients::routes(),
        account::routes(),
        api_tokens::routes(),
        api_docs::routes(),
        admin::routes(),
        admin_audit::routes(),
        admin_billing::routes(),
        admin_tickets::routes(),
        admin_users::routes(),
        support::routes(),
        two_factor::routes(),
        health::routes(),
        metrics::routes(),
        assets::routes(),
        usage::routes(),
        recovery::routes(),
    ]
    .concat()
}
