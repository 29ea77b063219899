//! The binary's own commands.
use crate::helpers::*;
use std::io::Write;
use std::process::{Command, Stdio};

fn portal(database_url: &str, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phaze-portal"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[rocket::async_test]
async fn migrate_twice_then_create_admin_from_stdin_then_seed_is_a_no_op() {
    let database_url = fresh_database().await;
    for _ in 0..2 {
        let (ok, out) = portal(&database_url, &["migrate"], "");
        assert!(ok, "{out}");
        assert!(out.contains("migrations are up to date"));
    }
    let (ok, out) =
        portal(&database_url, &["create-admin", "--username", "ops", "--email", "ops@example.com"], "short\n");
    assert!(!ok, "a weak password is refused");
    assert!(out.contains("password: Use at least 10 characters."), "{out}");
    let (ok, out) = portal(
        &database_url,
        &["create-admin", "--username", "ops", "--email", "ops@example.com"],
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{out}");
    assert!(!out.contains(PASSWORD), "the password is not echoed");
    let (ok, out) = portal(&database_url, &["seed-demo"], "");
    assert!(ok, "{out}");
    assert!(out.contains("already exists"));

    let pool = sqlx::PgPool::connect(&database_url).await.unwrap();
    let role: String =
        sqlx::query_scalar("SELECT role FROM users WHERE username = 'ops'").fetch_one(&pool).await.unwrap();
    assert_eq!(role, "admin");
}

#[rocket::async_test]
async fn seed_demo_prints_a_working_admin_login_once() {
    let database_url = fresh_database().await;
    let (ok, out) = portal(&database_url, &["seed-demo"], "");
    assert!(ok, "{out}");
    let password = out.lines().find_map(|l| l.trim().strip_prefix("password: ")).expect("password printed").to_owned();
    let server = ServerProcess::start_with(&database_url, &[]).await;
    let (_, headers, page) = http(server.port, "GET", "/login", &[], "");
    let anon =
        headers.iter().find_map(|(k, v)| (k == "set-cookie").then(|| v.split(';').next().unwrap().to_owned())).unwrap();
    let body = form_encode(&[("_csrf", &csrf_in(&page).unwrap()), ("login", "admin"), ("password", &password)]);
    let (status, headers, _) = http(
        server.port,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", &anon)],
        &body,
    );
    assert_eq!(status, 303);
    assert!(headers.iter().any(|(k, v)| k == "location" && v == "/dashboard"));
    let (_, _, pricing) = http(server.port, "GET", "/pricing", &[], "");
    assert!(pricing.contains("4.99 EUR") && pricing.contains("49.00 EUR"), "demo plans on offer");
    let (ok, out) = portal(&database_url, &["seed-demo"], "");
    assert!(ok && !out.contains(&password), "printed only once");
    let plans: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(&sqlx::PgPool::connect(&database_url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(plans, 3, "the free plan and two demo plans, added once");
}
