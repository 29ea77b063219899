//! The node API (DESIGN §7): tokens, the peers list and its ETag, events and their accounting.
use crate::helpers::*;
use phaze_portal::state::Portal;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::Client;
use serde_json::{json, Value};
use uuid::Uuid;

pub struct NodeResponse {
    pub status: Status,
    pub etag: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl NodeResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A node API call through `client` with `token` (None: no Authorization header).
pub async fn node_call(
    client: &Client,
    method: &str,
    path: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
    body: Option<String>,
) -> NodeResponse {
    let uri = format!("/api/v1/node{path}");
    let mut request = if method == "POST" { client.post(uri) } else { client.get(uri) };
    request = request.remote("127.0.0.9:4000".parse().unwrap());
    if let Some(token) = token {
        request = request.header(Header::new("Authorization", format!("Bearer {token}")));
    }
    for (name, value) in extra {
        request = request.header(Header::new(name.to_string(), value.to_string()));
    }
    if let Some(body) = body {
        request = request.header(ContentType::JSON).body(body);
    }
    let response = request.dispatch().await;
    let status = response.status();
    let headers = response.headers().iter().map(|h| (h.name().to_string(), h.value().to_string())).collect();
    let etag = response.headers().get_one("ETag").map(str::to_owned);
    let body = response.into_string().await.unwrap_or_default();
    NodeResponse { status, etag, headers, body }
}

pub async fn peers(client: &Client, token: &str, etag: Option<&str>) -> NodeResponse {
    let inm: Vec<(&str, &str)> = etag.map(|e| ("If-None-Match", e)).into_iter().collect();
    node_call(client, "GET", "/peers", Some(token), &inm, None).await
}

pub async fn send(client: &Client, token: &str, events: Value) -> NodeResponse {
    node_call(client, "POST", "/events", Some(token), &[], Some(json!({ "events": events }).to_string())).await
}

/// Every client id in a peers list.
pub fn listed(peers: &Value) -> Vec<String> {
    ["wireguard", "openvpn", "phazevpn"]
        .iter()
        .flat_map(|p| peers[p].as_array().cloned().unwrap_or_default())
        .map(|peer| peer["client_id"].as_str().unwrap().to_owned())
        .collect()
}

fn at(minutes_ago: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes_ago))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn usage(seq: i64, client: Uuid, minutes_ago: i64, rx: u64, tx: u64) -> Value {
    json!({"seq": seq, "type": "usage", "client": client, "at": at(minutes_ago), "rx_bytes": rx, "tx_bytes": tx})
}

fn connect(seq: i64, client: Uuid, minutes_ago: i64) -> Value {
    json!({"seq": seq, "type": "connect", "client": client, "at": at(minutes_ago), "remote": "198.51.100.23:40000"})
}

fn disconnect(seq: i64, client: Uuid, minutes_ago: i64, rx: u64, tx: u64) -> Value {
    json!({"seq": seq, "type": "disconnect", "client": client, "at": at(minutes_ago), "rx_bytes": rx, "tx_bytes": tx})
}

/// (rx, tx) the portal counted for a client, from the daily table and from its sessions.
async fn counted(app: &TestApp, client: Uuid) -> ((i64, i64), (i64, i64)) {
    let daily: (i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(rx_bytes), 0)::bigint, coalesce(sum(tx_bytes), 0)::bigint FROM usage_daily WHERE client_id = $1",
    )
    .bind(client)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let sessions: (i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(rx_bytes), 0)::bigint, coalesce(sum(tx_bytes), 0)::bigint FROM connection_sessions \
         WHERE client_id = $1",
    )
    .bind(client)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    (daily, sessions)
}

/// An app with a node (and its token) and a signed-in user with one WireGuard client.
async fn node_and_client(tag: &str) -> (TestApp, String, Uuid) {
    let app = TestApp::spawn().await;
    let (_, token) = app.add_node_with_token(&format!("{tag}-node"), "vpn.example", "10.93.0.0/24").await;
    app.sign_up(&format!("{tag}_user")).await;
    let client = app.create_client(&format!("{tag}-phone"), "wireguard").await;
    (app, token, client)
}

