use crate::helpers::*;
use rocket::http::Status;

#[rocket::async_test]
async fn five_failed_logins_lock_the_name_even_for_the_right_password() {
    let app = TestApp::spawn().await;
    app.sign_up("locked_out").await;
    app.log_out().await;
    for attempt in 1..=5 {
        let r = app.log_in("locked_out", "wrong-password-123").await;
        assert_eq!(r.status(), Status::UnprocessableEntity, "attempt {attempt}");
    }
    let r = app.log_in("locked_out", PASSWORD).await;
    assert_eq!(r.status(), Status::TooManyRequests);
    let retry_after: u64 = header(&r, "Retry-After").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let body = r.into_string().await.unwrap();
    assert!(body.contains("Too many attempts. Please try again in"), "a readable page");
    assert!(app.session_cookie().is_none());

    // The counter lives in Redis, shared by every instance.
    let other = app.another_instance().await;
    let page = other.get("/login").remote(app.ip).dispatch().await.into_string().await.unwrap();
    let body = form_encode(&[("_csrf", &csrf_in(&page).unwrap()), ("login", "locked_out"), ("password", PASSWORD)]);
    let r = other.post("/login").remote(app.ip).header(rocket::http::ContentType::Form).body(body).dispatch().await;
    assert_eq!(r.status(), Status::TooManyRequests);
}

#[rocket::async_test]
async fn twenty_failures_from_one_ip_block_that_ip() {
    let app = TestApp::spawn().await;
    for n in 0..20 {
        let r = app.log_in(&format!("guess{n}"), "wrong-password-123").await;
        assert_eq!(r.status(), Status::UnprocessableEntity, "attempt {n}");
    }
    assert_eq!(app.log_in("guess_new", "wrong-password-123").await.status(), Status::TooManyRequests);

    // Already refused: the answer comes from this instance's memory, not from Redis, and keeps
    // its Retry-After.
    let before = app.redis.commands_run().await;
    for n in 0..10 {
        let r = app.log_in(&format!("again{n}"), "wrong-password-123").await;
        assert_eq!(r.status(), Status::TooManyRequests);
        let retry_after: u64 = header(&r, "Retry-After").unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry_after), "{retry_after}");
    }
    assert_eq!(app.redis.commands_run().await - before, 0, "no Redis command for a refused client");

    // Nor is its form read: without a CSRF token, or with no body at all, it is still 429 (not
    // the 403 of a missing token), from the one check before the body.
    for body in [form_encode(&[("login", "x"), ("password", "y")]), String::new()] {
        let r = app.post_raw("/login", body).await;
        assert_eq!(r.status(), Status::TooManyRequests);
        assert!(header(&r, "Retry-After").is_some_and(|s| s.parse::<u64>().is_ok_and(|s| (1..=900).contains(&s))));
        assert!(r.into_string().await.unwrap().contains("Too many attempts"));
    }
    // Another IP is not refused: its form is read and checked as usual.
    let r = app
        .client
        .post("/login")
        .remote(random_loopback())
        .header(rocket::http::ContentType::Form)
        .body("login=x")
        .dispatch()
        .await;
    assert_eq!(r.status(), Status::Forbidden, "no CSRF token");
}

#[rocket::async_test]
async fn five_signups_per_hour_per_ip() {
    let app = TestApp::spawn().await;
    for n in 0..5 {
        assert_eq!(app.sign_up(&format!("signup{n}")).await.status(), Status::SeeOther, "signup {n}");
        app.log_out().await;
    }
    let r = app.sign_up("signup5").await;
    assert_eq!(r.status(), Status::TooManyRequests);
    assert!(header(&r, "Retry-After").is_some());
    drop(r);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(users, 5);
}

#[rocket::async_test]
async fn with_redis_down_the_in_process_limiter_takes_over() {
    let mut app = TestApp::spawn().await;
    app.sign_up("no_redis").await;
    app.log_out().await;
    app.redis.stop();
    // Login still works without Redis...
    assert_eq!(app.log_in("no_redis", PASSWORD).await.status(), Status::SeeOther);
    assert_eq!(app.page("/dashboard").await.0, Status::Ok, "served, uncached");
    app.log_out().await;
    // ...and brute force is still stopped, by governor in this process.
    let mut limited = false;
    for _ in 0..6 {
        let r = app.log_in("no_redis", "wrong-password-123").await;
        if r.status() == Status::TooManyRequests {
            limited = true;
            assert!(header(&r, "Retry-After").is_some());
            break;
        }
    }
    assert!(limited, "the fallback limiter refused within six attempts");
}

#[rocket::async_test]
async fn twenty_concurrent_wrong_logins_let_at_most_five_reach_the_password_check() {
    let app = TestApp::spawn().await;
    app.sign_up("racer").await;
    app.log_out().await;
    let token = app.csrf("/login").await;
    let body = form_encode(&[("_csrf", &token), ("login", "racer"), ("password", "wrong-password-123")]);
    let attempts = (0..20).map(|_| {
        app.client.post("/login").remote(app.ip).header(rocket::http::ContentType::Form).body(body.clone()).dispatch()
    });
    let statuses: Vec<Status> = rocket::futures::future::join_all(attempts).await.iter().map(|r| r.status()).collect();
    let checked = statuses.iter().filter(|s| **s == Status::UnprocessableEntity).count();
    let refused = statuses.iter().filter(|s| **s == Status::TooManyRequests).count();
    assert_eq!(checked + refused, 20, "{statuses:?}");
    assert!(checked <= 5, "{checked} attempts reached the hash: the limit is 5");
    // A right password after the burst is refused too, and a later success gives its count back.
    assert_eq!(app.log_in("racer", PASSWORD).await.status(), Status::TooManyRequests);
}

#[rocket::async_test]
async fn a_successful_login_does_not_count_toward_the_failure_limit() {
    let app = TestApp::spawn().await;
    app.sign_up("steady").await;
    for _ in 0..8 {
        app.log_out().await;
        assert_eq!(app.log_in("steady", PASSWORD).await.status(), Status::SeeOther);
    }
}

#[rocket::async_test]
async fn failed_signups_and_name_checks_are_counted_per_ip() {
    let app = TestApp::spawn_with(|f| f.merge(("signup_attempts_per_ip", 3)).merge(("field_checks_per_ip", 4))).await;
    app.sign_up("taken_name").await;
    app.log_out().await;
    // Probing whether names exist: each failed sign-up counts.
    for n in 0..2 {
        let r = app.sign_up("taken_name").await;
        assert_eq!(r.status(), Status::UnprocessableEntity, "probe {n}");
    }
    let r = app.sign_up("fresh_name").await;
    assert_eq!(r.status(), Status::TooManyRequests, "the fourth attempt from this IP");
    assert!(header(&r, "Retry-After").is_some());
    drop(r);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(users, 1);

    for n in 0..4 {
        let (status, _) = app.page(&format!("/signup/check/username?username=probe{n}")).await;
        assert_eq!(status, Status::Ok, "check {n}");
    }
    let (status, _) = app.page("/signup/check/username?username=taken_name").await;
    assert_eq!(status, Status::TooManyRequests, "the inline check is limited too");
}
