//! Redis is not trusted for identity or markup: what the portal reads back must carry its own
//! signature, and its keys stay inside the portal's namespace.
use crate::helpers::*;
use rocket::http::Status;

async fn keys(app: &TestApp, pattern: &str) -> Vec<String> {
    match app.redis.command(&["KEYS", pattern]).await {
        redis::Value::Array(keys) => keys
            .into_iter()
            .map(|k| match k {
                redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

async fn get(app: &TestApp, key: &str) -> String {
    match app.redis.command(&["GET", key]).await {
        redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[rocket::async_test]
async fn a_session_rewritten_in_redis_is_refused_and_postgres_decides() {
    let app = TestApp::spawn().await;
    app.sign_up("plain_user").await;
    assert_eq!(app.get("/admin").await.status(), Status::Forbidden);
    let session_keys = keys(&app, "phaze:sess:*").await;
    assert_eq!(session_keys.len(), 1);
    let stored = get(&app, &session_keys[0]).await;
    assert!(stored.contains("\"role\":\"user\""));
    // Someone with write access to Redis makes the cached session an admin's, tag and all kept...
    app.redis.command(&["SET", &session_keys[0], &stored.replace("\"role\":\"user\"", "\"role\":\"admin\"")]).await;
    assert_eq!(app.get("/admin").await.status(), Status::Forbidden, "the forged role is not believed");
    // ...or writes bare JSON without a tag.
    let bare = stored[64..].replace("\"role\":\"user\"", "\"role\":\"admin\"");
    app.redis.command(&["SET", &session_keys[0], &bare]).await;
    assert_eq!(app.get("/admin").await.status(), Status::Forbidden);
    assert!(get(&app, &session_keys[0]).await.contains("\"role\":\"user\""), "the real session was cached again");
    assert_eq!(app.get("/dashboard").await.status(), Status::Ok, "and the user is still signed in");
}

#[rocket::async_test]
async fn a_fragment_planted_in_redis_is_never_served() {
    let app = TestApp::spawn().await;
    app.sign_up("planted").await;
    let (_, first) = app.page("/dashboard").await;
    assert!(first.contains("planted@example.com"));
    let fragment_keys = keys(&app, "phaze:frag:account_summary:*").await;
    assert_eq!(fragment_keys.len(), 1);
    app.redis.command(&["SET", &fragment_keys[0], "<script>alert('owned')</script>"]).await;
    let (_, page) = app.page("/dashboard").await;
    assert!(!page.contains("alert('owned')"), "unsigned markup is not inserted");
    assert!(page.contains("planted@example.com"), "the summary is rendered again instead");
}

#[rocket::async_test]
async fn every_key_is_inside_the_configured_namespace() {
    let app = TestApp::spawn_with(|f| f.merge(("redis_namespace", "tenant-a"))).await;
    app.add_node("ns-node", "vpn.example", "10.99.0.0/24").await;
    app.sign_up("spaced").await;
    app.create_client("ns-phone", "wireguard").await;
    app.page("/dashboard").await;
    assert_eq!(keys(&app, "tenant-a:sess:*").await.len(), 1);
    app.log_out().await;
    app.log_in("nobody", "wrong-password-123").await;
    let all = keys(&app, "*").await;
    assert!(all.len() >= 5, "{all:?}");
    assert!(all.iter().all(|k| k.starts_with("tenant-a:")), "{all:?}");
    for kind in ["frag", "gen", "rl"] {
        assert!(all.iter().any(|k| k.starts_with(&format!("tenant-a:{kind}:"))), "{kind}: {all:?}");
    }
}
