//! The append-only audit log: inserts and filtered, keyset-paginated reads. Nothing else.
use super::read;
use sqlx::PgPool;
use time::OffsetDateTime;

pub struct NewEntry<'a> {
    pub actor_id: Option<i64>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub ip: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

pub async fn insert<'e, E: sqlx::PgExecutor<'e>>(executor: E, e: &NewEntry<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (actor_id, actor, action, target_type, target_id, before, after, ip, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(e.actor_id)
    .bind(e.actor)
    .bind(e.action)
    .bind(e.target_type)
    .bind(e.target_id)
    .bind(&e.before)
    .bind(&e.after)
    .bind(e.ip)
    .bind(e.request_id)
    .execute(executor)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

/// What the audit page filters by; empty fields match everything.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// Entries older than this id (the next page).
    pub before_id: Option<i64>,
}

/// The newest entries matching `f`, up to `limit`.
pub async fn search(pool: &PgPool, f: &Filter, limit: i64) -> sqlx::Result<Vec<Entry>> {
    read(|| {
        sqlx::query_as::<_, Entry>(
            "SELECT id, at, actor, action, target_type, target_id, before, after, ip, request_id FROM audit_log \
             WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2) \
             AND ($3::text IS NULL OR target_type = $3) AND ($4::text IS NULL OR target_id = $4) \
             AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6) \
             AND ($7::bigint IS NULL OR id < $7) ORDER BY id DESC LIMIT $8",
        )
        .bind(&f.actor)
        .bind(&f.action)
        .bind(&f.target_type)
        .bind(&f.target_id)
        .bind(f.since)
        .bind(f.until)
        .bind(f.before_id)
        .bind(limit)
        .fetch_all(pool)
    })
    .await
}
