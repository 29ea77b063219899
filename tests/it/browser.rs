//! A user's journey in headless Chromium (Debian's chromium + chromium-driver) against the real
//! binary: sign up, log out, log in, see the dashboard, sign out.
use crate::helpers::*;
use fantoccini::{ClientBuilder, Locator};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

/// chromedriver in a process group of its own: dropping it kills the group, so the Chromium it
/// started goes too, even when a test ends without closing its session.
pub struct Driver(std::process::Child);
impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser() -> (fantoccini::Client, Driver, tempdir::Dir) {
    browser_with(&[]).await
}

/// Chromium with more arguments (e.g. to accept the edge tests' self-signed certificate).
pub async fn browser_with(extra: &[&str]) -> (fantoccini::Client, Driver, tempdir::Dir) {
    let port = free_port();
    let driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/test.sh installs chromium-driver)"),
    );
    let profile = tempdir::Dir::new();
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1280,900",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    args.push(format!("--user-data-dir={}", profile.0.display()));
    args.extend(extra.iter().map(|a| a.to_string()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": args
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("a WebDriver session in Chromium");
    (client, driver, profile)
}

pub mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!("phaze-chromium-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub async fn fill(c: &fantoccini::Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Waits until the element at `css` shows `expected` (pages swap under htmx, so elements go stale).
pub async fn wait_for_text(c: &fantoccini::Client, css: &str, expected: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(element) = c.find(Locator::Css(css)).await {
            if let Ok(text) = element.text().await {
                if text.contains(expected) {
                    return;
                }
                last = text;
            }
        }
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never showed {expected:?}; last seen {last:?}");
}

#[rocket::async_test]
async fn sign_up_log_out_log_in_and_sign_out_in_chromium() {
    let server = ServerProcess::start().await;
    let (c, _driver, _profile) = browser().await;

    c.goto(&server.url("/signup")).await.unwrap();
    // Inline validation (htmx) while typing a bad username.
    fill(&c, "#username", "x!").await;
    fill(&c, "#email", "").await; // moves focus: the username's change event fires
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//small[@id='username-error' and contains(., 'Use 3 to 32')]"))
        .await
        .expect("inline validation message");

    fill(&c, "#username", "browser_user").await;
    fill(&c, "#email", "browser@example.com").await;
    fill(&c, "#password", PASSWORD).await;
    fill(&c, "#password_confirm", PASSWORD).await;
    c.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#account-summary", "browser@example.com").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/dashboard"));
    wait_for_text(&c, "#summary-email", "not confirmed yet").await;
    // The confirmation email's link, followed in the browser.
    let pool = sqlx::PgPool::connect(&server.database_url).await.unwrap();
    let (_, text) = latest_email(&pool, "browser@example.com", "verify_address").await.expect("a confirmation email");
    c.goto(&link_in(&text)).await.unwrap();
    wait_for_text(&c, ".flash", "Your email address is confirmed").await;
    wait_for_text(&c, "#summary-email", "browser@example.com").await;
    let summary = c.find(Locator::Css("#summary-email")).await.unwrap().text().await.unwrap();
    assert!(!summary.contains("not confirmed"), "{summary}");

    // The page loaded the fingerprinted htmx, and it runs under the CSP.
    let htmx_src: String = c
        .execute("return document.querySelector('script[src*=\"htmx.min\"]').getAttribute('src')", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    let hash = htmx_src.trim_start_matches("/static/htmx.min.").trim_end_matches(".js");
    assert!(hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{htmx_src}");
    let version = c.execute("return window.htmx && htmx.version", vec![]).await.unwrap();
    assert_eq!(version, serde_json::json!("2.0.11"));

    c.find(Locator::Css("nav form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "main h1", "Log in").await;
    wait_for_text(&c, ".flash", "You are logged out.").await;

    fill(&c, "#login", "browser_user").await;
    fill(&c, "#password", PASSWORD).await;
    c.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#account-summary", "browser_user").await;
    let shot = c.screenshot().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-dashboard.png");
    std::fs::write(&path, &shot).unwrap();
    assert!(shot.starts_with(b"\x89PNG"));

    // A VPN client, added with htmx: the list is swapped in place, the page is not reloaded.
    let added = Command::new(env!("CARGO_BIN_EXE_phaze-portal"))
        .args([
            "add-node",
            "--name",
            "browser-node",
            "--region",
            "Lab",
            "--host",
            "vpn.lab.example",
            "--pool",
            "10.95.0.0/24",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", &server.database_url)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    c.goto(&server.url("/dashboard")).await.unwrap();
    c.execute("window.phazeMarker = 'same page'", vec![]).await.unwrap();
    fill(&c, "#name", "browser-phone").await;
    c.find(Locator::Css("#new-client button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#client-list", "browser-phone").await;
    let marker = c.execute("return window.phazeMarker", vec![]).await.unwrap();
    assert_eq!(marker, serde_json::json!("same page"), "a fragment swap, not a page load");
    c.find(Locator::LinkText("browser-phone")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#client-facts", "10.95.0.2").await;
    assert!(c.find(Locator::Css("#client-qr svg")).await.is_ok(), "QR code shown");
    let shot = c.screenshot().await.unwrap();
    std::fs::write(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-client.png"), &shot).unwrap();

    c.find(Locator::Css("nav form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "main h1", "Log in").await;
    c.goto(&server.url("/dashboard")).await.unwrap();
    wait_for_text(&c, "main h1", "Log in").await; // signed out for real
    c.close().await.unwrap();
    let log = server.stop();
    assert!(!log.contains(PASSWORD));
}

/// Signs up in the browser and follows the confirmation email's link.
async fn sign_up_and_confirm(c: &fantoccini::Client, server: &ServerProcess, pool: &sqlx::PgPool, username: &str) {
    c.goto(&server.url("/signup")).await.unwrap();
    fill(c, "#username", username).await;
    fill(c, "#email", &format!("{username}@example.com")).await;
    fill(c, "#password", PASSWORD).await;
    fill(c, "#password_confirm", PASSWORD).await;
    c.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(c, "#account-summary", username).await;
    let (_, text) = latest_email(pool, &format!("{username}@example.com"), "verify_address").await.unwrap();
    c.goto(&link_in(&text)).await.unwrap();
    wait_for_text(c, ".flash", "Your email address is confirmed").await;
}

#[rocket::async_test]
async fn a_user_buys_a_plan_by_transfer_and_gets_support_in_chromium() {
    let server = ServerProcess::start().await;
    let pool = sqlx::PgPool::connect(&server.database_url).await.unwrap();
    // The admin works from another instance on the same database.
    let admin = TestApp::on_database(server.database_url.clone(), |f| f).await;
    admin.create_admin("boss").await;
    admin.log_in("boss", PASSWORD).await;
    let plan = [
        ("name", "Monthly"),
        ("price", "7.50"),
        ("currency", "EUR"),
        ("period_days", "30"),
        ("max_clients", "5"),
        ("active", "true"),
    ];
    let r = admin.submit("/admin/plans", "/admin/plans", &plan).await;
    assert_eq!(r.status(), rocket::http::Status::SeeOther);
    drop(r);
    let plan_id: i64 =
        sqlx::query_scalar("SELECT id FROM plans WHERE name = 'Monthly'").fetch_one(&pool).await.unwrap();

    let (c, _driver, _profile) = browser().await;
    sign_up_and_confirm(&c, &server, &pool, "shopper").await;
    c.goto(&server.url("/pricing")).await.unwrap();
    wait_for_text(&c, "#plan-cards", "7.50 EUR").await;
    c.find(Locator::LinkText("Choose Monthly")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#plan-name", "Free").await;
    c.find(Locator::Css(&format!("#plan-{plan_id} button"))).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#payment-status", "Waiting for payment").await;
    let reference = c.find(Locator::Css("#payment-reference")).await.unwrap().text().await.unwrap();
    assert!(reference.starts_with("PHZ-"), "{reference}");
    let payment: uuid::Uuid = sqlx::query_scalar("SELECT id FROM payments WHERE provider_ref = $1")
        .bind(&reference)
        .fetch_one(&pool)
        .await
        .unwrap();

    // The admin finds the reference on the bank statement and marks it paid.
    let (_, queue) = admin.page("/admin/payments?status=pending").await;
    assert!(queue.contains(&reference));
    let r = admin.submit("/admin/payments", &format!("/admin/payments/{payment}/paid"), &[]).await;
    assert_eq!(r.status(), rocket::http::Status::SeeOther);
    drop(r);
    let end: time::OffsetDateTime =
        sqlx::query_scalar("SELECT current_period_end FROM subscriptions").fetch_one(&pool).await.unwrap();
    c.goto(&server.url("/billing")).await.unwrap();
    wait_for_text(&c, "#plan-name", "Monthly").await;
    let shown = format!("{}-{:02}-{:02}", end.year(), u8::from(end.month()), end.day());
    wait_for_text(&c, "#period-end", &shown).await;
    wait_for_text(&c, "#payments", "Paid").await;
    let shot = c.screenshot().await.unwrap();
    std::fs::write(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-billing.png"), &shot).unwrap();

    // Support: a ticket, and the admin's reply appearing on the open page by htmx polling.
    c.goto(&server.url("/support")).await.unwrap();
    fill(&c, "#subject", "Which server for streaming?").await;
    fill(&c, "#body", "Hello,\nwhich server should I use?").await;
    c.find(Locator::Css("#new-ticket button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#ticket-status", "Open").await;
    let ticket: i64 = sqlx::query_scalar("SELECT id FROM tickets").fetch_one(&pool).await.unwrap();
    c.execute("window.phazeMarker = 'still here'", vec![]).await.unwrap();
    let r = admin
        .submit(
            &format!("/admin/tickets/{ticket}"),
            &format!("/admin/tickets/{ticket}/reply"),
            &[("body", "Use fra-1, it is closest to you.")],
        )
        .await;
    assert_eq!(r.status(), rocket::http::Status::SeeOther);
    drop(r);
    wait_for_text_within(&c, "#messages", "Use fra-1, it is closest to you.", Duration::from_secs(25)).await;
    let marker = c.execute("return window.phazeMarker", vec![]).await.unwrap();
    assert_eq!(marker, serde_json::json!("still here"), "polled in, not reloaded");
    c.close().await.unwrap();
    server.stop();
}

/// As `wait_for_text`, for longer waits (a poll interval).
async fn wait_for_text_within(c: &fantoccini::Client, css: &str, expected: &str, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if let Ok(element) = c.find(Locator::Css(css)).await {
            if element.text().await.is_ok_and(|t| t.contains(expected)) {
                return;
            }
        }
        rocket::tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{css} never showed {expected:?} within {within:?}");
}

#[rocket::async_test]
async fn two_factor_sign_in_in_chromium_with_codes_computed_from_the_page() {
    let server = ServerProcess::start().await;
    let pool = sqlx::PgPool::connect(&server.database_url).await.unwrap();
    let (c, _driver, _profile) = browser().await;
    sign_up_and_confirm(&c, &server, &pool, "authed").await;
    c.goto(&server.url("/account/two-factor")).await.unwrap();
    c.find(Locator::Css("main form[action='/account/two-factor/setup'] button")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "main h1", "Set up two-factor sign-in").await;
    assert!(c.find(Locator::Css("#totp-qr svg")).await.is_ok(), "QR code shown");
    let key = c.find(Locator::Css("#totp-secret")).await.unwrap().text().await.unwrap();
    let secret = totp_rs::Secret::try_from_base32(key.trim()).unwrap().as_bytes().to_vec();
    let totp = phaze_portal::domain::two_factor::totp(&secret, "authed");
    let code_for = |step: i64| totp.generate(step as u64 * 30).to_string();
    let step = || time::OffsetDateTime::now_utc().unix_timestamp() / 30;
    fill(&c, "#code", &code_for(step())).await;
    c.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "main h1", "Your recovery codes").await;
    let codes = c.find_all(Locator::Css("#recovery-codes li")).await.unwrap();
    assert_eq!(codes.len(), 10);

    c.find(Locator::Css("nav form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "main h1", "Log in").await;
    fill(&c, "#login", "authed").await;
    fill(&c, "#password", PASSWORD).await;
    c.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "main h1", "Enter your code").await;
    // The setup used this step's code: the next step's is the one to give (one step of skew).
    let used: i64 = sqlx::query_scalar("SELECT totp_last_step FROM users").fetch_one(&pool).await.unwrap();
    fill(&c, "#code", &code_for(used.max(step()) + if used >= step() { 1 } else { 0 })).await;
    c.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#account-summary", "authed").await;
    c.goto(&server.url("/account")).await.unwrap();
    wait_for_text(&c, "td.two-factor", "yes").await;
    c.close().await.unwrap();
    server.stop();
}

#[rocket::async_test]
async fn the_api_reference_renders_both_documents_under_the_csp_in_chromium() {
    let server = ServerProcess::start().await;
    let (c, _driver, _profile) = browser().await;
    for (path, operations, expected) in [("/api/docs", 10, "/clients/{id}/usage"), ("/api/docs/v1", 9, "/node/peers")] {
        c.goto(&server.url(path)).await.unwrap();
        c.wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(".swagger-ui .opblock"))
            .await
            .expect("Swagger UI renders the operations");
        let shown: Vec<String> = c
            .execute(
                "return Array.from(document.querySelectorAll('.opblock-summary-path')).map(e => e.getAttribute('data-path'))",
                vec![],
            )
            .await
            .map(|v| serde_json::from_value(v).unwrap())
            .unwrap();
        assert_eq!(shown.len(), operations, "{path}: {shown:?}");
        assert!(shown.iter().any(|p| p == expected), "{path} shows {expected}: {shown:?}");
        let violations = c.execute("return window.cspViolations", vec![]).await.unwrap();
        assert_eq!(violations, serde_json::json!([]), "{path}: nothing refused by the CSP");
        // Swagger UI's own stylesheet applies (it is served, fingerprinted, from /static).
        let styled = c
            .execute("return getComputedStyle(document.querySelector('.swagger-ui .opblock')).borderRadius", vec![])
            .await
            .unwrap();
        assert_ne!(styled, serde_json::json!("0px"), "{path}");
    }
    c.close().await.unwrap();
    server.stop();
}
