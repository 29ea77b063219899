//! Plans, subscriptions and payments: manual payments an admin confirms, Stripe-compatible
//! checkout against a local stand-in, signed webhooks, exactly-once credit, refunds, and who
//! gets peers on nodes.
use crate::helpers::*;
use phaze_portal::payments::stripe;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::Client;
use serde_json::json;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;
use uuid::Uuid;

const WEBHOOK_SECRET: &str = "whsec_test_portal";

/// A stand-in for the provider's checkout-session call, recording what it was sent.
struct StandIn {
    port: u16,
    seen: Seen,
    _shutdown: rocket::Shutdown,
}

struct Authorization(Option<String>);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for Authorization {
    type Error = ();
    async fn from_request(req: &'r rocket::Request<'_>) -> rocket::request::Outcome<Self, ()> {
        rocket::request::Outcome::Success(Authorization(req.headers().get_one("Authorization").map(str::to_owned)))
    }
}

type Seen = Arc<Mutex<Vec<(Option<String>, String)>>>;

#[rocket::post("/v1/checkout/sessions", data = "<body>")]
fn create_session(
    body: String,
    auth: Authorization,
    seen: &rocket::State<Seen>,
) -> rocket::serde::json::Json<serde_json::Value> {
    let mut seen = seen.lock().unwrap();
    seen.push((auth.0, body));
    let id = format!("cs_test_{}", seen.len());
    rocket::serde::json::Json(json!({ "id": id, "url": format!("https://checkout.stripe.test/pay/{id}") }))
}

impl StandIn {
    async fn start() -> Self {
        let port = free_port();
        let seen: Seen = Arc::default();
        let config = rocket::Config {
            port,
            address: std::net::Ipv4Addr::LOCALHOST.into(),
            log_level: rocket::config::LogLevel::Off,
            ..rocket::Config::debug_default()
        };
        let ignited = rocket::custom(config)
            .manage(seen.clone())
            .mount("/", rocket::routes![create_session])
            .ignite()
            .await
            .unwrap();
        let shutdown = ignited.shutdown();
        rocket::tokio::spawn(ignited.launch());
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            rocket::tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        StandIn { port, seen, _shutdown: shutdown }
    }
}

async fn app_with_stripe(stand_in: &StandIn) -> TestApp {
    let base = format!("http://127.0.0.1:{}", stand_in.port);
    TestApp::spawn_with(move |f| {
        f.merge(("stripe_secret_key", "sk_test_portal"))
            .merge(("stripe_webhook_secret", WEBHOOK_SECRET))
            .merge(("stripe_api_base", base))
    })
    .await
}

/// Adds a plan through the admin page (signed in as a fresh admin, signed out after); its id.
async fn add_plan(app: &TestApp, name: &str, price: &str, days: &str, extra: &[(&str, &str)]) -> i64 {
    let admin = format!("admin_{}", name.to_lowercase());
    app.create_admin(&admin).await;
    app.log_in(&admin, PASSWORD).await;
    let mut fields = vec![
        ("name", name),
        ("price", price),
        ("currency", "EUR"),
        ("period_days", days),
        ("max_clients", "3"),
        ("active", "true"),
    ];
    fields.extend_from_slice(extra);
    let r = app.submit("/admin/plans", "/admin/plans", &fields).await;
    assert_eq!(r.status(), Status::SeeOther, "{}", r.into_string().await.unwrap_or_default());
    app.log_out().await;
    sqlx::query_scalar("SELECT id FROM plans WHERE name = $1").bind(name).fetch_one(&app.pool).await.unwrap()
}

async fn user_id(app: &TestApp, username: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1").bind(username).fetch_one(&app.pool).await.unwrap()
}

