use crate::helpers::*;
use phaze_portal::state::Portal;
use rocket::http::{ContentType, Status};
use std::sync::atomic::Ordering;

fn stats(client: &rocket::local::asynchronous::Client) -> (u64, u64) {
    let portal = client.rocket().state::<Portal>().unwrap();
    (portal.fragments.stats.hits.load(Ordering::Relaxed), portal.fragments.stats.misses.load(Ordering::Relaxed))
}

#[rocket::async_test]
async fn dashboard_summary_is_cached_and_counted() {
    let app = TestApp::spawn().await;
    app.sign_up("cached").await;
    let (h0, m0) = stats(&app.client);
    app.page("/dashboard").await;
    app.page("/dashboard").await;
    let (status, fragment) = app.page("/dashboard/summary").await;
    assert_eq!(status, Status::Ok);
    assert!(fragment.starts_with(r#"<section id="account-summary">"#));
    let (h1, m1) = stats(&app.client);
    // The dashboard has three fragments: the account summary, the client list, the server choices.
    assert_eq!(m1 - m0, 3, "each rendered once");
    assert_eq!(h1 - h0, 4, "then served from Redis (3 on the second dashboard, 1 for the summary alone)");
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users").fetch_one(&app.pool).await.unwrap();
    let keys = app.redis.command(&["KEYS", &format!("phaze:frag:account_summary:{user_id}:*")]).await;
    assert!(matches!(keys, redis::Value::Array(ref k) if k.len() == 1), "{keys:?}");
}

#[rocket::async_test]
async fn an_email_change_on_one_instance_shows_at_once_on_another() {
    let app = TestApp::spawn().await;
    app.sign_up("two_instances").await;
    let token = app.session_cookie().unwrap();
    let other = app.another_instance().await;
    let cookie = rocket::http::Cookie::new(phaze_portal::auth::SESSION_COOKIE, token);
    let on_other =
        || async { other.get("/dashboard").cookie(cookie.clone()).dispatch().await.into_string().await.unwrap() };
    assert!(on_other().await.contains("two_instances@example.com"));
    assert!(on_other().await.contains("two_instances@example.com"), "now cached on the other instance");

    let form_token = app.csrf("/account").await;
    let body = form_encode(&[("_csrf", &form_token), ("email", "moved@example.com"), ("current_password", PASSWORD)]);
    let response = app.client.post("/account/email").header(ContentType::Form).body(body).dispatch().await;
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);

    let page = on_other().await;
    assert!(page.contains("moved@example.com"), "no stale fragment after the write returned");
    assert!(!page.contains("two_instances@example.com"));
}

#[rocket::async_test]
async fn a_fragment_never_crosses_users() {
    let app = TestApp::spawn().await;
    app.sign_up("first_user").await;
    app.page("/dashboard").await;
    app.log_out().await;
    app.sign_up("second_user").await;
    let (_, page) = app.page("/dashboard").await;
    assert!(page.contains("second_user@example.com"));
    assert!(!page.contains("first_user"));
}

#[rocket::async_test]
async fn without_the_near_cache_a_warm_dashboard_takes_its_fragments_in_one_round_trip() {
    let app = TestApp::spawn_with(|f| f.merge(("near_cache_mb", 0))).await;
    app.add_node("one-trip", "vpn.one.example", "10.91.0.0/24").await;
    app.sign_up("one_trip").await;
    app.create_client("device-1", "wireguard").await;
    app.page("/dashboard").await; // warm
    let before = app.redis.command_calls().await.get("evalsha").copied().unwrap_or(0);
    let (_, page) = app.page("/dashboard").await;
    let after = app.redis.command_calls().await.get("evalsha").copied().unwrap_or(0);
    assert!(page.contains("device-1") && page.contains("one_trip@example.com"));
    assert_eq!(after - before, 1, "summary, client list and server choices in one Lua call");
}
