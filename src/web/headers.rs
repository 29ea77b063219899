//! Security headers on every response, and no caching of anything not marked cacheable.
use crate::state::Portal;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Request, Response};

pub struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info { name: "Security headers, one-write bodies", kind: Kind::Response }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let portal = req.rocket().state::<Portal>();
        // Every value is a &'static str: no allocation per response.
        let csp = portal.map_or(DEFAULT_CSP, |p| p.content_security_policy);
        res.set_header(Header::new("Content-Security-Policy", csp));
        res.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        res.set_header(Header::new("X-Frame-Options", "DENY"));
        res.set_header(Header::new("Referrer-Policy", "strict-origin-when-cross-origin"));
        res.set_header(Header::new("Cross-Origin-Opener-Policy", "same-origin"));
        if portal.is_some_and(|p| p.config.secure_cookies) {
            res.set_header(Header::new("Strict-Transport-Security", "max-age=63072000; includeSubDomains"));
            secure_every_cookie(res);
        }
        if !res.headers().contains("Cache-Control") {
            res.set_header(Header::new("Cache-Control", "private, no-store"));
        }
        // Rocket hands a body to the connection in chunks of 4 KiB: a 5 KiB dashboard went out in
        // two writes (two segments, two wake-ups of the reader). A page of known size goes in one.
        if let Some(size) = res.body().preset_size() {
            res.set_max_chunk_size(size.clamp(ROCKET_CHUNK, ONE_WRITE_MAX));
        }
    }
}

const ROCKET_CHUNK: usize = rocket::response::Body::DEFAULT_MAX_CHUNK;
/// Larger bodies (the vendored scripts) are still streamed, in chunks of this size.
const ONE_WRITE_MAX: usize = 64 * 1024;

/// Behind TLS every cookie is `Secure`, Rocket's own (the flash message) included: Rocket marks
/// cookies secure only when it terminates TLS itself.
fn secure_every_cookie(res: &mut Response<'_>) {
    if !res.headers().get("Set-Cookie").any(|c| !c.contains("; Secure")) {
        return;
    }
    let cookies: Vec<String> = res
        .headers()
        .get("Set-Cookie")
        .map(|c| if c.contains("; Secure") { c.to_owned() } else { format!("{c}; Secure") })
        .collect();
    res.remove_header("Set-Cookie");
    for cookie in cookies {
        res.adjoin_header(Header::new("Set-Cookie", cookie));
    }
}

const DEFAULT_CSP: &str = "default-src 'self'; object-src 'none'; frame-ancestors 'none'";

/// The Content-Security-Policy for assets served from `asset_origin` (empty: this host), made
/// once at start and kept for the life of the process.
pub fn content_security_policy(asset_origin: &str) -> &'static str {
    let cdn = if asset_origin.is_empty() { String::new() } else { format!(" {asset_origin}") };
    Box::leak(
        format!(
            "default-src 'self'; script-src 'self'{cdn}; style-src 'self'{cdn}; img-src 'self' data:{cdn}; \
             font-src 'self'{cdn}; connect-src 'self'; object-src 'none'; base-uri 'self'; \
             form-action 'self'; frame-ancestors 'none'"
        )
        .into_boxed_str(),
    )
}
