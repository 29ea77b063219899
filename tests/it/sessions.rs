use crate::helpers::*;
use phaze_portal::auth::SESSION_COOKIE;
use rocket::http::{Cookie, Status};
use rocket::local::asynchronous::Client;

async fn dashboard_with_cookie(client: &Client, token: &str) -> Status {
    client.get("/dashboard").cookie(Cookie::new(SESSION_COOKIE, token.to_owned())).dispatch().await.status()
}

#[rocket::async_test]
async fn session_cookie_is_httponly_lax_and_only_its_hash_is_stored() {
    let app = TestApp::spawn().await;
    let response = app.sign_up("cookie_user").await;
    let set_cookie: Vec<_> = response.headers().get("Set-Cookie").filter(|c| c.starts_with(SESSION_COOKIE)).collect();
    assert_eq!(set_cookie.len(), 1);
    assert!(set_cookie[0].contains("HttpOnly"));
    assert!(set_cookie[0].contains("SameSite=Lax"));
    assert!(!set_cookie[0].contains("Secure"), "Secure only when configured for TLS");
    drop(response);
    let token = app.session_cookie().unwrap();
    assert_eq!(token.len(), 43, "256 random bits, base64url");
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM sessions").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored, phaze_portal::auth::tokens::hash_token(&token));
}

#[rocket::async_test]
async fn secure_cookies_and_hsts_when_configured_for_tls() {
    let app = TestApp::spawn_with(|f| f.merge(("secure_cookies", true))).await;
    let response = app.sign_up("tls_user").await;
    let cookie = response.headers().get("Set-Cookie").find(|c| c.starts_with(SESSION_COOKIE)).unwrap().to_owned();
    assert!(cookie.contains("Secure"));
    assert!(header(&response, "Strict-Transport-Security").unwrap().contains("max-age="));
}

#[rocket::async_test]
async fn a_new_session_id_on_every_login() {
    let app = TestApp::spawn().await;
    app.sign_up("rotator").await;
    let first = app.session_cookie().unwrap();
    // Logging in again while signed in (the session's token is the one the form needs now).
    let r = app.submit("/dashboard", "/login", &[("login", "rotator"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), rocket::http::Status::SeeOther);
    drop(r);
    let second = app.session_cookie().unwrap();
    assert_ne!(first, second);
    assert_eq!(dashboard_with_cookie(&app.client, &first).await, Status::SeeOther, "old session ended");
    assert_eq!(app.session_count("rotator").await, 1);
}

#[rocket::async_test]
async fn session_survives_redis_flushall() {
    let app = TestApp::spawn().await;
    app.sign_up("survivor").await;
    assert_eq!(app.page("/dashboard").await.0, Status::Ok);
    app.redis.command(&["FLUSHALL"]).await;
    let (status, body) = app.page("/dashboard").await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains("survivor@example.com"));
}

#[rocket::async_test]
async fn logout_ends_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    app.sign_up("leaver").await;
    let token = app.session_cookie().unwrap();
    let response = app.log_out().await;
    assert_eq!(location(&response), "/login");
    drop(response);
    assert_eq!(app.session_count("leaver").await, 0);
    // Replaying the old cookie from elsewhere gets nowhere, cached or not.
    let other = app.another_instance().await;
    assert_eq!(dashboard_with_cookie(&other, &token).await, Status::SeeOther);
}

