//! Sentry, only when a DSN is configured; requests reach it without cookies or credentials.
use sentry::protocol::Event;

const SECRET_HEADERS: [&str; 4] = ["cookie", "authorization", "x-csrf-token", "set-cookie"];

pub(crate) fn scrub(mut event: Event<'static>) -> Option<Event<'static>> {
    if let Some(request) = event.request.as_mut() {
        request.cookies = None;
        request.headers.retain(|name, _| !SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
        request.query_string = None;
        request.data = None;
        // The URL carries the query string too (a token in a link, a cursor): path only.
        if let Some(url) = request.url.as_mut() {
            url.set_query(None);
        }
    }
    Some(event)
}

/// Call before the async runtime starts; keep the guard alive for the process.
pub fn init_sentry(dsn: Option<&str>) -> Option<sentry::ClientInitGuard> {
    let dsn = dsn.filter(|d| !d.is_empty())?;
    if let Err(e) = dsn.parse::<sentry::types::Dsn>() {
        log::error!("SENTRY_DSN is not a valid DSN ({e}); Sentry stays off");
        return None;
    }
    let mut options = sentry::ClientOptions::new().dsn(dsn).send_default_pii(false).before_send(scrub);
    if let Some(release) = sentry::release_name!() {
        options = options.release(release);
    }
    let guard = sentry::init(options);
    log::info!(event = "sentry_enabled"; "sentry_enabled");
    Some(guard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::Request;

    #[test]
    fn cookies_and_credentials_are_scrubbed() {
        let mut request = Request { cookies: Some("phaze_session=secret".into()), ..Default::default() };
        request.headers.insert("Cookie".into(), "phaze_session=secret".into());
        request.headers.insert("Authorization".into(), "Bearer secret".into());
        request.headers.insert("Accept".into(), "text/html".into());
        let event = scrub(Event { request: Some(request), ..Default::default() }).unwrap();
        let request = event.request.unwrap();
        assert!(request.cookies.is_none());
        assert_eq!(request.headers.keys().collect::<Vec<_>>(), vec!["Accept"]);
    }
}
