//! Personal access tokens and the answers kept for Idempotency-Keys.
use super::read;
use sqlx::PgPool;
use time::OffsetDateTime;

/// A token as the account page lists it (never the token itself).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Who a good token speaks for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenHolder {
    pub id: i64,
    pub user_id: i64,
    pub scopes: Vec<String>,
    /// Whether the last use is old enough (or absent) to be written again.
    pub touch_due: bool,
}

pub struct NewToken<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub token_hash: &'a [u8],
    pub scopes: &'a [&'a str],
    pub expires_at: Option<OffsetDateTime>,
}

/// Inserts a token unless the user already holds `max_live` live ones; its id, or None.
pub async fn insert(pool: &PgPool, t: &NewToken<'_>, max_live: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, token_hash, scopes, expires_at) \
         SELECT $1, $2, $3, $4, $5 WHERE (SELECT count(*) FROM api_tokens WHERE user_id = $1 \
           AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())) < $6 \
         RETURNING id",
    )
    .bind(t.user_id)
    .bind(t.name)
    .bind(t.token_hash)
    .bind(t.scopes)
    .bind(t.expires_at)
    .bind(max_live)
    .fetch_optional(pool)
    .await
}

pub async fn list_for_user(pool: &PgPool, user_id: i64) -> sqlx::Result<Vec<TokenRow>> {
    read(|| {
        sqlx::query_as::<_, TokenRow>(
            "SELECT id, name, scopes, created_at, expires_at, last_used_at, last_used_ip, revoked_at \
             FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 200",
        )
        .bind(user_id)
        .fetch_all(pool)
    })
    .await
}

/// Revokes a live token of the user; false if there is none.
pub async fn revoke(pool: &PgPool, user_id: i64, id: i64) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL")
            .bind(id)
            .bind(user_id)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// The holder of a live token of an active user, in one indexed read.
pub async fn holder(pool: &PgPool, token_hash: &[u8], touch_every_secs: i64) -> sqlx::Result<Option<TokenHolder>> {
    read(|| {
        sqlx::query_as::<_, TokenHolder>(
            "SELECT t.id, t.user_id, t.scopes, \
               coalesce(t.last_used_at < now() - make_interval(secs => $2), true) AS touch_due \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
               AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.status = 'active'",
        )
        .bind(token_hash)
        .bind(touch_every_secs as f64)
        .fetch_optional(pool)
    })
    .await
}

/// Records a use of the token (at most once a minute per token, see `holder`).
pub async fn touch(pool: &PgPool, id: i64, ip: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_tokens SET last_used_at = now(), last_used_ip = $2 WHERE id = $1")
        .bind(id)
        .bind(ip)
        .execute(pool)
        .await
        .map(drop)
}

/// An Idempotency-Key as stored: the first request's fingerprint and, once answered, its answer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeptAnswer {
    pub fingerprint: Vec<u8>,
    pub status: Option<i16>,
    pub body: Option<String>,
}

/// Claims the key for this request: true if it is ours to answer (new, or left unanswered for
/// `abandoned_secs` by a request that died, or older than `keep_secs`). Otherwise the caller
/// reads what is kept.
pub async fn claim_key(
    pool: &PgPool,
    user_id: i64,
    key: &str,
    fingerprint: &[u8],
    abandoned_secs: i64,
    keep_secs: i64,
) -> sqlx::Result<bool> {
    let claimed: Option<bool> = sqlx::query_scalar(
        "INSERT INTO api_idempotency (user_id, key, fingerprint) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, key) DO UPDATE \
           SET fingerprint = EXCLUDED.fingerprint, created_at = now(), status = NULL, body = NULL \
           WHERE (api_idempotency.status IS NULL AND api_idempotency.created_at < now() - make_interval(secs => $4)) \
              OR api_idempotency.created_at < now() - make_interval(secs => $5) \
         RETURNING true",
    )
    .bind(user_id)
    .bind(key)
    .bind(fingerprint)
    .bind(abandoned_secs as f64)
    .bind(keep_secs as f64)
    .fetch_optional(pool)
    .await?;
    Ok(claimed.unwrap_or(false))
}

pub async fn kept_answer(pool: &PgPool, user_id: i64, key: &str) -> sqlx::Result<Option<KeptAnswer>> {
    read(|| {
        sqlx::query_as::<_, KeptAnswer>(
            "SELECT fingerprint, status, body FROM api_idempotency WHERE user_id = $1 AND key = $2",
        )
        .bind(user_id)
        .bind(key)
        .fetch_optional(pool)
    })
    .await
}

/// Keeps the answer to a claimed key.
pub async fn keep_answer(pool: &PgPool, user_id: i64, key: &str, status: u16, body: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_idempotency SET status = $3, body = $4 WHERE user_id = $1 AND key = $2")
        .bind(user_id)
        .bind(key)
        .bind(status as i16)
        .bind(body)
        .execute(pool)
        .await
        .map(drop)
}

/// Lets go of a claimed key whose request failed: a retry may try again.
pub async fn release_key(pool: &PgPool, user_id: i64, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM api_idempotency WHERE user_id = $1 AND key = $2 AND status IS NULL")
        .bind(user_id)
        .bind(key)
        .execute(pool)
        .await
        .map(drop)
}

/// Deletes keys older than `keep_secs`, a batch at a time; how many went.
pub async fn prune_keys(pool: &PgPool, keep_secs: i64) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM api_idempotency WHERE ctid IN (SELECT ctid FROM api_idempotency \
         WHERE created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT 10000)",
    )
    .bind(keep_secs as f64)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
