use crate::helpers::*;
use rocket::http::Status;

#[rocket::async_test]
async fn change_password_signs_out_other_sessions_and_the_old_password_stops_working() {
    let app = TestApp::spawn().await;
    app.sign_up("rotating").await;
    let other = app.another_instance().await;
    let page = other.get("/login").dispatch().await.into_string().await.unwrap();
    let body = form_encode(&[("_csrf", &csrf_in(&page).unwrap()), ("login", "rotating"), ("password", PASSWORD)]);
    other.post("/login").header(rocket::http::ContentType::Form).body(body).dispatch().await;
    assert_eq!(app.session_count("rotating").await, 2);

    let new_password = "a-much-better-passphrase";
    let response = app
        .submit(
            "/account",
            "/account/password",
            &[("current_password", PASSWORD), ("password", new_password), ("password_confirm", new_password)],
        )
        .await;
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let (_, page) = app.page("/account").await;
    assert!(page.contains("Your password is changed. 1 other session(s) were signed out."));
    assert_eq!(other.get("/dashboard").dispatch().await.status(), Status::SeeOther);
    assert_eq!(app.session_count("rotating").await, 1);

    app.log_out().await;
    assert_eq!(app.log_in("rotating", PASSWORD).await.status(), Status::UnprocessableEntity);
    assert_eq!(app.log_in("rotating", new_password).await.status(), Status::SeeOther);
}

#[rocket::async_test]
async fn change_password_needs_the_current_one() {
    let app = TestApp::spawn().await;
    app.sign_up("careful").await;
    let response = app
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", "not-my-password"),
                ("password", "another-passphrase"),
                ("password_confirm", "another-passphrase"),
            ],
        )
        .await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    assert!(response.into_string().await.unwrap().contains("This is not your current password."));
}

#[rocket::async_test]
async fn change_email_refuses_one_in_use() {
    let app = TestApp::spawn().await;
    app.sign_up("owner_one").await;
    app.log_out().await;
    app.sign_up("owner_two").await;
    let response = app
        .submit("/account", "/account/email", &[("email", "OWNER_ONE@example.com"), ("current_password", PASSWORD)])
        .await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let body = response.into_string().await.unwrap();
    assert!(body.contains("Another account uses this email."));
    assert!(body.contains(r#"value="OWNER_ONE@example.com""#), "input kept");
}
