//! The edge with the real software (deploy/nginx/ rendered by scripts/edge.sh): nginx with
//! ModSecurity and the OWASP CRS in front of two portal instances, and the CDN tier in front of
//! it, on loopback with a throwaway certificate. TLS, HTTP/2, HSTS and the redirect; the portal's
//! flows through the WAF with no false positive at paranoia 1 and 2; attacks refused and audited;
//! the CDN tier's caching; an instance killed under load; POSTs never sent twice.
use crate::helpers::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub const WEBHOOK_SECRET: &str = "whsec_edge_test";

pub struct Edge {
    pub dir: PathBuf,
    pub http: u16,
    pub https: u16,
    pub cdn: u16,
    pub instances: Vec<ServerProcess>,
    pub database_url: String,
    _redis: RedisServer,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().rev().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// nginx in front of the instances on `ports`, as scripts/edge.sh renders it.
pub fn start_nginx(dir: &Path, ports: &[u16], (http, https, cdn): (u16, u16, u16), profile: &str) {
    start_nginx_with(dir, ports, (http, https, cdn), profile, &[]);
}

/// As `start_nginx`, with more of edge.sh's settings (e.g. the abuse limits).
pub fn start_nginx_with(
    dir: &Path,
    ports: &[u16],
    (http, https, cdn): (u16, u16, u16),
    profile: &str,
    settings: &[(&str, &str)],
) {
    let upstreams = ports.iter().map(u16::to_string).collect::<Vec<_>>().join(" ");
    let out = Command::new("bash")
        .arg("scripts/edge.sh")
        .arg("nginx")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("EDGE_DIR", dir)
        .env("UPSTREAM_PORTS", upstreams)
        .env("HTTP_PORT", http.to_string())
        .env("HTTPS_PORT", https.to_string())
        .env("CDN_PORT", cdn.to_string())
        .env("CRS_PROFILE", profile)
        // The flows below sign up and log in a few times a second from one address.
        .env("LOGIN_RATE", "600r/m")
        .env("SIGNUP_RATE", "600r/m")
        .envs(settings.iter().copied())
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "edge.sh nginx: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stop_nginx(dir: &Path) {
    if let Ok(pid) = std::fs::read_to_string(dir.join("nginx.pid")) {
        let _ = Command::new("kill").arg(pid.trim()).status();
        for _ in 0..100 {
            if !dir.join("nginx.pid").exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Edge {
    /// Two instances (with `env`; `@CDN@` in a value stands for the CDN tier's origin) and nginx.
    pub async fn start(profile: &str, env: &[(&str, &str)]) -> Edge {
        Self::start_with(profile, env, &[]).await
    }

    pub async fn start_with(profile: &str, env: &[(&str, &str)], settings: &[(&str, &str)]) -> Edge {
        let database_url = fresh_database().await;
        let redis = RedisServer::start();
        let dir = tempdir().join("edge");
        let mail_dir = tempdir().join("mail");
        let (http, https, cdn) = (free_port(), free_port(), free_port());
        let public_url = format!("https://localhost:{cdn}");
        let redis_url = redis.url();
        let mail = mail_dir.display().to_string();
        let mut all = vec![
            ("PORTAL_SECURE_COOKIES", "true"),
            ("ROCKET_IP_HEADER", "X-Real-IP"),
            ("REDIS_URL", redis_url.as_str()),
            ("PORTAL_PUBLIC_URL", public_url.as_str()),
            ("PORTAL_MAIL_DIR", mail.as_str()),
            ("PORTAL_STRIPE_SECRET_KEY", "sk_test_edge"),
            ("PORTAL_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ];
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, v.replace("@CDN@", &public_url))).collect();
        all.extend(env.iter().map(|(k, v)| (*k, v.as_str())));
        let mut instances = Vec::new();
        for _ in 0..2 {
            instances.push(ServerProcess::start_with(&database_url, &all).await);
        }
        let ports: Vec<u16> = instances.iter().map(|i| i.port).collect();
        start_nginx_with(&dir, &ports, (http, https, cdn), profile, settings);
        Edge { dir, http, https, cdn, instances, database_url, _redis: redis }
    }

    pub fn edge_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https)
    }

    pub fn cdn_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.cdn)
    }

