use crate::helpers::*;
use phaze_portal::domain::accounts::LOGIN_FAILED;
use rocket::http::Status;

#[rocket::async_test]
async fn signup_then_dashboard_shows_the_account() {
    let app = TestApp::spawn().await;
    let response = app.sign_up("ada_lovelace").await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/dashboard");
    drop(response);
    let (status, body) = app.page("/dashboard").await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains("Welcome to Phaze, ada_lovelace!"), "flash shown");
    assert!(body.contains("ada_lovelace@example.com"), "account summary shows the email");
    assert!(!body.contains(r#"href="/admin""#), "no admin link for a user");
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'ada_lovelace'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "stored with argon2id");
}

#[rocket::async_test]
async fn signup_errors_are_shown_next_to_each_field_with_input_kept() {
    let app = TestApp::spawn().await;
    let response = app
        .submit(
            "/signup",
            "/signup",
            &[("username", "a b"), ("email", "not-an-email"), ("password", "short"), ("password_confirm", "other")],
        )
        .await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let body = response.into_string().await.unwrap();
    assert!(body.contains(r#"id="username-error" aria-live="polite">Use 3 to 32 letters"#), "{body}");
    assert!(body.contains(r#"id="email-error" aria-live="polite">Enter a valid email address"#));
    assert!(body.contains(r#"id="password-error" aria-live="polite">Use at least 10 characters."#));
    assert!(body.contains(r#"id="password_confirm-error" aria-live="polite">The passwords do not match."#));
    assert!(body.contains(r#"value="a b""#), "username kept");
    assert!(body.contains(r#"value="not-an-email""#), "email kept");
    assert!(!body.contains("short"), "passwords are never echoed");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(users, 0, "nothing written");
}

#[rocket::async_test]
async fn common_passwords_are_refused() {
    let app = TestApp::spawn().await;
    let response = app
        .submit(
            "/signup",
            "/signup",
            &[
                ("username", "grace"),
                ("email", "g@example.com"),
                ("password", "Password123"),
                ("password_confirm", "Password123"),
            ],
        )
        .await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    assert!(response.into_string().await.unwrap().contains("too easy to guess"));
}

#[rocket::async_test]
async fn duplicate_username_or_email_is_refused_whatever_the_case() {
    let app = TestApp::spawn().await;
    assert_eq!(app.sign_up("linus").await.status(), Status::SeeOther);
    assert_eq!(app.log_out().await.status(), Status::SeeOther);

    let same_name = app
        .submit(
            "/signup",
            "/signup",
            &[
                ("username", "LINUS"),
                ("email", "other@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(same_name.status(), Status::UnprocessableEntity);
    assert!(same_name.into_string().await.unwrap().contains("This username is taken."));

    let same_email = app
        .submit(
            "/signup",
            "/signup",
            &[
                ("username", "linus2"),
                ("email", "Linus@Example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(same_email.status(), Status::UnprocessableEntity);
    assert!(same_email.into_string().await.unwrap().contains("An account with this email already exists"));
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(users, 1);
}

#[rocket::async_test]
async fn inline_validation_answers_per_field() {
    let app = TestApp::spawn().await;
    assert_eq!(app.sign_up("taken_name").await.status(), Status::SeeOther);
    let (status, body) = app.page("/signup/check/username?username=taken_name").await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains("This username is taken."), "{body}");
    let (_, body) = app.page("/signup/check/username?username=free_name").await;
    assert_eq!(body, r#"<small class="field-error" id="username-error" aria-live="polite"></small>"#);
    let (_, body) = app.page("/signup/check/email?email=nope").await;
    assert!(body.contains("Enter a valid email address"));
    assert_eq!(app.page("/signup/check/password?password=x").await.0, Status::NotFound);
}

#[rocket::async_test]
async fn login_by_username_or_email_then_logout() {
    let app = TestApp::spawn().await;
    app.sign_up("margaret").await;
    app.log_out().await;
    assert!(app.session_cookie().is_none(), "cookie removed on logout");

    let by_name = app.log_in("margaret", PASSWORD).await;
    assert_eq!(by_name.status(), Status::SeeOther);
    assert_eq!(location(&by_name), "/dashboard");
    drop(by_name);
    assert_eq!(app.page("/dashboard").await.0, Status::Ok);
    app.log_out().await;

    let by_email = app.log_in("MARGARET@example.com", PASSWORD).await;
    assert_eq!(by_email.status(), Status::SeeOther);
    drop(by_email);
    let (status, body) = app.page("/dashboard").await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains("margaret@example.com"));
}

#[rocket::async_test]
async fn login_goes_back_to_the_page_asked_for_but_never_off_site() {
    let app = TestApp::spawn().await;
    app.sign_up("hopper").await;
    app.log_out().await;
    let to_login = app.get("/account").await;
    assert_eq!(to_login.status(), Status::SeeOther);
    assert_eq!(location(&to_login), "/login?next=%2Faccount");
    drop(to_login);
    let token = app.csrf("/login?next=/account").await;
    let response = app
        .post_raw(
            "/login",
            form_encode(&[("_csrf", &token), ("login", "hopper"), ("password", PASSWORD), ("next", "/account")]),
        )
        .await;
    assert_eq!(location(&response), "/account");
    drop(response);
    app.log_out().await;
    let token = app.csrf("/login").await;
    let response = app
        .post_raw(
            "/login",
            form_encode(&[("_csrf", &token), ("login", "hopper"), ("password", PASSWORD), ("next", "//evil.example/")]),
        )
        .await;
    assert_eq!(location(&response), "/dashboard");
}

#[rocket::async_test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.sign_up("barbara").await;
    app.log_out().await;
    let wrong = app.log_in("barbara", "not-the-password").await;
    assert_eq!(wrong.status(), Status::UnprocessableEntity);
    let wrong_body = wrong.into_string().await.unwrap();
    let unknown = app.log_in("nobody_here", "not-the-password").await;
    assert_eq!(unknown.status(), Status::UnprocessableEntity);
    let unknown_body = unknown.into_string().await.unwrap();
    assert!(wrong_body.contains(LOGIN_FAILED));
    assert!(unknown_body.contains(LOGIN_FAILED));
    // Same page but for the echoed login name and the CSRF token.
    let normalise = |b: &str, name: &str| b.replace(name, "NAME").replace(&csrf_in(b).unwrap(), "TOKEN");
    assert_eq!(normalise(&wrong_body, "barbara"), normalise(&unknown_body, "nobody_here"));
    assert!(app.session_cookie().is_none());
}

#[rocket::async_test]
async fn admin_sees_the_admin_page_and_a_user_gets_403() {
    let app = TestApp::spawn().await;
    app.create_admin("root_admin").await;
    app.log_in("root_admin", PASSWORD).await;
    let (status, body) = app.page("/dashboard").await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains(r#"href="/admin""#), "admin link in nav");
    let (status, body) = app.page("/admin").await;
    assert_eq!(status, Status::Ok);
    assert!(body.contains(r#"<dd id="admin-users">1</dd>"#));
    app.log_out().await;

    app.sign_up("plain_user").await;
    let (status, body) = app.page("/admin").await;
    assert_eq!(status, Status::Forbidden);
    assert!(body.contains("403"));
    assert!(body.contains("plain_user"), "error page is in the layout with the user's nav");

    app.log_out().await;
    let anonymous = app.get("/admin").await;
    assert_eq!(anonymous.status(), Status::SeeOther, "signed out: off to log in");
}
