//! TOTP secrets, recovery codes and the pending second step of a sign-in.
use super::read;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

/// A user's TOTP state: the sealed secret (when on), the one being set up, the last step used.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpState {
    pub secret_sealed: Option<Vec<u8>>,
    pub pending_sealed: Option<Vec<u8>>,
    pub last_step: i64,
    pub username: String,
}

pub async fn state(pool: &PgPool, user_id: i64) -> sqlx::Result<Option<TotpState>> {
    read(|| {
        sqlx::query_as::<_, TotpState>(
            "SELECT totp_secret_sealed AS secret_sealed, totp_pending_sealed AS pending_sealed, \
             totp_last_step AS last_step, username::text AS username FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(pool)
    })
    .await
}

pub async fn set_pending(pool: &PgPool, user_id: i64, sealed: &[u8]) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET totp_pending_sealed = $2 WHERE id = $1")
        .bind(user_id)
        .bind(sealed)
        .execute(pool)
        .await?;
    Ok(())
}

/// Turns TOTP on with the pending secret (if it is still the one checked), the step of the code
/// that proved it counted as used. False: the pending secret changed meanwhile.
pub async fn enable(conn: &mut PgConnection, user_id: i64, pending: &[u8], step: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET totp_secret_sealed = totp_pending_sealed, totp_pending_sealed = NULL, \
         totp_enabled_at = now(), totp_last_step = $3 WHERE id = $1 AND totp_pending_sealed = $2",
    )
    .bind(user_id)
    .bind(pending)
    .bind(step)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Turns TOTP off and deletes the recovery codes.
pub async fn disable(conn: &mut PgConnection, user_id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET totp_secret_sealed = NULL, totp_pending_sealed = NULL, totp_enabled_at = NULL \
         WHERE id = $1 AND totp_enabled_at IS NOT NULL",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the user's recovery codes: the old ones stop working.
pub async fn replace_codes(conn: &mut PgConnection, user_id: i64, hashes: &[Vec<u8>]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::bytea[])")
        .bind(user_id)
        .bind(hashes)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records that a code of `step` was used; false if that step (or a later one) was used before.
pub async fn accept_step(pool: &PgPool, user_id: i64, step: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2 AND totp_enabled_at IS NOT NULL",
    )
    .bind(user_id)
    .bind(step)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Uses a recovery code once; false if it is not an unused code of this user.
pub async fn use_recovery_code(pool: &PgPool, user_id: i64, hash: &[u8]) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(hash)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn unused_codes(pool: &PgPool, user_id: i64) -> sqlx::Result<i64> {
    read(|| {
        sqlx::query_scalar("SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .fetch_one(pool)
    })
    .await
}

pub async fn insert_challenge(
    pool: &PgPool,
    token_hash: &[u8],
    user_id: i64,
    expires_at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_challenges WHERE expires_at < now()").execute(pool).await?;
    sqlx::query("INSERT INTO login_challenges (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
        .bind(token_hash)
        .bind(user_id)
        .bind(expires_at)
        .execute(pool)
        .await?;
    Ok(())
}

/// The user a live challenge belongs to.
pub async fn challenge_user(pool: &PgPool, token_hash: &[u8]) -> sqlx::Result<Option<i64>> {
    read(|| {
        sqlx::query_scalar("SELECT user_id FROM login_challenges WHERE token_hash = $1 AND expires_at > now()")
            .bind(token_hash)
            .fetch_optional(pool)
    })
    .await
}

/// Ends a challenge; the user it belonged to if it was still live (a challenge is used once).
pub async fn take_challenge(pool: &PgPool, token_hash: &[u8]) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("DELETE FROM login_challenges WHERE token_hash = $1 AND expires_at > now() RETURNING user_id")
        .bind(token_hash)
        .fetch_optional(pool)
        .await
}

/// Every session token hash of the user (to forget their cached copies).
pub async fn session_hashes(pool: &PgPool, user_id: i64) -> sqlx::Result<Vec<Vec<u8>>> {
    sqlx::query_scalar("SELECT token_hash FROM sessions WHERE user_id = $1").bind(user_id).fetch_all(pool).await
}

pub async fn mark_session_two_factor(pool: &PgPool, session_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET two_factor = true WHERE id = $1").bind(session_id).execute(pool).await?;
    Ok(())
}
