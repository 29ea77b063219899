use super::read;
use super::violated_constraint;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Node {
    pub id: i64,
    pub name: String,
    pub region: String,
    pub host: String,
    pub wireguard_port: i32,
    pub openvpn_port: i32,
    pub phazevpn_port: i32,
    pub protocols: Vec<String>,
    pub address_pool: String,
    pub dns: String,
    pub wg_public_key: String,
    pub wg_private_key_sealed: Option<Vec<u8>>,
    pub active: bool,
    pub last_seen_at: Option<OffsetDateTime>,
    pub token_rotated_at: Option<OffsetDateTime>,
}

impl Node {
    pub fn serves(&self, protocol: &str) -> bool {
        self.active && self.protocols.iter().any(|p| p == protocol)
    }
}

const COLUMNS: &str = "id, name::text AS name, region, host, wireguard_port, openvpn_port, phazevpn_port, protocols, \
     address_pool, dns, wg_public_key, wg_private_key_sealed, active, last_seen_at, token_rotated_at";

pub struct NewNode<'a> {
    pub name: &'a str,
    pub region: &'a str,
    pub host: &'a str,
    pub wireguard_port: u16,
    pub openvpn_port: u16,
    pub phazevpn_port: u16,
    pub protocols: &'a [String],
    pub address_pool: &'a str,
    pub dns: &'a str,
    pub wg_public_key: &'a str,
    pub wg_private_key_sealed: Option<&'a [u8]>,
    pub token_hash: &'a [u8],
}

