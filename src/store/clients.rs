use super::read;
use super::violated_constraint;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

/// A client with what its config needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Client {
    pub id: Uuid,
    pub user_id: i64,
    pub node_id: i64,
    pub name: String,
    pub protocol: String,
    pub status: String,
    pub public_key: Option<String>,
    pub private_key_sealed: Vec<u8>,
    pub cert_pem: Option<String>,
    pub cert_serial: Option<String>,
    pub address: Option<String>,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub node_name: String,
    pub node_region: String,
}

impl Client {
    /// The client as lists show it.
    pub fn summary(&self) -> ClientSummary {
        ClientSummary {
            id: self.id,
            name: self.name.clone(),
            protocol: self.protocol.clone(),
            status: self.status.clone(),
            address: self.address.clone(),
            node_name: self.node_name.clone(),
            node_region: self.node_region.clone(),
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        }
    }
}

/// A client as listed on the dashboard.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientSummary {
    pub id: Uuid,
    pub name: String,
    pub protocol: String,
    pub status: String,
    pub address: Option<String>,
    pub node_name: String,
    pub node_region: String,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

pub struct NewClient<'a> {
    pub id: Uuid,
    pub user_id: i64,
    pub node_id: i64,
    pub name: &'a str,
    pub protocol: &'a str,
    pub public_key: Option<&'a str>,
    pub private_key_sealed: &'a [u8],
    pub cert_pem: Option<&'a str>,
    pub cert_serial: Option<&'a str>,
    pub address: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientConflict {
    #[error("name in use")]
    Name,
    #[error("address in use")]
    Address,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn conflict(e: sqlx::Error) -> ClientConflict {
    match violated_constraint(&e).as_deref() {
        Some("clients_active_name_key") => ClientConflict::Name,
        Some("clients_address_key") => ClientConflict::Address,
        _ => ClientConflict::Db(e),
    }
}

/// Begins a transaction holding the user's row lock, which serialises their client changes (the
/// limit checks and the insert happen under it), in one round trip: `BEGIN` and the lock go as
/// one simple query. The lock is a statement of its own because a statement that waited for a
/// lock still reads with the snapshot from before it waited: `room` must come after.
pub async fn begin_locked(pool: &PgPool, user_id: i64) -> sqlx::Result<Transaction<'static, Postgres>> {
    // `user_id` is an integer: nothing of the user's can get into this SQL text.
    pool.begin_with(sqlx::AssertSqlSafe(format!("BEGIN; SELECT 1 FROM users WHERE id = {user_id} FOR UPDATE"))).await
}

type ClientInsert<'q> = sqlx::query::QueryScalar<'q, Postgres, Option<String>, sqlx::postgres::PgArguments>;

/// Binds $1 to $9, every column of a new client but its address, in the order both inserts list them.
fn bind_client<'q>(insert: ClientInsert<'q>, c: &NewClient<'q>) -> ClientInsert<'q> {
    insert
        .bind(c.id)
        .bind(c.user_id)
        .bind(c.node_id)
        .bind(c.name)
        .bind(c.protocol)
        .bind(c.public_key)
        .bind(c.private_key_sealed)
        .bind(c.cert_pem)
        .bind(c.cert_serial)
}

/// The limits a new client must fit in: active clients, addresses held (with revoked clients
/// holding theirs for `grace_hours`).
pub struct Limits {
    pub max_active: i64,
    pub max_held: i64,
    pub grace_hours: i64,
}

/// The common case in one statement, committed on its own: inserts the client with the address
/// after the highest one taken on the node between `first` and `last`, if the user may have one
/// more (a confirmed address, a plan, within the plan's limits: the `entitlements` view, with
/// `held_per_active` addresses held per client the plan allows) and the range is not used up.
/// None: not inserted (`room` and the entitlement say why, or the range needs a search for a
/// gap). The user's row is locked first; a statement that waited for that
/// lock checks the limit again on the row as the other writer left it (the trigger keeps
/// `active_clients`), while the address it computed may be stale: the unique constraint then
/// refuses it and the caller retries.
pub async fn insert_next(
    pool: &PgPool,
    c: &NewClient<'_>,
    (first, last): (&str, &str),
    held_per_active: i64,
    grace_hours: i64,
) -> Result<Option<String>, ClientConflict> {
    bind_client(
        sqlx::query_scalar(
            "WITH locked AS (SELECT u.id, u.active_clients, e.max_clients FROM users u \
           JOIN entitlements e ON e.user_id = u.id \
           WHERE u.id = $2 AND u.email_verified_at IS NOT NULL AND e.plan_id IS NOT NULL \
             AND u.active_clients < e.max_clients FOR UPDATE OF u) \
         INSERT INTO clients (id, user_id, node_id, name, protocol, public_key, private_key_sealed, cert_pem, \
         cert_serial, address) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, host(next.a) FROM locked, \
           (SELECT coalesce(max(address::inet) + 1, $10::inet) AS a FROM clients WHERE node_id = $3 \
             AND address IS NOT NULL AND address::inet BETWEEN $10::inet AND $11::inet) next \
         WHERE next.a <= $11::inet \
           AND locked.active_clients + (SELECT count(*) FROM clients WHERE user_id = $2 AND status = 'revoked' \
             AND address IS NOT NULL AND revoked_at > now() - make_interval(hours => $12::int)) \
             < $13 * locked.max_clients \
         RETURNING address",
        ),
        c,
    )
    .bind(first)
    .bind(last)
    .bind(grace_hours as i32)
    .bind(held_per_active)
    .fetch_optional(pool)
    .await
    .map(Option::flatten)
    .map_err(conflict)
}

