use crate::helpers::*;
use rocket::http::Status;

#[rocket::async_test]
async fn healthz_and_readyz_when_all_is_well() {
    let app = TestApp::spawn().await;
    let (status, body) = app.page("/healthz").await;
    assert_eq!(status, Status::Ok);
    assert_eq!(body, r#"{"status":"ok"}"#);
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, Status::Ok);
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["postgres"], "ok");
    assert_eq!(ready["redis"], "ok");
    assert_eq!(ready["degraded"], false);
}

#[rocket::async_test]
async fn readyz_stays_ready_without_redis_says_so_and_pages_still_work() {
    let mut app = TestApp::spawn().await;
    app.redis.stop();
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, Status::Ok, "the portal serves on its fallbacks: keep it in the load balancer");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["redis"], "down");
    assert_eq!(ready["degraded"], true);
    assert_eq!(ready["postgres"], "ok");
    assert_eq!(app.page("/healthz").await.0, Status::Ok);
    assert_eq!(app.sign_up("no_cache_needed").await.status(), Status::SeeOther, "sign-up works without Redis");
    assert_eq!(app.page("/dashboard").await.0, Status::Ok);
}

#[rocket::async_test]
async fn postgres_down_gives_503_with_retry_after_and_the_pool_recovers() {
    let database_url = fresh_database().await;
    let mut proxy = PgProxy::start(0).await;
    let proxied = database_url.replacen(
        &format!(":{}/", {
            let o: sqlx::postgres::PgConnectOptions = database_url.parse().unwrap();
            o.get_port()
        }),
        &format!(":{}/", proxy.port),
        1,
    );
    let redis = RedisServer::start();
    let client = rocket::local::asynchronous::Client::tracked(phaze_portal::app::rocket(
        figment(&proxied, &redis.url()).merge(("databases.portal.connect_timeout", 1)),
    ))
    .await
    .unwrap();
    let page = client.get("/signup").dispatch().await.into_string().await.unwrap();
    let body = form_encode(&[
        ("_csrf", &csrf_in(&page).unwrap()),
        ("username", "pg_watcher"),
        ("email", "pg@example.com"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ]);
    let r = client.post("/signup").header(rocket::http::ContentType::Form).body(body).dispatch().await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);

    proxy.cut();
    let r = client.get("/readyz").dispatch().await;
    assert_eq!(r.status(), Status::ServiceUnavailable);
    let ready: serde_json::Value = serde_json::from_str(&r.into_string().await.unwrap()).unwrap();
    assert_eq!(ready["postgres"], "down");
    assert_eq!(ready["redis"], "ok");
    let r = client.get("/account").dispatch().await;
    assert_eq!(r.status(), Status::ServiceUnavailable);
    assert_eq!(header(&r, "Retry-After"), Some("5"));
    assert!(r.into_string().await.unwrap().contains("briefly unavailable"));

    let _proxy = PgProxy::start(proxy.port).await;
    let mut recovered = false;
    for _ in 0..50 {
        if client.get("/account").dispatch().await.status() == Status::Ok {
            recovered = true;
            break;
        }
        rocket::tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "the pool reconnects by itself");
}
