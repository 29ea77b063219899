use super::violated_constraint;
use sqlx::PgPool;

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
}

impl Node {
    pub fn serves(&self, protocol: &str) -> bool {
        self.active && self.protocols.iter().any(|p| p == protocol)
    }
}

const COLUMNS: &str = "id, name::text AS name, region, host, wireguard_port, openvpn_port, phazevpn_port, protocols, \
     address_pool, dns, wg_public_key, wg_private_key_sealed, active";

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
         dns, wg_public_key, wg_private_key_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
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
    sqlx::query_as::<_, Node>(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM nodes ORDER BY region, name")))
        .fetch_all(pool)
        .await
}

pub async fn find(pool: &PgPool, id: i64) -> sqlx::Result<Option<Node>> {
    sqlx::query_as::<_, Node>(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM nodes WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn find_by_name(pool: &PgPool, name: &str) -> sqlx::Result<Option<Node>> {
    sqlx::query_as::<_, Node>(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM nodes WHERE name = $1::citext")))
        .bind(name)
        .fetch_optional(pool)
        .await
}

pub async fn exists(pool: &PgPool) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM nodes)").fetch_one(pool).await
}