#[rocket::async_test]
async fn node_calls_need_a_valid_token_and_repeated_failures_get_429() {
    let app = TestApp::spawn_with(|f| f.merge(("node_auth_failures_per_ip", 3))).await;
    let (id, token) = app.add_node_with_token("auth-node", "vpn.example", "10.94.0.0/24").await;
    let ok = peers(&app.client, &token, None).await;
    assert_eq!(ok.status, Status::Ok);

    let missing = node_call(&app.client, "GET", "/peers", None, &[], None).await;
    assert_eq!(missing.status, Status::Unauthorized);
    assert_eq!(missing.header("Content-Type"), Some("application/problem+json"));
    assert!(missing.header("WWW-Authenticate").is_some_and(|h| h.starts_with("Bearer")));
    assert_eq!(missing.json()["status"], 401);
    let wrong = peers(&app.client, &"A".repeat(43), None).await;
    assert_eq!(wrong.status, Status::Unauthorized);

    // Rotation: the old token stops at once, the new one works.
    let portal = app.client.rocket().state::<Portal>().unwrap();
    let new_token = phaze_portal::domain::nodes::rotate_token(&app.pool, &portal.fragments, id).await.unwrap().unwrap();
    assert_eq!(peers(&app.client, &token, None).await.status, Status::Unauthorized, "the old token stopped");
    assert_eq!(peers(&app.client, &new_token, None).await.status, Status::Ok);
    for path in ["/crl.pem", "/events"] {
        let method = if path == "/events" { "POST" } else { "GET" };
        let r = node_call(&app.client, method, path, Some(&token), &[], Some("{\"events\": []}".into())).await;
        assert!(r.status == Status::Unauthorized || r.status == Status::TooManyRequests, "{path}: {}", r.status);
    }
    // Three failures were counted above the limit of 3: the next is refused without a lookup.
    let limited = peers(&app.client, "garbage", None).await;
    assert_eq!(limited.status, Status::TooManyRequests);
    assert!(limited.header("Retry-After").is_some_and(|s| s.parse::<u64>().unwrap() > 0));
    // The real node is not locked out by someone else's failures.
    assert_eq!(peers(&app.client, &new_token, None).await.status, Status::Ok);
}

#[rocket::async_test]
async fn peers_list_each_protocol_with_the_portals_addresses_and_a_strong_etag() {
    let app = TestApp::spawn().await;
    let (_, token) = app.add_node_with_token("list-node", "vpn.example", "10.95.0.0/24").await;
    app.sign_up("peer_lister").await;
    let wg = app.create_client("wg-dev", "wireguard").await;
    let ovpn = app.create_client("ovpn-dev", "openvpn").await;
    let phaze = app.create_client("phaze-dev", "phazevpn").await;
    let first = peers(&app.client, &token, None).await;
    assert_eq!(first.status, Status::Ok);
    assert_eq!(first.header("Cache-Control"), Some("private, no-cache"));
    let etag = first.etag.clone().expect("an ETag");
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "a strong ETag: {etag}");
    let list = first.json();
    assert_eq!(list["node"], "list-node");
    assert_eq!(list["poll_interval_secs"], 30);
    assert_eq!(list["wireguard"][0]["client_id"], wg.to_string());
    assert_eq!(list["wireguard"][0]["address"], "10.95.0.2");
    assert_eq!(list["wireguard"][0]["public_key"].as_str().unwrap().len(), 44);
    assert_eq!(list["phazevpn"][0]["client_id"], phaze.to_string());
    assert_eq!(list["phazevpn"][0]["address"], "10.95.0.3");
    let o = &list["openvpn"][0];
    assert_eq!(o["common_name"], ovpn.to_string());
    assert_eq!(o["address"], "10.95.0.130", "OpenVPN clients get a portal-assigned address from the upper half");
    assert_eq!(o["ccd"], "ifconfig-push 10.95.0.130 255.255.255.128\n");

    let again = peers(&app.client, &token, Some(&etag)).await;
    assert_eq!(again.status, Status::NotModified);
    assert!(again.body.is_empty());
    assert_eq!(again.etag.as_deref(), Some(etag.as_str()));
    let other = peers(&app.client, &token, Some("\"not-it\"")).await;
    assert_eq!(other.status, Status::Ok);
    assert_eq!(other.etag.as_deref(), Some(etag.as_str()), "the same list has the same ETag");

    // Flushing Redis loses nothing: the list is rebuilt from PostgreSQL, byte for byte.
    app.redis.command(&["FLUSHALL"]).await;
    let rebuilt = peers(&app.client, &token, None).await;
    assert_eq!((rebuilt.etag.as_deref(), rebuilt.body.as_str()), (Some(etag.as_str()), first.body.as_str()));
    // With Redis down it is computed every time, still right.
    let mut app = app;
    app.redis.stop();
    assert_eq!(peers(&app.client, &token, Some(&etag)).await.status, Status::NotModified);
}

