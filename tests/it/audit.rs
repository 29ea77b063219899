//! The audit log: every admin and operator change is written, with actor, target, before/after,
//! IP and request id; nothing can change it afterwards; the page filters and pages through it.
use crate::helpers::*;
use rocket::http::Status;

async fn rows(app: &TestApp) -> Vec<(String, String, String, String, Option<String>, Option<String>)> {
    sqlx::query_as(
        "SELECT actor, action, target_type || ':' || target_id, coalesce(before::text, '') || '|' || coalesce(after::text, ''), \
         ip, request_id FROM audit_log ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[rocket::async_test]
async fn admin_changes_are_audited_with_who_what_and_from_where() {
    let app = TestApp::spawn().await;
    app.create_admin("auditor").await;
    app.sign_up("customer").await;
    let r = app
        .submit("/support", "/support/tickets", &[("subject", "Help me"), ("category", "other"), ("body", "Please")])
        .await;
    let ticket = location(&r).trim_start_matches("/support/tickets/").to_owned();
    drop(r);
    app.log_out().await;
    app.log_in("auditor", PASSWORD).await;

    let plan = [
        ("name", "Audited"),
        ("price", "3"),
        ("currency", "EUR"),
        ("period_days", "30"),
        ("max_clients", "2"),
        ("active", "true"),
    ];
    let r = app.submit("/admin/plans", "/admin/plans", &plan).await;
    let request_id = header(&r, "X-Request-Id").unwrap().to_owned();
    drop(r);
    let plan_id: i64 =
        sqlx::query_scalar("SELECT id FROM plans WHERE name = 'Audited'").fetch_one(&app.pool).await.unwrap();
    let cheaper = [
        ("name", "Audited"),
        ("price", "2.50"),
        ("currency", "EUR"),
        ("period_days", "30"),
        ("max_clients", "2"),
        ("active", "true"),
    ];
    app.submit(&format!("/admin/plans/{plan_id}"), &format!("/admin/plans/{plan_id}"), &cheaper).await;
    let node = [
        ("name", "aud-1"),
        ("region", "Audit"),
        ("host", "aud.example"),
        ("address_pool", "10.71.0.0/24"),
        ("wireguard_port", "51820"),
        ("openvpn_port", "1194"),
        ("phazevpn_port", "443"),
        ("protocols", "wireguard"),
        ("dns", "1.1.1.1"),
        ("wg_public_key", ""),
    ];
    app.submit("/admin/nodes", "/admin/nodes", &node).await;
    let node_id: i64 = sqlx::query_scalar("SELECT id FROM nodes").fetch_one(&app.pool).await.unwrap();
    app.submit("/admin/nodes", &format!("/admin/nodes/{node_id}/token"), &[]).await;
    app.submit(
        &format!("/admin/tickets/{ticket}"),
        &format!("/admin/tickets/{ticket}/reply"),
        &[("body", "On it"), ("internal", "true")],
    )
    .await;
    app.submit(
        &format!("/admin/tickets/{ticket}"),
        &format!("/admin/tickets/{ticket}/status"),
        &[("status", "closed")],
    )
    .await;

    let log = rows(&app).await;
    let actions: Vec<&str> = log.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        actions,
        ["plan.create", "plan.update", "node.add", "node.rotate_token", "ticket.note", "ticket.status"]
    );
    assert!(
        log.iter().all(|r| r.0 == "auditor" && r.4.is_some() && r.5.is_some()),
        "actor, IP and request id: {log:?}"
    );
    assert_eq!(log[0].5.as_deref(), Some(request_id.as_str()), "the request id the response carried");
    assert_eq!(log[1].2, format!("plan:{plan_id}"));
    assert!(
        log[1].3.contains(r#""price_cents": 300"#) && log[1].3.contains(r#""price_cents": 250"#),
        "before and after: {}",
        log[1].3
    );
    assert!(log[5].3.contains(r#""status": "open""#) && log[5].3.contains(r#""status": "closed""#));
    assert!(!log.iter().any(|r| r.3.contains("token_hash")), "no secrets in the log");

    // The page filters by actor, action and target.
    let (_, page) = app.page("/admin/audit?action=plan.update").await;
    assert_eq!(page.matches("data-action=").count(), 1);
    let (_, page) = app.page(&format!("/admin/audit?target=node:{node_id}")).await;
    assert_eq!(page.matches("data-action=").count(), 2);
    let (_, page) = app.page("/admin/audit?actor=someone_else").await;
    assert!(page.contains("Nothing matches."));
    assert_eq!(app.page("/admin/audit?since=yesterday").await.0, Status::BadRequest);
    app.log_out().await;
    app.log_in("customer", PASSWORD).await;
    assert_eq!(app.page("/admin/audit").await.0, Status::Forbidden);
}

#[rocket::async_test]
async fn the_log_cannot_be_changed_and_pages_through_many_entries() {
    let app = TestApp::spawn().await;
    app.create_admin("pager").await;
    sqlx::query(
        "INSERT INTO audit_log (actor, action, target_type, target_id) \
         SELECT 'cli', 'user.suspend', 'user', g::text FROM generate_series(1, 120) g",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    for forbidden in ["UPDATE audit_log SET actor = 'someone'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let err = sqlx::query(forbidden).execute(&app.pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{forbidden}: {err}");
    }
    app.log_in("pager", PASSWORD).await;
    let mut seen = 0;
    let mut next = "/admin/audit?actor=cli".to_owned();
    for _ in 0..5 {
        let (status, page) = app.page(&next).await;
        assert_eq!(status, Status::Ok);
        seen += page.matches("data-action=").count();
        match page.split(r#"id="audit-older" href=""#).nth(1) {
            Some(rest) => next = rest.split('"').next().unwrap().replace("&amp;", "&"),
            None => break,
        }
    }
    assert_eq!(seen, 120, "every entry once, newest first, in pages of 50");
}

#[rocket::async_test]
async fn operator_commands_are_audited_as_cli() {
    let app = TestApp::spawn().await;
    app.sign_up("promoted").await;
    let (ok, _, _) = portal_cli_with(
        &app.database_url,
        Some(&app.redis.url()),
        &["set-role", "--user", "promoted", "--role", "admin"],
    );
    assert!(ok);
    let (ok, _, _) = portal_cli_with(&app.database_url, Some(&app.redis.url()), &["reset-2fa", "--user", "promoted"]);
    assert!(ok);
    let (ok, _, _) =
        portal_cli_with(&app.database_url, Some(&app.redis.url()), &["suspend-user", "--user", "promoted"]);
    assert!(ok);
    let log = rows(&app).await;
    let summary: Vec<(&str, &str)> = log.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(summary, [("cli", "user.set_role"), ("cli", "user.reset_2fa"), ("cli", "user.suspend")]);
    assert!(log[0].3.contains(r#""role": "admin""#));
}