/// (plan id, period end, next plan id) of the user's subscription.
async fn subscription(app: &TestApp, user: i64) -> Option<(i64, OffsetDateTime, Option<i64>)> {
    sqlx::query_as("SELECT plan_id, current_period_end, next_plan_id FROM subscriptions WHERE user_id = $1")
        .bind(user)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

async fn checkout(app: &TestApp, plan: i64, method: &str, key: &str) -> (Status, String) {
    let r = app
        .submit(
            "/billing",
            "/billing/checkout",
            &[("plan", &plan.to_string()), ("method", method), ("idempotency_key", key)],
        )
        .await;
    let status = r.status();
    let location = header(&r, "Location").unwrap_or_default().to_owned();
    (status, if location.is_empty() { r.into_string().await.unwrap_or_default() } else { location })
}

fn days_from_now(at: OffsetDateTime) -> i64 {
    ((at - OffsetDateTime::now_utc()).as_seconds_f64() / 86400.0).round() as i64
}

#[rocket::async_test]
async fn a_manual_payment_is_credited_once_by_an_admin_and_shows_on_the_billing_page() {
    let app = TestApp::spawn().await;
    let monthly = add_plan(&app, "Monthly", "9.99", "30", &[]).await;
    app.sign_up("buyer").await;
    let buyer = user_id(&app, "buyer").await;

    let (_, pricing) = app.page("/pricing").await;
    assert!(pricing.contains("Monthly") && pricing.contains("9.99 EUR"), "the plan is on offer");
    let (status, location) = checkout(&app, monthly, "manual", "key-1").await;
    assert_eq!(status, Status::SeeOther);
    assert!(location.starts_with("/billing/payments/"), "{location}");
    // A double submit (same form, same key) finds the same payment.
    assert_eq!(checkout(&app, monthly, "manual", "key-1").await.1, location);
    let (_, page) = app.page(&location).await;
    let reference: String = sqlx::query_scalar("SELECT provider_ref FROM payments").fetch_one(&app.pool).await.unwrap();
    assert!(page.contains(&reference) && page.contains("Waiting for payment"), "the user sees the reference");
    assert!(subscription(&app, buyer).await.is_none());

    let payment = location.trim_start_matches("/billing/payments/").to_owned();
    app.log_out().await;
    app.log_in("admin_monthly", PASSWORD).await;
    let (_, queue) = app.page("/admin/payments?status=pending").await;
    assert!(queue.contains(&reference));
    let r = app.submit("/admin/payments", &format!("/admin/payments/{payment}/paid"), &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let (plan, end, next) = subscription(&app, buyer).await.expect("a subscription");
    assert_eq!((plan, next, days_from_now(end)), (monthly, None, 30));
    let r = app.submit("/admin/payments", &format!("/admin/payments/{payment}/paid"), &[]).await;
    assert_eq!(r.status(), Status::Conflict, "credited once: a second confirmation changes nothing");
    drop(r);
    let audited: (String, String, String) =
        sqlx::query_as("SELECT actor, action, after::text FROM audit_log WHERE target_type = 'payment'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((audited.0.as_str(), audited.1.as_str()), ("admin_monthly", "payment.mark_paid"));
    assert!(audited.2.contains("paid"), "{}", audited.2);
    assert_eq!(subscription(&app, buyer).await.unwrap().1, end);
    app.log_out().await;

    app.log_in("buyer", PASSWORD).await;
    let (_, billing) = app.page("/billing").await;
    assert!(billing.contains(r#"id="plan-name">Monthly<"#), "{billing}");
    let shown = format!("{}-{:02}-{:02}", end.year(), u8::from(end.month()), end.day());
    assert!(billing.contains(&shown), "the period end is shown");
    let (status, receipt) = app.page(&format!("/billing/receipts/{payment}")).await;
    assert_eq!(status, Status::Ok);
    assert!(receipt.contains("9.99 EUR") && receipt.contains("buyer@example.com"));
    let (subject, text) =
        latest_email(&app.pool, "buyer@example.com", "payment_receipt").await.expect("a receipt email");
    assert!(subject.contains("Monthly") && text.contains(&format!("/billing/receipts/{payment}")));

    // Another user sees neither the payment nor its receipt.
    app.log_out().await;
    app.sign_up("snoop").await;
    assert_eq!(app.page(&format!("/billing/receipts/{payment}")).await.0, Status::NotFound);
    assert_eq!(app.page(&format!("/billing/payments/{payment}")).await.0, Status::NotFound);
}

/// Delivers a webhook event signed with the test secret, now.
fn send(client: &Client, body: String) -> rocket::local::asynchronous::LocalRequest<'_> {
    let signature = stripe::sign(WEBHOOK_SECRET, body.as_bytes(), OffsetDateTime::now_utc().unix_timestamp());
    client
        .post("/webhooks/stripe")
        .header(ContentType::JSON)
        .header(Header::new("Stripe-Signature", signature))
        .body(body)
}

#[rocket::async_test]
async fn card_checkout_goes_to_the_provider_and_its_signed_webhook_credits_once() {
    let stand_in = StandIn::start().await;
    let app = app_with_stripe(&stand_in).await;
    let monthly = add_plan(&app, "Card", "12.50", "30", &[]).await;
    app.sign_up("carder").await;
    let carder = user_id(&app, "carder").await;

    let (status, location) = checkout(&app, monthly, "card", "card-1").await;
    assert_eq!(status, Status::SeeOther);
    assert_eq!(location, "https://checkout.stripe.test/pay/cs_test_1");
    let (auth, body) = stand_in.seen.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Bearer sk_test_portal"));
    let (payment, provider_ref, status): (Uuid, String, String) =
        sqlx::query_as("SELECT id, provider_ref, status FROM payments").fetch_one(&app.pool).await.unwrap();
    assert_eq!((provider_ref.as_str(), status.as_str()), ("cs_test_1", "pending"));
    for part in ["unit_amount%5D=1250", "currency%5D=eur", &format!("client_reference_id={payment}")] {
        assert!(body.contains(part), "{part} in {body}");
    }

    let event = |id: &str| {
        json!({"id": id, "type": "checkout.session.completed", "data": {"object": {
            "id": "cs_test_1", "client_reference_id": payment.to_string(), "payment_status": "paid",
            "amount_total": 1250, "currency": "eur", "payment_intent": "pi_test_1"}}})
        .to_string()
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let body = event("evt_1");
    // Refused, and nothing changes: no signature, a bad one, another secret's, a stale one.
    for signature in [
        None,
        Some("t=1,v1=00".to_owned()),
        Some(stripe::sign("whsec_other", body.as_bytes(), now)),
        Some(stripe::sign(WEBHOOK_SECRET, body.as_bytes(), now - 301)),
        Some(stripe::sign(WEBHOOK_SECRET, b"{}", now)),
    ] {
        let mut request = app.client.post("/webhooks/stripe").header(ContentType::JSON).body(&body);
        if let Some(s) = &signature {
            request = request.header(Header::new("Stripe-Signature", s.clone()));
        }
        assert_eq!(request.dispatch().await.status(), Status::BadRequest, "{signature:?}");
    }
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_events").fetch_one(&app.pool).await.unwrap();
    assert_eq!(events, 0);
    assert!(subscription(&app, carder).await.is_none());

    // Twenty identical deliveries at once, and twenty more with fresh event ids: one credit.
    let mut deliveries: Vec<_> = (0..20).map(|_| send(&app.client, event("evt_1")).dispatch()).collect();
    deliveries.extend((0..20).map(|n| send(&app.client, event(&format!("evt_more_{n}"))).dispatch()));
    let answers = rocket::futures::future::join_all(deliveries).await;
    assert!(
        answers.iter().all(|r| r.status() == Status::Ok),
        "{:?}",
        answers.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    drop(answers);
    let (plan, end, _) = subscription(&app, carder).await.expect("credited");
    assert_eq!((plan, days_from_now(end)), (monthly, 30), "30 days, not 600");
    let receipts: i64 = sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE kind = 'payment_receipt'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(receipts, 1);
    let r = send(&app.client, event("evt_1")).dispatch().await;
    assert_eq!(r.status(), Status::Ok, "a replay is acknowledged");
    assert_eq!(r.into_json::<serde_json::Value>().await.unwrap()["applied"], false);

    // A full refund takes the 30 days back: the subscription lapses.
    let refund = json!({"id": "evt_refund", "type": "charge.refunded", "data": {"object": {
        "id": "ch_1", "payment_intent": "pi_test_1", "refunded": true, "amount_refunded": 1250}}})
    .to_string();
    assert_eq!(send(&app.client, refund.clone()).dispatch().await.status(), Status::Ok);
    let status: String = sqlx::query_scalar("SELECT status FROM payments").fetch_one(&app.pool).await.unwrap();
    assert_eq!(status, "refunded");
    let (_, end, _) = subscription(&app, carder).await.unwrap();
    assert!(end <= OffsetDateTime::now_utc(), "lapsed: {end}");
    assert_eq!(send(&app.client, refund).dispatch().await.status(), Status::Ok);
    let (_, again, _) = subscription(&app, carder).await.unwrap();
    assert_eq!(again, end, "a replayed refund shortens nothing more");
}

#[rocket::async_test]
async fn failed_and_mismatched_card_payments_are_marked_failed_and_credit_nothing() {
    let stand_in = StandIn::start().await;
    let app = app_with_stripe(&stand_in).await;
    let plan = add_plan(&app, "Fail", "5", "30", &[]).await;
    app.sign_up("failer").await;
    let failer = user_id(&app, "failer").await;
    checkout(&app, plan, "card", "f-1").await;
    checkout(&app, plan, "card", "f-2").await;
    let ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM payments ORDER BY provider_ref").fetch_all(&app.pool).await.unwrap();
    let post = |body: serde_json::Value| {
        let body = body.to_string();
        let signature = stripe::sign(WEBHOOK_SECRET, body.as_bytes(), OffsetDateTime::now_utc().unix_timestamp());
        app.client
            .post("/webhooks/stripe")
            .header(ContentType::JSON)
            .header(Header::new("Stripe-Signature", signature))
            .body(body)
            .dispatch()
    };
    let failed = json!({"id": "evt_f", "type": "payment_intent.payment_failed", "data": {"object": {
        "id": "pi_x", "metadata": {"payment_id": ids[0].to_string()}, "last_payment_error": {"message": "card declined"}}}});
    assert_eq!(post(failed).await.status(), Status::Ok);
    let underpaid = json!({"id": "evt_u", "type": "checkout.session.completed", "data": {"object": {
        "id": "cs_test_2", "client_reference_id": ids[1].to_string(), "payment_status": "paid",
        "amount_total": 1, "currency": "eur"}}});
    assert_eq!(post(underpaid).await.status(), Status::Ok);
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status, failure FROM payments ORDER BY provider_ref")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows[0], ("failed".into(), Some("card declined".into())));
    assert_eq!(rows[1].0, "failed", "an amount that is not the plan's price credits nothing");
    assert!(subscription(&app, failer).await.is_none());
    for bad in ["not json", r#"{"id": "evt_x"}"#] {
        let signature = stripe::sign(WEBHOOK_SECRET, bad.as_bytes(), OffsetDateTime::now_utc().unix_timestamp());
        let r = app
            .client
            .post("/webhooks/stripe")
            .header(ContentType::JSON)
            .header(Header::new("Stripe-Signature", signature))
            .body(bad)
            .dispatch()
            .await;
        assert_eq!(r.status(), Status::BadRequest, "{bad}");
    }
}

/// Buys a plan by manual payment and credits it at once; the payment's id.
async fn pay(billing: &phaze_portal::domain::billing::Billing<'_>, user: i64, plan: i64, key: &str) -> Uuid {
    let id = match billing.checkout(user, plan, "manual", key).await.ok().unwrap() {
        phaze_portal::domain::billing::Checkout::Instructions(id) => id,
        phaze_portal::domain::billing::Checkout::Redirect(_) => unreachable!("manual payments have no redirect"),
    };
    assert!(billing.credit(id, None, None).await.unwrap());
    id
}

#[rocket::async_test]
async fn a_plan_bought_while_another_runs_starts_when_it_ends() {
    let app = TestApp::spawn().await;
    let monthly = add_plan(&app, "Month", "5", "30", &[]).await;
    let yearly = add_plan(&app, "Year", "50", "365", &[]).await;
    app.sign_up("changer").await;
    let changer = user_id(&app, "changer").await;
    let portal = app.client.rocket().state::<phaze_portal::state::Portal>().unwrap();
    let db = phaze_portal::db::Db::from(app.pool.clone());
    let billing = portal.billing(&db);
    pay(&billing, changer, monthly, "a").await;
    pay(&billing, changer, monthly, "b").await;
    let (plan, end, next) = subscription(&app, changer).await.unwrap();
    assert_eq!((plan, days_from_now(end), next), (monthly, 60, None), "paid while current: extended from the end");
    let yearly_payment = pay(&billing, changer, yearly, "c").await;
    let (plan, end, next) = subscription(&app, changer).await.unwrap();
    assert_eq!((plan, days_from_now(end), next), (monthly, 425, Some(yearly)), "the year starts after the 60 days");
    let (_, page) = app.page("/billing").await;
    assert!(page.contains(r#"id="next-plan">Year from"#), "{page}");
    // Refunding the year takes back its 365 days, and the change with them.
    assert!(billing.refund(yearly_payment, None).await.unwrap());
    let (plan, end, next) = subscription(&app, changer).await.unwrap();
    assert_eq!((plan, days_from_now(end), next), (monthly, 60, None));
    // A lapse: paying again starts from now, not from the old end.
    sqlx::query("UPDATE subscriptions SET period_anchor = now() - interval '100 days', current_period_end = now() - interval '1 day'")
        .execute(&app.pool)
        .await
        .unwrap();
    pay(&billing, changer, yearly, "d").await;
    let (plan, end, next) = subscription(&app, changer).await.unwrap();
    assert_eq!((plan, days_from_now(end), next), (yearly, 365, None));
}

#[rocket::async_test]
async fn only_users_with_a_plan_get_peers_and_plan_limits_replace_the_defaults() {
    let app = TestApp::spawn().await;
    let plan = add_plan(&app, "Pro", "3", "30", &[]).await;
    let node = app.add_node("plan-node", "vpn.plan.example", "10.91.0.0/24").await;
    app.sign_up("planner").await;
    app.create_client("one", "wireguard").await;
    let served = || async { phaze_portal::store::nodes::peers(&app.pool, node).await.unwrap().len() };
    assert_eq!(served().await, 1, "the free plan serves them");

    // The operator withdraws the free plan: only paying users keep their peers.
    app.log_out().await;
    app.log_in("admin_pro", PASSWORD).await;
    let free: i64 = sqlx::query_scalar("SELECT id FROM plans WHERE free").fetch_one(&app.pool).await.unwrap();
    let fields = [("name", "Free"), ("price", "0"), ("currency", "USD"), ("period_days", "30"), ("max_clients", "5")];
    let r = app.submit(&format!("/admin/plans/{free}"), &format!("/admin/plans/{free}"), &fields).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    assert_eq!(served().await, 0, "no plan, no peers");
    app.log_out().await;
    app.log_in("planner", PASSWORD).await;
    let r = app.submit("/dashboard", "/clients", &[("name", "two"), ("protocol", "wireguard"), ("node", "")]).await;
    let status = r.status();
    let body = r.into_string().await.unwrap();
    assert_eq!(status, Status::Forbidden, "{body}");
    assert!(body.contains("Choose a plan"));

    let (_, location) = checkout(&app, plan, "manual", "pro-1").await;
    let payment = Uuid::parse_str(location.trim_start_matches("/billing/payments/")).unwrap();
    let portal = app.client.rocket().state::<phaze_portal::state::Portal>().unwrap();
    let db = phaze_portal::db::Db::from(app.pool.clone());
    assert!(portal.billing(&db).credit(payment, None, None).await.unwrap());
    assert_eq!(served().await, 1, "paid: served again");
    // The plan allows 3 devices: the third fits, a fourth does not.
    app.create_client("two", "wireguard").await;
    app.create_client("three", "wireguard").await;
    let r = app.submit("/dashboard", "/clients", &[("name", "four"), ("protocol", "wireguard"), ("node", "")]).await;
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(r.into_string().await.unwrap().contains("You have 3 active clients"));
}

#[rocket::async_test]
async fn pricing_is_public_cacheable_and_follows_plan_changes() {
    let app = TestApp::spawn().await;
    let plan = add_plan(&app, "Basic", "4", "30", &[]).await;
    let r = app.get("/pricing").await;
    assert_eq!(r.status(), Status::Ok);
    assert!(header(&r, "Cache-Control").unwrap().contains("s-maxage="));
    assert!(r.into_string().await.unwrap().contains("4.00 EUR"));
    app.log_in("admin_basic", PASSWORD).await;
    let fields = [
        ("name", "Basic"),
        ("price", "4.50"),
        ("currency", "EUR"),
        ("period_days", "30"),
        ("max_clients", "3"),
        ("active", "true"),
    ];
    let r = app.submit(&format!("/admin/plans/{plan}"), &format!("/admin/plans/{plan}"), &fields).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    app.log_out().await;
    let (_, page) = app.page("/pricing").await;
    assert!(page.contains("4.50 EUR") && !page.contains("4.00 EUR"), "the cached cards moved on");
    // Bad plans are refused with a message per field, and nothing is written.
    app.log_in("admin_basic", PASSWORD).await;
    let bad = [
        ("name", "X"),
        ("price", "4,5"),
        ("currency", "euro"),
        ("period_days", "0"),
        ("max_clients", "-1"),
        ("data_limit_gb", "lots"),
    ];
    let r = app.submit("/admin/plans", "/admin/plans", &bad).await;
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let page = r.into_string().await.unwrap();
    for message in ["Use 2 to 40", "price such as", "three-letter", "from 1 to 3660", "from 0 to", "whole gigabytes"] {
        assert!(page.contains(message), "{message}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM plans").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 2);
    // A non-admin cannot reach any of it.
    app.log_out().await;
    app.sign_up("plain").await;
    for path in ["/admin/plans", "/admin/payments", &format!("/admin/plans/{plan}")] {
        assert_eq!(app.page(path).await.0, Status::Forbidden, "{path}");
    }
    let r = app.submit("/dashboard", "/admin/plans", &fields).await;
    assert_eq!(r.status(), Status::Forbidden);
}
