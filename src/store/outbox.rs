//! The email outbox and the single-use tokens that emails carry.
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use time::OffsetDateTime;

/// An email as it waits in the outbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutgoingEmail {
    pub id: i64,
    pub kind: String,
    pub to_address: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub attempts: i32,
}

pub struct NewEmail<'a> {
    pub kind: &'a str,
    pub to_address: &'a str,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: &'a str,
    /// Sent once per key: a second email with the same key is dropped.
    pub once_key: Option<&'a str>,
}

/// Queues an email in the caller's transaction; false if its `once_key` was used before.
pub async fn enqueue(conn: &mut PgConnection, e: &NewEmail<'_>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO email_outbox (kind, to_address, subject, text_body, html_body, once_key) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (once_key) DO NOTHING",
    )
    .bind(e.kind)
    .bind(e.to_address)
    .bind(e.subject)
    .bind(e.text_body)
    .bind(e.html_body)
    .bind(e.once_key)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes up to `limit` emails that are due, locked for this transaction (another instance's
/// worker skips them).
pub async fn take_due(pool: &PgPool, limit: i64) -> sqlx::Result<(Transaction<'static, Postgres>, Vec<OutgoingEmail>)> {
    let mut tx = pool.begin().await?;
    let due = sqlx::query_as::<_, OutgoingEmail>(
        "SELECT id, kind, to_address, subject, text_body, html_body, attempts FROM email_outbox \
         WHERE sent_at IS NULL AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT $1 \
         FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    Ok((tx, due))
}

pub async fn mark_sent(conn: &mut PgConnection, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE email_outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_failed(conn: &mut PgConnection, id: i64, error: &str, retry_in_secs: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE email_outbox SET attempts = attempts + 1, last_error = left($2, 1000), \
         next_attempt_at = now() + make_interval(secs => $3::double precision) WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(retry_in_secs as f64)
    .execute(conn)
    .await?;
    Ok(())
}

/// Emails not sent yet.
pub async fn backlog(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL").fetch_one(pool).await
}

/// Stores a token's hash for `purpose`; earlier unused tokens of the user for it stop working.
pub async fn insert_token(
    conn: &mut PgConnection,
    token_hash: &[u8],
    user_id: i64,
    purpose: &str,
    email: &str,
    expires_at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL")
        .bind(user_id)
        .bind(purpose)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, email, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(purpose)
    .bind(email)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Uses a token once: the user it belongs to if it is unused, unexpired, for `purpose`, and the
/// account still has the address it was sent to.
pub async fn use_token(conn: &mut PgConnection, token_hash: &[u8], purpose: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "UPDATE email_tokens t SET used_at = now() FROM users u \
         WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > now() \
         AND u.id = t.user_id AND u.email = t.email RETURNING t.user_id",
    )
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(conn)
    .await
}

pub async fn mark_verified(conn: &mut PgConnection, user_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}
