use crate::helpers::*;
use rocket::http::{ContentType, Header, Status};

const SECURITY_HEADERS: [&str; 4] =
    ["Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"];

#[rocket::async_test]
async fn logout_without_a_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.sign_up("csrf_target").await;
    let response = app.post_raw("/logout", "").await;
    assert_eq!(response.status(), Status::Forbidden);
    drop(response);
    let response = app.post_raw("/logout", form_encode(&[("_csrf", "forged-token")])).await;
    assert_eq!(response.status(), Status::Forbidden);
    drop(response);
    assert_eq!(app.session_count("csrf_target").await, 1);
    assert_eq!(app.page("/dashboard").await.0, Status::Ok);
}

#[rocket::async_test]
async fn password_change_with_a_wrong_token_changes_nothing() {
    let app = TestApp::spawn().await;
    app.sign_up("csrf_pw").await;
    let before: String = sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&app.pool).await.unwrap();
    let body = form_encode(&[
        ("_csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ("current_password", PASSWORD),
        ("password", "a-brand-new-passphrase"),
        ("password_confirm", "a-brand-new-passphrase"),
    ]);
    assert_eq!(app.post_raw("/account/password", body).await.status(), Status::Forbidden);
    let after: String = sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(before, after);
}

#[rocket::async_test]
async fn the_htmx_header_carries_the_token_too() {
    let app = TestApp::spawn().await;
    app.sign_up("htmx_user").await;
    let (_, page) = app.page("/dashboard").await;
    let token = csrf_in(&page).unwrap();
    assert!(
        page.contains(&format!(r#"hx-headers="{{&quot;X-CSRF-Token&quot;:&quot;{token}&quot;}}""#)),
        "layout default"
    );
    let response = app
        .client
        .post("/logout")
        .header(ContentType::Form)
        .header(Header::new("X-CSRF-Token", token))
        .header(Header::new("HX-Request", "true"))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    assert_eq!(app.session_count("htmx_user").await, 0);
}

#[rocket::async_test]
async fn signup_and_login_forms_need_the_pre_signin_token() {
    let app = TestApp::spawn().await;
    let body = form_encode(&[
        ("username", "no_token"),
        ("email", "n@example.com"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ]);
    assert_eq!(app.post_raw("/signup", body).await.status(), Status::Forbidden);
    assert_eq!(
        app.post_raw("/login", form_encode(&[("login", "x"), ("password", "y")])).await.status(),
        Status::Forbidden
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(users, 0);
}

#[rocket::async_test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let htmx = {
        let (_, page) = app.page("/").await;
        let start = page.find("/static/htmx.min.").unwrap();
        page[start..start + page[start..].find('"').unwrap()].to_owned()
    };
    for path in ["/", "/login", "/nope", "/healthz", htmx.as_str(), "/dashboard"] {
        let response = app.get(path).await;
        for name in SECURITY_HEADERS {
            assert!(header(&response, name).is_some(), "{name} on {path}");
        }
        let csp = header(&response, "Content-Security-Policy").unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline")
        );
        assert_eq!(header(&response, "X-Content-Type-Options"), Some("nosniff"));
        assert!(header(&response, "X-Request-Id").is_some_and(|id| !id.is_empty()));
        assert!(header(&response, "Strict-Transport-Security").is_none(), "no HSTS without TLS");
    }
}

#[rocket::async_test]
async fn a_page_goes_out_in_one_write() {
    let app = TestApp::spawn().await;
    app.add_node("one-write", "vpn.one.example", "10.93.0.0/24").await;
    app.set_free_plan_clients(10).await;
    app.sign_up("one_write").await;
    for n in 0..3 {
        app.create_client(&format!("device-{n}"), "wireguard").await;
    }
    let response = app.get("/dashboard").await;
    let size = response.body().preset_size().unwrap();
    assert!(size > rocket::response::Body::DEFAULT_MAX_CHUNK, "a dashboard larger than Rocket's chunk: {size}");
    assert!(response.body().max_chunk_size() >= size, "handed to the connection whole");
    // The API reference's script is larger than one write may be: streamed in 64 KiB chunks.
    let (_, page) = app.page("/api/docs").await;
    let script = &page[page.find("/static/swagger-ui-bundle.").unwrap()..];
    let response = app.get(&script[..script.find('"').unwrap()]).await;
    assert!(response.body().preset_size().unwrap() > 64 * 1024);
    assert_eq!(response.body().max_chunk_size(), 64 * 1024);
}

#[rocket::async_test]
async fn the_signed_out_landing_page_is_kept_and_a_signed_in_one_is_not() {
    let app = TestApp::spawn().await;
    let (_, first) = app.page("/").await;
    let (_, second) = app.page("/").await;
    assert_eq!(first, second);
    assert!(first.contains("Log in") && first.contains("Create an account"));
    app.sign_up("landing_user").await;
    let (_, signed_in) = app.page("/").await;
    assert!(signed_in.contains("landing_user"), "the signed-in nav, not the kept page");
    assert!(!signed_in.contains(">Log in<"));
    app.log_out().await;
    let (_, after) = app.page("/").await;
    assert_eq!(after, first);
}

#[rocket::async_test]
async fn pages_have_no_inline_script() {
    let app = TestApp::spawn().await;
    for path in ["/", "/pricing", "/signup", "/login"] {
        let (_, body) = app.page(path).await;
        assert_eq!(body.matches("<script").count(), body.matches("<script src=").count(), "{path}");
        assert!(!body.contains(" onclick=") && !body.contains(" style="), "{path}");
    }
}

#[rocket::async_test]
async fn public_pages_are_cacheable_and_signed_in_pages_are_not() {
    let app = TestApp::spawn().await;
    for path in ["/", "/pricing"] {
        let response = app.get(path).await;
        assert_eq!(header(&response, "Cache-Control"), Some("public, max-age=60, s-maxage=300"), "{path}");
        assert!(header(&response, "Set-Cookie").is_none(), "a cacheable page sets no cookie");
    }
    app.sign_up("private_eye").await;
    for path in ["/", "/dashboard", "/account"] {
        let response = app.get(path).await;
        assert_eq!(header(&response, "Cache-Control"), Some("private, no-store"), "{path}");
    }
}

#[rocket::async_test]
async fn error_pages_are_in_the_layout_or_problem_json() {
    let app = TestApp::spawn().await;
    let (status, body) = app.page("/no/such/page").await;
    assert_eq!(status, Status::NotFound);
    assert!(body.contains("<nav>") && body.contains("There is nothing here."));
    let response = app.client.get("/no/such/page").header(accept_json()).dispatch().await;
    assert_eq!(response.status(), Status::NotFound);
    assert_eq!(header(&response, "Content-Type"), Some("application/problem+json"));
    let problem: serde_json::Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["title"], "Not Found");
}

#[rocket::async_test]
async fn a_next_that_rocket_cannot_redirect_to_is_ignored_never_a_500() {
    let app = TestApp::spawn().await;
    let (status, page) = app.page("/login?next=/a%20b").await;
    assert_eq!(status, Status::Ok);
    assert!(!page.contains("/a b"), "the unusable next is dropped from the form");
    app.sign_up("next_space").await;
    app.log_out().await;
    let r = app.submit("/login", "/login", &[("login", "next_space"), ("password", PASSWORD), ("next", "/a b")]).await;
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(location(&r), "/dashboard");
    drop(r);
    assert_eq!(app.session_count("next_space").await, 1, "one session, and the login completed");
    app.log_out().await;
    let r = app
        .submit("/login", "/login", &[("login", "next_space"), ("password", PASSWORD), ("next", "/usage?after=1-2")])
        .await;
    assert_eq!(location(&r), "/usage?after=1-2", "a good next is still followed");
}
