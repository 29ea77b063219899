//! Support tickets: a user opens, replies and closes; admins work a queue, reply (the user is
//! emailed) and add internal notes the user never sees. Another user's ticket is 404.
use crate::helpers::*;
use rocket::http::Status;

async fn open_ticket(app: &TestApp, subject: &str, body: &str) -> i64 {
    let r = app
        .submit("/support", "/support/tickets", &[("subject", subject), ("category", "technical"), ("body", body)])
        .await;
    assert_eq!(r.status(), Status::SeeOther, "{}", r.into_string().await.unwrap_or_default());
    location(&r).trim_start_matches("/support/tickets/").parse().unwrap()
}

async fn status_of(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM tickets WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap()
}

#[rocket::async_test]
async fn a_user_and_support_talk_through_a_ticket_and_notes_stay_internal() {
    let app = TestApp::spawn().await;
    app.create_admin("helper").await;
    app.sign_up("asker").await;
    let id =
        open_ticket(&app, "Cannot connect <b>from</b> the hotel", "Line one\n<script>alert(1)</script>\nLine three")
            .await;
    let (_, page) = app.page(&format!("/support/tickets/{id}")).await;
    assert!(page.contains("Line one\n&lt;script&gt;alert(1)&lt;/script&gt;\nLine three"), "escaped, line breaks kept");
    assert!(page.contains("Cannot connect &lt;b&gt;from&lt;/b&gt; the hotel"));
    assert!(!page.contains("<script>alert"));
    assert_eq!(status_of(&app, id).await, "open");
    let (_, list) = app.page("/support").await;
    assert!(list.contains(&format!("/support/tickets/{id}")) && list.contains("Open"));
    app.log_out().await;

    app.log_in("helper", PASSWORD).await;
    let (_, queue) = app.page("/admin/tickets").await;
    assert!(queue.contains(&format!("data-ticket=\"{id}\"")), "open tickets are the default queue");
    let r = app
        .submit(
            &format!("/admin/tickets/{id}"),
            &format!("/admin/tickets/{id}/reply"),
            &[("body", "Customer seems to be on a captive portal."), ("internal", "true")],
        )
        .await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    assert_eq!(status_of(&app, id).await, "open", "a note changes nothing for the user");
    let r = app
        .submit(
            &format!("/admin/tickets/{id}"),
            &format!("/admin/tickets/{id}/reply"),
            &[("body", "Try OpenVPN over TCP 443.\nIt passes most hotel firewalls.")],
        )
        .await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    assert_eq!(status_of(&app, id).await, "awaiting_reply");
    let (_, admin_view) = app.page(&format!("/admin/tickets/{id}")).await;
    assert!(admin_view.contains("captive portal") && admin_view.contains("internal note"));
    let (_, open_queue) = app.page("/admin/tickets?status=open").await;
    assert!(!open_queue.contains(&format!("data-ticket=\"{id}\"")), "answered: out of the open queue");
    let (_, waiting) = app.page("/admin/tickets?status=awaiting_reply").await;
    assert!(waiting.contains(&format!("data-ticket=\"{id}\"")));
    let (_, old_only) = app.page("/admin/tickets?status=awaiting_reply&older_than=24").await;
    assert!(!old_only.contains(&format!("data-ticket=\"{id}\"")), "filtered by age");
    app.log_out().await;

    // The user sees the reply (page and polled fragment), never the note, and got an email.
    app.log_in("asker", PASSWORD).await;
    let (_, page) = app.page(&format!("/support/tickets/{id}")).await;
    assert!(page.contains("Try OpenVPN over TCP 443.\nIt passes") && page.contains("Awaiting your reply"));
    let (status, fragment) = app.page(&format!("/support/tickets/{id}/messages")).await;
    assert_eq!(status, Status::Ok);
    assert!(fragment.contains("Try OpenVPN") && fragment.contains("hx-trigger=\"every 10s\""));
    for shown in [&page, &fragment] {
        assert!(!shown.contains("captive portal") && !shown.contains("internal note"), "notes stay internal");
    }
    let (subject, text) = latest_email(&app.pool, "asker@example.com", "ticket_reply").await.expect("emailed");
    assert!(subject.starts_with("Re: Cannot connect") && text.contains("Try OpenVPN"));
    let mails: i64 = sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE kind = 'ticket_reply'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(mails, 1, "the note sent nothing");

    let r = app
        .submit(
            &format!("/support/tickets/{id}"),
            &format!("/support/tickets/{id}/reply"),
            &[("body", "That worked, thanks!")],
        )
        .await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    assert_eq!(status_of(&app, id).await, "open");
    let r = app.submit(&format!("/support/tickets/{id}"), &format!("/support/tickets/{id}/close"), &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    assert_eq!(status_of(&app, id).await, "closed");
    let (_, page) = app.page(&format!("/support/tickets/{id}")).await;
    assert!(page.contains("Reply and reopen"));
}

#[rocket::async_test]
async fn another_users_ticket_is_not_found_and_bad_tickets_are_refused() {
    let app = TestApp::spawn().await;
    app.sign_up("owner").await;
    let id = open_ticket(&app, "My ticket", "Private details").await;
    app.log_out().await;
    app.sign_up("intruder").await;
    for path in [format!("/support/tickets/{id}"), format!("/support/tickets/{id}/messages")] {
        let (status, body) = app.page(&path).await;
        assert_eq!(status, Status::NotFound, "{path}");
        assert!(!body.contains("Private details"));
    }
    for action in ["reply", "close"] {
        let r = app.submit("/support", &format!("/support/tickets/{id}/{action}"), &[("body", "hijack")]).await;
        assert_eq!(r.status(), Status::NotFound, "{action}");
    }
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM ticket_messages").fetch_one(&app.pool).await.unwrap();
    assert_eq!((messages, status_of(&app, id).await.as_str()), (1, "open"), "nothing changed");
    // Bad input: a message per field, 422, nothing written.
    let r =
        app.submit("/support", "/support/tickets", &[("subject", "x"), ("category", "weather"), ("body", "   ")]).await;
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let page = r.into_string().await.unwrap();
    for message in ["Use 3 to 120", "Choose a category", "Write a message"] {
        assert!(page.contains(message), "{message}");
    }
    let long = "x".repeat(10_001);
    let r = app
        .submit("/support", "/support/tickets", &[("subject", "Too long"), ("category", "other"), ("body", &long)])
        .await;
    assert_eq!(r.status(), Status::UnprocessableEntity);
    drop(r);
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets").fetch_one(&app.pool).await.unwrap();
    assert_eq!(tickets, 1);
    // Not an admin: the queue, a ticket and its actions are forbidden.
    for path in ["/admin/tickets".to_owned(), format!("/admin/tickets/{id}"), format!("/admin/tickets/{id}/messages")] {
        assert_eq!(app.page(&path).await.0, Status::Forbidden, "{path}");
    }
    let r = app.submit("/support", &format!("/admin/tickets/{id}/reply"), &[("body", "fake staff")]).await;
    assert_eq!(r.status(), Status::Forbidden);
}
