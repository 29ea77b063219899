//! The customer API (v1 and v2) with personal access tokens: scopes, expiry, revocation,
//! suspension, foreign ids, idempotent creates, ETags, pagination, v1's deprecation headers,
//! body limits and problem details, and the OpenAPI documents.
use crate::helpers::*;
use rocket::http::{ContentType, Header, Method, Status};
use serde_json::{json, Value};

const ALL: &[&str] = &["clients:read", "clients:write", "account:read", "usage:read"];

/// Makes a token on the account page of the signed-in user; the secret shown once.
async fn make_token(app: &TestApp, name: &str, scopes: &[&str], lifetime: &str) -> String {
    let mut fields = vec![("name", name), ("lifetime", lifetime)];
    fields.extend(scopes.iter().map(|s| ("scopes", *s)));
    let r = app.submit("/account/tokens", "/account/tokens", &fields).await;
    assert_eq!(r.status(), Status::Created, "making token {name}");
    let page = r.into_string().await.unwrap();
    let secret = page.split(r#"<code id="token-secret">"#).nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("phz_") && secret.len() == 47, "{secret}");
    secret
}

struct Answer {
    status: Status,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn call(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> Answer {
    call_with(app, method, path, token, body, &[]).await
}

async fn call_with(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    headers: &[(&'static str, String)],
) -> Answer {
    let mut request = app.client.req(method, path.to_owned()).remote(app.ip);
    if let Some(token) = token {
        request = request.header(Header::new("Authorization", format!("Bearer {token}")));
    }
    if let Some(body) = body {
        request = request.header(ContentType::JSON).body(body);
    }
    for (name, value) in headers {
        request = request.header(Header::new(*name, value.clone()));
    }
    let r = request.dispatch().await;
    let status = r.status();
    let headers = r.headers().iter().map(|h| (h.name().to_string(), h.value().to_string())).collect();
    Answer { status, headers, body: r.into_string().await.unwrap_or_default() }
}

async fn app_with_user(username: &str) -> TestApp {
    let app = TestApp::spawn().await;
    app.add_node("api-node", "vpn.api.example", "10.91.0.0/24").await;
    app.sign_up(username).await;
    app
}

async fn create(app: &TestApp, token: &str, name: &str) -> Value {
    let r = call(
        app,
        Method::Post,
        "/api/v2/clients",
        Some(token),
        Some(&json!({"name": name, "protocol": "wireguard"}).to_string()),
    )
    .await;
    assert_eq!(r.status, Status::Created, "{}", r.body);
    r.json()
}

#[rocket::async_test]
async fn tokens_are_shown_once_stored_hashed_listed_with_last_use_and_revocable() {
    let app = app_with_user("tok_user").await;
    let token = make_token(&app, "backup script", &["clients:read"], "30").await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored.len(), 32);
    let secret = token.strip_prefix("phz_").unwrap();
    assert_eq!(stored, phaze_portal::auth::tokens::hash_token(secret), "only the SHA-256 is kept");

    let (_, page) = app.page("/account/tokens").await;
    assert!(!page.contains(&token), "the secret is never shown again");
    assert!(page.contains("backup script") && page.contains("clients:read"));
    assert!(page.contains(r#"<td class="last-used">never</td>"#), "{page}");

    let r = call(&app, Method::Get, "/api/v2/clients", Some(&token), None).await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(r.json()["data"], json!([]));
    let (_, page) = app.page("/account/tokens").await;
    assert!(page.contains(&format!(" from {}", app.ip.ip())), "last use and its IP are listed");

    let id: i64 = sqlx::query_scalar("SELECT id FROM api_tokens").fetch_one(&app.pool).await.unwrap();
    let r = app.submit("/account/tokens", &format!("/account/tokens/{id}/revoke"), &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let r = call(&app, Method::Get, "/api/v2/clients", Some(&token), None).await;
    assert_eq!(r.status, Status::Unauthorized);
    assert_eq!(r.header("Content-Type"), Some("application/problem+json"));
    assert!(r.header("WWW-Authenticate").unwrap().starts_with("Bearer"));
    let (_, page) = app.page("/account/tokens").await;
    assert!(page.contains(r#"<td class="state">revoked</td>"#));
}

#[rocket::async_test]
async fn the_token_form_refuses_bad_input_with_each_fields_message() {
    let app = app_with_user("form_user").await;
    let r = app
        .submit("/account/tokens", "/account/tokens", &[("name", ""), ("scopes", "admin:all"), ("lifetime", "12")])
        .await;
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let page = r.into_string().await.unwrap();
    for message in ["Give the token a name", "is not a scope", "Choose how long the token lives"] {
        assert!(page.contains(message), "{message}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM api_tokens").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 0, "nothing half-made");
}

#[rocket::async_test]
async fn every_route_refuses_a_token_without_its_scope() {
    let app = app_with_user("scope_user").await;
    let full = make_token(&app, "full", ALL, "30").await;
    let client = create(&app, &full, "scoped").await;
    let id = client["id"].as_str().unwrap();
    let second = create(&app, &full, "scoped-2").await;
    let id2 = second["id"].as_str().unwrap();
    let body = json!({"name": "made-by-v2", "protocol": "wireguard", "client_name": "made-by-v1"}).to_string();
    let routes: Vec<(Method, String, &str)> = vec![
        (Method::Get, "/api/v2/clients".into(), "clients:read"),
        (Method::Get, format!("/api/v2/clients/{id}"), "clients:read"),
        (Method::Get, format!("/api/v2/clients/{id}/config"), "clients:read"),
        (Method::Post, "/api/v2/clients".into(), "clients:write"),
        (Method::Patch, format!("/api/v2/clients/{id}"), "clients:write"),
        (Method::Get, "/api/v2/account".into(), "account:read"),
        (Method::Get, "/api/v2/usage".into(), "usage:read"),
        (Method::Get, format!("/api/v2/clients/{id}/usage"), "usage:read"),
        (Method::Get, "/api/v2/connections".into(), "usage:read"),
        (Method::Get, "/api/v1/clients".into(), "clients:read"),
        (Method::Get, format!("/api/v1/clients/{id}"), "clients:read"),
        (Method::Get, format!("/api/v1/clients/{id}/config"), "clients:read"),
        (Method::Post, "/api/v1/clients".into(), "clients:write"),
        (Method::Get, "/api/v1/account".into(), "account:read"),
        (Method::Delete, format!("/api/v1/clients/{id}"), "clients:write"),
        (Method::Delete, format!("/api/v2/clients/{id2}"), "clients:write"),
    ];
    for (n, (method, path, scope)) in routes.into_iter().enumerate() {
        let others: Vec<&str> = ALL.iter().copied().filter(|s| *s != scope).collect();
        let lacking = make_token(&app, &format!("lacking {n}"), &others, "7").await;
        let with_body = match method {
            Method::Post => Some(body.as_str()),
            Method::Patch => Some(r#"{"name":"renamed-by-patch"}"#),
            _ => None,
        };
        let r = call(&app, method, &path, Some(&lacking), with_body).await;
        assert_eq!(r.status, Status::Forbidden, "{method} {path} without {scope}");
        assert!(r.json()["detail"].as_str().unwrap().contains(scope));
        let only = make_token(&app, &format!("only {n}"), &[scope], "7").await;
        let r = call(&app, method, &path, Some(&only), with_body).await;
        assert!(r.status.code < 400, "{method} {path} with {scope}: {} {}", r.status, r.body);
    }
}

#[rocket::async_test]
async fn expired_tokens_suspended_users_and_session_cookies_get_nothing() {
    let app = app_with_user("expiry_user").await;
    let token = make_token(&app, "soon", ALL, "7").await;
    assert_eq!(call(&app, Method::Get, "/api/v2/account", Some(&token), None).await.status, Status::Ok);
    // The session cookie of the signed-in user is never enough.
    let r = call(&app, Method::Get, "/api/v2/account", None, None).await;
    assert_eq!(r.status, Status::Unauthorized);
    assert_eq!(r.header("Content-Type"), Some("application/problem+json"));

    sqlx::query("UPDATE api_tokens SET expires_at = now() - interval '1 second'").execute(&app.pool).await.unwrap();
    assert_eq!(call(&app, Method::Get, "/api/v2/account", Some(&token), None).await.status, Status::Unauthorized);
    let (_, page) = app.page("/account/tokens").await;
    assert!(page.contains(r#"<td class="state">expired</td>"#));

    let live = make_token(&app, "live", ALL, "never").await;
    assert_eq!(call(&app, Method::Get, "/api/v2/account", Some(&live), None).await.status, Status::Ok);
    let (ok, out, err) =
        portal_cli_with(&app.database_url, Some(&app.redis.url()), &["suspend-user", "--user", "expiry_user"]);
    assert!(ok, "{out}{err}");
    let r = call(&app, Method::Get, "/api/v2/account", Some(&live), None).await;
    assert_eq!(r.status, Status::Unauthorized, "a suspended user's token stops at once");
    let (ok, _, _) =
        portal_cli_with(&app.database_url, Some(&app.redis.url()), &["reinstate-user", "--user", "expiry_user"]);
    assert!(ok);
    assert_eq!(call(&app, Method::Get, "/api/v2/account", Some(&live), None).await.status, Status::Ok);

    for junk in ["phz_short", "not-ours", "phz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        assert_eq!(call(&app, Method::Get, "/api/v2/account", Some(junk), None).await.status, Status::Unauthorized);
    }
}

#[rocket::async_test]
async fn another_users_clients_are_not_found_and_stay_untouched() {
    let app = app_with_user("owner_a").await;
    let a = make_token(&app, "a", ALL, "30").await;
    let theirs = create(&app, &a, "a-laptop").await;
    let id = theirs["id"].as_str().unwrap().to_owned();
    app.log_out().await;
    app.sign_up("intruder_b").await;
    let b = make_token(&app, "b", ALL, "30").await;
    for (method, path, body) in [
        (Method::Get, format!("/api/v2/clients/{id}"), None),
        (Method::Get, format!("/api/v2/clients/{id}/config"), None),
        (Method::Get, format!("/api/v2/clients/{id}/usage"), None),
        (Method::Patch, format!("/api/v2/clients/{id}"), Some(r#"{"name":"stolen"}"#)),
        (Method::Delete, format!("/api/v2/clients/{id}"), None),
        (Method::Get, format!("/api/v1/clients/{id}"), None),
        (Method::Get, format!("/api/v1/clients/{id}/config"), None),
        (Method::Delete, format!("/api/v1/clients/{id}"), None),
        (Method::Get, "/api/v2/clients/not-a-uuid".to_owned(), None),
    ] {
        let r = call(&app, method, &path, Some(&b), body).await;
        assert_eq!(r.status, Status::NotFound, "{method} {path}");
        assert_eq!(r.json()["status"], 404);
    }
    let r = call(&app, Method::Get, &format!("/api/v2/connections?client_id={id}"), Some(&b), None).await;
    assert_eq!(r.status, Status::NotFound);
    assert_eq!(call(&app, Method::Get, "/api/v2/clients", Some(&b), None).await.json()["data"], json!([]));
    let (name, status): (String, String) =
        sqlx::query_as("SELECT name, status FROM clients").fetch_one(&app.pool).await.unwrap();
    assert_eq!((name.as_str(), status.as_str()), ("a-laptop", "active"));
    assert_eq!(call(&app, Method::Get, &format!("/api/v2/clients/{id}"), Some(&a), None).await.status, Status::Ok);
}

#[rocket::async_test]
async fn a_create_retried_with_its_idempotency_key_makes_one_client() {
    let app = app_with_user("idem_user").await;
    let token = make_token(&app, "retry", ALL, "30").await;
    let body = json!({"name": "phone", "protocol": "wireguard"}).to_string();
    let key = ("Idempotency-Key", "7d3c2a-phone".to_owned());
    let attempts = (0..8).map(|_| {
        call_with(&app, Method::Post, "/api/v2/clients", Some(&token), Some(&body), std::slice::from_ref(&key))
    });
    let answers = futures_join_all(attempts).await;
    let created: Vec<&Answer> = answers.iter().filter(|a| a.status == Status::Created).collect();
    assert!(!created.is_empty());
    for a in &answers {
        assert!(matches!(a.status.code, 201 | 409), "{} {}", a.status, a.body);
    }
    let ids: std::collections::HashSet<String> =
        created.iter().map(|a| a.json()["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 1, "every 201 is the same client");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM clients").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1, "one client, however many retries");

    let again =
        call_with(&app, Method::Post, "/api/v2/clients", Some(&token), Some(&body), std::slice::from_ref(&key)).await;
    assert_eq!(again.status, Status::Created);
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(again.json()["id"].as_str(), ids.iter().next().map(String::as_str));
    assert!(again.header("Location").unwrap().ends_with(ids.iter().next().unwrap()));

    let other = json!({"name": "tablet", "protocol": "wireguard"}).to_string();
    let r =
        call_with(&app, Method::Post, "/api/v2/clients", Some(&token), Some(&other), std::slice::from_ref(&key)).await;
    assert_eq!(r.status, Status::UnprocessableEntity, "the same key with another body");
    // A failed create frees its key: the corrected retry succeeds.
    let bad = json!({"name": "x", "protocol": "wireguard"}).to_string();
    let key2 = ("Idempotency-Key", "second".to_owned());
    let r =
        call_with(&app, Method::Post, "/api/v2/clients", Some(&token), Some(&bad), std::slice::from_ref(&key2)).await;
    assert_eq!(r.status, Status::UnprocessableEntity);
    let bad_then_good = json!({"name": "tablet", "protocol": "wireguard"}).to_string();
    let r = call_with(
        &app,
        Method::Post,
        "/api/v2/clients",
        Some(&token),
        Some(&bad_then_good),
        std::slice::from_ref(&key2),
    )
    .await;
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let r = call_with(
        &app,
        Method::Post,
        "/api/v2/clients",
        Some(&token),
        Some(&body),
        &[("Idempotency-Key", "bad key".into())],
    )
    .await;
    assert_eq!(r.status, Status::BadRequest);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM clients").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 2);
}

/// Runs the requests at once, in this task (they borrow the app).
async fn futures_join_all<F: std::future::Future<Output = Answer>>(futures: impl Iterator<Item = F>) -> Vec<Answer> {
    rocket::futures::future::join_all(futures).await
}

#[rocket::async_test]
async fn reads_carry_etags_and_answer_304_until_something_changes() {
    let app = app_with_user("etag_user").await;
    let token = make_token(&app, "etag", ALL, "30").await;
    let client = create(&app, &token, "first").await;
    let id = client["id"].as_str().unwrap();
    for path in ["/api/v2/clients".to_owned(), format!("/api/v2/clients/{id}"), "/api/v2/account".to_owned()] {
        let first = call(&app, Method::Get, &path, Some(&token), None).await;
        let etag = first.header("ETag").unwrap().to_owned();
        assert!(etag.starts_with('"'), "a strong ETag: {etag}");
        let same = call_with(&app, Method::Get, &path, Some(&token), None, &[("If-None-Match", etag.clone())]).await;
        assert_eq!(same.status, Status::NotModified, "{path}");
        assert!(same.body.is_empty());
        assert_eq!(same.header("ETag"), Some(etag.as_str()));
    }
    let list = call(&app, Method::Get, "/api/v2/clients", Some(&token), None).await;
    let etag = list.header("ETag").unwrap().to_owned();
    let r =
        call(&app, Method::Patch, &format!("/api/v2/clients/{id}"), Some(&token), Some(r#"{"name":"renamed"}"#)).await;
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.json()["name"], "renamed");
    let changed =
        call_with(&app, Method::Get, "/api/v2/clients", Some(&token), None, &[("If-None-Match", etag.clone())]).await;
    assert_eq!(changed.status, Status::Ok, "a rename changes the list");
    assert_ne!(changed.header("ETag"), Some(etag.as_str()));
}

#[rocket::async_test]
async fn clients_page_by_cursor_and_v2_reads_usage_and_connections() {
    let app = app_with_user("page_user").await;
    app.set_free_plan_clients(10).await;
    let token = make_token(&app, "pages", ALL, "30").await;
    for i in 0..5 {
        create(&app, &token, &format!("device-{i}")).await;
    }
    let mut names = Vec::new();
    let mut path = "/api/v2/clients?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let r = call(&app, Method::Get, &path, Some(&token), None).await;
        assert_eq!(r.status, Status::Ok, "{}", r.body);
        let page = r.json();
        pages += 1;
        names.extend(page["data"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                let link = r.header("Link").unwrap();
                assert!(link.contains(cursor) && link.ends_with("rel=\"next\""), "{link}");
                path = format!("/api/v2/clients?limit=2&cursor={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, (0..5).map(|i| format!("device-{i}")).collect::<Vec<_>>(), "each once, in order");
    for bad in [
        "/api/v2/clients?cursor=zzz",
        "/api/v2/clients?limit=0",
        "/api/v2/clients?limit=abc",
        "/api/v2/clients?limit=5&limit=x",
        "/api/v2/connections?client_id=null&client_id=null",
    ] {
        let r = call(&app, Method::Get, bad, Some(&token), None).await;
        assert_eq!(r.status, Status::UnprocessableEntity, "{bad}");
        assert!(r.json()["errors"][0]["field"].is_string());
    }
    let usage = call(&app, Method::Get, "/api/v2/usage", Some(&token), None).await.json();
    assert_eq!(usage["rx_bytes"], 0);
    assert_eq!(usage["days"].as_array().unwrap().len(), 30);
    let connections = call(&app, Method::Get, "/api/v2/connections", Some(&token), None).await.json();
    assert_eq!(connections, json!({"data": [], "next_cursor": null}));
}

#[rocket::async_test]
async fn v1_keeps_the_old_shapes_and_says_it_is_deprecated_on_every_answer() {
    let app = app_with_user("v1_user").await;
    let token = make_token(&app, "legacy", ALL, "30").await;
    let r = call(
        &app,
        Method::Post,
        "/api/v1/clients",
        Some(&token),
        Some(r#"{"client_name":"old-laptop","protocol":"wireguard"}"#),
    )
    .await;
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let made = r.json();
    assert_eq!(made["client_name"], "old-laptop");
    let id = made["id"].as_str().unwrap().to_owned();
    let bad =
        call(&app, Method::Post, "/api/v1/clients", Some(&token), Some(r#"{"client_name":"x","protocol":"ipsec"}"#))
            .await;
    assert_eq!(bad.status, Status::UnprocessableEntity);
    let problem = bad.json();
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["client_name", "protocol"]);

    let answers = [
        (call(&app, Method::Get, "/api/v1/clients", Some(&token), None).await, "/api/v2/clients"),
        (call(&app, Method::Get, &format!("/api/v1/clients/{id}"), Some(&token), None).await, "/api/v2/clients/"),
        (call(&app, Method::Get, &format!("/api/v1/clients/{id}/config"), Some(&token), None).await, "/config"),
        (call(&app, Method::Get, "/api/v1/account", Some(&token), None).await, "/api/v2/account"),
        (call(&app, Method::Get, "/api/v1/account", None, None).await, "/api/v2/account"),
        (call(&app, Method::Get, "/api/v1/nothing-here", Some(&token), None).await, "/api/v2/nothing-here"),
        (bad, "/api/v2/clients"),
    ];
    for (answer, successor) in &answers {
        assert_eq!(answer.header("Deprecation"), Some("@1796688000"), "{}", answer.body);
        assert_eq!(answer.header("Sunset"), Some("Wed, 30 Jun 2027 23:59:59 GMT"));
        let link = answer.header("Link").unwrap();
        assert!(link.contains(successor) && link.ends_with("rel=\"successor-version\""), "{link}");
    }
    assert_eq!(answers[0].0.json()["clients"][0]["client_name"], "old-laptop");
    assert!(answers[2].0.body.contains("[Interface]"), "the config downloads");
    assert_eq!(answers[3].0.json()["username"], "v1_user");
    assert_eq!(answers[4].0.status, Status::Unauthorized);
    assert_eq!(answers[5].0.status, Status::NotFound);
    let r = call(&app, Method::Delete, &format!("/api/v1/clients/{id}"), Some(&token), None).await;
    assert_eq!(r.json()["status"], "revoked");
    // The node API is not deprecated.
    let node = call(&app, Method::Get, "/api/v1/node/peers", Some("nope"), None).await;
    assert_eq!(node.status, Status::Unauthorized);
    assert_eq!(node.header("Deprecation"), None);
}

#[rocket::async_test]
async fn bad_bodies_get_problem_details_and_change_nothing() {
    let app = app_with_user("body_user").await;
    let token = make_token(&app, "bodies", ALL, "30").await;
    let big = format!(r#"{{"name":"{}","protocol":"wireguard"}}"#, "a".repeat(70 * 1024));
    let r = call(&app, Method::Post, "/api/v2/clients", Some(&token), Some(&big)).await;
    assert_eq!(r.status, Status::PayloadTooLarge);
    assert_eq!(r.header("Content-Type"), Some("application/problem+json"));
    let r = call(&app, Method::Post, "/api/v2/clients", Some(&token), Some(r#"{"name": "laptop", "#)).await;
    assert_eq!(r.status, Status::BadRequest);
    assert_eq!(r.json()["title"], "Bad Request");
    assert!(r.json()["detail"].as_str().unwrap().starts_with("The body is not valid JSON"));
    let r = call(&app, Method::Post, "/api/v2/clients", Some(&token), Some(r#"{"name": 5}"#)).await;
    assert_eq!(r.status, Status::UnprocessableEntity);
    let r =
        call(&app, Method::Post, "/api/v2/clients", Some(&token), Some(r#"{"name":"a b","protocol":"ipsec"}"#)).await;
    assert_eq!(r.status, Status::UnprocessableEntity);
    let problem = r.json();
    assert_eq!(problem["status"], 422);
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0], json!({"field": "name", "message": "Use 3 to 50 letters, digits, '_' or '-'."}));
    assert_eq!(errors[1]["field"], "protocol");
    let form = app
        .client
        .post("/api/v2/clients")
        .remote(app.ip)
        .header(Header::new("Authorization", format!("Bearer {token}")))
        .header(ContentType::Form)
        .body("name=laptop&protocol=wireguard")
        .dispatch()
        .await;
    assert_eq!(form.status(), Status::UnsupportedMediaType);
    drop(form);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM clients").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 0, "no bad body made anything");
}

#[rocket::async_test]
async fn each_token_has_its_own_rate_limit() {
    let app = TestApp::spawn_with(|f| f.merge(("api_requests_per_minute", 3))).await;
    app.sign_up("busy_user").await;
    let busy = make_token(&app, "busy", ALL, "30").await;
    let calm = make_token(&app, "calm", ALL, "30").await;
    for _ in 0..3 {
        assert_eq!(call(&app, Method::Get, "/api/v2/account", Some(&busy), None).await.status, Status::Ok);
    }
    let r = call(&app, Method::Get, "/api/v2/account", Some(&busy), None).await;
    assert_eq!(r.status, Status::TooManyRequests);
    assert!(r.header("Retry-After").unwrap().parse::<u64>().unwrap() <= 60);
    assert_eq!(r.json()["status"], 429);
    assert_eq!(call(&app, Method::Get, "/api/v2/account", Some(&calm), None).await.status, Status::Ok);
}

/// Every `$ref` in the document names a schema it defines.
fn refs_resolve(doc: &Value, value: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
                assert!(doc["components"]["schemas"][name].is_object(), "{r} resolves");
            }
            map.values().for_each(|v| refs_resolve(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| refs_resolve(doc, v)),
        _ => {}
    }
}

#[rocket::async_test]
async fn the_openapi_documents_describe_every_route_and_the_reference_page_links_them() {
    let app = TestApp::spawn().await;
    for (version, expected) in [
        (
            "v2",
            vec![
                "/clients",
                "/clients/{id}",
                "/clients/{id}/config",
                "/clients/{id}/usage",
                "/usage",
                "/connections",
                "/account",
            ],
        ),
        (
            "v1",
            vec![
                "/clients",
                "/clients/{id}",
                "/clients/{id}/config",
                "/account",
                "/node/peers",
                "/node/events",
                "/node/crl.pem",
            ],
        ),
    ] {
        let r = app.get(&format!("/api/{version}/openapi.json")).await;
        assert_eq!(r.status(), Status::Ok);
        let doc: Value = serde_json::from_str(&r.into_string().await.unwrap()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["servers"][0]["url"], format!("/api/{version}"));
        let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
        assert_eq!(paths.len(), expected.len(), "{paths:?}");
        for path in expected {
            let item = doc["paths"][path].as_object().unwrap_or_else(|| panic!("{version} documents {path}"));
            for (method, op) in item {
                assert!(op["security"].is_array(), "{method} {path} names its token and scope");
                for status in ["401", "403", "429"] {
                    assert!(op["responses"][status].is_object(), "{method} {path} documents {status}");
                }
            }
        }
        refs_resolve(&doc, &doc);
        assert!(doc["components"]["securitySchemes"]["token"]["scheme"] == "bearer");
    }
    let (status, page) = app.page("/api/docs").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains(r#"data-spec-url="/api/v2/openapi.json""#));
    assert!(page.contains("/static/swagger-ui-bundle.") && page.contains("/static/api-reference."));
    assert!(!page.contains("<script>"), "no inline script");
}
