//! VPN clients through the web: create, download, QR, rename, revoke, limits and bad input.
use crate::helpers::*;
use rocket::http::{ContentType, Header, Status};
use std::process::Command;

async fn app_with_node() -> TestApp {
    let app = TestApp::spawn().await;
    app.add_node("test-node", "vpn.test.example", "10.90.0.0/24").await;
    app
}

/// Runs openssl; it must succeed (a failed check is never read as output).
fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().expect("openssl is installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openssl {args:?} failed: {text}");
    text
}

#[rocket::async_test]
async fn wireguard_client_downloads_a_complete_config_with_qr() {
    let app = app_with_node().await;
    app.sign_up("wg_user").await;
    let id = app.create_client("laptop", "wireguard").await;
    let (status, disposition, content_type, conf) = app.download(id).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(disposition.as_deref(), Some("attachment; filename=\"laptop.conf\""));
    assert_eq!(content_type.as_deref(), Some("text/plain"));
    let node_key: String = sqlx::query_scalar("SELECT wg_public_key FROM nodes").fetch_one(&app.pool).await.unwrap();
    for line in [
        "Address = 10.90.0.2/32",
        "DNS = 9.9.9.9",
        &format!("PublicKey = {node_key}"),
        "Endpoint = vpn.test.example:51820",
        "AllowedIPs = 0.0.0.0/0, ::/0",
        "PersistentKeepalive = 25",
    ] {
        assert!(conf.lines().any(|l| l == line), "{line} in {conf}");
    }
    let private = conf.lines().find_map(|l| l.strip_prefix("PrivateKey = ")).unwrap();
    let public: String = sqlx::query_scalar("SELECT public_key FROM clients").fetch_one(&app.pool).await.unwrap();
    assert_eq!(phaze_portal::vpn::keys::public_of(private).unwrap(), public, "the stored public key is the config's");

    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT private_key_sealed FROM clients").fetch_one(&app.pool).await.unwrap();
    let raw = phaze_portal::vpn::keys::decode(private).unwrap();
    assert!(!sealed.windows(private.len()).any(|w| w == private.as_bytes()), "not stored in clear");
    assert!(!sealed.windows(32).any(|w| w == raw));

    let (status, page) = app.page(&format!("/clients/{id}")).await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains(r#"<figure id="client-qr"><svg"#), "QR code inline");
    assert!(page.contains("10.90.0.2"));
}

#[rocket::async_test]
async fn openvpn_client_gets_an_ovpn_whose_cert_the_ca_verifies() {
    let app = app_with_node().await;
    app.sign_up("ovpn_user").await;
    let id = app.create_client("phone-1", "openvpn").await;
    let (status, disposition, content_type, ovpn) = app.download(id).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(disposition.as_deref(), Some("attachment; filename=\"phone-1.ovpn\""));
    assert_eq!(content_type.as_deref(), Some("application/x-openvpn-profile"));
    assert!(ovpn.contains("remote vpn.test.example 1194"));
    let dir = tempdir();
    for (tag, file) in [("ca", "ca.pem"), ("cert", "cert.pem"), ("key", "key.pem"), ("tls-crypt", "tc.key")] {
        std::fs::write(dir.join(file), inline_block(&ovpn, tag)).unwrap();
    }
    let ca = dir.join("ca.pem").display().to_string();
    let cert = dir.join("cert.pem").display().to_string();
    assert!(openssl(&["verify", "-CAfile", &ca, &cert]).contains(": OK"));
    let text = openssl(&["x509", "-in", &cert, "-noout", "-subject", "-ext", "extendedKeyUsage,keyUsage", "-enddate"]);
    assert!(text.contains(&format!("CN = {id}")) || text.contains(&format!("CN={id}")), "{text}");
    assert!(text.contains("TLS Web Client Authentication") && !text.contains("Server Authentication"), "{text}");
    let key = dir.join("key.pem").display().to_string();
    let cert_pub = openssl(&["x509", "-in", &cert, "-noout", "-pubkey"]);
    let key_pub = openssl(&["pkey", "-in", &key, "-pubout"]);
    assert_eq!(cert_pub, key_pub, "the key belongs to the certificate");
    assert!(inline_block(&ovpn, "tls-crypt").starts_with("-----BEGIN OpenVPN Static key V1-----"));
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT private_key_sealed FROM clients").fetch_one(&app.pool).await.unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("PRIVATE KEY"), "key sealed at rest");
    let ca_sealed: Vec<u8> = sqlx::query_scalar("SELECT ca_key_sealed FROM pki").fetch_one(&app.pool).await.unwrap();
    assert!(!String::from_utf8_lossy(&ca_sealed).contains("PRIVATE KEY"), "CA key sealed at rest");
}

#[rocket::async_test]
async fn phazevpn_profile_matches_its_schema_and_round_trips_through_its_uri() {
    let app = app_with_node().await;
    app.sign_up("phaze_user").await;
    let id = app.create_client("tablet", "phazevpn").await;
    let (status, disposition, content_type, json) = app.download(id).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(disposition.as_deref(), Some("attachment; filename=\"tablet.phazevpn.json\""));
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let profile: serde_json::Value = serde_json::from_str(&json).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("docs/phazevpn-profile.schema.json").unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&profile).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(profile["client_id"], id.to_string());
    let private = profile["client_private_key"].as_str().unwrap();
    assert_eq!(phaze_portal::vpn::keys::public_of(private).unwrap(), profile["client_public_key"].as_str().unwrap());
    assert!(!validator.is_valid(&serde_json::json!({"version": 2})), "the schema rejects what it should");

    let (_, page) = app.page(&format!("/clients/{id}")).await;
    assert!(page.contains(r#"<figure id="client-qr"><svg"#));
    let start = page.find(r#"<code id="client-uri">"#).unwrap() + r#"<code id="client-uri">"#.len();
    let uri = &page[start..start + page[start..].find('<').unwrap()];
    let decoded = phaze_portal::vpn::phazevpn::Profile::from_uri(uri).unwrap();
    assert_eq!(decoded.client_private_key, private);
    assert_eq!(decoded.client_id, id.to_string());
    assert_eq!(decoded.address, profile["address"].as_str().unwrap());
}

#[rocket::async_test]
async fn htmx_create_swaps_the_client_list_and_without_js_it_redirects() {
    let app = app_with_node().await;
    app.sign_up("htmx_clients").await;
    let token = app.csrf("/dashboard").await;
    let r = app
        .client
        .post("/clients")
        .header(ContentType::Form)
        .header(Header::new("HX-Request", "true"))
        .header(Header::new("X-CSRF-Token", token.clone()))
        .body(form_encode(&[("name", "desk"), ("protocol", "wireguard"), ("node", "")]))
        .dispatch()
        .await;
    assert_eq!(r.status(), Status::Ok);
    let fragment = r.into_string().await.unwrap();
    assert!(fragment.starts_with(r#"<section id="clients">"#), "a fragment, not a page");
    assert!(fragment.contains(">desk</a>") && fragment.contains("1 of 5 active clients"));
    let r = app
        .client
        .post("/clients")
        .header(ContentType::Form)
        .header(Header::new("HX-Request", "true"))
        .header(Header::new("X-CSRF-Token", token))
        .body(form_encode(&[("name", "desk"), ("protocol", "wireguard")]))
        .dispatch()
        .await;
    assert_eq!(r.status(), Status::UnprocessableEntity);
    let fragment = r.into_string().await.unwrap();
    assert!(fragment.contains("You already have a client with this name."));
    assert!(fragment.starts_with(r#"<section id="clients">"#));
}

#[rocket::async_test]
async fn fifty_concurrent_creates_make_exactly_five_clients() {
    // The hourly change limit is raised here: this is about the row lock, not the rate limit.
    let app = TestApp::spawn_with(|f| f.merge(("client_changes_per_hour", 1000))).await;
    app.add_node("test-node", "vpn.test.example", "10.90.0.0/24").await;
    app.sign_up("racer").await;
    let token = app.csrf("/dashboard").await;
    let attempts = (0..50).map(|n| {
        let body = form_encode(&[("_csrf", &token), ("name", &format!("device-{n}")), ("protocol", "wireguard")]);
        app.client.post("/clients").header(ContentType::Form).body(body).dispatch()
    });
    let statuses: Vec<Status> = rocket::futures::future::join_all(attempts).await.iter().map(|r| r.status()).collect();
    let created = statuses.iter().filter(|s| **s == Status::SeeOther).count();
    assert_eq!(created, 5, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == Status::SeeOther || *s == Status::UnprocessableEntity), "{statuses:?}");
    let (count, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT address) FROM clients").fetch_one(&app.pool).await.unwrap();
    assert_eq!((count, distinct), (5, 5), "five clients, five different addresses");
    let (_, page) = app.page("/dashboard").await;
    assert!(page.contains("5 of 5 active clients"));
}

#[rocket::async_test]
async fn addresses_are_unique_across_users_under_concurrency() {
    let app = app_with_node().await;
    let mut users = Vec::new();
    for n in 0..4 {
        let c = app.another_instance().await;
        let page = c.get("/signup").dispatch().await.into_string().await.unwrap();
        let body = form_encode(&[
            ("_csrf", &csrf_in(&page).unwrap()),
            ("username", &format!("addr_user{n}")),
            ("email", &format!("addr{n}@example.com")),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ]);
        c.post("/signup").remote(random_loopback()).header(ContentType::Form).body(body).dispatch().await;
        users.push(c);
    }
    sqlx::query("UPDATE users SET email_verified_at = now()").execute(&app.pool).await.unwrap();
    let mut attempts = Vec::new();
    for (u, c) in users.iter().enumerate() {
        let page = c.get("/dashboard").dispatch().await.into_string().await.unwrap();
        let token = csrf_in(&page).unwrap();
        for n in 0..3 {
            let body = form_encode(&[("_csrf", &token), ("name", &format!("u{u}-dev{n}")), ("protocol", "phazevpn")]);
            attempts.push(c.post("/clients").header(ContentType::Form).body(body).dispatch());
        }
    }
    let statuses: Vec<Status> = rocket::futures::future::join_all(attempts).await.iter().map(|r| r.status()).collect();
    assert!(statuses.iter().all(|s| *s == Status::SeeOther), "{statuses:?}");
    let (count, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT address) FROM clients").fetch_one(&app.pool).await.unwrap();
    assert_eq!((count, distinct), (12, 12));
}

#[rocket::async_test]
async fn rename_then_revoke_with_confirmation_keeps_the_client_listed() {
    let app = app_with_node().await;
    app.sign_up("reviser").await;
    let id = app.create_client("old-name", "openvpn").await;
    let r = app.submit(&format!("/clients/{id}"), &format!("/clients/{id}/rename"), &[("name", "new-name")]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let (_, page) = app.page(&format!("/clients/{id}")).await;
    assert!(page.contains("<h1>new-name</h1>"));

    let (status, confirm) = app.page(&format!("/clients/{id}/revoke")).await;
    assert_eq!(status, Status::Ok);
    assert!(confirm.contains("Revoke new-name?"));
    let r = app.submit(&format!("/clients/{id}/revoke"), &format!("/clients/{id}/revoke"), &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let (_, dashboard) = app.page("/dashboard").await;
    assert!(dashboard.contains(r#"<tr data-status="revoked">"#), "still listed, as revoked");
    let (status, _, _, _) = app.download(id).await;
    assert_eq!(status, Status::Conflict, "no config for a revoked client");
    let token = app.csrf("/dashboard").await;
    let again = app.post_raw(&format!("/clients/{id}/revoke"), form_encode(&[("_csrf", &token)])).await;
    assert_eq!(again.status(), Status::Conflict, "revoking twice");
    drop(again);
    let rename =
        app.post_raw(&format!("/clients/{id}/rename"), form_encode(&[("_csrf", &token), ("name", "zombie")])).await;
    assert_eq!(rename.status(), Status::Conflict);
    drop(rename);
    let row: (String, String) = sqlx::query_as("SELECT name, status FROM clients").fetch_one(&app.pool).await.unwrap();
    assert_eq!(row, ("new-name".into(), "revoked".into()));

    let portal = app.client.rocket().state::<phaze_portal::state::Portal>().unwrap();
    let (_, crl) = phaze_portal::domain::pki::crl_pem(&app.pool, &portal.pki).await.unwrap();
    let dir = tempdir();
    std::fs::write(dir.join("crl.pem"), crl).unwrap();
    let serial: String = sqlx::query_scalar("SELECT cert_serial FROM clients").fetch_one(&app.pool).await.unwrap();
    let text = openssl(&["crl", "-in", &dir.join("crl.pem").display().to_string(), "-noout", "-text"]);
    assert!(text.contains(&serial), "the revoked certificate is on the CRL: {text}");
}

#[rocket::async_test]
async fn a_revoked_address_returns_to_the_pool_only_after_the_grace_period() {
    let app = app_with_node().await;
    app.sign_up("recycler").await;
    let first = app.create_client("first", "wireguard").await;
    let r = app.submit("/dashboard", &format!("/clients/{first}/revoke"), &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    app.create_client("second", "wireguard").await;
    let addresses: Vec<Option<String>> =
        sqlx::query_scalar("SELECT address FROM clients ORDER BY created_at").fetch_all(&app.pool).await.unwrap();
    assert_eq!(addresses, vec![Some("10.90.0.2".into()), Some("10.90.0.3".into())], "held during the grace period");
    sqlx::query("UPDATE clients SET revoked_at = now() - interval '25 hours' WHERE id = $1")
        .bind(first)
        .execute(&app.pool)
        .await
        .unwrap();
    let address_of = |name: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT address FROM clients WHERE name = $1")
                .bind(name)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // Addresses are handed out upwards; .2 waits until the pool's top is reached.
    app.create_client("third", "wireguard").await;
    assert_eq!(address_of("third").await, "10.90.0.4");
    sqlx::query("UPDATE clients SET address = '10.90.0.127' WHERE name = 'third'").execute(&app.pool).await.unwrap();
    app.create_client("fourth", "wireguard").await;
    assert_eq!(address_of("fourth").await, "10.90.0.2", "released after the grace period, used again at the top");
    app.create_client("fifth", "wireguard").await;
    assert_eq!(address_of("fifth").await, "10.90.0.4", "then the next gap");
}

#[rocket::async_test]
async fn bad_client_input_gets_4xx_and_changes_nothing() {
    let app = app_with_node().await;
    app.sign_up("owner").await;
    let mine = app.create_client("mine", "wireguard").await;
    let token = app.csrf("/dashboard").await;
    let long = "x".repeat(51);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("name", "pc"), ("protocol", "wireguard")], "Use 3 to 50"),
        (vec![("name", &long), ("protocol", "wireguard")], "Use 3 to 50"),
        (vec![("name", "has space"), ("protocol", "wireguard")], "Use 3 to 50"),
        (vec![("name", "nul\0byte"), ("protocol", "wireguard")], "Use 3 to 50"),
        (vec![("name", "good-name"), ("protocol", "ipsec")], "Choose WireGuard, OpenVPN or PhazeVPN."),
        (vec![("name", "MINE"), ("protocol", "openvpn")], "You already have a client with this name."),
        (vec![("name", "good-name"), ("protocol", "wireguard"), ("node", "99999")], "Choose a server from the list."),
        (vec![("name", "good-name"), ("protocol", "wireguard"), ("node", "abc")], "Choose a server from the list."),
        (vec![], "Use 3 to 50"),
    ];
    for (fields, message) in &cases {
        let mut all = vec![("_csrf", token.as_str())];
        all.extend(fields.iter().copied());
        let r = app.post_raw("/clients", form_encode(&all)).await;
        assert_eq!(r.status(), Status::UnprocessableEntity, "{fields:?}");
        let body = r.into_string().await.unwrap();
        assert!(body.contains(message), "{fields:?}: {message}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM clients").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1);

    // Someone else's client is not found, whatever is asked of it.
    app.log_out().await;
    app.sign_up("intruder").await;
    let token = app.csrf("/dashboard").await;
    for path in [format!("/clients/{mine}"), format!("/clients/{mine}/config"), format!("/clients/{mine}/revoke")] {
        assert_eq!(app.get(&path).await.status(), Status::NotFound, "{path}");
    }
    let r = app.post_raw(&format!("/clients/{mine}/revoke"), form_encode(&[("_csrf", &token)])).await;
    assert_eq!(r.status(), Status::NotFound);
    drop(r);
    let r =
        app.post_raw(&format!("/clients/{mine}/rename"), form_encode(&[("_csrf", &token), ("name", "stolen")])).await;
    assert_eq!(r.status(), Status::NotFound);
    drop(r);
    let malformed = app.get("/clients/not-a-uuid").await.status();
    assert!((400..500).contains(&malformed.code), "{malformed}");
    let row: (String, String) = sqlx::query_as("SELECT name, status FROM clients").fetch_one(&app.pool).await.unwrap();
    assert_eq!(row, ("mine".into(), "active".into()));
}

#[rocket::async_test]
async fn revoke_and_create_cycles_cannot_hoard_a_nodes_addresses() {
    let app = TestApp::spawn_with(|f| f.merge(("client_changes_per_hour", 9))).await;
    app.set_free_plan_clients(2).await;
    app.add_node("test-node", "vpn.test.example", "10.90.0.0/24").await;
    app.sign_up("hoarder").await;
    // Two active and two revoked (still holding their addresses) reach the quota of 2 x 2.
    for round in 0..2 {
        let a = app.create_client(&format!("cycle-a{round}"), "wireguard").await;
        app.create_client(&format!("cycle-b{round}"), "wireguard").await;
        if round == 0 {
            for id in [a] {
                let r = app.submit("/dashboard", &format!("/clients/{id}/revoke"), &[]).await;
                assert_eq!(r.status(), Status::SeeOther);
            }
            let b: uuid::Uuid = sqlx::query_scalar("SELECT id FROM clients WHERE name = 'cycle-b0'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
            let r = app.submit("/dashboard", &format!("/clients/{b}/revoke"), &[]).await;
            assert_eq!(r.status(), Status::SeeOther);
        }
    }
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM clients WHERE address IS NOT NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(held, 4);
    let one: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM clients WHERE name = 'cycle-a1'").fetch_one(&app.pool).await.unwrap();
    let r = app.submit("/dashboard", &format!("/clients/{one}/revoke"), &[]).await;
    assert_eq!(r.status(), Status::SeeOther, "the seventh change");
    drop(r);
    let r = app.submit("/dashboard", "/clients", &[("name", "cycle-c"), ("protocol", "wireguard"), ("node", "")]).await;
    assert_eq!(r.status(), Status::UnprocessableEntity);
    assert!(r.into_string().await.unwrap().contains("still hold their addresses"));
    // Past the grace period the addresses come back and so does the room.
    sqlx::query("UPDATE clients SET revoked_at = now() - interval '25 hours' WHERE status = 'revoked'")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app.submit("/dashboard", "/clients", &[("name", "cycle-d"), ("protocol", "wireguard"), ("node", "")]).await;
    assert_eq!(r.status(), Status::SeeOther, "the ninth change");
    drop(r);
    // The hourly limit on changes (9 here) holds too.
    let r = app.submit("/dashboard", "/clients", &[("name", "cycle-e"), ("protocol", "wireguard"), ("node", "")]).await;
    assert_eq!(r.status(), Status::TooManyRequests);
}

#[rocket::async_test]
async fn concurrent_creates_on_three_instances_make_exactly_five_clients() {
    // Each instance lets one creation of a user at a time into PostgreSQL; across instances the
    // user's row lock and the limit check in the insert itself hold the line.
    let app = TestApp::spawn_with(|f| f.merge(("client_changes_per_hour", 1000))).await;
    app.add_node("test-node", "vpn.test.example", "10.90.0.0/24").await;
    app.sign_up("multi_racer").await;
    let token = app.csrf("/dashboard").await;
    let session = rocket::http::Cookie::new(phaze_portal::auth::SESSION_COOKIE, app.session_cookie().unwrap());
    let instances = [app.another_instance().await, app.another_instance().await, app.another_instance().await];
    let attempts = instances.iter().flat_map(|c| {
        let (token, session) = (token.clone(), session.clone());
        // 27 attempts: under the default 30 changes an hour the other instances allow.
        (0..9).map(move |n| {
            let body = form_encode(&[
                ("_csrf", &token),
                ("name", &format!("d-{n}-{}", rand_suffix())),
                ("protocol", "wireguard"),
            ]);
            c.post("/clients").cookie(session.clone()).header(ContentType::Form).body(body).dispatch()
        })
    });
    let statuses: Vec<Status> = rocket::futures::future::join_all(attempts).await.iter().map(|r| r.status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == Status::SeeOther).count(), 5, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == Status::SeeOther || *s == Status::UnprocessableEntity), "{statuses:?}");
    let (count, distinct, counted): (i64, i64, i32) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT address), (SELECT active_clients FROM users WHERE username = 'multi_racer') \
         FROM clients",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((count, distinct, counted), (5, 5, 5), "five clients, five addresses, and the kept count agrees");
}

fn rand_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}