/// Room for a new client: (the user's active clients, the addresses they hold: active clients and
/// revoked ones still in their grace period). Asked when `insert_next` inserted nothing.
pub async fn room(conn: &mut PgConnection, user_id: i64, grace_hours: i64) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT u.active_clients::bigint, \
                u.active_clients + (SELECT count(*) FROM clients WHERE user_id = $1 AND status = 'revoked' \
                  AND address IS NOT NULL AND revoked_at > now() - make_interval(hours => $2::int)) \
         FROM users u WHERE u.id = $1",
    )
    .bind(user_id)
    .bind(grace_hours as i32)
    .fetch_one(conn)
    .await
}

/// Gives revoked clients' addresses back to the pool once their grace period is over.
pub async fn release_addresses(conn: &mut PgConnection, node_id: i64, grace_hours: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE clients SET address = NULL WHERE node_id = $1 AND status = 'revoked' AND address IS NOT NULL \
         AND revoked_at < now() - make_interval(hours => $2::int)",
    )
    .bind(node_id)
    .bind(grace_hours as i32)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn taken_addresses(conn: &mut PgConnection, node_id: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT address FROM clients WHERE node_id = $1 AND address IS NOT NULL")
        .bind(node_id)
        .fetch_all(conn)
        .await
}

pub async fn insert(conn: &mut PgConnection, c: &NewClient<'_>) -> Result<(), ClientConflict> {
    bind_client(
        sqlx::query_scalar(
            "INSERT INTO clients (id, user_id, node_id, name, protocol, public_key, private_key_sealed, cert_pem, \
             cert_serial, address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING address",
        ),
        c,
    )
    .bind(c.address)
    .fetch_one(conn)
    .await
    .map_err(conflict)?;
    Ok(())
}

pub async fn list_for_user(pool: &PgPool, user_id: i64) -> sqlx::Result<Vec<ClientSummary>> {
    read(|| {
        sqlx::query_as::<_, ClientSummary>(
        "SELECT c.id, c.name, c.protocol, c.status, c.address, n.name::text AS node_name, n.region AS node_region, \
         c.created_at, c.revoked_at FROM clients c JOIN nodes n ON n.id = c.node_id \
         WHERE c.user_id = $1 ORDER BY c.status, c.created_at LIMIT 200",
    )
    .bind(user_id)
    .fetch_all(pool)
    })
    .await
}

/// A page of the user's clients in the order they were made, after the keyset cursor
/// `(created_at, id)` (the API's cursor pagination; `clients_user_idx`).
pub async fn page_for_user(
    pool: &PgPool,
    user_id: i64,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<ClientSummary>> {
    let (at, id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
    read(|| {
        sqlx::query_as::<_, ClientSummary>(
            "SELECT c.id, c.name, c.protocol, c.status, c.address, n.name::text AS node_name, n.region AS node_region, \
             c.created_at, c.revoked_at FROM clients c JOIN nodes n ON n.id = c.node_id \
             WHERE c.user_id = $1 AND ($2::timestamptz IS NULL OR (c.created_at, c.id) > ($2, $3)) \
             ORDER BY c.created_at, c.id LIMIT $4",
        )
        .bind(user_id)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(pool)
    })
    .await
}

/// The user's client: someone else's is simply not found.
pub async fn find_for_user(pool: &PgPool, user_id: i64, id: Uuid) -> sqlx::Result<Option<Client>> {
    read(|| {
        sqlx::query_as::<_, Client>(
            "SELECT c.id, c.user_id, c.node_id, c.name, c.protocol, c.status, c.public_key, c.private_key_sealed, \
         c.cert_pem, c.cert_serial, c.address, c.created_at, c.revoked_at, n.name::text AS node_name, \
         n.region AS node_region FROM clients c JOIN nodes n ON n.id = c.node_id WHERE c.id = $1 AND c.user_id = $2",
        )
        .bind(id)
        .bind(user_id)
        .fetch_optional(pool)
    })
    .await
}

/// Renames an active client of the user; false if there is none.
pub async fn rename(pool: &PgPool, user_id: i64, id: Uuid, name: &str) -> Result<bool, ClientConflict> {
    let done = sqlx::query(
        "UPDATE clients SET name = $3, updated_at = now() WHERE id = $1 AND user_id = $2 AND status = 'active'",
    )
    .bind(id)
    .bind(user_id)
    .bind(name)
    .execute(pool)
    .await
    .map_err(conflict)?;
    Ok(done.rows_affected() == 1)
}

/// Revokes an active client of the user; its node, or None if there is no active one.
pub async fn revoke(pool: &PgPool, user_id: i64, id: Uuid) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "UPDATE clients SET status = 'revoked', revoked_at = now(), updated_at = now() \
         WHERE id = $1 AND user_id = $2 AND status = 'active' RETURNING node_id",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(pool)
    .await
}

/// Serial numbers of revoked OpenVPN client certificates, for the CRL.
pub async fn revoked_serials(pool: &PgPool) -> sqlx::Result<Vec<(String, OffsetDateTime)>> {
    read(|| {
sqlx::query_as(
        "SELECT cert_serial, revoked_at FROM clients WHERE status = 'revoked' AND cert_serial IS NOT NULL ORDER BY revoked_at",
    )
    .fetch_all(pool)
})
    .await
}
