//! Two-factor sign-in: setup, the second step with a code or a recovery code, replay and skew,
//! the pending state, turning it off, and admins who must have it.
use crate::helpers::*;
use phaze_portal::domain::two_factor::totp;
use rocket::http::Status;
use time::OffsetDateTime;

/// Sets up TOTP on the signed-in account as a user would (reading the key off the page); the
/// secret and the recovery codes shown.
async fn set_up(app: &TestApp, username: &str) -> (Vec<u8>, Vec<String>) {
    let r = app.submit("/account/two-factor", "/account/two-factor/setup", &[]).await;
    assert_eq!(r.status(), Status::Ok);
    assert_eq!(header(&r, "Cache-Control"), Some("no-store"));
    let page = r.into_string().await.unwrap();
    assert!(page.contains(r#"<figure id="totp-qr"><svg"#), "a QR code");
    let key = page.split(r#"id="totp-secret">"#).nth(1).unwrap().split('<').next().unwrap().to_owned();
    let secret = totp_rs::Secret::try_from_base32(&key).unwrap().as_bytes().to_vec();
    let wrong = app.submit("/account/two-factor", "/account/two-factor/enable", &[("code", "000000")]).await;
    assert_eq!(wrong.status(), Status::UnprocessableEntity);
    assert!(wrong.into_string().await.unwrap().contains(&key), "the same key, shown again");
    let on: bool = sqlx::query_scalar("SELECT totp_enabled_at IS NOT NULL FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!on, "a wrong code turns nothing on");
    let code = code_at(&secret, username, 0);
    let r = app.submit("/account/two-factor", "/account/two-factor/enable", &[("code", &code)]).await;
    assert_eq!(r.status(), Status::Ok);
    let page = r.into_string().await.unwrap();
    let codes: Vec<String> =
        page.split("<li><code>").skip(1).map(|s| s.split('<').next().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM recovery_codes").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored, 10);
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT totp_secret_sealed FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!sealed.windows(secret.len()).any(|w| w == secret), "sealed at rest");
    (secret, codes)
}

/// The code for the step `offset` steps from now.
fn code_at(secret: &[u8], username: &str, offset: i64) -> String {
    let at = OffsetDateTime::now_utc().unix_timestamp() + offset * 30;
    totp(secret, username).generate(at as u64).to_string()
}

/// Password first; the answer must send the browser to the second step.
async fn password_step(app: &TestApp, username: &str) {
    let r = app.submit("/login", "/login", &[("login", username), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), Status::SeeOther);
    assert!(location(&r).starts_with("/login/two-factor"), "{}", location(&r));
}

async fn code_step(app: &TestApp, code: &str) -> (Status, String) {
    let r = app.submit("/login/two-factor", "/login/two-factor", &[("code", code)]).await;
    let status = r.status();
    let to = location(&r);
    (status, if to.is_empty() { r.into_string().await.unwrap_or_default() } else { to })
}

#[rocket::async_test]
async fn sign_in_asks_for_a_code_refuses_replays_and_old_codes_and_counts_wrong_ones() {
    let app = TestApp::spawn().await;
    app.sign_up("twofa").await;
    let (secret, _) = set_up(&app, "twofa").await;
    app.log_out().await;

    password_step(&app, "twofa").await;
    assert!(app.session_cookie().is_none(), "half signed in is not signed in");
    assert_eq!(app.get("/dashboard").await.status(), Status::SeeOther);
    assert_eq!(app.get("/account").await.status(), Status::SeeOther, "the pending state grants nothing else");
    let (status, page) = code_step(&app, &code_at(&secret, "twofa", 0)).await;
    assert_eq!(status, Status::UnprocessableEntity, "the setup's code was used: a replay");
    assert!(page.contains("not right (or was used already)"));
    let (status, _) = code_step(&app, &code_at(&secret, "twofa", -2)).await;
    assert_eq!(status, Status::UnprocessableEntity, "a code from two steps ago");
    let (status, to) = code_step(&app, &code_at(&secret, "twofa", 1)).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, "/dashboard"), "one step ahead is within the window");
    let (_, account) = app.page("/account").await;
    assert!(account.contains(r#"<td class="two-factor">yes</td>"#), "the session list shows it");
    app.log_out().await;
    password_step(&app, "twofa").await;
    let (status, _) = code_step(&app, &code_at(&secret, "twofa", 1)).await;
    assert_eq!(status, Status::UnprocessableEntity, "each code once, even in a new sign-in");

    // Wrong codes count toward the login limit (5 for an account): then even a right one waits.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(code_step(&app, "123456").await.0);
    }
    assert_eq!(statuses.last(), Some(&Status::TooManyRequests), "{statuses:?}");
}

#[rocket::async_test]
async fn a_recovery_code_signs_in_once() {
    let app = TestApp::spawn().await;
    app.sign_up("recoverer").await;
    let (_, codes) = set_up(&app, "recoverer").await;
    app.log_out().await;
    password_step(&app, "recoverer").await;
    let typed = codes[3].to_lowercase().replace('-', " ");
    let (status, to) = code_step(&app, &typed).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, "/dashboard"), "typed loosely, still accepted");
    app.log_out().await;
    password_step(&app, "recoverer").await;
    assert_eq!(code_step(&app, &codes[3]).await.0, Status::UnprocessableEntity, "used up");
    assert_eq!(code_step(&app, &codes[4]).await.0, Status::SeeOther);
    let (_, page) = app.page("/account/two-factor").await;
    assert!(page.contains("8 unused recovery codes"));
}

#[rocket::async_test]
async fn the_pending_step_lasts_five_minutes_in_the_browser_that_began_it() {
    let app = TestApp::spawn().await;
    app.sign_up("slowpoke").await;
    let (secret, _) = set_up(&app, "slowpoke").await;
    app.log_out().await;
    password_step(&app, "slowpoke").await;
    let expires: OffsetDateTime =
        sqlx::query_scalar("SELECT expires_at FROM login_challenges").fetch_one(&app.pool).await.unwrap();
    let minutes = (expires - OffsetDateTime::now_utc()).whole_seconds();
    assert!((290..=300).contains(&minutes), "{minutes} s");
    // Another browser (no challenge cookie) gets nowhere with a right code.
    let other = app.another_instance().await;
    let page = other.get("/login/two-factor").dispatch().await;
    assert_eq!((page.status(), location(&page)), (Status::SeeOther, "/login".into()));
    drop(page);
    sqlx::query("UPDATE login_challenges SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app.submit("/login", "/login/two-factor", &[("code", &code_at(&secret, "slowpoke", 1))]).await;
    assert_eq!((r.status(), location(&r)), (Status::SeeOther, "/login".into()), "expired: start again");
    drop(r);
    assert!(app.session_cookie().is_none());
}

#[rocket::async_test]
async fn turning_it_off_or_new_codes_need_the_password_and_a_code_and_end_other_sessions() {
    let app = TestApp::spawn().await;
    app.sign_up("careful").await;
    let (secret, old_codes) = set_up(&app, "careful").await;
    app.log_out().await;
    // A second session, in another browser on another instance.
    let other = app.another_instance().await;
    let form = |page: String, fields: &[(&str, &str)]| {
        let token = csrf_in(&page).unwrap();
        let mut all = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        form_encode(&all)
    };
    let page = other.get("/login").dispatch().await.into_string().await.unwrap();
    let body = form(page, &[("login", "careful"), ("password", PASSWORD)]);
    other.post("/login").header(rocket::http::ContentType::Form).body(body).dispatch().await;
    let page = other.get("/login/two-factor").dispatch().await.into_string().await.unwrap();
    let body = form(page, &[("code", &code_at(&secret, "careful", 1))]);
    let r = other.post("/login/two-factor").header(rocket::http::ContentType::Form).body(body).dispatch().await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    password_step(&app, "careful").await;
    assert_eq!(code_step(&app, &old_codes[0]).await.0, Status::SeeOther);
    let still = || async { other.get("/dashboard").dispatch().await.status() };
    assert_eq!(still().await, Status::Ok);

    let r = app
        .submit(
            "/account/two-factor",
            "/account/two-factor/codes",
            &[("current_password", "wrong-password-1"), ("code", &old_codes[1])],
        )
        .await;
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(r.into_string().await.unwrap().contains("not your current password"));
    let r = app
        .submit(
            "/account/two-factor",
            "/account/two-factor/codes",
            &[("current_password", PASSWORD), ("code", &old_codes[1])],
        )
        .await;
    assert_eq!(r.status(), Status::Ok);
    let page = r.into_string().await.unwrap();
    let new_codes: Vec<String> =
        page.split("<li><code>").skip(1).map(|s| s.split('<').next().unwrap().to_owned()).collect();
    assert_eq!(new_codes.len(), 10);
    assert!(!new_codes.contains(&old_codes[2]));
    assert_eq!(still().await, Status::SeeOther, "the other session is signed out");
    app.log_out().await;
    password_step(&app, "careful").await;
    assert_eq!(code_step(&app, &old_codes[2]).await.0, Status::UnprocessableEntity, "the old codes died");
    assert_eq!(code_step(&app, &new_codes[0]).await.0, Status::SeeOther);

    // Off needs the password and a code too; then sign-in asks only for the password.
    let off = |code: String| {
        let app = &app;
        async move {
            app.submit(
                "/account/two-factor",
                "/account/two-factor/disable",
                &[("current_password", PASSWORD), ("code", &code)],
            )
            .await
            .status()
        }
    };
    assert_eq!(off("000000".into()).await, Status::UnprocessableEntity, "a wrong code keeps it on");
    assert_eq!(off(new_codes[1].clone()).await, Status::SeeOther);
    let (_, page) = app.page("/account/two-factor").await;
    assert!(page.contains(r#"data-on="false""#));
    app.log_out().await;
    let r = app.log_in("careful", PASSWORD).await;
    assert_eq!(location(&r), "/dashboard");
}

#[rocket::async_test]
async fn an_admin_without_two_factor_is_sent_to_set_it_up_and_the_operator_can_reset_it() {
    let app = TestApp::spawn().await;
    phaze_portal::domain::signup::create_admin(&app.pool, "bare_admin", "bare@example.com", PASSWORD).await.unwrap();
    app.log_in("bare_admin", PASSWORD).await;
    for path in ["/admin", "/admin/nodes", "/admin/plans", "/admin/payments", "/admin/tickets"] {
        let r = app.get(path).await;
        assert_eq!((r.status(), location(&r)), (Status::SeeOther, "/account/two-factor".into()), "{path}");
    }
    let (_, page) = app.page("/account/two-factor").await;
    assert!(page.contains("Admins must turn on two-factor sign-in"));
    let r = app.submit("/dashboard", "/admin/plans", &[("name", "Sneaky")]).await;
    assert_eq!(r.status(), Status::SeeOther, "no admin action either");
    drop(r);
    set_up(&app, "bare_admin").await;
    assert_eq!(app.page("/admin").await.0, Status::Ok, "the session that proved a code may go on");

    let (ok, out, _) =
        portal_cli_with(&app.database_url, Some(&app.redis.url()), &["reset-2fa", "--user", "bare_admin"]);
    assert!(ok && out.contains("two-factor sign-in is off"), "{out}");
    assert_eq!(app.session_count("bare_admin").await, 0, "every session ended");
    let r = app.log_in("bare_admin", PASSWORD).await;
    assert_eq!(location(&r), "/dashboard", "the password alone again");
    drop(r);
    let r = app.get("/admin").await;
    assert_eq!(location(&r), "/account/two-factor", "and the admin pages wait for a new setup");
}