    /// curl with the edge's certificate trusted; `jar` keeps the cookies of one browser.
    pub fn curl(&self, jar: Option<&Path>, args: &[&str]) -> Reply {
        let out = tempdir();
        let (head, body) = (out.join("head"), out.join("body"));
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "--http2", "--cacert"]).arg(self.dir.join("tls/edge.pem"));
        cmd.arg("-D").arg(&head).arg("-o").arg(&body).args(["-w", "%{http_code} %{http_version}"]);
        if let Some(jar) = jar {
            cmd.arg("-b").arg(jar).arg("-c").arg(jar);
        }
        let done = cmd.args(args).output().expect("curl is installed");
        let written = String::from_utf8_lossy(&done.stdout).into_owned();
        let (status, version) = written.split_once(' ').unwrap_or(("0", ""));
        let head = std::fs::read_to_string(&head).unwrap_or_default();
        // The last response's headers (after a redirect or a 100).
        let last = head.split("\r\n\r\n").filter(|b| !b.trim().is_empty()).last().unwrap_or("").to_owned();
        let headers = last
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Reply {
            status: status.parse().unwrap_or(0),
            version: version.to_owned(),
            headers,
            body: std::fs::read_to_string(&body).unwrap_or_default(),
        }
    }

    /// The WAF's audit log: one JSON object per refused transaction.
    pub fn audit_log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("logs/modsec_audit.json"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// What the WAF refused, briefly: each transaction's URI and the rules that matched.
    pub fn refusals(&self) -> String {
        self.audit_log()
            .iter()
            .map(|t| {
                let rules: Vec<String> = t["transaction"]["messages"]
                    .as_array()
                    .map(|m| {
                        m.iter()
                            .map(|m| format!("{} {} [{}]", m["details"]["ruleId"], m["message"], m["details"]["data"]))
                            .collect()
                    })
                    .unwrap_or_default();
                format!(
                    "{} {}: {}",
                    t["transaction"]["request"]["method"],
                    t["transaction"]["request"]["uri"],
                    rules.join("; ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn instance_logs(&self) -> String {
        // The portal's log writer drains its buffer every few milliseconds.
        std::thread::sleep(Duration::from_millis(300));
        self.instances.iter().map(|i| std::fs::read_to_string(&i.log_path).unwrap_or_default()).collect()
    }
}

/// Stops nginx when dropped (a failed assertion included).
pub struct NginxGuard(pub PathBuf);

impl Drop for NginxGuard {
    fn drop(&mut self) {
        stop_nginx(&self.0);
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        stop_nginx(&self.dir);
    }
}

fn csrf_of(page: &str) -> String {
    csrf_in(page).unwrap_or_else(|| panic!("no CSRF token in {page}"))
}

/// Signs up through `url` (the edge or the CDN tier) in the cookie jar `jar`, confirms the address.
pub async fn sign_up(edge: &Edge, base: &dyn Fn(&str) -> String, jar: &Path, username: &str) {
    let page = edge.curl(Some(jar), &[&base("/signup")]);
    assert_eq!(page.status, 200, "{}", page.body);
    let form = form_encode(&[
        ("_csrf", &csrf_of(&page.body)),
        ("username", username),
        ("email", &format!("{username}@example.com")),
        ("password", "violet-tractor-harbour"),
        ("password_confirm", "violet-tractor-harbour"),
    ]);
    let r = edge.curl(Some(jar), &["-d", &form, &base("/signup")]);
    assert_eq!(r.status, 303, "sign-up of {username}: {}", r.body);
    let cookies: Vec<&String> = r.headers.iter().filter(|(n, _)| n == "set-cookie").map(|(_, v)| v).collect();
    assert!(
        cookies.len() >= 2 && cookies.iter().all(|c| c.contains("; Secure")),
        "every cookie Secure behind TLS: {cookies:?}"
    );
    let pool = sqlx::PgPool::connect(&edge.database_url).await.unwrap();
    sqlx::query("UPDATE users SET email_verified_at = now() WHERE username = $1")
        .bind(username)
        .execute(&pool)
        .await
        .unwrap();
}

#[rocket::async_test]
async fn the_edge_terminates_tls_with_http2_hsts_a_redirect_and_passes_request_ids() {
    let edge = Edge::start("phaze-crs-pl1.conf", &[]).await;
    let plain = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"])
        .arg(format!("http://localhost:{}/pricing?x=1", edge.http))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&plain.stdout), format!("301 https://localhost:{}/pricing?x=1", edge.https));

    let r = edge.curl(None, &[&edge.edge_url("/")]);
    assert_eq!((r.status, r.version.as_str()), (200, "2"), "HTTP/2 over TLS");
    assert_eq!(r.header("strict-transport-security"), Some("max-age=63072000; includeSubDomains"));
    assert_eq!(r.headers.iter().filter(|(n, _)| n == "strict-transport-security").count(), 1);
    let made = r.header("x-request-id").unwrap();
    assert_eq!(made.len(), 32, "nginx made the id: {made}");

    let r = edge.curl(None, &["-H", "X-Request-Id: edge-test-4711", &edge.edge_url("/pricing")]);
    assert_eq!(r.header("x-request-id"), Some("edge-test-4711"), "passed through to the portal and back");
    assert!(edge.instance_logs().contains("edge-test-4711"), "the portal logged the id it was given");
    // The CDN tier names requests itself: a client's id is not trusted there.
    let r = edge.curl(None, &["-H", "X-Request-Id: forged", &edge.cdn_url("/healthz")]);
    assert_ne!(r.header("x-request-id"), Some("forged"));

    // The portal sees the client's address (here loopback), not the proxy's, and sets Secure cookies.
    let jar = tempdir().join("jar");
    sign_up(&edge, &|p| edge.edge_url(p), &jar, "tls_user").await;
    let logged = edge.instance_logs();
    assert!(logged.contains("user_signed_up"));
}

/// The portal's flows through the CDN tier and the WAF, in one browser's cookie jar: sign-up,
/// login, clients (create, download, rename, revoke), an API token and the API v1 and v2, the
/// node API and a signed payment webhook. Nothing may be refused, and the audit log stays empty.
async fn flows_pass(edge: &Edge) {
    let base = |p: &str| edge.cdn_url(p);
    let jar = tempdir().join("jar");
    sign_up(edge, &base, &jar, "edge_user").await;
    let page = edge.curl(Some(&jar), &[&base("/dashboard")]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("edge_user@example.com"));
    let csrf = csrf_of(&page.body);
    // The node the clients go on (its token for the node API below).
    let (ok, out, err) = portal_cli(
        &edge.database_url,
        &["add-node", "--name", "edge-node", "--region", "Edge", "--host", "127.0.0.1", "--pool", "10.77.0.0/24"],
    );
    assert!(ok, "{out}{err}");
    let node_token = out.lines().skip_while(|l| !l.contains("shown only this once")).nth(1).unwrap().trim().to_owned();

    // A client through the form, its config, a rename and a revocation.
    let r = edge.curl(
        Some(&jar),
        &[
            "-d",
            &form_encode(&[("_csrf", &csrf), ("name", "edge-laptop"), ("protocol", "wireguard"), ("node", "")]),
            &base("/clients"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let pool = sqlx::PgPool::connect(&edge.database_url).await.unwrap();
    let id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM clients WHERE name = 'edge-laptop'").fetch_one(&pool).await.unwrap();
    let conf = edge.curl(Some(&jar), &[&base(&format!("/clients/{id}/config"))]);
    assert_eq!(conf.status, 200);
    assert!(conf.body.contains("[Interface]") && conf.body.contains("PrivateKey = "));
    assert_eq!(conf.header("x-cache"), Some("BYPASS"), "nothing signed-in is cached");
    let r = edge.curl(
        Some(&jar),
        &["-d", &form_encode(&[("_csrf", &csrf), ("name", "edge-laptop-2")]), &base(&format!("/clients/{id}/rename"))],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let r = edge.curl(Some(&jar), &["-d", &form_encode(&[("_csrf", &csrf)]), &base(&format!("/clients/{id}/revoke"))]);
    assert_eq!(r.status, 303, "{}", r.body);

    // A token, and the API with it.
    let tokens = edge.curl(Some(&jar), &[&base("/account/tokens")]);
    let form = form_encode(&[
        ("_csrf", &csrf_of(&tokens.body)),
        ("name", "edge script"),
        ("lifetime", "30"),
        ("scopes", "clients:read"),
        ("scopes", "clients:write"),
        ("scopes", "account:read"),
        ("scopes", "usage:read"),
    ]);
    let made = edge.curl(Some(&jar), &["-d", &form, &base("/account/tokens")]);
    assert_eq!(made.status, 201, "{}", made.body);
    let token = made.body.split(r#"<code id="token-secret">"#).nth(1).unwrap().split('<').next().unwrap().to_owned();
    let auth = format!("Authorization: Bearer {token}");
    let json = "Content-Type: application/json";
    let api = |method: &str, path: &str, body: Option<&str>, extra: &[&str]| {
        let url = base(path);
        let mut args = vec!["-H", auth.as_str(), "-X", method];
        args.extend_from_slice(extra);
        if let Some(body) = body {
            args.extend(["-H", json, "-d", body]);
        }
        args.push(&url);
        edge.curl(None, &args)
    };
    let r = api(
        "POST",
        "/api/v2/clients",
        Some(r#"{"name":"api-phone","protocol":"phazevpn"}"#),
        &["-H", "Idempotency-Key: edge-1"],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let created: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let api_id = created["id"].as_str().unwrap().to_owned();
    for path in [
        "/api/v2/clients?limit=10".to_owned(),
        format!("/api/v2/clients/{api_id}"),
        format!("/api/v2/clients/{api_id}/config"),
        "/api/v2/usage".to_owned(),
        "/api/v2/connections".to_owned(),
        "/api/v2/account".to_owned(),
        "/api/v1/clients".to_owned(),
    ] {
        let r = api("GET", &path, None, &[]);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.header("x-cache"), Some("BYPASS"), "{path}: nothing with a token is cached");
    }
    let r = api("PATCH", &format!("/api/v2/clients/{api_id}"), Some(r#"{"name":"api-phone-2"}"#), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api("POST", "/api/v1/clients", Some(r#"{"client_name":"old-style","protocol":"openvpn"}"#), &[]);
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api("DELETE", &format!("/api/v2/clients/{api_id}"), None, &[]);
    assert_eq!(r.status, 204, "{}", r.body);

    // Log out and in again.
    let page = edge.curl(Some(&jar), &[&base("/dashboard")]);
    let r = edge.curl(Some(&jar), &["-d", &form_encode(&[("_csrf", &csrf_of(&page.body))]), &base("/logout")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let login = edge.curl(Some(&jar), &[&base("/login")]);
    let r = edge.curl(
        Some(&jar),
        &[
            "-d",
            &form_encode(&[
                ("_csrf", &csrf_of(&login.body)),
                ("login", "edge_user"),
                ("password", "violet-tractor-harbour"),
            ]),
            &base("/login"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);

    // A node: peers and a batch of events.
    let node_auth = format!("Authorization: Bearer {node_token}");
    let r = edge.curl(None, &["-H", &node_auth, &edge.edge_url("/api/v1/node/peers")]);
    assert_eq!(r.status, 200, "{}", r.body);
    let events = serde_json::json!({"events": [
        {"seq": 1, "type": "connect", "client": uuid::Uuid::new_v4(), "at": "2026-12-07T10:00:00Z", "remote": "203.0.113.7:51000"},
        {"seq": 2, "type": "usage", "client": uuid::Uuid::new_v4(), "at": "2026-12-07T10:05:00Z", "rx_bytes": 1048576, "tx_bytes": 65536}
    ]});
    let r = edge
        .curl(None, &["-H", &node_auth, "-H", json, "-d", &events.to_string(), &edge.edge_url("/api/v1/node/events")]);
    assert_eq!(r.status, 200, "{}", r.body);

    // A signed payment-provider webhook.
    let event =
        serde_json::json!({"id": "evt_edge_1", "object": "event", "type": "customer.created", "created": 1796688000,
        "data": {"object": {"id": "cus_edge", "object": "customer", "email": "edge_user@example.com",
        "metadata": {"note": "Renewal for 2027; see https://example.com/terms?a=1&b=2"}}}})
        .to_string();
    let signature = phaze_portal::payments::stripe::sign(
        WEBHOOK_SECRET,
        event.as_bytes(),
        time::OffsetDateTime::now_utc().unix_timestamp(),
    );
    let r = edge.curl(
        None,
        &[
            "-H",
            json,
            "-H",
            &format!("Stripe-Signature: {signature}"),
            "-d",
            &event,
            &edge.edge_url("/webhooks/stripe"),
        ],
    );
    assert_eq!(r.status, 200, "{}{}", r.body, edge.refusals());

    assert!(edge.audit_log().is_empty(), "false positives: {}", edge.refusals());
}

#[rocket::async_test]
async fn the_portals_flows_pass_the_waf_at_paranoia_1() {
    let edge = Edge::start("phaze-crs-pl1.conf", &[]).await;
    flows_pass(&edge).await;
}

#[rocket::async_test]
async fn the_portals_flows_pass_the_waf_at_paranoia_2_with_its_exclusions() {
    let edge = Edge::start("phaze-crs-pl2.conf", &[]).await;
    flows_pass(&edge).await;
}

#[rocket::async_test]
async fn attacks_are_refused_and_land_in_the_audit_log() {
    let edge = Edge::start("phaze-crs-pl1.conf", &[]).await;
    let big = tempdir().join("big");
    std::fs::write(&big, "a".repeat(1_500_000)).unwrap();
    let attacks: Vec<(&str, Vec<String>, u16)> = vec![
        ("sql injection", vec![edge.edge_url("/pricing?plan=1%27%20OR%20%271%27%3D%271")], 403),
        (
            "sql injection in a form",
            vec![
                "-d".into(),
                "login=admin%27--&password=x%27%20UNION%20SELECT%20password%20FROM%20users--".into(),
                edge.edge_url("/login"),
            ],
            403,
        ),
        ("xss", vec![edge.edge_url("/?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E")], 403),
        ("path traversal", vec![edge.edge_url("/clients?file=..%2F..%2F..%2Fetc%2Fpasswd")], 403),
        ("scanner", vec!["-A".into(), "sqlmap/1.7.2#stable (https://sqlmap.org)".into(), edge.edge_url("/")], 403),
        // Over ModSecurity's 1 MiB: refused by the WAF (403), and audited.
        (
            "oversized body",
            vec![
                "-H".into(),
                "Content-Type: application/x-www-form-urlencoded".into(),
                "--data-binary".into(),
                format!("@{}", big.display()),
                edge.edge_url("/signup"),
            ],
            403,
        ),
    ];
    for (name, args, expected) in &attacks {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = edge.curl(None, &args);
        assert_eq!(r.status, *expected, "{name}");
    }
    // Each is in the audit log as JSON, with its status.
    std::thread::sleep(Duration::from_millis(200));
    let log = edge.audit_log();
    assert_eq!(log.len(), attacks.len(), "{log:#?}");
    let statuses: Vec<u64> = log.iter().map(|t| t["transaction"]["response"]["http_code"].as_u64().unwrap()).collect();
    assert_eq!(statuses, attacks.iter().map(|a| u64::from(a.2)).collect::<Vec<_>>());
    assert!(log[4]["transaction"]["request"]["headers"]["user-agent"].as_str().unwrap().starts_with("sqlmap"));
    assert!(
        log[0]["transaction"]["messages"].as_array().is_some_and(|m| m.iter().any(|m| m["details"]["data"]
            .as_str()
            .unwrap_or("")
            .contains("OR")
            || m["message"].as_str().unwrap_or("").contains("SQL"))),
        "{:#}",
        log[0]
    );
    assert_eq!(log[5]["transaction"]["request"]["uri"], "/signup", "{:#}", log[5]["transaction"]["messages"]);
    // Over nginx's own 2 MiB, nginx refuses the body before anything reads it: 413.
    let huge = tempdir().join("huge");
    std::fs::write(&huge, "a".repeat(3_000_000)).unwrap();
    let r = edge.curl(None, &["--data-binary", &format!("@{}", huge.display()), &edge.edge_url("/signup")]);
    assert_eq!(r.status, 413);
    // None of them reached the portal.
    let logs = edge.instance_logs();
    assert!(!logs.contains("sqlmap") && !logs.contains("etc/passwd") && !logs.contains("alert(document"));
}

#[rocket::async_test]
async fn the_cdn_tier_caches_what_is_public_and_never_what_is_private() {
    let edge = Edge::start("phaze-crs-pl1.conf", &[]).await;
    // Static files: a year, then from the cache.
    let home = edge.curl(None, &[&edge.cdn_url("/")]);
    assert_eq!(home.header("x-cache"), Some("MISS"));
    let css = home
        .body
        .split("href=\"")
        .find_map(|s| s.split('"').next().filter(|u| u.starts_with("/static/app.")))
        .unwrap()
        .to_owned();
    let first = edge.curl(None, &[&edge.cdn_url(&css)]);
    assert_eq!(first.header("x-cache"), Some("MISS"));
    assert_eq!(first.header("cache-control"), Some("public, max-age=31536000, immutable"));
    let again = edge.curl(None, &[&edge.cdn_url(&css)]);
    assert_eq!(again.header("x-cache"), Some("HIT"));
    assert_eq!(again.body, first.body);
    // Public pages for their s-maxage.
    assert_eq!(edge.curl(None, &[&edge.cdn_url("/pricing")]).header("x-cache"), Some("MISS"));
    let pricing = edge.curl(None, &[&edge.cdn_url("/pricing")]);
    assert_eq!(pricing.header("x-cache"), Some("HIT"));
    assert!(pricing.header("cache-control").unwrap().contains("s-maxage=300"));
    // A page that sets a cookie (the login form's CSRF cookie) is never kept.
    for _ in 0..2 {
        let login = edge.curl(None, &[&edge.cdn_url("/login")]);
        assert_eq!(login.header("x-cache"), Some("MISS"), "an answer with Set-Cookie is not cached");
    }

    // Two users through it: each sees their own pages, none of them from the cache.
    let (jar_a, jar_b) = (tempdir().join("a"), tempdir().join("b"));
    sign_up(&edge, &|p| edge.cdn_url(p), &jar_a, "cdn_alice").await;
    sign_up(&edge, &|p| edge.cdn_url(p), &jar_b, "cdn_bob").await;
    for _ in 0..2 {
        let a = edge.curl(Some(&jar_a), &[&edge.cdn_url("/dashboard")]);
        let b = edge.curl(Some(&jar_b), &[&edge.cdn_url("/dashboard")]);
        assert!(a.body.contains("cdn_alice@example.com") && !a.body.contains("cdn_bob"));
        assert!(b.body.contains("cdn_bob@example.com") && !b.body.contains("cdn_alice"));
        assert_eq!((a.header("x-cache"), b.header("x-cache")), (Some("BYPASS"), Some("BYPASS")));
        // Even a public page asked with the session cookie is fetched for that user.
        let p = edge.curl(Some(&jar_a), &[&edge.cdn_url("/pricing")]);
        assert_eq!(p.header("x-cache"), Some("BYPASS"));
        assert!(p.body.contains("cdn_alice"), "the signed-in navigation, not the cached anonymous page");
    }
    // And the anonymous copy in the cache never holds a user's page.
    let anonymous = edge.curl(None, &[&edge.cdn_url("/pricing")]);
    assert_eq!(anonymous.header("x-cache"), Some("HIT"));
    assert!(!anonymous.body.contains("cdn_alice") && !anonymous.body.contains("cdn_bob"));

    // A new deploy (a changed stylesheet): its fingerprinted URL is new, so it is fetched fresh,
    // while the old one stays cached for pages that still name it.
    let static_dir = tempdir().join("static");
    std::fs::create_dir_all(&static_dir).unwrap();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/static")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), static_dir.join(entry.file_name())).unwrap();
    }
    let mut changed = std::fs::read_to_string(static_dir.join("app.css")).unwrap();
    changed.push_str("\n/* deploy 2 */\n");
    std::fs::write(static_dir.join("app.css"), &changed).unwrap();
    let static_env = static_dir.display().to_string();
    let mut edge = edge;
    let old_ports: Vec<u16> = edge.instances.iter().map(|i| i.port).collect();
    let env_of_first = ("PORTAL_STATIC_DIR", static_env.as_str());
    for instance in std::mem::take(&mut edge.instances) {
        let port = instance.port;
        instance.stop();
        let redis = edge._redis.url();
        let public = edge.cdn_url("");
        edge.instances.push(
            ServerProcess::start_on(
                port,
                &edge.database_url,
                &[
                    ("PORTAL_SECURE_COOKIES", "true"),
                    ("ROCKET_IP_HEADER", "X-Real-IP"),
                    ("REDIS_URL", &redis),
                    ("PORTAL_PUBLIC_URL", &public),
                    env_of_first,
                ],
            )
            .await,
        );
    }
    assert_eq!(old_ports, edge.instances.iter().map(|i| i.port).collect::<Vec<_>>());
    let fresh_home = edge.curl(None, &[&edge.edge_url("/")]);
    let new_css = fresh_home
        .body
        .split("href=\"")
        .find_map(|s| s.split('"').next().filter(|u| u.starts_with("/static/app.")))
        .unwrap()
        .to_owned();
    assert_ne!(new_css, css, "a changed file gets a new fingerprint");
    let fetched = edge.curl(None, &[&edge.cdn_url(&new_css)]);
    assert_eq!(fetched.header("x-cache"), Some("MISS"), "fetched fresh");
    assert!(fetched.body.contains("deploy 2"));
    assert_eq!(edge.curl(None, &[&edge.cdn_url(&new_css)]).header("x-cache"), Some("HIT"));
    let old = edge.curl(None, &[&edge.cdn_url(&css)]);
    assert_eq!((old.header("x-cache"), old.status), (Some("HIT"), 200), "the old file is still served to old pages");
}

/// Requests in a loop from a thread: the statuses.
fn hammer(cacert: PathBuf, url: String, until: std::time::Instant) -> Vec<u16> {
    let mut statuses = Vec::new();
    while std::time::Instant::now() < until {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&cacert)
            .arg(&url)
            .output()
            .unwrap();
        statuses.push(String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0));
    }
    statuses
}

#[rocket::async_test]
async fn an_instance_killed_under_load_loses_no_get() {
    let mut edge = Edge::start("phaze-crs-pl1.conf", &[]).await;
    let until = std::time::Instant::now() + Duration::from_secs(4);
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (cacert, url) = (edge.dir.join("tls/edge.pem"), edge.edge_url(&format!("/readyz?worker={i}")));
            std::thread::spawn(move || hammer(cacert, url, until))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    // Killed outright, with requests in flight.
    let victim = edge.instances.remove(0);
    drop(victim);
    let statuses: Vec<u16> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert!(statuses.len() > 40, "{} requests", statuses.len());
    let failed: Vec<&u16> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(failed.is_empty(), "{} of {} failed: {failed:?}", failed.len(), statuses.len());
}

/// An upstream that reads a request, counts it and hangs up without answering (an instance dying
/// mid-request).
fn dropping_upstream() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_owned();
            log.lock().unwrap().push(head);
            drop(stream);
        }
    });
    (port, seen)
}

#[rocket::async_test]
async fn a_failed_get_is_retried_on_the_next_instance_and_a_post_is_never_sent_twice() {
    let database_url = fresh_database().await;
    let portal = ServerProcess::start_with(
        &database_url,
        &[("PORTAL_SECURE_COOKIES", "true"), ("ROCKET_IP_HEADER", "X-Real-IP")],
    )
    .await;
    let (dropper, seen) = dropping_upstream();
    let dir = tempdir().join("edge");
    let ports = (free_port(), free_port(), free_port());
    start_nginx(&dir, &[dropper, portal.port], ports, "phaze-crs-pl1.conf");
    let _nginx = NginxGuard(dir.clone());
    let cacert = dir.join("tls/edge.pem");
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&cacert)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let url = |p: &str| format!("https://localhost:{}{p}", ports.1);
    // Round robin: some GETs meet the dropping upstream first, and are answered by the portal.
    for i in 0..6 {
        assert_eq!(curl(&[&url(&format!("/healthz?get={i}"))]), "200");
    }
    let gets = seen.lock().unwrap().iter().filter(|l| l.starts_with("GET /healthz")).count();
    assert!(gets >= 1, "the dropping upstream saw a GET");
    // After fail_timeout the dropper is tried again; a POST that meets it is not resent.
    std::thread::sleep(Duration::from_secs(11));
    let mut answers = Vec::new();
    for i in 0..6 {
        answers.push(curl(&["-H", &format!("X-Request-Id: post-{i}"), "-d", "login=x&password=y", &url("/login")]));
    }
    let posts: Vec<String> = seen.lock().unwrap().iter().filter(|l| l.starts_with("POST /login")).cloned().collect();
    assert!(!posts.is_empty(), "a POST met the dropping upstream: {answers:?}");
    assert!(answers.iter().any(|a| a == "502"), "and was answered 502, not retried: {answers:?}");
    // The portal's log writer drains its buffer every few milliseconds.
    std::thread::sleep(Duration::from_millis(300));
    let logged = std::fs::read_to_string(&portal.log_path).unwrap();
    let reached = (0..6).filter(|i| logged.contains(&format!("\"post-{i}\""))).count();
    assert_eq!(reached + posts.len(), 6, "each POST reached exactly one upstream: {answers:?}");
}

/// The browser journey through the CDN tier and the WAF, in Chromium: sign up (with htmx's inline
/// check), confirm the address from the email, add a client with htmx, open it, read the API
/// reference, log out and in. The WAF refuses nothing on the way.
#[rocket::async_test]
async fn the_browser_journey_passes_the_cdn_and_the_waf_in_chromium() {
    use crate::browser::{browser_with, fill, wait_for_text};
    use fantoccini::Locator;
    let edge = Edge::start("phaze-crs-pl1.conf", &[]).await;
    let (ok, out, err) = portal_cli(
        &edge.database_url,
        &[
            "add-node",
            "--name",
            "edge-browser",
            "--region",
            "Lab",
            "--host",
            "vpn.lab.example",
            "--pool",
            "10.96.0.0/24",
        ],
    );
    assert!(ok, "{out}{err}");
    let (c, _driver, _profile) = browser_with(&["--ignore-certificate-errors"]).await;
    c.goto(&edge.cdn_url("/signup")).await.unwrap();
    fill(&c, "#username", "x!").await;
    fill(&c, "#email", "").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//small[@id='username-error' and contains(., 'Use 3 to 32')]"))
        .await
        .expect("inline validation through the edge");
    fill(&c, "#username", "edge_browser").await;
    fill(&c, "#email", "edge_browser@example.com").await;
    fill(&c, "#password", PASSWORD).await;
    fill(&c, "#password_confirm", PASSWORD).await;
    c.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#account-summary", "edge_browser@example.com").await;
    let pool = sqlx::PgPool::connect(&edge.database_url).await.unwrap();
    let (_, text) =
        latest_email(&pool, "edge_browser@example.com", "verify_address").await.expect("a confirmation email");
    let link = link_in(&text);
    assert!(link.starts_with(&edge.cdn_url("/")), "links point at the public address: {link}");
    c.goto(&link).await.unwrap();
    wait_for_text(&c, ".flash", "Your email address is confirmed").await;

    c.goto(&edge.cdn_url("/dashboard")).await.unwrap();
    fill(&c, "#name", "edge-phone").await;
    c.find(Locator::Css("#new-client button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#client-list", "edge-phone").await;
    c.find(Locator::LinkText("edge-phone")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#client-facts", "10.96.0.2").await;

    c.goto(&edge.cdn_url("/api/docs")).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(".swagger-ui .opblock"))
        .await
        .expect("the API reference");

    c.goto(&edge.cdn_url("/dashboard")).await.unwrap();
    c.find(Locator::Css("nav form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "main h1", "Log in").await;
    fill(&c, "#login", "edge_browser").await;
    fill(&c, "#password", PASSWORD).await;
    c.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#account-summary", "edge_browser").await;
    c.close().await.unwrap();
    let refused = edge.audit_log();
    assert!(refused.is_empty(), "false positives: {refused:#?}");
}

/// The portal's systemd unit is well-formed and keeps its hardening: systemd's own assessment of
/// its exposure stays under 2 ("OK"; a default unit rates 9.6, "UNSAFE").
#[test]
fn the_portal_unit_is_hardened() {
    let dir = tempdir();
    let unit = dir.join("phaze-portal@8001.service");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/systemd/phaze-portal@.service"), &unit).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let level: f64 = text
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for phaze-portal@8001.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in {text}"));
    assert!(level < 2.0, "exposure {level}: {text}");
    for unit in ["phaze-portal@.service", "phaze-edge.service"] {
        let text = std::fs::read_to_string(format!("{}/deploy/systemd/{unit}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(text.contains("[Service]") && text.contains("NoNewPrivileges=yes"), "{unit}");
    }
}

#[rocket::async_test]
async fn the_edge_limits_abuse_before_the_portal() {
    let edge = Edge::start_with(
        "phaze-crs-pl1.conf",
        &[],
        &[("LOGIN_RATE", "6r/m"), ("LOGIN_BURST", "2"), ("CONN_PER_IP", "4")],
    )
    .await;
    // Form posts to /login: a burst of 2 beyond the rate, then 429 from nginx (the portal's own
    // per-user and per-IP limits are behind it).
    let statuses: Vec<u16> = (0..6)
        .map(|_| edge.curl(None, &["-d", "login=nobody&password=wrong-password", &edge.edge_url("/login")]).status)
        .collect();
    assert!(statuses[..3].iter().all(|s| *s != 429), "{statuses:?}");
    assert_eq!(statuses[5], 429, "{statuses:?}");
    // GETs of the login page are not counted.
    assert_eq!(edge.curl(None, &[&edge.edge_url("/login")]).status, 200);
    // Headers over the size limit: 400 before the portal sees them.
    let big = format!("X-Padding: {}", "a".repeat(9000));
    assert_eq!(edge.curl(None, &["--http1.1", "-H", &big, &edge.edge_url("/pricing")]).status, 400);
    // More open connections from one address than allowed: the extra ones get 429. The pricing
    // page's plans are locked in PostgreSQL meanwhile, so each admitted request stays open at the
    // portal for longer than curl waits (4 s), while a refusal comes back at once. (A slow
    // download did not hold a slot reliably: nginx could hand the whole answer to the kernel's
    // socket buffers and finish; a slow upload is read by ModSecurity before the limit is asked.)
    let pool = sqlx::PgPool::connect(&edge.database_url).await.unwrap();
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE plans IN ACCESS EXCLUSIVE MODE").execute(&mut *lock).await.unwrap();
    let (cacert, url) = (edge.dir.join("tls/edge.pem"), edge.edge_url("/pricing"));
    let hogs: Vec<_> = (0..12)
        .map(|_| {
            let (cacert, url) = (cacert.clone(), url.clone());
            std::thread::spawn(move || {
                let out = Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--http1.1", "--cacert"])
                    .arg(&cacert)
                    .args(["--max-time", "4", &url])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).into_owned()
            })
        })
        .collect();
    let answers: Vec<String> = hogs.into_iter().map(|h| h.join().unwrap()).collect();
    lock.rollback().await.unwrap();
    assert!(answers.iter().any(|a| a == "429"), "limit_conn refused the extra connections: {answers:?}");
}

#[rocket::async_test]
async fn asset_base_url_pointing_at_the_cdn_tier_works() {
    let edge = Edge::start("phaze-crs-pl1.conf", &[("ASSET_BASE_URL", "@CDN@")]).await;
    let page = edge.curl(None, &[&edge.edge_url("/")]);
    let cdn = edge.cdn_url("");
    let css = page
        .body
        .split("href=\"")
        .find_map(|s| s.split('"').next().filter(|u| u.contains("/static/app.")))
        .unwrap()
        .to_owned();
    assert!(css.starts_with(&format!("{cdn}/static/app.")), "asset URLs name the CDN: {css}");
    assert!(page.header("content-security-policy").unwrap().contains(&format!("style-src 'self' {cdn}")));
    let first = edge.curl(None, &[&css]);
    assert_eq!((first.status, first.header("x-cache")), (200, Some("MISS")));
    assert_eq!(edge.curl(None, &[&css]).header("x-cache"), Some("HIT"));
}