#[rocket::async_test]
async fn revoked_suspended_and_over_limit_clients_leave_the_list_at_once_on_every_instance() {
    let (app, token, phone) = node_and_client("leave").await;
    let laptop = app.create_client("leave-laptop", "openvpn").await;
    let other = app.another_instance().await;
    let first = peers(&other, &token, None).await;
    assert_eq!(listed(&first.json()).len(), 2);
    let etag = first.etag.unwrap();
    let portal = app.client.rocket().state::<Portal>().unwrap();
    let user_id: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE username = 'leave_user'").fetch_one(&app.pool).await.unwrap();

    // Each change, made through the first instance, is seen by the second at its next poll.
    let expect = |r: NodeResponse, want: &[Uuid], why: &str| {
        assert_eq!(r.status, Status::Ok, "{why}: the ETag changed");
        let mut got = listed(&r.json());
        got.sort();
        let mut want: Vec<String> = want.iter().map(Uuid::to_string).collect();
        want.sort();
        assert_eq!(got, want, "{why}");
        r.etag.unwrap()
    };
    let r = app.submit("/dashboard", &format!("/clients/{laptop}/revoke"), &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let e = expect(peers(&other, &token, Some(&etag)).await, &[phone], "a revoked client leaves");

    phaze_portal::domain::usage::set_user_status(&app.pool, &portal.fragments, &portal.sessions, user_id, true)
        .await
        .unwrap();
    let e = expect(peers(&other, &token, Some(&e)).await, &[], "a suspended user's clients leave");
    assert_eq!(app.get("/dashboard").await.status(), Status::SeeOther, "and the user is signed out");
    phaze_portal::domain::usage::set_user_status(&app.pool, &portal.fragments, &portal.sessions, user_id, false)
        .await
        .unwrap();
    let e = expect(peers(&other, &token, Some(&e)).await, &[phone], "reinstated, they come back");

    // A limit of 1 MB, then 1.5 MB of traffic: the client leaves as the batch crosses the limit.
    phaze_portal::domain::usage::set_data_limit(&app.pool, &portal.fragments, user_id, Some(1_000_000)).await.unwrap();
    assert_eq!(peers(&other, &token, Some(&e)).await.status, Status::NotModified, "under the limit");
    let r = send(&app.client, &token, json!([connect(1, phone, 10), usage(2, phone, 5, 1_000_000, 500_000)])).await;
    assert_eq!(r.json()["acked_seq"], 2);
    let e = expect(peers(&other, &token, Some(&e)).await, &[], "over the limit");
    app.log_in("leave_user", PASSWORD).await;
    let (_, page) = app.page("/usage").await;
    assert!(page.contains("id=\"over-limit\""), "the user sees it");
    let (_, dashboard) = app.page("/dashboard").await;
    assert!(dashboard.contains("id=\"summary-over-limit\""), "on the dashboard too");
    // The next period starts afresh: with the traffic moved into the last period (as if the
    // month turned), the same query serves them.
    let node_id: i64 = sqlx::query_scalar("SELECT id FROM nodes").fetch_one(&app.pool).await.unwrap();
    sqlx::query("UPDATE usage_daily SET day = date_trunc('month', now())::date - 1 WHERE user_id = $1")
        .bind(user_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let next = phaze_portal::store::nodes::peers(&app.pool, node_id).await.unwrap();
    assert_eq!(next.len(), 1, "a new period serves the client again");
    phaze_portal::domain::usage::set_data_limit(&app.pool, &portal.fragments, user_id, Some(10_000_000)).await.unwrap();
    expect(peers(&other, &token, Some(&e)).await, &[phone], "a raised limit brings them back");
}

#[rocket::async_test]
async fn the_same_batch_twice_counts_once() {
    let (app, token, phone) = node_and_client("twice").await;
    let batch = json!([connect(1, phone, 30), usage(2, phone, 20, 1000, 100), disconnect(3, phone, 10, 3000, 300)]);
    let first = send(&app.client, &token, batch.clone()).await;
    assert_eq!(first.status, Status::Ok);
    assert_eq!(first.json(), json!({"acked_seq": 3, "stored": 3, "duplicates": 0, "rejected": []}));
    let second = send(&app.client, &token, batch).await;
    assert_eq!(second.json(), json!({"acked_seq": 3, "stored": 0, "duplicates": 3, "rejected": []}));
    assert_eq!(counted(&app, phone).await, ((3000, 300), (3000, 300)));
    let sessions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM connection_sessions").fetch_one(&app.pool).await.unwrap();
    assert_eq!(sessions, 1);
    let last_seen: Option<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT last_seen_at FROM nodes").fetch_one(&app.pool).await.unwrap();
    assert!(last_seen.is_some(), "each call is a heartbeat");
}

#[rocket::async_test]
async fn out_of_order_and_late_events_are_counted_once_and_acked_contiguously() {
    let (app, token, phone) = node_and_client("order").await;
    // 3 and 4 are delayed (the node's outage); 5 and 6 arrive first.
    let r = send(
        &app.client,
        &token,
        json!([
            connect(1, phone, 60),
            usage(2, phone, 50, 100, 10),
            usage(5, phone, 20, 500, 50),
            usage(6, phone, 10, 600, 60)
        ]),
    )
    .await;
    assert_eq!(r.json()["acked_seq"], 2, "a gap at 3 holds the ack");
    assert_eq!(r.json()["stored"], 4);
    let r = send(&app.client, &token, json!([usage(3, phone, 40, 300, 30), usage(4, phone, 30, 400, 40)])).await;
    assert_eq!(r.json()["acked_seq"], 6);
    // Late readings fall inside later ones: the total is the last cumulative reading.
    assert_eq!(counted(&app, phone).await, ((600, 60), (600, 60)));
    // A resend of everything after an outage changes nothing.
    let all: Vec<Value> = (1..=6).map(|seq| usage(seq, phone, 70 - seq * 10, 1, 1)).collect();
    let r = send(&app.client, &token, Value::Array(all)).await;
    assert_eq!(r.json()["duplicates"], 6);
    assert_eq!(counted(&app, phone).await, ((600, 60), (600, 60)));
}

#[rocket::async_test]
async fn a_counter_reset_neither_goes_negative_nor_counts_twice() {
    let (app, token, phone) = node_and_client("reset").await;
    send(&app.client, &token, json!([connect(1, phone, 60), usage(2, phone, 50, 5000, 500)])).await;
    // The node restarted without a disconnect: its counter starts again from zero.
    send(&app.client, &token, json!([usage(3, phone, 40, 200, 20), usage(4, phone, 30, 700, 70)])).await;
    assert_eq!(counted(&app, phone).await, ((5700, 570), (5700, 570)));
    // A fresh connect closes the connection that was never closed, at its last reading.
    send(&app.client, &token, json!([connect(5, phone, 20), disconnect(6, phone, 10, 100, 10)])).await;
    let rows: Vec<(Option<time::OffsetDateTime>, i64)> =
        sqlx::query_as("SELECT ended_at, rx_bytes FROM connection_sessions ORDER BY started_at")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|(ended, _)| ended.is_some()));
    assert_eq!((rows[0].1, rows[1].1), (5700, 100));
    assert_eq!(counted(&app, phone).await.0, (5800, 580));
}

