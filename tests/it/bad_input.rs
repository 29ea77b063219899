//! Hostile and broken input: always a 4xx with a message, never a 5xx, never a partial write.
use crate::helpers::*;
use rocket::http::{ContentType, Status};

fn assert_client_error(status: Status, what: &str) {
    assert!((400..500).contains(&status.code), "{what}: got {status}");
}

#[rocket::async_test]
async fn hostile_signup_and_login_forms_get_4xx() {
    let app = TestApp::spawn().await;
    let token = app.csrf("/signup").await;
    let huge = "u".repeat(10 * 1024);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "10 kB username",
            form_encode(&[
                ("_csrf", &token),
                ("username", &huge),
                ("email", "a@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ])
            .into_bytes(),
        ),
        (
            "NUL in username",
            format!(
                "_csrf={token}&username=ab%00cd&email=a%40example.com&password={PASSWORD}&password_confirm={PASSWORD}"
            )
            .into_bytes(),
        ),
        (
            "NUL in email",
            format!(
                "_csrf={token}&username=abcd&email=a%00%40example.com&password={PASSWORD}&password_confirm={PASSWORD}"
            )
            .into_bytes(),
        ),
        (
            "invalid UTF-8, encoded",
            format!(
                "_csrf={token}&username=%FF%FE&email=a%40example.com&password={PASSWORD}&password_confirm={PASSWORD}"
            )
            .into_bytes(),
        ),
        (
            "invalid UTF-8, raw",
            [format!("_csrf={token}&username=").into_bytes(), vec![0xff, 0xfe, 0xfd], b"&email=x".to_vec()].concat(),
        ),
        ("missing fields", format!("_csrf={token}").into_bytes()),
        ("only a username", format!("_csrf={token}&username=abcdef").into_bytes()),
        ("garbage", format!("_csrf={token}&%%%&&==&username").into_bytes()),
        (
            "10 kB password",
            form_encode(&[
                ("_csrf", &token),
                ("username", "abcdef"),
                ("email", "a@example.com"),
                ("password", &huge),
                ("password_confirm", &huge),
            ])
            .into_bytes(),
        ),
    ];
    for (what, body) in &cases {
        let response = app.post_raw("/signup", body).await;
        assert_client_error(response.status(), what);
    }
    let login_cases: Vec<(&str, Vec<u8>)> = vec![
        ("NUL in login", format!("_csrf={token}&login=ad%00min&password=x").into_bytes()),
        ("10 kB login", form_encode(&[("_csrf", &token), ("login", &huge), ("password", "x")]).into_bytes()),
        ("invalid UTF-8 login", format!("_csrf={token}&login=%C3%28&password=x").into_bytes()),
        ("missing fields", format!("_csrf={token}").into_bytes()),
    ];
    for (what, body) in &login_cases {
        let response = app.post_raw("/login", body).await;
        assert_client_error(response.status(), what);
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(users, 0, "no partial write");
}

#[rocket::async_test]
async fn a_missing_field_is_named_next_to_the_form() {
    let app = TestApp::spawn().await;
    let token = app.csrf("/signup").await;
    let response = app.post_raw("/signup", form_encode(&[("_csrf", &token), ("username", "only_me")])).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let body = response.into_string().await.unwrap();
    assert!(body.contains(r#"id="email-error" aria-live="polite">Enter your email address."#), "{body}");
    assert!(body.contains(r#"value="only_me""#));
}

#[rocket::async_test]
async fn oversized_and_mistyped_bodies_get_4xx() {
    let app = TestApp::spawn().await;
    let token = app.csrf("/signup").await;
    let too_big = format!("_csrf={token}&username={}", "x".repeat(70 * 1024));
    assert_client_error(app.post_raw("/signup", too_big).await.status(), "over the 64 KiB form limit");
    let json = app
        .client
        .post("/login")
        .remote(app.ip)
        .header(ContentType::JSON)
        .body(r#"{"login":"a","password":"b"}"#)
        .dispatch()
        .await;
    assert_client_error(json.status(), "JSON to a form route");
    drop(json);
    app.sign_up("path_prober").await;
    let token = app.csrf("/account").await;
    for path in ["/account/sessions/not-a-number/revoke", "/account/sessions/99999999999999999999/revoke"] {
        assert_client_error(app.post_raw(path, format!("_csrf={token}")).await.status(), path);
    }
    let long_path = format!("/{}", "a".repeat(8 * 1024));
    assert_client_error(app.get(&long_path).await.status(), "long path");
    // Undecodable bytes in the inline check read as an invalid username, not as an error.
    let (status, body) = app.page("/signup/check/username?username=%FF%FE%FD").await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains("Use 3 to 32"), "{body}");
    assert_client_error(app.get("/signup/check/username").await.status(), "missing value");
}

#[rocket::async_test]
async fn signed_in_forms_with_bad_input_change_nothing() {
    let app = TestApp::spawn().await;
    app.sign_up("steady").await;
    let before: (String, String) =
        sqlx::query_as("SELECT email::text, password_hash FROM users").fetch_one(&app.pool).await.unwrap();
    let token = app.csrf("/account").await;
    let cases: Vec<(&str, String)> = vec![
        ("/account/email", format!("_csrf={token}&email=bad%00mail&current_password={PASSWORD}")),
        ("/account/email", format!("_csrf={token}&email=new%40example.com&current_password=wrong-password")),
        ("/account/email", format!("_csrf={token}&email=%FF&current_password={PASSWORD}")),
        ("/account/password", format!("_csrf={token}&current_password={PASSWORD}&password=short&password_confirm=short")),
        ("/account/password", format!("_csrf={token}&current_password=nope-nope-nope&password=another-good-one&password_confirm=another-good-one")),
        ("/account/password", format!("_csrf={token}")),
    ];
    for (path, body) in cases {
        let response = app.post_raw(path, body.clone()).await;
        assert_eq!(response.status(), Status::UnprocessableEntity, "{path} {body}");
    }
    let after: (String, String) =
        sqlx::query_as("SELECT email::text, password_hash FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(before, after);
}

#[rocket::async_test]
async fn a_multipart_form_gets_no_more_room_than_a_plain_one() {
    let app = TestApp::spawn().await;
    let token = app.csrf("/login").await;
    let boundary = "XyZ";
    let part = |name: &str, value: &str| {
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    };
    // 100 small extra fields: each is fine, together they pass 64 KiB.
    let mut body = part("_csrf", &token) + &part("login", "someone") + &part("password", "wrong-password-1");
    for n in 0..100 {
        body += &part(&format!("pad{n}"), &"x".repeat(1000));
    }
    body += &format!("--{boundary}--\r\n");
    let r = app
        .client
        .post("/login")
        .remote(app.ip)
        .header(ContentType::new("multipart", "form-data").with_params(("boundary", boundary)))
        .body(body)
        .dispatch()
        .await;
    let status = r.status();
    let text = r.into_string().await.unwrap_or_default();
    assert_client_error(status, "oversized multipart");
    assert!(!text.contains("Wrong username, email or password."), "refused before the login was tried: {status}");
}

#[rocket::async_test]
async fn hostile_billing_support_and_reset_input_gets_4xx_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.sign_up("hostile_buyer").await;
    let token = app.csrf("/billing").await;
    let huge = "x".repeat(20 * 1024);
    let posts: Vec<(&str, String)> = vec![
        ("/billing/checkout", format!("_csrf={token}&plan=abc&method=manual&idempotency_key=k")),
        ("/billing/checkout", format!("_csrf={token}&plan=99999&method=manual&idempotency_key=k")),
        ("/billing/checkout", format!("_csrf={token}&plan=1&method=bitcoin&idempotency_key=k")),
        ("/billing/checkout", format!("_csrf={token}&plan=1&method=manual&idempotency_key={huge}")),
        ("/billing/checkout", format!("_csrf={token}&plan=1&method=card&idempotency_key=k")),
        ("/billing/checkout", format!("_csrf={token}&plan=%00&method=%FF&idempotency_key=%00")),
        ("/support/tickets", format!("_csrf={token}&subject=%00%00%00&category=technical&body=hi")),
        ("/support/tickets", format!("_csrf={token}&subject=Fine%20subject&category=technical&body=a%00b")),
        ("/support/tickets", format!("_csrf={token}&subject={huge}&category=other&body=hi")),
        ("/support/tickets", format!("_csrf={token}")),
        ("/support/tickets/abc/reply", format!("_csrf={token}&body=hi")),
        ("/support/tickets/99999/reply", format!("_csrf={token}&body=hi")),
        ("/forgot-password", format!("_csrf={token}&email=not-an-address")),
        ("/forgot-password", format!("_csrf={token}&email=%00%40example.com")),
        (
            "/reset-password",
            format!("_csrf={token}&token=x&password=long-enough-pass&password_confirm=long-enough-pass"),
        ),
        ("/reset-password", format!("_csrf={token}&token={huge}&password=a&password_confirm=b")),
        ("/webhooks/stripe", "{}".to_owned()),
    ];
    for (path, body) in posts {
        let r = app.post_raw(path, body.as_bytes()).await;
        let what = format!("{path} {}", &body[..body.len().min(80)]);
        assert_client_error(r.status(), &what);
    }
    for path in [
        "/billing/payments/not-a-uuid",
        "/billing/receipts/00000000-0000-0000-0000-000000000000",
        "/verify-email?token=%00",
    ] {
        let (status, _) = app.page(path).await;
        assert_client_error(status, path);
    }
    let r = app.client.post("/webhooks/stripe").header(ContentType::JSON).body(vec![b'x'; 300 * 1024]).dispatch().await;
    assert_eq!(r.status(), Status::PayloadTooLarge);
    drop(r);
    let (payments, tickets): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM payments), (SELECT count(*) FROM tickets)")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((payments, tickets), (0, 0), "nothing written");
}
