//! The real binary's log: JSON lines, one per request, with no secret in any of them.
use crate::helpers::*;

fn cookie_from(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .filter_map(|(_, v)| v.split(';').next()?.strip_prefix(&format!("{name}=")).map(str::to_owned))
        .next()
}

#[rocket::async_test]
async fn request_lines_and_events_are_json_and_secrets_never_appear() {
    let server = ServerProcess::start().await;
    let port = server.port;
    let (_, headers, page) = http(port, "GET", "/signup", &[("X-Request-Id", "test-request-0001")], "");
    assert!(headers.iter().any(|(k, v)| k == "x-request-id" && v == "test-request-0001"), "request id echoed");
    let anon = cookie_from(&headers, "phaze_csrf").unwrap();
    let csrf = csrf_in(&page).unwrap();
    let cookie = format!("phaze_csrf={anon}");
    let body = form_encode(&[
        ("_csrf", &csrf),
        ("username", "log_watcher"),
        ("email", "log@example.com"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ]);
    let (status, headers, _) = http(
        port,
        "POST",
        "/signup",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", &cookie)],
        &body,
    );
    assert_eq!(status, 303);
    let session = cookie_from(&headers, "phaze_session").unwrap();
    let (status, _, dashboard) =
        http(port, "GET", "/dashboard", &[("Cookie", &format!("phaze_session={session}"))], "");
    assert_eq!(status, 200);
    let session_csrf = csrf_in(&dashboard).unwrap();
    let wrong = form_encode(&[("_csrf", &csrf), ("login", "log_watcher"), ("password", "a-wrong-password-here")]);
    http(port, "POST", "/login", &[("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", &cookie)], &wrong);

    let log = server.stop();
    let lines: Vec<serde_json::Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect();
    let requests: Vec<&serde_json::Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert!(requests.len() >= 4, "one line per request");
    for r in &requests {
        let a = &r["attributes"];
        for key in ["request_id", "method", "route", "status", "duration_ms"] {
            assert!(!a[key].is_null(), "{key} in {r}");
        }
    }
    assert!(requests.iter().any(|r| r["attributes"]["request_id"] == "test-request-0001"
        && r["attributes"]["route"] == "/signup"
        && r["attributes"]["status"] == "200"));
    assert!(
        requests.iter().any(|r| r["attributes"]["route"] == "/dashboard" && !r["attributes"]["user_id"].is_null()),
        "user id on signed-in requests"
    );
    for event in ["user_signed_up", "login_failed"] {
        assert!(lines.iter().any(|l| l["attributes"]["event"] == event), "{event} logged");
    }
    for secret in [PASSWORD, "a-wrong-password-here", &session, &anon, &csrf, &session_csrf] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}
