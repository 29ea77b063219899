//! Nodes: the admin page, the CLI, and the files a node runs with.
use crate::helpers::*;
use rocket::http::Status;

#[rocket::async_test]
async fn an_admin_adds_nodes_and_bad_ones_are_refused() {
    let app = TestApp::spawn().await;
    app.create_admin("node_admin").await;
    app.log_in("node_admin", PASSWORD).await;
    let (_, before) = app.page("/dashboard").await; // caches the server choices
    assert!(!before.contains("Frankfurt"));
    let good = [
        ("name", "fra-1"),
        ("region", "Frankfurt"),
        ("host", "fra1.vpn.example"),
        ("address_pool", "10.70.0.0/24"),
        ("wireguard_port", "51820"),
        ("openvpn_port", "1194"),
        ("phazevpn_port", "443"),
        ("protocols", "wireguard"),
        ("protocols", "phazevpn"),
        ("dns", "1.1.1.1"),
        ("wg_public_key", ""),
    ];
    let r = app.submit("/admin/nodes", "/admin/nodes", &good).await;
    assert_eq!(r.status(), Status::Ok, "the answer itself shows the token, once");
    let body = r.into_string().await.unwrap();
    let token = body.split("id=\"new-node-token\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM nodes").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored, phaze_portal::auth::tokens::hash_token(&token), "only its SHA-256 is stored");
    let (_, dashboard) = app.page("/dashboard").await;
    assert!(dashboard.contains("fra-1 — Frankfurt"), "the cached server choices moved on");
    let (_, page) = app.page("/admin/nodes").await;
    assert!(page.contains("fra1.vpn.example") && page.contains("wireguard, phazevpn"));
    let sealed: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT wg_private_key_sealed FROM nodes").fetch_one(&app.pool).await.unwrap();
    assert!(sealed.is_some(), "the portal made the node's key pair and sealed the private key");

    let with = |field: &'static str, value: &'static str| {
        good.iter().map(|(k, v)| if *k == field { (*k, value) } else { (*k, *v) }).collect::<Vec<_>>()
    };
    let cases = [
        (with("name", "fra-2"), "This pool overlaps another node"),
        (with("address_pool", "10.72.0.0/24"), "A node has this name."),
        (with("address_pool", "10.71.0.1/24"), "Give an IPv4 network"),
        (with("host", "bad host!"), "Give the node's public host name"),
        (with("wg_public_key", "short"), "A WireGuard public key is 44 characters"),
        (with("wireguard_port", "70000"), "This field is missing or is not valid text."),
        (with("protocols", "ipsec"), "Choose at least one of"),
    ];
    for (fields, message) in &cases {
        let r = app.submit("/admin/nodes", "/admin/nodes", fields).await;
        assert_eq!(r.status(), Status::UnprocessableEntity, "{message}");
        assert!(r.into_string().await.unwrap().contains(message), "{message}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM nodes").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1);

    app.log_out().await;
    app.sign_up("not_admin").await;
    assert_eq!(app.get("/admin/nodes").await.status(), Status::Forbidden);
    let sneaky = [("name", "sneaky"), ("address_pool", "10.73.0.0/24")];
    let fields: Vec<_> =
        good.iter().map(|(k, v)| sneaky.iter().find(|(s, _)| s == k).map_or((*k, *v), |s| *s)).collect();
    let r = app.submit("/dashboard", "/admin/nodes", &fields).await;
    assert_eq!(r.status(), Status::Forbidden);
    drop(r);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM nodes").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1, "the refused attempt added nothing");
}

#[rocket::async_test]
async fn node_config_writes_the_nodes_files_readable_by_root_only() {
    use std::os::unix::fs::PermissionsExt;
    let database_url = fresh_database().await;
    let bin = env!("CARGO_BIN_EXE_phaze-portal");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DATABASE_URL", &database_url)
            .output()
            .unwrap()
    };
    let out = run(&["seed-demo"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Demo node demo-local"));
    let out = run(&[
        "add-node",
        "--name",
        "ams-1",
        "--region",
        "Amsterdam",
        "--host",
        "ams.example",
        "--pool",
        "10.66.0.0/16",
    ]);
    assert!(!out.status.success(), "overlaps the demo node's pool");
    assert!(String::from_utf8_lossy(&out.stderr).contains("overlaps"));
    let dir = std::env::temp_dir().join(format!("phaze-node-{}", uuid::Uuid::new_v4().simple()));
    let out = run(&["node-config", "--node", "demo-local", "--out", &dir.display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["wg0.conf", "server.conf", "ca.crt", "server.crt", "server.key", "tls-crypt.key", "crl.pem"] {
        let meta = std::fs::metadata(dir.join(name)).unwrap_or_else(|_| panic!("{name} written"));
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
    }
    let wg0 = std::fs::read_to_string(dir.join("wg0.conf")).unwrap();
    assert!(wg0.contains("Address = 10.66.0.1/24") && wg0.contains("ListenPort = 51820"));
    let server = std::fs::read_to_string(dir.join("server.conf")).unwrap();
    assert!(server.contains("server 10.66.0.128 255.255.255.128") && server.contains("crl-verify crl.pem"));
    let _ = std::fs::remove_dir_all(&dir);
}
