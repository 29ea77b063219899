//! Server-rendered pages: parse the request, call the domain, choose the view. No SQL here.
mod account;
mod admin;
mod assets;
mod auth;
mod catchers;
mod clients;
pub mod context;
mod dashboard;
mod forms;
pub mod headers;
mod health;
mod public;
mod responses;
mod usage;

pub use catchers::catchers;
pub use clients::NODES_OWNER;

pub fn routes() -> Vec<rocket::Route> {
    [
        public::routes(),
        auth::routes(),
        dashboard::routes(),
        clients::routes(),
        account::routes(),
        admin::routes(),
        health::routes(),
        assets::routes(),
        usage::routes(),
    ]
    .concat()
}
