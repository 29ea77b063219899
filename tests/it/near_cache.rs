//! The near cache (`cache::near`) with two instances over one Redis: a warm signed-in page makes
//! no Redis command, and DESIGN §5's invariants still hold with both near caches warm.
use crate::helpers::*;
use phaze_portal::auth::SESSION_COOKIE;
use phaze_portal::state::Portal;
use rocket::http::{ContentType, Cookie, Status};
use rocket::local::asynchronous::Client;

/// Waits until the instance tracks Redis's invalidations (its near cache is in use).
async fn near_live(client: &Client) {
    let portal = client.rocket().state::<Portal>().unwrap();
    for _ in 0..100 {
        if portal.near.is_live() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the near cache never went live");
}

async fn dashboard(client: &Client, token: &str) -> (Status, String) {
    let r = client.get("/dashboard").cookie(Cookie::new(SESSION_COOKIE, token.to_owned())).dispatch().await;
    (r.status(), r.into_string().await.unwrap_or_default())
}

/// Signs in on `client` (its own session); the session token.
async fn sign_in(client: &Client, username: &str) -> String {
    let login_page = client.get("/login").dispatch().await.into_string().await.unwrap();
    let body = form_encode(&[("_csrf", &csrf_in(&login_page).unwrap()), ("login", username), ("password", PASSWORD)]);
    let r = client.post("/login").header(ContentType::Form).body(body).dispatch().await;
    assert_eq!(r.status(), Status::SeeOther);
    client.cookies().get(SESSION_COOKIE).unwrap().value().to_owned()
}

#[rocket::async_test]
async fn a_warm_dashboard_makes_no_redis_command_and_sees_another_instances_write_at_once() {
    let app = TestApp::spawn().await;
    app.add_node("near-node", "vpn.near.example", "10.92.0.0/24").await;
    app.sign_up("near_user").await;
    app.create_client("laptop", "wireguard").await;
    let token = app.session_cookie().unwrap();
    let other = app.another_instance().await;
    near_live(&other).await;
    dashboard(&other, &token).await; // warm
    let before = app.redis.commands_run().await;
    let (status, page) = dashboard(&other, &token).await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("laptop") && page.contains("near_user@example.com"));
    assert_eq!(app.redis.commands_run().await - before, 0, "session and every fragment from the near cache");

    // A write on the first instance: the other's very next request shows it.
    let form_token = app.csrf("/account").await;
    let body =
        form_encode(&[("_csrf", &form_token), ("email", "near_moved@example.com"), ("current_password", PASSWORD)]);
    let r = app.client.post("/account/email").header(ContentType::Form).body(body).dispatch().await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let (_, page) = dashboard(&other, &token).await;
    assert!(page.contains("near_moved@example.com") && !page.contains("near_user@example.com"), "no stale fragment");

    let id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM clients WHERE name = 'laptop'").fetch_one(&app.pool).await.unwrap();
    let r = app.submit(&format!("/clients/{id}/revoke"), &format!("/clients/{id}/revoke"), &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let (_, page) = dashboard(&other, &token).await;
    assert!(page.contains("0 of 5 active clients"), "the revoke shows on the other instance at once");
    assert!(page.contains(r#"<tr data-status="revoked">"#));
}

#[rocket::async_test]
async fn logout_and_password_change_end_sessions_on_every_instance_at_once() {
    let app = TestApp::spawn().await;
    app.sign_up("near_leaver").await;
    let first = app.session_cookie().unwrap();
    let other = app.another_instance().await;
    near_live(&other).await;
    let second = sign_in(&other, "near_leaver").await;
    for token in [&first, &second] {
        dashboard(&other, token).await; // both sessions now near on the other instance
        assert_eq!(dashboard(&other, token).await.0, Status::Ok);
    }

    // The password changes on the first instance: the other session ends everywhere.
    let body = form_encode(&[
        ("_csrf", &app.csrf("/account").await),
        ("current_password", PASSWORD),
        ("password", "another-long-passphrase-9"),
        ("password_confirm", "another-long-passphrase-9"),
    ]);
    let r = app.client.post("/account/password").header(ContentType::Form).body(body).dispatch().await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    assert_eq!(dashboard(&other, &second).await.0, Status::SeeOther, "the other session ended with the change");
    assert_eq!(dashboard(&other, &first).await.0, Status::Ok, "the session that changed it stays");

    // Logging out on the first instance ends that session on the other one too.
    let r = app.log_out().await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    assert_eq!(dashboard(&other, &first).await.0, Status::SeeOther);
}

#[rocket::async_test]
async fn flushall_signs_nobody_out_and_a_lost_tracking_connection_turns_the_near_cache_off() {
    let app = TestApp::spawn().await;
    app.sign_up("near_flush").await;
    let token = app.session_cookie().unwrap();
    let other = app.another_instance().await;
    near_live(&other).await;
    dashboard(&other, &token).await;

    app.redis.command(&["FLUSHALL"]).await;
    let before = app.redis.commands_run().await;
    let (status, page) = dashboard(&other, &token).await;
    assert_eq!(status, Status::Ok, "still signed in: PostgreSQL vouches");
    assert!(page.contains("near_flush@example.com"));
    assert!(app.redis.commands_run().await > before, "FLUSHALL emptied the near cache too");

    // Kill the tracking connections: the near cache is not used until tracking is back.
    let portal = other.rocket().state::<Portal>().unwrap();
    dashboard(&other, &token).await;
    app.redis.command(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]).await;
    let mut off = false;
    for _ in 0..50 {
        if !portal.near.is_live() {
            off = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(off, "a lost tracking connection turns the near cache off");
    let before = app.redis.commands_run().await;
    assert_eq!(dashboard(&other, &token).await.0, Status::Ok);
    assert!(app.redis.commands_run().await > before, "served through Redis while tracking is down");
    near_live(&other).await;
    dashboard(&other, &token).await;
    let before = app.redis.commands_run().await;
    assert_eq!(dashboard(&other, &token).await.0, Status::Ok);
    assert_eq!(app.redis.commands_run().await - before, 0, "near again once tracking is back");
}
