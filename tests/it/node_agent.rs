//! The node agent against the real `phaze-portal serve`: peers with ETag over HTTP, events that
//! survive the portal going down, and the CLI that bootstraps a node.
use crate::helpers::*;
use phaze_portal::agent::{AgentError, NodeAgent, Poll};
use sqlx::PgPool;
use uuid::Uuid;

/// A user with `n` WireGuard clients on the node, written straight into the tables.
async fn clients_on(pool: &PgPool, node: &str, n: u8) -> Vec<Uuid> {
    let user: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, email, password_hash) VALUES ('agent_user', 'agent@example.com', 'x') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let node_id: i64 =
        sqlx::query_scalar("SELECT id FROM nodes WHERE name = $1").bind(node).fetch_one(pool).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO clients (id, user_id, node_id, name, protocol, public_key, private_key_sealed, address) \
             VALUES ($1, $2, $3, $4, 'wireguard', $5, '\\x00', $6)",
        )
        .bind(id)
        .bind(user)
        .bind(node_id)
        .bind(format!("device-{i}"))
        .bind(format!("{:0>43}=", i))
        .bind(format!("10.98.0.{}", i + 2))
        .execute(pool)
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

fn token_in(env_file: &str) -> String {
    env_file.lines().find_map(|l| l.strip_prefix("NODE_TOKEN=")).unwrap().to_owned()
}

#[rocket::async_test]
async fn the_agent_buffers_while_the_portal_is_down_then_resends_nothing_lost_or_doubled() {
    let database_url = fresh_database().await;
    let server = ServerProcess::start_with(&database_url, &[]).await;
    let (ok, out, err) = portal_cli(
        &database_url,
        &["add-node", "--name", "agent-node", "--region", "Test", "--host", "vpn.example", "--pool", "10.98.0.0/24"],
    );
    assert!(ok, "{err}");
    let first_token = out.lines().skip_while(|l| !l.contains("shown only this once")).nth(1).unwrap().trim().to_owned();
    assert_eq!(first_token.len(), 43, "add-node prints the token: {out}");

    // node-config bootstraps the node: its files, ccd/, and agent.env with a fresh token.
    let dir = std::env::temp_dir().join(format!("phaze-agent-{}", Uuid::new_v4().simple()));
    let (ok, _, err) = portal_cli(
        &database_url,
        &[
            "node-config",
            "--node",
            "agent-node",
            "--out",
            dir.to_str().unwrap(),
            "--portal-url",
            &server.url(""),
            "--new-token",
        ],
    );
    assert!(ok, "{err}");
    let settings = std::fs::read_to_string(dir.join("agent.env")).unwrap();
    assert!(settings.contains(&format!("PORTAL_URL={}", server.url(""))) && settings.contains("POLL_SECS=30"));
    assert!(dir.join("ccd").is_dir());
    let token = token_in(&settings);
    let _ = std::fs::remove_dir_all(&dir);
    let mut stale = NodeAgent::new(&server.url(""), &first_token);
    assert!(
        matches!(stale.poll_peers().await, Err(AgentError::Refused { status: 401, .. })),
        "--new-token rotated the first token away"
    );

    let pool = PgPool::connect(&database_url).await.unwrap();
    let clients = clients_on(&pool, "agent-node", 3).await;
    let mut agent = NodeAgent::new(&server.url(""), &token);
    let Poll::Changed(peers) = agent.poll_peers().await.unwrap() else { panic!("the first poll has a list") };
    assert_eq!(peers["wireguard"].as_array().unwrap().len(), 3);
    assert!(matches!(agent.poll_peers().await.unwrap(), Poll::Unchanged), "304 with the ETag");

    for (i, c) in clients.iter().enumerate() {
        agent.connect(*c, &format!("203.0.113.{}:5000", i + 1));
        agent.usage(*c, 1000, 100);
    }
    let answer = agent.flush().await.unwrap().unwrap();
    assert_eq!(answer["acked_seq"], 6);

    // The portal goes down: the agent keeps its events.
    let port = server.port;
    server.stop();
    for c in &clients {
        agent.usage(*c, 2000, 200);
        agent.disconnect(*c, 3000, 300);
    }
    assert!(matches!(agent.flush().await, Err(AgentError::Unreachable(_))));
    assert_eq!(agent.pending(), 6, "nothing dropped while the portal is away");

    // Back up (another process, a fresh Redis): everything arrives once.
    let server = ServerProcess::start_on(port, &database_url, &[]).await;
    let answer = agent.flush().await.unwrap().unwrap();
    assert_eq!((answer["acked_seq"].as_i64(), answer["stored"].as_i64()), (Some(12), Some(6)));
    assert_eq!(agent.pending(), 0);
    // A node that lost the answer and replays its whole log changes nothing.
    let mut replay = NodeAgent::new(&server.url(""), &token);
    for c in &clients {
        replay.connect(*c, "203.0.113.9:5000");
        replay.usage(*c, 9999, 999);
    }
    let answer = replay.flush().await.unwrap().unwrap();
    assert_eq!((answer["stored"].as_i64(), answer["duplicates"].as_i64()), (Some(0), Some(6)));

    let totals: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT sum(rx_bytes)::bigint, sum(tx_bytes)::bigint FROM usage_daily GROUP BY client_id ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(totals, vec![(3000, 300); 3], "each client counted exactly once");
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM connection_sessions WHERE ended_at IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(open, 0);
    assert!(agent.crl().await.unwrap().starts_with("-----BEGIN X509 CRL-----"));
    drop(server);
}

