//! Connection sessions (partitioned by month on `started_at`), node event seqs and partitions.
use super::read;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

/// Locks the node's event stream for one batch; its watermark (highest contiguous seq).
pub async fn lock_watermark(conn: &mut PgConnection, node_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT acked_seq FROM nodes WHERE id = $1 FOR UPDATE").bind(node_id).fetch_one(conn).await
}

/// Records seqs above the watermark; those not seen before.
pub async fn record_seqs(conn: &mut PgConnection, node_id: i64, seqs: &[i64]) -> sqlx::Result<Vec<i64>> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(
        "INSERT INTO node_event_seqs (node_id, seq) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING RETURNING seq",
    )
    .bind(node_id)
    .bind(seqs)
    .fetch_all(conn)
    .await
}

/// Moves the watermark over every contiguous recorded seq, forgets the seqs below it, and
/// records the node's heartbeat; the new watermark.
pub async fn advance_watermark(conn: &mut PgConnection, node_id: i64, from: i64) -> sqlx::Result<i64> {
    let recorded: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM node_event_seqs WHERE node_id = $1 AND seq > $2 ORDER BY seq")
            .bind(node_id)
            .bind(from)
            .fetch_all(&mut *conn)
            .await?;
    let mut watermark = from;
    for seq in recorded {
        if seq != watermark + 1 {
            break;
        }
        watermark = seq;
    }
    sqlx::query("DELETE FROM node_event_seqs WHERE node_id = $1 AND seq <= $2")
        .bind(node_id)
        .bind(watermark)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE nodes SET acked_seq = $2, last_seen_at = now() WHERE id = $1")
        .bind(node_id)
        .bind(watermark)
        .execute(conn)
        .await?;
    Ok(watermark)
}

/// The node's clients among `ids`: (client id, user id).
pub async fn clients_of_node(conn: &mut PgConnection, node_id: i64, ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, i64)>> {
    sqlx::query_as("SELECT id, user_id FROM clients WHERE node_id = $1 AND id = ANY($2)")
        .bind(node_id)
        .bind(ids)
        .fetch_all(conn)
        .await
}

/// A stored connection session, as event processing reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub client_id: Uuid,
    pub user_id: i64,
    pub started_at: OffsetDateTime,
    pub ended_at: Option<OffsetDateTime>,
    pub remote_address: Option<String>,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    pub counter_rx: i64,
    pub counter_tx: i64,
    pub counter_at: Option<OffsetDateTime>,
    pub connect_seen: bool,
}

