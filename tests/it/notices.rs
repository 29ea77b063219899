//! What changes with the clock: a subscription ending soon is emailed once, a lapsed one leaves
//! the nodes' peer lists at the next sweep; 80% of a data limit is emailed once per period.
use crate::helpers::*;
use phaze_portal::state::Portal;
use rocket::http::{ContentType, Header, Status};
use serde_json::json;
use time::OffsetDateTime;

async fn poll(app: &TestApp, token: &str, etag: Option<&str>) -> (Status, Option<String>, usize) {
    let mut request =
        app.client.get("/api/v1/node/peers").header(Header::new("Authorization", format!("Bearer {token}")));
    if let Some(etag) = etag {
        request = request.header(Header::new("If-None-Match", etag.to_owned()));
    }
    let r = request.dispatch().await;
    let status = r.status();
    let etag = header(&r, "ETag").map(str::to_owned);
    let body: serde_json::Value = r.into_json().await.unwrap_or_default();
    let peers = body["wireguard"].as_array().map_or(0, Vec::len);
    (status, etag, peers)
}

async fn count(app: &TestApp, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE kind = $1")
        .bind(kind)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[rocket::async_test]
async fn a_subscription_ending_soon_is_emailed_once_and_a_lapse_leaves_the_nodes_at_the_next_sweep() {
    let app = TestApp::spawn().await;
    let (_, token) = app.add_node_with_token("sweep-node", "vpn.sweep.example", "10.94.0.0/24").await;
    sqlx::query("UPDATE plans SET active = false WHERE free").execute(&app.pool).await.unwrap();
    let plan: i64 = sqlx::query_scalar(
        "INSERT INTO plans (name, price_cents, currency, period_days, max_clients) VALUES ('Paid', 500, 'EUR', 30, 2) RETURNING id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    app.sign_up("ending").await;
    sqlx::query(
        "INSERT INTO subscriptions (user_id, plan_id, period_anchor, current_period_end) \
         SELECT id, $1, now() - interval '28 days', now() + interval '2 days' FROM users WHERE username = 'ending'",
    )
    .bind(plan)
    .execute(&app.pool)
    .await
    .unwrap();
    app.create_client("laptop", "wireguard").await;
    let (status, etag, peers) = poll(&app, &token, None).await;
    assert_eq!((status, peers), (Status::Ok, 1));

    let portal = app.client.rocket().state::<Portal>().unwrap();
    let sweep = |since: OffsetDateTime| {
        phaze_portal::domain::renewals::sweep(&app.pool, &portal.fragments, "https://portal.test", since)
    };
    let since = sweep(OffsetDateTime::now_utc() - time::Duration::minutes(1)).await.unwrap();
    let since = sweep(since).await.unwrap();
    assert_eq!(count(&app, "subscription_ending").await, 1, "once per end date, however many sweeps");
    let (subject, text) = latest_email(&app.pool, "ending@example.com", "subscription_ending").await.unwrap();
    assert!(subject.contains("Paid plan ends") && text.contains("https://portal.test/billing"));

    // The clock passes the end: nothing was written, so the cached list still stands...
    sqlx::query("UPDATE subscriptions SET current_period_end = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(poll(&app, &token, etag.as_deref()).await.0, Status::NotModified);
    // ...until the sweep sees the lapse and every node re-reads its list.
    sweep(since - time::Duration::seconds(5)).await.unwrap();
    let (status, _, peers) = poll(&app, &token, etag.as_deref()).await;
    assert_eq!((status, peers), (Status::Ok, 0), "lapsed: no peers");
    let (_, dashboard) = app.page("/dashboard").await;
    assert!(dashboard.contains("None · <a href=\"/billing\">choose a plan</a>"), "the cached summary moved on too");
}

#[rocket::async_test]
async fn eighty_percent_of_the_data_limit_is_emailed_once_per_period() {
    let app = TestApp::spawn().await;
    let (_, token) = app.add_node_with_token("usage-node", "vpn.usage.example", "10.96.0.0/24").await;
    sqlx::query("UPDATE plans SET data_limit_bytes = 1000000 WHERE free").execute(&app.pool).await.unwrap();
    app.sign_up("heavy").await;
    let client = app.create_client("phone", "wireguard").await;
    let at = |minutes: i64| {
        (OffsetDateTime::now_utc() - time::Duration::minutes(minutes))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let send = |events: serde_json::Value| {
        app.client
            .post("/api/v1/node/events")
            .header(ContentType::JSON)
            .header(Header::new("Authorization", format!("Bearer {token}")))
            .body(json!({ "events": events }).to_string())
            .dispatch()
    };
    let event = |seq: i64, rx: u64| json!({"seq": seq, "type": "usage", "client": client, "at": at(10 - seq), "rx_bytes": rx, "tx_bytes": 0});
    let connect = json!({"seq": 1, "type": "connect", "client": client, "at": at(20), "remote": "198.51.100.7:4000"});
    assert_eq!(send(json!([connect, event(2, 700_000)])).await.status(), Status::Ok);
    assert_eq!(count(&app, "usage_warning").await, 0, "70%: nothing yet");
    assert_eq!(send(json!([event(3, 850_000)])).await.status(), Status::Ok);
    assert_eq!(count(&app, "usage_warning").await, 1, "85%: warned");
    let (subject, text) = latest_email(&app.pool, "heavy@example.com", "usage_warning").await.unwrap();
    assert!(subject.contains("80%") && text.contains("850.0 KB of your 1.0 MB"), "{text}");
    assert_eq!(send(json!([event(4, 950_000)])).await.status(), Status::Ok);
    assert_eq!(count(&app, "usage_warning").await, 1, "once per period");
}
