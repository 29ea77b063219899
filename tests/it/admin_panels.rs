//! Admin panels: the overview, users (search, filters, pages, suspend, role, extension),
//! clients (list, revoke), and every admin route refused to a signed-in non-admin.
use crate::helpers::*;
use rocket::http::{ContentType, Method, Status};

async fn id_of(app: &TestApp, username: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1").bind(username).fetch_one(&app.pool).await.unwrap()
}

#[rocket::async_test]
async fn every_admin_route_refuses_a_signed_in_non_admin() {
    let app = TestApp::spawn().await;
    app.sign_up("nosy").await;
    let token = app.csrf("/dashboard").await;
    let routes: Vec<(Method, String)> = app
        .client
        .rocket()
        .routes()
        .filter(|r| r.uri.path().starts_with("/admin"))
        .map(|r| {
            let path = r.uri.path().to_string();
            let path = path
                .split('/')
                .map(|seg| match seg {
                    "<id>" if path.contains("payments") || path.contains("clients") => uuid::Uuid::nil().to_string(),
                    "<id>" => "1".to_owned(),
                    "<action>" => "paid".to_owned(),
                    other => other.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/");
            (r.method, path)
        })
        .collect();
    assert!(routes.len() >= 24, "the admin routes were found: {routes:?}");
    for (method, path) in routes {
        let body = form_encode(&[("_csrf", &token)]);
        let request = app.client.req(method, path.clone()).remote(app.ip);
        let r = if method == Method::Post {
            request.header(ContentType::Form).body(body).dispatch().await
        } else {
            request.dispatch().await
        };
        assert_eq!(r.status(), Status::Forbidden, "{method} {path}");
    }
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log").fetch_one(&app.pool).await.unwrap();
    assert_eq!(audited, 0, "nothing was changed");
}

#[rocket::async_test]
async fn the_overview_shows_the_business_at_a_glance() {
    let app = TestApp::spawn().await;
    app.create_admin("boss").await;
    app.sign_up("payer").await;
    let plan: i64 = sqlx::query_scalar(
        "INSERT INTO plans (name, price_cents, currency, period_days, max_clients) VALUES ('Pro', 1299, 'EUR', 30, 5) RETURNING id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let r = app
        .submit(
            "/billing",
            "/billing/checkout",
            &[("plan", &plan.to_string()), ("method", "manual"), ("idempotency_key", "o1")],
        )
        .await;
    let payment = location(&r).trim_start_matches("/billing/payments/").to_owned();
    drop(r);
    app.submit("/support", "/support/tickets", &[("subject", "Question"), ("category", "other"), ("body", "Hi")]).await;
    app.log_out().await;
    app.log_in("boss", PASSWORD).await;
    app.submit("/admin/payments", &format!("/admin/payments/{payment}/paid"), &[]).await;
    let (status, page) = app.page("/admin").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains(r#"<dd id="admin-users">2</dd>"#), "{page}");
    assert!(page.contains(r#"<dd id="admin-paying">1</dd>"#));
    assert!(page.contains("12.99 EUR"), "revenue this month");
    assert!(page.contains(r#"id="signups-chart""#) && page.contains(r#"id="revenue-chart""#), "two SVG charts");
    assert!(page.contains(r#"hx-trigger="every 30s""#), "refreshed by polling");
    let (status, fragment) = app.page("/admin/overview").await;
    assert_eq!(status, Status::Ok);
    assert!(fragment.starts_with(r#"<section id="admin-figures""#) && fragment.contains("admin-open-tickets"));
}

#[rocket::async_test]
async fn users_are_found_by_prefix_filtered_and_paged() {
    let app = TestApp::spawn().await;
    app.create_admin("finder").await;
    sqlx::query(
        "INSERT INTO users (username, email, password_hash) \
         SELECT 'alice' || lpad(g::text, 3, '0'), 'a' || g || '@example.com', 'x' FROM generate_series(1, 130) g \
         UNION ALL SELECT 'Bob_' || g, 'bob' || g || '@Corp.example', 'x' FROM generate_series(1, 3) g",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE users SET status = 'suspended' WHERE username IN ('alice007', 'Bob_2')")
        .execute(&app.pool)
        .await
        .unwrap();
    app.log_in("finder", PASSWORD).await;
    let names = |page: &str| -> Vec<String> {
        page.split("<a href=\"/admin/users/")
            .skip(1)
            .map(|s| s.split('>').nth(1).unwrap().split('<').next().unwrap().to_owned())
            .collect()
    };
    let mut seen = Vec::new();
    let mut next = "/admin/users?q=ALICE".to_owned();
    loop {
        let (status, page) = app.page(&next).await;
        assert_eq!(status, Status::Ok);
        seen.extend(names(&page));
        match page.split(r#"id="users-next" href=""#).nth(1) {
            Some(rest) => next = rest.split('"').next().unwrap().replace("&amp;", "&"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 130, "three pages, each user once");
    assert_eq!(seen.first().map(String::as_str), Some("alice001"));
    assert_eq!(seen.last().map(String::as_str), Some("alice130"));
    let (_, page) = app.page("/admin/users?q=bob2%40corp").await;
    assert_eq!(names(&page), ["Bob_2"], "an email prefix, any case");
    let (_, page) = app.page("/admin/users?q=b&status=suspended").await;
    assert_eq!(names(&page), ["Bob_2"]);
    let (_, page) = app.page("/admin/users?role=admin").await;
    assert_eq!(names(&page), ["finder"]);
    let (_, page) = app.page("/admin/users?q=al%25").await;
    assert!(names(&page).is_empty(), "LIKE wildcards are searched for literally");
    assert_eq!(app.page("/admin/users?status=deleted").await.0, Status::BadRequest);
}

#[rocket::async_test]
async fn suspension_role_and_a_manual_extension_from_the_user_page() {
    let app = TestApp::spawn().await;
    let (_, token) = app.add_node_with_token("panel-node", "vpn.panel.example", "10.72.0.0/24").await;
    app.create_admin("chief").await;
    app.sign_up("member").await;
    let client = app.create_client("member-phone", "wireguard").await;
    let member = id_of(&app, "member").await;
    // The member is signed in on another instance too.
    let other = app.another_instance().await;
    log_in_on(&other, "member", PASSWORD).await;
    let member_on_other = || async { other.get("/dashboard").dispatch().await.status() };
    assert_eq!(member_on_other().await, Status::Ok);
    let peers = || async {
        let r = app
            .client
            .get("/api/v1/node/peers")
            .header(rocket::http::Header::new("Authorization", format!("Bearer {token}")))
            .dispatch()
            .await;
        r.into_string().await.unwrap()
    };
    assert!(peers().await.contains(&client.to_string()));
    app.log_out().await;
    app.log_in("chief", PASSWORD).await;

    let (_, page) = app.page(&format!("/admin/users/{member}")).await;
    assert!(page.contains("member-phone") && page.contains(r#"id="user-status">active"#));
    let r = app
        .submit(&format!("/admin/users/{member}"), &format!("/admin/users/{member}/status"), &[("status", "suspended")])
        .await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    assert_eq!(member_on_other().await, Status::SeeOther, "signed out at once on the other instance");
    assert!(!peers().await.contains(&client.to_string()), "their clients leave the node");
    app.submit(&format!("/admin/users/{member}"), &format!("/admin/users/{member}/status"), &[("status", "active")])
        .await;
    assert!(peers().await.contains(&client.to_string()), "and come back");

    let r = app
        .submit(&format!("/admin/users/{member}"), &format!("/admin/users/{member}/role"), &[("role", "admin")])
        .await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let role: String =
        sqlx::query_scalar("SELECT role FROM users WHERE id = $1").bind(member).fetch_one(&app.pool).await.unwrap();
    assert_eq!(role, "admin");
    let me = id_of(&app, "chief").await;
    let r = app.submit(&format!("/admin/users/{me}"), &format!("/admin/users/{me}/role"), &[("role", "user")]).await;
    assert_eq!(r.status(), Status::Conflict, "no admin demotes themselves");
    drop(r);

    let plan: i64 = sqlx::query_scalar("SELECT id FROM plans WHERE free").fetch_one(&app.pool).await.unwrap();
    let r = app
        .submit(
            &format!("/admin/users/{member}"),
            &format!("/admin/users/{member}/extend"),
            &[("plan", &plan.to_string()), ("days", "0")],
        )
        .await;
    assert_eq!(r.status(), Status::UnprocessableEntity);
    drop(r);
    let r = app
        .submit(
            &format!("/admin/users/{member}"),
            &format!("/admin/users/{member}/extend"),
            &[("plan", &plan.to_string()), ("days", "45")],
        )
        .await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let days: f64 = sqlx::query_scalar(
        "SELECT (extract(epoch FROM current_period_end - now()) / 86400)::float8 FROM subscriptions",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!((44.9..45.1).contains(&days), "{days}");
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(actions, ["user.suspend", "user.reinstate", "user.set_role", "subscription.extend"]);

    // The clients panel lists it and an admin revokes it.
    let (_, list) = app.page("/admin/clients?status=active").await;
    assert!(list.contains("member-phone"));
    let r = app.submit("/admin/clients", &format!("/admin/clients/{client}/revoke"), &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    assert!(!peers().await.contains(&client.to_string()));
    let (_, revoked) = app.page("/admin/clients?status=revoked").await;
    assert!(revoked.contains("member-phone"));
    let r = app.submit("/admin/clients", &format!("/admin/clients/{client}/revoke"), &[]).await;
    assert_eq!(r.status(), Status::BadRequest, "revoked already");
}