/// For each (client, from, to): the client's latest session started at or before `from`, and
/// every session started after `from` up to `to` — all an event in [from, to] can belong to.
pub async fn sessions_around(
    conn: &mut PgConnection,
    windows: &[(Uuid, OffsetDateTime, OffsetDateTime)],
) -> sqlx::Result<Vec<SessionRow>> {
    let clients: Vec<Uuid> = windows.iter().map(|w| w.0).collect();
    let from: Vec<OffsetDateTime> = windows.iter().map(|w| w.1).collect();
    let to: Vec<OffsetDateTime> = windows.iter().map(|w| w.2).collect();
    const COLUMNS: &str = "s.id, s.client_id, s.user_id, s.started_at, s.ended_at, s.remote_address, s.rx_bytes, \
        s.tx_bytes, s.counter_rx, s.counter_tx, s.counter_at, s.connect_seen";
    sqlx::query_as::<_, SessionRow>(sqlx::AssertSqlSafe(format!(
        "SELECT x.* FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS w(client_id, lo, hi) \
         CROSS JOIN LATERAL ( \
           (SELECT {COLUMNS} FROM connection_sessions s WHERE s.client_id = w.client_id AND s.started_at <= w.lo \
            ORDER BY s.started_at DESC, s.id DESC LIMIT 1) \
           UNION ALL \
           (SELECT {COLUMNS} FROM connection_sessions s WHERE s.client_id = w.client_id AND s.started_at > w.lo \
            AND s.started_at <= w.hi) \
         ) x"
    )))
    .bind(clients)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

/// Writes sessions: rows with id 0 are new (inserted), the others updated in place.
pub async fn save_sessions(conn: &mut PgConnection, node_id: i64, rows: &[SessionRow]) -> sqlx::Result<()> {
    let (new, changed): (Vec<&SessionRow>, Vec<&SessionRow>) = rows.iter().partition(|r| r.id == 0);
    macro_rules! column {
        ($rows:expr, $field:ident) => {
            $rows.iter().map(|r| r.$field.clone()).collect::<Vec<_>>()
        };
    }
    if !new.is_empty() {
        sqlx::query(
            "INSERT INTO connection_sessions (node_id, client_id, user_id, started_at, ended_at, remote_address, \
             rx_bytes, tx_bytes, counter_rx, counter_tx, counter_at, connect_seen) \
             SELECT $1, * FROM unnest($2::uuid[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::text[], \
             $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::timestamptz[], $12::bool[])",
        )
        .bind(node_id)
        .bind(column!(new, client_id))
        .bind(column!(new, user_id))
        .bind(column!(new, started_at))
        .bind(column!(new, ended_at))
        .bind(column!(new, remote_address))
        .bind(column!(new, rx_bytes))
        .bind(column!(new, tx_bytes))
        .bind(column!(new, counter_rx))
        .bind(column!(new, counter_tx))
        .bind(column!(new, counter_at))
        .bind(column!(new, connect_seen))
        .execute(&mut *conn)
        .await?;
    }
    if !changed.is_empty() {
        sqlx::query(
            "UPDATE connection_sessions s SET ended_at = u.ended_at, rx_bytes = u.rx, tx_bytes = u.tx, \
             counter_rx = u.crx, counter_tx = u.ctx, counter_at = u.cat \
             FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::bigint[], $5::bigint[], \
             $6::bigint[], $7::bigint[], $8::timestamptz[]) AS u(id, started_at, ended_at, rx, tx, crx, ctx, cat) \
             WHERE s.id = u.id AND s.started_at = u.started_at",
        )
        .bind(column!(changed, id))
        .bind(column!(changed, started_at))
        .bind(column!(changed, ended_at))
        .bind(column!(changed, rx_bytes))
        .bind(column!(changed, tx_bytes))
        .bind(column!(changed, counter_rx))
        .bind(column!(changed, counter_tx))
        .bind(column!(changed, counter_at))
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// A connection as the history shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: i64,
    pub client_id: Uuid,
    pub client_name: String,
    pub node_name: String,
    pub started_at: OffsetDateTime,
    pub ended_at: Option<OffsetDateTime>,
    pub remote_address: Option<String>,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
}

/// One page of a user's connections (optionally of one client), newest first, after the
/// keyset cursor `(started_at, id)`.
pub async fn history(
    pool: &PgPool,
    user_id: i64,
    client_id: Option<Uuid>,
    after: Option<(OffsetDateTime, i64)>,
    limit: i64,
) -> sqlx::Result<Vec<HistoryRow>> {
    let (at, id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
    // Two spellings so each uses its own index (user's or client's) across the partitions.
    let scope = if client_id.is_some() { "s.client_id = $2" } else { "s.user_id = $1 AND $2::uuid IS NULL" };
    let sql = format!(
        "SELECT s.id, s.client_id, c.name AS client_name, n.name::text AS node_name, s.started_at, s.ended_at, \
         s.remote_address, s.rx_bytes, s.tx_bytes FROM ( \
           SELECT * FROM connection_sessions s WHERE {scope} \
           AND ($3::timestamptz IS NULL OR (s.started_at, s.id) < ($3, $4)) \
           ORDER BY s.started_at DESC, s.id DESC LIMIT $5 \
         ) s JOIN clients c ON c.id = s.client_id AND c.user_id = $1 JOIN nodes n ON n.id = s.node_id \
         ORDER BY s.started_at DESC, s.id DESC"
    );
    read(|| {
        sqlx::query_as::<_, HistoryRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(user_id)
            .bind(client_id)
            .bind(at)
            .bind(id)
            .bind(limit)
            .fetch_all(pool)
    })
    .await
}

/// The monthly partitions that exist: (table name, first day of the month).
pub async fn partitions(conn: &mut PgConnection) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'connection_sessions'::regclass AND c.relname ~ '^connection_sessions_y[0-9]{4}m[0-9]{2}$' \
         ORDER BY 1",
    )
    .fetch_all(conn)
    .await
}

/// Serialises partition upkeep across instances for one transaction.
pub async fn lock_partition_upkeep(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('connection_sessions partitions'))").execute(conn).await?;
    Ok(())
}

/// Makes the partition `name` for [from, to): rows already in the default partition for that
/// range move into it first, so attaching never fails on them.
pub async fn create_partition(conn: &mut PgConnection, name: &str, from: &str, to: &str) -> sqlx::Result<()> {
    let statements = [
        format!("CREATE TABLE {name} (LIKE connection_sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"),
        format!(
            "WITH moved AS (DELETE FROM connection_sessions_default WHERE started_at >= '{from}' AND started_at < '{to}' \
             RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        ),
        format!("ALTER TABLE connection_sessions ATTACH PARTITION {name} FOR VALUES FROM ('{from}') TO ('{to}')"),
    ];
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn drop_partition(conn: &mut PgConnection, name: &str) -> sqlx::Result<()> {
    for statement in [format!("ALTER TABLE connection_sessions DETACH PARTITION {name}"), format!("DROP TABLE {name}")]
    {
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut *conn).await?;
    }
    Ok(())
}
