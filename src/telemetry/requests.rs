//! One JSON log line per request; `X-Request-Id` in and out; 5xx reported to Sentry.
use crate::auth::guards::resolved_session;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::request::{self, FromRequest};
use rocket::{Data, Request, Response};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Clone)]
pub struct RequestId(pub String);

struct Started {
    id: RequestId,
    at: Instant,
}

/// A proxy's request id is kept if it looks like one; otherwise we make one.
fn incoming_id(req: &Request<'_>) -> Option<String> {
    req.headers()
        .get_one("X-Request-Id")
        .filter(|id| {
            !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
}

/// A fresh id: this process's random 64-bit prefix and a counter. Unique across instances and
/// restarts without asking the OS for randomness on every request.
fn new_id() -> String {
    static PREFIX: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("OS random source");
        hex::encode(bytes)
    });
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{}{:016x}", *PREFIX, NEXT.fetch_add(1, Ordering::Relaxed))
}

fn started<'r>(req: &'r Request<'_>) -> &'r Started {
    req.local_cache(|| Started { id: RequestId(incoming_id(req).unwrap_or_else(new_id)), at: Instant::now() })
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for RequestId {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        request::Outcome::Success(started(req).id.clone())
    }
}

/// The request for a Sentry event: URL, method and every header, secrets included; the
/// before_send hook (`sentry_setup::scrub`) takes those out before anything leaves.
fn sentry_request(req: &Request<'_>) -> sentry::protocol::Request {
    let host = req.host().map_or_else(|| "localhost".to_owned(), |h| h.to_string());
    sentry::protocol::Request {
        url: format!("http://{host}{}", req.uri()).parse().ok(),
        method: Some(req.method().as_str().to_owned()),
        query_string: req.uri().query().map(|q| q.to_string()),
        cookies: req.headers().get_one("Cookie").map(str::to_owned),
        headers: req.headers().iter().map(|h| (h.name().to_string(), h.value().to_string())).collect(),
        ..Default::default()
    }
}

pub struct RequestLog;

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info { name: "Request log", kind: Kind::Request | Kind::Response }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        started(req);
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let started = started(req);
        let id = started.id.0.as_str();
        res.set_header(Header::new("X-Request-Id", id.to_owned()));
        let duration_ms = started.at.elapsed().as_secs_f64() * 1000.0;
        // The route's pattern, never the raw URI: no query strings, no tokens in logs.
        let route = req.route().map_or("-", |r| r.uri.origin.path().as_str());
        let status = res.status().code;
        let duration_ms = (duration_ms * 100.0).round() / 100.0;
        let method = req.method().as_str();
        let route_id = req.route().map_or(0, |r| r as *const rocket::Route as usize);
        super::metrics::request(route_id, route, method, status, duration_ms / 1000.0);
        match resolved_session(req).map(|u| u.user_id()) {
            Some(user_id) => log::info!(
                target: "portal::request",
                request_id = id, method, route, status, duration_ms, user_id;
                "request"
            ),
            None => log::info!(
                target: "portal::request",
                request_id = id, method, route, status, duration_ms;
                "request"
            ),
        }
        if status >= 500 {
            // The request as it came (the before_send hook strips cookies, credentials, queries).
            let request = sentry_request(req);
            sentry::with_scope(
                |scope| {
                    scope.set_tag("request_id", id);
                    scope.set_tag("route", route);
                    scope.add_event_processor(move |mut event| {
                        event.request = Some(request.clone());
                        Some(event)
                    });
                },
                || sentry::capture_message(&format!("{status} on {} {route}", req.method()), sentry::Level::Error),
            );
        }
    }
}
