//! A route that panics, mounted only with `PORTAL_FAULT_ROUTES=true`: to prove, in tests and in
//! a staging deploy, that a panic reaches Sentry with its request id and without secrets.
use rocket::{get, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![panic]
}

#[get("/panic")]
fn panic() -> &'static str {
    panic!("a deliberate panic from /__fault/panic")
}