#[rocket::async_test]
async fn a_bad_event_is_rejected_alone_and_another_nodes_client_is_refused() {
    let (app, token, phone) = node_and_client("bad").await;
    let (_, other_token) = app.add_node_with_token("bad-other", "vpn2.example", "10.96.0.0/24").await;
    let r = send(
        &app.client,
        &token,
        json!([
            connect(1, phone, 30),
            {"seq": 2, "type": "usage", "client": phone, "at": "yesterday", "rx_bytes": 1, "tx_bytes": 1},
            {"seq": 3, "type": "usage", "client": Uuid::new_v4(), "at": at(5), "rx_bytes": 1, "tx_bytes": 1},
            {"type": "usage", "client": phone, "at": at(5), "rx_bytes": 1, "tx_bytes": 1},
            usage(4, phone, 5, 70, 7),
        ]),
    )
    .await;
    assert_eq!(r.status, Status::Ok);
    let report = r.json();
    assert_eq!(report["stored"], 2);
    assert_eq!(report["acked_seq"], 4, "rejected events are consumed: resending them cannot help");
    let reasons: Vec<(Value, String)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["seq"].clone(), r["reason"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(reasons[0].0, Value::Null);
    assert!(reasons[0].1.contains("seq"));
    assert_eq!(reasons[1].0, 2);
    assert!(reasons[1].1.contains("at"), "{}", reasons[1].1);
    assert_eq!(reasons[2].0, 3);
    assert!(reasons[2].1.contains("not on this node"));
    assert_eq!(counted(&app, phone).await.0, (70, 7));

    // The client is on the first node: the second may not report it.
    let r = send(&app.client, &other_token, json!([usage(1, phone, 4, 999_999, 999_999)])).await;
    assert_eq!(r.json()["rejected"][0]["seq"], 1);
    assert_eq!(counted(&app, phone).await.0, (70, 7), "nothing counted from the wrong node");
}

#[rocket::async_test]
async fn oversized_and_malformed_batches_are_refused_whole() {
    let (app, token, phone) = node_and_client("size").await;
    let many: Vec<Value> = (1..=1001).map(|seq| usage(seq, phone, 1, seq as u64, 0)).collect();
    let r = send(&app.client, &token, Value::Array(many)).await;
    assert_eq!(r.status, Status::UnprocessableEntity);
    assert!(r.json()["detail"].as_str().unwrap().contains("1000"));
    for body in ["not json", "{\"events\": 5}", "[]"] {
        let r = node_call(&app.client, "POST", "/events", Some(&token), &[], Some(body.into())).await;
        assert_eq!(r.status, Status::BadRequest, "{body}");
        assert_eq!(r.header("Content-Type"), Some("application/problem+json"));
    }
    let big = format!("{{\"events\": [\"{}\"]}}", "x".repeat(1_100_000));
    let r = node_call(&app.client, "POST", "/events", Some(&token), &[], Some(big)).await;
    assert_eq!(r.status, Status::PayloadTooLarge);
    assert_eq!(counted(&app, phone).await.0, (0, 0));
    let acked: i64 = sqlx::query_scalar("SELECT acked_seq FROM nodes").fetch_one(&app.pool).await.unwrap();
    assert_eq!(acked, 0, "nothing half-written");
}

#[rocket::async_test]
async fn the_crl_has_an_etag_and_lists_a_revoked_openvpn_client() {
    let app = TestApp::spawn().await;
    let (_, token) = app.add_node_with_token("crl-node", "vpn.example", "10.97.0.0/24").await;
    app.sign_up("crl_user").await;
    let id = app.create_client("crl-dev", "openvpn").await;
    let first = node_call(&app.client, "GET", "/crl.pem", Some(&token), &[], None).await;
    assert_eq!(first.status, Status::Ok);
    assert!(first.body.starts_with("-----BEGIN X509 CRL-----"));
    let etag = first.etag.clone().unwrap();
    let same = node_call(&app.client, "GET", "/crl.pem", Some(&token), &[("If-None-Match", &etag)], None).await;
    assert_eq!(same.status, Status::NotModified);
    let r = app.submit("/dashboard", &format!("/clients/{id}/revoke"), &[]).await;
    drop(r);
    let after = node_call(&app.client, "GET", "/crl.pem", Some(&token), &[("If-None-Match", &etag)], None).await;
    assert_eq!(after.status, Status::Ok, "a revocation changes the CRL's ETag");
    let serial: String = sqlx::query_scalar("SELECT cert_serial FROM clients").fetch_one(&app.pool).await.unwrap();
    let path = std::env::temp_dir().join(format!("crl-{}.pem", Uuid::new_v4()));
    std::fs::write(&path, &after.body).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["crl", "-in", path.to_str().unwrap(), "-noout", "-text"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "openssl reads the CRL");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&serial), "the revoked serial is listed");
}

