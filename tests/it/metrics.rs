//! Prometheus metrics: the token, route-pattern labels, counters that move with traffic, a real
//! Prometheus scraping the real binary, and the deploy files checked by promtool.
use crate::helpers::*;
use rocket::http::{Header, Status};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "scrape-secret-for-tests";

async fn scrape(app: &TestApp) -> String {
    let r = app.client.get("/metrics").header(Header::new("Authorization", format!("Bearer {TOKEN}"))).dispatch().await;
    assert_eq!(r.status(), Status::Ok);
    assert!(header(&r, "Content-Type").unwrap().starts_with("text/plain"));
    r.into_string().await.unwrap()
}

/// The value of the series of `name` whose labels include every one of `labels`.
fn value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[rocket::async_test]
async fn metrics_need_the_token_and_count_requests_by_route_pattern() {
    let app = TestApp::spawn_with(|f| f.merge(("metrics_token", TOKEN))).await;
    assert_eq!(app.get("/metrics").await.status(), Status::Unauthorized);
    let wrong = app.client.get("/metrics").header(Header::new("Authorization", "Bearer nope")).dispatch().await;
    assert_eq!(wrong.status(), Status::Unauthorized);
    drop(wrong);
    let healthz = ["route=\"/healthz\"", "method=\"GET\"", "status=\"200\""];
    let before = value(&scrape(&app).await, "portal_http_requests_total", &healthz).unwrap_or(0.0);
    for _ in 0..3 {
        app.get("/healthz").await;
    }
    app.sign_up("metered").await;
    let receipt = format!("/billing/receipts/{}", uuid::Uuid::new_v4());
    assert_eq!(app.page(&receipt).await.0, Status::NotFound);
    let signed_in = scrape(&app).await;
    assert!(value(&signed_in, "portal_active_users", &[]).unwrap() >= 1.0, "the signed-up user is active");
    app.log_out().await;
    for _ in 0..7 {
        app.submit("/login", "/login", &[("login", "metered"), ("password", "not-the-password")]).await;
    }
    let text = scrape(&app).await;
    let after = value(&text, "portal_http_requests_total", &healthz).unwrap();
    assert!(after >= before + 3.0, "{before} then {after}");
    assert!(text.contains("route=\"/billing/receipts/<id>\""), "the route's pattern");
    assert!(!text.contains(&receipt[18..]), "never the raw path");
    assert!(value(&text, "portal_rate_limited_total", &["rule=\"login_user\""]).unwrap() >= 1.0);
    assert!(
        value(&text, "portal_http_request_duration_seconds_bucket", &["route=\"/healthz\"", "le=\"+Inf\""]).unwrap()
            >= 3.0
    );
    assert!(value(&text, "portal_db_read_duration_seconds_count", &[]).unwrap() >= 1.0);
    assert!(
        value(&text, "portal_fragment_cache_total", &["fragment=\"account_summary\"", "result=\"miss\""]).unwrap()
            >= 1.0
    );
    assert_eq!(value(&text, "portal_database_up", &[]), Some(1.0));
    assert!(value(&text, "portal_email_outbox_backlog", &[]).is_some());
    assert!(value(&text, "portal_db_pool_connections", &["state=\"idle\""]).is_some());

    let without = TestApp::spawn().await;
    assert_eq!(without.get("/metrics").await.status(), Status::NotFound, "no token configured, no metrics");
}

struct Prometheus(Child);
impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[rocket::async_test]
async fn a_real_prometheus_scrapes_the_portal_and_answers_queries_about_it() {
    let server = ServerProcess::start_with(&fresh_database().await, &[("PORTAL_METRICS_TOKEN", TOKEN)]).await;
    for _ in 0..5 {
        http(server.port, "GET", "/healthz", &[], "");
    }
    let dir = tempdir();
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global: {{ scrape_interval: 1s }}\nscrape_configs:\n  - job_name: phaze-portal\n    authorization:\n      \
             credentials_file: {}\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            dir.join("token").display(),
            server.port
        ),
    )
    .unwrap();
    let port = free_port();
    let _prometheus = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed (scripts/test.sh installs Debian's prometheus)"),
    );
    let query = "/api/v1/query?query=portal_http_requests_total%7Broute%3D%22%2Fhealthz%22%7D";
    let mut last = String::new();
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(500));
        let (status, _, body) = http(port, "GET", query, &[], "");
        if status == 200 && body.contains("\"value\"") {
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            let result = &json["data"]["result"][0];
            assert_eq!(result["metric"]["job"], "phaze-portal");
            let count: f64 = result["value"][1].as_str().unwrap().parse().unwrap();
            assert!(count >= 5.0, "Prometheus counted the requests: {body}");
            let (_, _, up) = http(port, "GET", "/api/v1/query?query=up", &[], "");
            assert!(up.contains("\"1\""), "the target is up: {up}");
            server.stop();
            return;
        }
        last = body;
    }
    panic!("Prometheus never had the request counter: {last}");
}

#[test]
fn the_deploy_files_pass_promtool_and_name_only_metrics_the_portal_exports() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let promtool = |args: &[&str]| {
        let out = Command::new("promtool").args(args).current_dir(root).output().expect("promtool is installed");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    promtool(&["check", "config", "--syntax-only", "deploy/prometheus/prometheus.yml"]);
    promtool(&["check", "rules", "deploy/prometheus/alerts.yml"]);
    let source = std::fs::read_to_string(root.join("src/telemetry/metrics.rs")).unwrap();
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("deploy/grafana/phaze-portal.json")).unwrap()).unwrap();
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap().to_owned()))
        .collect();
    assert!(exprs.len() >= 14, "a panel for each figure");
    let alerts = std::fs::read_to_string(root.join("deploy/prometheus/alerts.yml")).unwrap();
    for text in exprs.iter().map(String::as_str).chain([alerts.as_str()]) {
        for name in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("portal_"))
        {
            let base = ["_bucket", "_count", "_sum"].iter().fold(name, |n, suffix| n.strip_suffix(suffix).unwrap_or(n));
            assert!(source.contains(&format!("\"{base}\"")), "{name} is not a metric the portal exports");
        }
    }
}