#[rocket::async_test]
async fn operators_set_limits_and_suspend_users_from_the_cli() {
    let database_url = fresh_database().await;
    let (ok, _, err) = portal_cli(&database_url, &["migrate"]);
    assert!(ok, "{err}");
    let pool = PgPool::connect(&database_url).await.unwrap();
    sqlx::query("INSERT INTO users (username, email, password_hash) VALUES ('cli_user', 'cli@example.com', 'x')")
        .execute(&pool)
        .await
        .unwrap();
    let limit = || async {
        let l: Option<i64> = sqlx::query_scalar("SELECT data_limit_bytes FROM users").fetch_one(&pool).await.unwrap();
        l
    };
    let (ok, out, _) = portal_cli(&database_url, &["set-data-limit", "--user", "cli_user", "--limit", "50GB"]);
    assert!(ok && out.contains("50000000000"));
    assert_eq!(limit().await, Some(50_000_000_000));
    let (ok, _, err) = portal_cli(&database_url, &["set-data-limit", "--user", "cli_user", "--limit", "lots"]);
    assert!(!ok && err.contains("unknown unit"), "{err}");
    assert_eq!(limit().await, Some(50_000_000_000), "a bad limit changes nothing");
    let (ok, _, _) = portal_cli(&database_url, &["set-data-limit", "--user", "cli_user", "--limit", "unlimited"]);
    assert!(ok);
    assert_eq!(limit().await, None);
    let (ok, _, err) = portal_cli(&database_url, &["suspend-user", "--user", "nobody"]);
    assert!(!ok && err.contains("no user nobody"));
    let (ok, _, _) = portal_cli(&database_url, &["suspend-user", "--user", "cli_user"]);
    assert!(ok);
    let status: String = sqlx::query_scalar("SELECT status FROM users").fetch_one(&pool).await.unwrap();
    assert_eq!(status, "suspended");
    let (ok, _, _) = portal_cli(&database_url, &["reinstate-user", "--user", "cli_user"]);
    assert!(ok);
    let status: String = sqlx::query_scalar("SELECT status FROM users").fetch_one(&pool).await.unwrap();
    assert_eq!(status, "active");
    let (ok, _, err) = portal_cli(&database_url, &["set-role", "--user", "cli_user", "--role", "root"]);
    assert!(!ok && err.contains("admin or user"), "{err}");
    let (ok, out, _) = portal_cli(&database_url, &["set-role", "--user", "cli_user", "--role", "admin"]);
    assert!(ok && out.contains("cli_user is now admin"));
    let role: String = sqlx::query_scalar("SELECT role FROM users").fetch_one(&pool).await.unwrap();
    assert_eq!(role, "admin");
}