#[derive(Debug, thiserror::Error)]
pub enum NodeConflict {
    #[error("a node has this name")]
    Name,
    #[error("the address pool overlaps another node's")]
    Pool,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Adds a node unless its pool overlaps another node's (checked under a table lock, so two
/// admins cannot add overlapping pools at once).
pub async fn insert(pool: &PgPool, n: NewNode<'_>) -> Result<i64, NodeConflict> {
    let mut tx = pool.begin().await?;
    sqlx::query("LOCK TABLE nodes IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
    let overlaps: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM nodes WHERE address_pool::cidr && $1::cidr)")
        .bind(n.address_pool)
        .fetch_one(&mut *tx)
        .await?;
    if overlaps {
        return Err(NodeConflict::Pool);
    }
    let id = sqlx::query_scalar(
        "INSERT INTO nodes (name, region, host, wireguard_port, openvpn_port, phazevpn_port, protocols, address_pool, \
         dns, wg_public_key, wg_private_key_sealed, token_hash, token_rotated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now()) RETURNING id",
    )
    .bind(n.name)
    .bind(n.region)
    .bind(n.host)
    .bind(i32::from(n.wireguard_port))
    .bind(i32::from(n.openvpn_port))
    .bind(i32::from(n.phazevpn_port))
    .bind(n.protocols)
    .bind(n.address_pool)
    .bind(n.dns)
    .bind(n.wg_public_key)
    .bind(n.wg_private_key_sealed)
    .bind(n.token_hash)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match violated_constraint(&e).as_deref() {
        Some("nodes_name_key") => NodeConflict::Name,
        Some("nodes_address_pool_key") => NodeConflict::Pool,
        _ => NodeConflict::Db(e),
    })?;
    tx.commit().await?;
    Ok(id)
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Node>> {
    read(|| {
        sqlx::query_as::<_, Node>(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM nodes ORDER BY region, name")))
            .fetch_all(pool)
    })
    .await
}

pub async fn find(pool: &PgPool, id: i64) -> sqlx::Result<Option<Node>> {
    read(|| {
        sqlx::query_as::<_, Node>(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM nodes WHERE id = $1")))
            .bind(id)
            .fetch_optional(pool)
    })
    .await
}

pub async fn find_by_name(pool: &PgPool, name: &str) -> sqlx::Result<Option<Node>> {
    read(|| {
        sqlx::query_as::<_, Node>(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM nodes WHERE name = $1::citext")))
            .bind(name)
            .fetch_optional(pool)
    })
    .await
}

pub async fn exists(pool: &PgPool) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM nodes)").fetch_one(pool).await
}

/// Replaces the node's token; the old one stops working with this commit. False: no such node.
pub async fn set_token(pool: &PgPool, id: i64, token_hash: &[u8]) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE nodes SET token_hash = $2, token_rotated_at = now() WHERE id = $1")
        .bind(id)
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The node a token belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenHolder {
    pub id: i64,
    pub name: String,
    /// Its heartbeat is older than a few seconds (worth writing again).
    pub heartbeat_due: bool,
}

pub async fn find_by_token(pool: &PgPool, token_hash: &[u8]) -> sqlx::Result<Option<TokenHolder>> {
    read(|| {
        sqlx::query_as::<_, TokenHolder>(
            "SELECT id, name::text AS name, (last_seen_at IS NULL OR last_seen_at < now() - interval '5 seconds') \
         AS heartbeat_due FROM nodes WHERE token_hash = $1 AND active",
        )
        .bind(token_hash)
        .fetch_optional(pool)
    })
    .await
}

pub async fn heartbeat(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE nodes SET last_seen_at = now() WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}

/// The plan and period of every client's user `u`, for queries over many users (a node's
/// peers). It is the `entitlements` view's logic, written against the clients' users: PostgreSQL
/// cannot drive the view from the clients and would compute it for every user (0.7 s at a
/// million users against 90 ms this way). `p` is the plan, `s` the current subscription.
const ENTITLED: &str = "JOIN users u ON u.id = c.user_id \
     LEFT JOIN subscriptions s ON s.user_id = c.user_id AND s.current_period_end > now() \
     LEFT JOIN plans p ON p.id = coalesce(CASE WHEN s.next_plan_from <= now() THEN s.next_plan_id ELSE s.plan_id END, \
       (SELECT f.id FROM plans f WHERE f.free AND f.active))";

/// Which of those clients a node serves: active clients with an address, of active users with
/// a plan (a current subscription or the free plan), within the plan's data limit (capped by
/// the user's own) for their current period.
const SERVED: &str = "c.status = 'active' AND u.status = 'active' AND c.address IS NOT NULL AND p.id IS NOT NULL \
     AND (LEAST(u.data_limit_bytes, p.data_limit_bytes) IS NULL \
          OR LEAST(u.data_limit_bytes, p.data_limit_bytes) > (SELECT coalesce(sum(d.rx_bytes + d.tx_bytes), 0) \
            FROM usage_daily d WHERE d.user_id = u.id AND d.day >= ((CASE WHEN s.user_id IS NOT NULL \
              THEN period_start_at(CASE WHEN s.next_plan_from <= now() THEN s.next_plan_from ELSE s.period_anchor END, \
                                   p.period_days, now()) \
              ELSE date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' END) AT TIME ZONE 'UTC')::date))";

/// One client a node must serve.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PeerRow {
    pub client_id: Uuid,
    pub protocol: String,
    pub public_key: Option<String>,
    pub address: String,
}

/// The clients node `node_id` must serve (`SERVED`).
pub async fn peers(pool: &PgPool, node_id: i64) -> sqlx::Result<Vec<PeerRow>> {
    read(|| {
        sqlx::query_as::<_, PeerRow>(sqlx::AssertSqlSafe(format!(
            "SELECT c.id AS client_id, c.protocol, c.public_key, c.address FROM clients c {ENTITLED} \
             WHERE c.node_id = $1 AND {SERVED} ORDER BY c.protocol, c.id"
        )))
        .bind(node_id)
        .fetch_all(pool)
    })
    .await
}

/// The nodes where any of these users has a client (their peer lists change with the users).
pub async fn serving_users(pool: &PgPool, user_ids: &[i64]) -> sqlx::Result<Vec<i64>> {
    read(|| {
        sqlx::query_scalar("SELECT DISTINCT node_id FROM clients WHERE user_id = ANY($1)")
            .bind(user_ids)
            .fetch_all(pool)
    })
    .await
}

/// A node with what the admin page shows of it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NodeStatus {
    #[sqlx(flatten)]
    pub node: Node,
    pub peers: i64,
    pub open_sessions: i64,
    pub has_token: bool,
}

pub async fn statuses(pool: &PgPool) -> sqlx::Result<Vec<NodeStatus>> {
    read(|| {
        sqlx::query_as::<_, NodeStatus>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, token_hash IS NOT NULL AS has_token, (SELECT count(*) FROM clients c {ENTITLED} \
             WHERE c.node_id = nodes.id AND {SERVED}) AS peers, \
             (SELECT count(*) FROM connection_sessions s WHERE s.node_id = nodes.id AND s.ended_at IS NULL) AS open_sessions \
             FROM nodes ORDER BY region, name"
        )))
        .fetch_all(pool)
    })
    .await
}