#[rocket::async_test]
async fn sign_out_everywhere_else_and_a_single_session() {
    let app = TestApp::spawn().await;
    app.sign_up("many_devices").await;
    let phone = app.another_instance().await;
    let laptop = app.another_instance().await;
    for device in [&phone, &laptop] {
        let login_page = device.get("/login").dispatch().await.into_string().await.unwrap();
        let body = form_encode(&[
            ("_csrf", &csrf_in(&login_page).unwrap()),
            ("login", "many_devices"),
            ("password", PASSWORD),
        ]);
        let r = device.post("/login").header(rocket::http::ContentType::Form).body(body).dispatch().await;
        assert_eq!(r.status(), Status::SeeOther);
    }
    assert_eq!(app.session_count("many_devices").await, 3);

    // The account page lists all three, and ends the phone's alone.
    let (_, account) = app.page("/account").await;
    assert_eq!(account.matches("/revoke\"").count(), 2, "two other sessions, each with a button");
    assert!(account.contains("This session"));
    let phone_id: i64 = sqlx::query_scalar("SELECT id FROM sessions WHERE token_hash = $1")
        .bind(phaze_portal::auth::tokens::hash_token(phone.cookies().get(SESSION_COOKIE).unwrap().value()))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = app.submit("/account", &format!("/account/sessions/{phone_id}/revoke"), &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    assert_eq!(phone.get("/dashboard").dispatch().await.status(), Status::SeeOther);
    assert_eq!(laptop.get("/dashboard").dispatch().await.status(), Status::Ok);
    assert_eq!(app.session_count("many_devices").await, 2);

    let r = app.submit("/account", "/account/sessions/revoke-others", &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    assert_eq!(laptop.get("/dashboard").dispatch().await.status(), Status::SeeOther);
    assert_eq!(app.page("/dashboard").await.0, Status::Ok, "this session stays");
    assert_eq!(app.session_count("many_devices").await, 1);
}

#[rocket::async_test]
async fn another_users_session_cannot_be_ended() {
    let app = TestApp::spawn().await;
    app.sign_up("victim").await;
    let victim_session: i64 = sqlx::query_scalar("SELECT id FROM sessions").fetch_one(&app.pool).await.unwrap();
    app.log_out().await;
    app.sign_up("attacker").await;
    let r = app.submit("/account", &format!("/account/sessions/{victim_session}/revoke"), &[]).await;
    assert_eq!(r.status(), Status::NotFound);
    drop(r);
    assert_eq!(app.session_count("victim").await, 0, "the victim had logged out already");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1);
}

#[rocket::async_test]
async fn expiry_slides_with_use_and_an_expired_session_is_refused() {
    let app = TestApp::spawn().await;
    app.sign_up("slider").await;
    sqlx::query(
        "UPDATE sessions SET last_seen_at = now() - interval '2 minutes', expires_at = now() + interval '1 minute'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.redis.command(&["FLUSHALL"]).await;
    assert_eq!(app.page("/dashboard").await.0, Status::Ok);
    let left: f64 = sqlx::query_scalar("SELECT extract(epoch FROM expires_at - now())::float8 FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(left > 6.0 * 24.0 * 3600.0, "slid to the idle timeout (7 days), got {left}s");

    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second'").execute(&app.pool).await.unwrap();
    app.redis.command(&["FLUSHALL"]).await;
    assert_eq!(app.get("/dashboard").await.status(), Status::SeeOther);
}

#[rocket::async_test]
async fn a_role_change_reaches_every_instance_at_once() {
    let app = TestApp::spawn().await;
    app.sign_up("promoted").await;
    let cookie = app.session_cookie().unwrap();
    let other = app.another_instance().await;
    let admin_on_other = || async {
        other
            .get("/admin")
            .cookie(rocket::http::Cookie::new(phaze_portal::auth::SESSION_COOKIE, cookie.clone()))
            .dispatch()
            .await
            .status()
    };
    // Both instances have the session (and its role) cached.
    assert_eq!(app.get("/admin").await.status(), Status::Forbidden);
    assert_eq!(admin_on_other().await, Status::Forbidden);
    let portal = app.client.rocket().state::<phaze_portal::state::Portal>().unwrap();
    let id: i64 = sqlx::query_scalar("SELECT id FROM users").fetch_one(&app.pool).await.unwrap();
    phaze_portal::domain::accounts::set_role(&app.pool, &portal.sessions, &portal.fragments, id, "admin")
        .await
        .unwrap();
    // An admin without two-factor sign-in is sent to set it up: the new role, seen at once.
    assert_eq!(admin_on_other().await, Status::SeeOther, "the other instance sees the new role at once");
    phaze_portal::domain::accounts::set_role(&app.pool, &portal.sessions, &portal.fragments, id, "user").await.unwrap();
    assert_eq!(app.get("/admin").await.status(), Status::Forbidden, "and its removal");
    assert_eq!(admin_on_other().await, Status::Forbidden);
    let bad =
        phaze_portal::domain::accounts::set_role(&app.pool, &portal.sessions, &portal.fragments, id, "root").await;
    assert!(bad.is_err(), "only admin or user");
}
