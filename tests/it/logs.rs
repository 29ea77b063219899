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
        && r["attributes"]["status"] == 200));
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

/// A stand-in Sentry ingestion endpoint on loopback: keeps every request it is sent.
fn fake_sentry() -> (u16, std::sync::Arc<std::sync::Mutex<String>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            stream.set_read_timeout(Some(std::time::Duration::from_millis(300))).unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&raw));
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
        }
    });
    (port, received)
}

#[rocket::async_test]
async fn a_5xx_reaches_sentry_with_its_request_id_and_without_the_cookie() {
    let (sentry_port, received) = fake_sentry();
    let database_url = fresh_database().await;
    let mut proxy = PgProxy::start(0).await;
    let dsn = format!("http://publickey@127.0.0.1:{sentry_port}/42");
    let server = ServerProcess::start_with(&through(&proxy, &database_url), &[("SENTRY_DSN", dsn.as_str())]).await;
    let port = server.port;
    let (_, headers, page) = http(port, "GET", "/signup", &[], "");
    let anon = cookie_from(&headers, "phaze_csrf").unwrap();
    let body = form_encode(&[
        ("_csrf", &csrf_in(&page).unwrap()),
        ("username", "sentry_user"),
        ("email", "s@example.com"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ]);
    let (_, headers, _) = http(
        port,
        "POST",
        "/signup",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", &format!("phaze_csrf={anon}"))],
        &body,
    );
    let session = cookie_from(&headers, "phaze_session").unwrap();

    proxy.cut();
    let (status, headers, _) = http(
        port,
        "GET",
        "/account?token=query-secret",
        &[
            ("Cookie", &format!("phaze_session={session}")),
            ("Authorization", "Bearer header-secret"),
            ("User-Agent", "sentry-test-agent/1.0"),
        ],
        "",
    );
    assert_eq!(status, 503);
    let request_id = headers.iter().find(|(k, _)| k == "x-request-id").unwrap().1.clone();
    let mut seen = String::new();
    for _ in 0..100 {
        seen = received.lock().unwrap().clone();
        if seen.contains(&request_id) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(seen.contains("/api/42/envelope/"), "an envelope was posted: {seen}");
    assert!(seen.contains(&format!("\"request_id\":\"{request_id}\"")), "tagged with the request id: {seen}");
    // The request itself is there (so the scrubbing below is really tested)...
    assert!(seen.contains("sentry-test-agent/1.0"), "the request's harmless headers are sent: {seen}");
    assert!(seen.contains("/account"), "and its path");
    // ...without its secrets.
    assert!(!seen.contains(&session), "no session token in Sentry");
    assert!(!seen.contains("header-secret"), "no Authorization header in Sentry");
    assert!(!seen.contains("query-secret"), "no query string in Sentry");
    server.stop();
}

/// `kind: background` with a `path` from a YAML file: every request's line is in the file after a
/// clean shutdown (SIGTERM). The flush-before-exit itself is proven by the appender's unit tests.
#[rocket::async_test]
async fn a_clean_shutdown_loses_no_line_of_a_file_log() {
    let dir = tempdir();
    let log_file = dir.join("portal.log");
    let config = dir.join("log4rs.yaml");
    std::fs::write(
        &config,
        format!(
            "appenders:\n  main:\n    kind: background\n    path: {}\n    buffer_bytes: 8388608\n    encoder: {{ kind: portal_json }}\n\
             root:\n  level: info\n  appenders: [main]\nloggers:\n  rocket:\n    level: warn\n  _:\n    level: warn\n",
            log_file.display()
        ),
    )
    .unwrap();
    let server =
        ServerProcess::start_with(&fresh_database().await, &[("PORTAL_LOG_CONFIG", config.to_str().unwrap())]).await;
    let port = server.port;
    for i in 0..300 {
        let (status, _, _) = http(port, "GET", "/healthz", &[("X-Request-Id", &format!("shutdown-{i:04}"))], "");
        assert_eq!(status, 200);
    }
    server.stop();
    let text = std::fs::read_to_string(&log_file).unwrap();
    let ids: std::collections::HashSet<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .filter_map(|l| l["attributes"]["request_id"].as_str().map(str::to_owned))
        .filter(|id| id.starts_with("shutdown-"))
        .collect();
    assert_eq!(ids.len(), 300, "every request's line is in the file after SIGTERM");
}

/// A 500 from a real fault (a client key sealed under another key cannot be opened) and a panic
/// both reach Sentry with their request ids, without the cookie or the Authorization header.
#[rocket::async_test]
async fn a_500_and_a_panic_reach_sentry_without_secrets() {
    let (sentry_port, received) = fake_sentry();
    let app = TestApp::spawn().await;
    app.add_node("fault-node", "vpn.fault.example", "10.73.0.0/24").await;
    app.sign_up("faulty").await;
    let client = app.create_client("broken", "wireguard").await;
    sqlx::query("UPDATE clients SET private_key_sealed = decode(repeat('00', 60), 'hex')")
        .execute(&app.pool)
        .await
        .unwrap();
    let session = app.session_cookie().unwrap();
    let dsn = format!("http://publickey@127.0.0.1:{sentry_port}/42");
    let server =
        ServerProcess::start_with(&app.database_url, &[("SENTRY_DSN", dsn.as_str()), ("PORTAL_FAULT_ROUTES", "true")])
            .await;
    let secrets =
        [("Cookie", format!("phaze_session={session}")), ("Authorization", "Bearer header-secret".to_owned())];
    let headers: Vec<(&str, &str)> = secrets.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut ids = Vec::new();
    for path in [format!("/clients/{client}/config"), "/__fault/panic".to_owned()] {
        let (status, response_headers, _) = http(server.port, "GET", &path, &headers, "");
        assert_eq!(status, 500, "{path}");
        ids.push(response_headers.iter().find(|(k, _)| k == "x-request-id").unwrap().1.clone());
    }
    let mut seen = String::new();
    for _ in 0..100 {
        seen = received.lock().unwrap().clone();
        if ids.iter().all(|id| seen.contains(&format!("\"request_id\":\"{id}\""))) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for id in &ids {
        assert!(seen.contains(&format!("\"request_id\":\"{id}\"")), "an envelope for {id}: {seen}");
    }
    assert!(seen.contains("deliberate panic"), "the panic itself is reported");
    assert!(!seen.contains(&session), "no session token in Sentry");
    assert!(!seen.contains("header-secret"), "no Authorization header in Sentry");
    let log = server.stop();
    assert!(!log.contains(&session));
}