#[rocket::async_test]
async fn partitions_are_made_ahead_moved_out_of_the_default_and_dropped_past_retention() {
    use phaze_portal::domain::partitions::upkeep;
    use time::macros::datetime;
    let (app, _token, phone) = node_and_client("parts").await;
    let names = |pool: sqlx::PgPool| async move {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'connection_sessions'::regclass ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        names
    };
    // A row far in the future lands in the default partition.
    sqlx::query(
        "INSERT INTO connection_sessions (node_id, client_id, user_id, started_at) \
         SELECT node_id, id, user_id, '2031-05-10T00:00:00Z' FROM clients WHERE id = $1",
    )
    .bind(phone)
    .execute(&app.pool)
    .await
    .unwrap();
    // The portal made this month's partition and the next two when it started (and daily).
    let now = time::OffsetDateTime::now_utc();
    let this_month = format!("connection_sessions_y{:04}m{:02}", now.year(), now.month() as u8);
    let mut started = false;
    for _ in 0..50 {
        started = names(app.pool.clone()).await.contains(&this_month);
        if started {
            break;
        }
        rocket::tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(started, "{this_month} made at start");
    assert_eq!(names(app.pool.clone()).await.len(), 4, "three months and the default");
    let made = upkeep(&app.pool, datetime!(2031-04-20 0:00 UTC), 2, 12).await.unwrap();
    assert_eq!(
        made.created,
        ["connection_sessions_y2031m04", "connection_sessions_y2031m05", "connection_sessions_y2031m06"]
    );
    assert_eq!(made.dropped.len(), 3, "this year's three are five years past a 12-month retention then");
    let in_may: i64 =
        sqlx::query_scalar("SELECT count(*) FROM connection_sessions_y2031m05").fetch_one(&app.pool).await.unwrap();
    assert_eq!(in_may, 1, "the row moved from the default partition into its month");
    let again = upkeep(&app.pool, datetime!(2031-04-21 0:00 UTC), 2, 12).await.unwrap();
    assert!(again.created.is_empty() && again.dropped.is_empty(), "idempotent");
    // Thirteen months on, April to June 2031 are past a 12-month retention and are dropped.
    let later = upkeep(&app.pool, datetime!(2032-07-02 0:00 UTC), 0, 12).await.unwrap();
    assert_eq!(later.dropped.len(), 3, "{later:?}");
    let left = names(app.pool.clone()).await;
    assert!(left.contains(&"connection_sessions_default".to_owned()));
    assert!(left.contains(&"connection_sessions_y2032m07".to_owned()));
    assert!(!left.iter().any(|n| n.contains("2031")), "{left:?}");
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM connection_sessions").fetch_one(&app.pool).await.unwrap();
    assert_eq!(total, 0, "their rows went with them");
}

#[rocket::async_test]
async fn users_see_their_usage_chart_and_history_pages_and_nobody_elses() {
    let (app, token, phone) = node_and_client("seen").await;
    let mut events = Vec::new();
    for i in 0..30i64 {
        let minutes_ago = 100 - i * 3;
        events.push(connect(3 * i + 1, phone, minutes_ago));
        events.push(usage(3 * i + 2, phone, minutes_ago - 1, 1_000_000, 100_000));
        events.push(disconnect(3 * i + 3, phone, minutes_ago - 2, 2_000_000, 200_000));
    }
    let r = send(&app.client, &token, Value::Array(events)).await;
    assert_eq!(r.json()["acked_seq"], 90);
    assert_eq!(counted(&app, phone).await, ((60_000_000, 6_000_000), (60_000_000, 6_000_000)));
    // Near a month's start some of these fall in the last period: expect what this one holds.
    let period = phaze_portal::domain::usage::period_start(time::OffsetDateTime::now_utc());
    let this_period: i64 =
        sqlx::query_scalar("SELECT coalesce(sum(rx_bytes + tx_bytes), 0)::bigint FROM usage_daily WHERE day >= $1")
            .bind(period)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let figure = phaze_portal::domain::usage::human_bytes(this_period);
    let (status, page) = app.page("/usage").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains(&figure), "this period's total, {figure}");
    assert!(page.contains("Unlimited"));
    assert!(page.contains("<svg") && page.contains("class=\"bar-rx\""), "a server-rendered chart");
    assert!(page.contains("hx-trigger=\"every 30s\""), "live figures poll while the page is open");
    assert!(page.contains("198.51.100.23:40000") && page.contains("2 min"));
    let rows = |html: &str| {
        html.split("id=\"history-list\"")
            .nth(1)
            .map_or(0, |t| t.split("</table>").next().unwrap().matches("<tr>").count() - 1)
    };
    assert_eq!(rows(&page), 25, "the first page of history holds 25 connections");
    let older = page.split("id=\"history-older\" href=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (_, second) = app.page(&older).await;
    assert!(!second.contains("history-older"), "the last page has no older link");
    assert_eq!(rows(&second), 5, "the other five connections");

    let (status, live) = app.page("/usage/live").await;
    assert_eq!(status, Status::Ok);
    assert!(live.starts_with("<section id=\"usage-live\""), "a fragment, not a page");
    let (status, client_page) = app.page(&format!("/clients/{phone}")).await;
    assert_eq!(status, Status::Ok);
    assert!(client_page.contains(&figure) && client_page.contains("id=\"history-older\""));
    assert_eq!(app.page("/usage?after=nonsense").await.0, Status::BadRequest);

    app.log_out().await;
    app.sign_up("seen_other").await;
    assert_eq!(app.page(&format!("/clients/{phone}/usage")).await.0, Status::NotFound);
    let (_, theirs) = app.page("/usage").await;
    assert!(!theirs.contains("198.51.100.23") && theirs.contains("No connections yet."));
}

#[rocket::async_test]
async fn the_admin_nodes_page_shows_status_peers_sessions_and_rotates_tokens() {
    let (app, token, phone) = node_and_client("adm").await;
    send(&app.client, &token, json!([connect(1, phone, 1)])).await;
    app.log_out().await;
    app.create_admin("adm_admin").await;
    app.log_in("adm_admin", PASSWORD).await;
    let (_, page) = app.page("/admin/nodes").await;
    let row = page.split("data-node=\"adm-node\"").nth(1).unwrap().split("</tr>").next().unwrap().to_owned();
    assert!(row.contains("<mark>online</mark>"), "{row}");
    assert!(row.contains("class=\"node-peers\">1<") && row.contains("class=\"node-sessions\">1<"), "{row}");

    let node_id: i64 = sqlx::query_scalar("SELECT id FROM nodes").fetch_one(&app.pool).await.unwrap();
    let r = app.submit("/admin/nodes", &format!("/admin/nodes/{node_id}/token"), &[]).await;
    assert_eq!(r.status(), Status::Ok);
    let body = r.into_string().await.unwrap();
    let new_token = body.split("id=\"new-node-token\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert_eq!(new_token.len(), 43);
    assert_eq!(peers(&app.client, &token, None).await.status, Status::Unauthorized);
    assert_eq!(peers(&app.client, &new_token, None).await.status, Status::Ok);
    let (_, again) = app.page("/admin/nodes").await;
    assert!(!again.contains(&new_token), "shown only once");

    // A node that has not called for two poll intervals is offline.
    sqlx::query("UPDATE nodes SET last_seen_at = now() - interval '61 seconds'").execute(&app.pool).await.unwrap();
    let (_, page) = app.page("/admin/nodes").await;
    assert!(page.split("data-node=\"adm-node\"").nth(1).unwrap().split("</tr>").next().unwrap().contains("offline"));

    app.log_out().await;
    app.sign_up("adm_nobody").await;
    let r = app.submit("/dashboard", &format!("/admin/nodes/{node_id}/token"), &[]).await;
    assert_eq!(r.status(), Status::Forbidden);
    drop(r);
    assert_eq!(peers(&app.client, &new_token, None).await.status, Status::Ok, "a non-admin rotated nothing");
}

#[rocket::async_test]
async fn an_unchanged_poll_needs_no_database_and_a_rotated_token_stops_on_every_instance() {
    let database_url = fresh_database().await;
    let mut proxy = PgProxy::start(0).await;
    let app = TestApp::spawn().await;
    // A second instance that reaches PostgreSQL only through a hop the test can cut.
    let other = Client::tracked(phaze_portal::app::rocket(figment(&through(&proxy, &database_url), &app.redis.url())))
        .await
        .unwrap();
    let other_pool = sqlx::PgPool::connect(&database_url).await.unwrap();
    let form = phaze_portal::domain::nodes::NodeForm {
        name: "hot-node".into(),
        region: "Test".into(),
        host: "vpn.example".into(),
        wireguard_port: 51820,
        openvpn_port: 1194,
        phazevpn_port: 443,
        protocols: vec!["wireguard".into()],
        address_pool: "10.88.0.0/24".into(),
        dns: "9.9.9.9".into(),
        wg_public_key: String::new(),
    };
    let other_portal = other.rocket().state::<Portal>().unwrap();
    let added = phaze_portal::domain::nodes::add(&other_pool, &other_portal.vault, &form).await.unwrap();
    let token = added.token;
    // Three polls: PostgreSQL proves the token, then the cache learns to vouch for it.
    let first = peers(&other, &token, None).await;
    assert_eq!(first.status, Status::Ok);
    let etag = first.etag.unwrap();
    for _ in 0..2 {
        assert_eq!(peers(&other, &token, Some(&etag)).await.status, Status::NotModified);
    }
    // With PostgreSQL out of reach an unchanged poll is still answered: it asked only Redis.
    proxy.cut();
    assert_eq!(peers(&other, &token, Some(&etag)).await.status, Status::NotModified, "no query on the hot path");
    let stranger = peers(&other, &"B".repeat(43), Some(&etag)).await;
    assert_eq!(stranger.status, Status::ServiceUnavailable, "an unknown token still needs PostgreSQL");
    let _proxy = PgProxy::start(proxy.port).await;

    // Rotated through the first instance: the second refuses the old token at its next poll.
    let portal = app.client.rocket().state::<Portal>().unwrap();
    let rotated =
        phaze_portal::domain::nodes::rotate_token(&other_pool, &portal.fragments, added.id).await.unwrap().unwrap();
    let mut refused = false;
    for _ in 0..50 {
        match peers(&other, &token, Some(&etag)).await.status {
            Status::Unauthorized => {
                refused = true;
                break;
            }
            // The hop's pool may still be reconnecting.
            Status::ServiceUnavailable => rocket::tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            other => panic!("the old token got {other}"),
        }
    }
    assert!(refused, "the old token stopped at once");
    assert_eq!(peers(&other, &rotated, Some(&etag)).await.status, Status::NotModified);
    // FLUSHALL drops the cache's word: PostgreSQL vouches again, nobody is locked out.
    app.redis.command(&["FLUSHALL"]).await;
    assert_eq!(peers(&other, &rotated, None).await.status, Status::Ok);
    assert_eq!(peers(&other, &token, None).await.status, Status::Unauthorized);
}
