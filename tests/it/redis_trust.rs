//! Redis is not trusted for identity or markup: what the portal reads back must carry its own
//! signature, and its keys stay inside the portal's namespace.
use crate::helpers::*;
use rocket::http::Status;

async fn keys(app: &TestApp, pattern: &str) -> Vec<String> {
    match app.redis.command(&["KEYS", pattern]).await {
        redis::Value::Array(keys) => keys
            .into_iter()
            .map(|k| match k {
                redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

async fn get(app: &TestApp, key: &str) -> String {
    match app.redis.command(&["GET", key]).await {
        redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[rocket::async_test]
async fn a_session_rewritten_in_redis_is_refused_and_postgres_decides() {
    let app = TestApp::spawn().await;
    app.sign_up("plain_user").await;
    assert_eq!(app.get("/admin").await.status(), Status::Forbidden);
    let session_keys = keys(&app, "phaze:sess:*").await;
    assert_eq!(session_keys.len(), 1);
    let stored = get(&app, &session_keys[0]).await;
    assert!(stored.contains("\"role\":\"user\""));
    // Someone with write access to Redis makes the cached session an admin's, tag and all kept...
    app.redis.command(&["SET", &session_keys[0], &stored.replace("\"role\":\"user\"", "\"role\":\"admin\"")]).await;
    assert_eq!(app.get("/admin").await.status(), Status::Forbidden, "the forged role is not believed");
    // ...or writes bare JSON without a tag.
    let bare = stored[64..].replace("\"role\":\"user\"", "\"role\":\"admin\"");
    app.redis.command(&["SET", &session_keys[0], &bare]).await;
    assert_eq!(app.get("/admin").await.status(), Status::Forbidden);
    assert!(get(&app, &session_keys[0]).await.contains("\"role\":\"user\""), "the real session was cached again");
    assert_eq!(app.get("/dashboard").await.status(), Status::Ok, "and the user is still signed in");
}

#[rocket::async_test]
async fn a_fragment_planted_in_redis_is_never_served() {
    let app = TestApp::spawn().await;
    app.sign_up("planted").await;
    let (_, first) = app.page("/dashboard").await;
    assert!(first.contains("planted@example.com"));
    let fragment_keys = keys(&app, "phaze:frag:account_summary:*").await;
    assert_eq!(fragment_keys.len(), 1);
    app.redis.command(&["SET", &fragment_keys[0], "<script>alert('owned')</script>"]).await;
    let (_, page) = app.page("/dashboard").await;
    assert!(!page.contains("alert('owned')"), "unsigned markup is not inserted");
    assert!(page.contains("planted@example.com"), "the summary is rendered again instead");
}

#[rocket::async_test]
async fn every_key_is_inside_the_configured_namespace() {
    let app = TestApp::spawn_with(|f| f.merge(("redis_namespace", "tenant-a"))).await;
    app.add_node("ns-node", "vpn.example", "10.99.0.0/24").await;
    app.sign_up("spaced").await;
    app.create_client("ns-phone", "wireguard").await;
    app.page("/dashboard").await;
    assert_eq!(keys(&app, "tenant-a:sess:*").await.len(), 1);
    app.log_out().await;
    app.log_in("nobody", "wrong-password-123").await;
    let all = keys(&app, "*").await;
    assert!(all.len() >= 5, "{all:?}");
    assert!(all.iter().all(|k| k.starts_with("tenant-a:")), "{all:?}");
    for kind in ["frag", "gen", "rl"] {
        assert!(all.iter().any(|k| k.starts_with(&format!("tenant-a:{kind}:"))), "{kind}: {all:?}");
    }
}

/// A redis-server that speaks only TLS and wants a password, with a CA of the test's own.
struct TlsRedis {
    dir: std::path::PathBuf,
    port: u16,
}

impl TlsRedis {
    fn start() -> TlsRedis {
        let dir = std::env::temp_dir().join(format!("phaze-tls-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let sh = |script: &str| {
            let out = std::process::Command::new("sh").arg("-c").arg(script).current_dir(&dir).output().unwrap();
            assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        };
        sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
            -days 2 -subj '/CN=phaze test ca'");
        sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
            -subj '/CN=localhost'");
        sh("printf 'subjectAltName=DNS:localhost\\n' > ext && openssl x509 -req -in server.csr -CA ca.pem \
            -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext");
        let port = free_port();
        sh(&format!(
            "redis-server --port 0 --tls-port {port} --bind 127.0.0.1 --tls-cert-file server.pem \
             --tls-key-file server.key --tls-ca-cert-file ca.pem --tls-auth-clients no --requirepass tls-test-pw \
             --save '' --appendonly no --daemonize yes --pidfile {}/redis.pid --logfile {}/redis.log",
            dir.display(),
            dir.display()
        ));
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        TlsRedis { dir, port }
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("redis-cli")
            .args(["--tls", "--cacert", &self.dir.join("ca.pem").display().to_string(), "-p", &self.port.to_string()])
            .args(["--no-auth-warning", "-a", "tls-test-pw"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("redis.pid")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[rocket::async_test]
async fn the_portal_talks_to_redis_over_tls_with_a_password() {
    let redis = TlsRedis::start();
    let url = format!("rediss://:tls-test-pw@localhost:{}/", redis.port);
    let ca = redis.dir.join("ca.pem").display().to_string();
    let server = ServerProcess::start_with(
        &fresh_database().await,
        &[("REDIS_URL", url.as_str()), ("SSL_CERT_FILE", ca.as_str())],
    )
    .await;
    let (status, _, body) = http(server.port, "GET", "/readyz", &[], "");
    assert_eq!(status, 200);
    assert!(body.contains("\"redis\":\"ok\""), "PING over TLS with the password: {body}");
    let (_, headers, page) = http(server.port, "GET", "/login", &[], "");
    assert!(headers.iter().any(|(k, v)| k == "set-cookie" && v.starts_with("phaze_csrf=")));
    assert!(page.contains("_csrf"));
    // A failed login is counted in that Redis, under the portal's namespace.
    let anon = headers.iter().find(|(k, v)| k == "set-cookie" && v.starts_with("phaze_csrf=")).unwrap().1.clone();
    let anon = anon.split(';').next().unwrap().trim_start_matches("phaze_csrf=").to_owned();
    let body = form_encode(&[("_csrf", &anon), ("login", "nobody"), ("password", "wrong-password-123")]);
    let (status, _, _) = http(
        server.port,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", &format!("phaze_csrf={anon}"))],
        &body,
    );
    assert_eq!(status, 422);
    assert!(redis.cli(&["KEYS", "phaze:rl:*"]).contains("phaze:rl:login_ip:"), "the counter is in the TLS Redis");
    server.stop();
}
