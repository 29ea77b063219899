use super::read;
use crate::domain::sessions::{ActiveSession, SessionInfo};
use sqlx::PgPool;
use time::OffsetDateTime;

pub struct NewSession<'a> {
    pub token_hash: &'a [u8],
    pub user_id: i64,
    pub csrf_token: &'a str,
    pub expires_at: OffsetDateTime,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub two_factor: bool,
}

/// The columns of an `ActiveSession`, from `s` (sessions) joined to `u` (users).
macro_rules! active_session_columns {
    () => {
        "s.id, s.user_id, u.username::text AS username, u.role, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, \
         s.two_factor, u.totp_enabled_at IS NOT NULL AS totp"
    };
}

pub async fn insert(pool: &PgPool, new: NewSession<'_>) -> sqlx::Result<ActiveSession> {
    sqlx::query_as::<_, ActiveSession>(concat!(
        "WITH s AS (INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at, ip, user_agent, two_factor) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *) SELECT ",
        active_session_columns!(),
        " FROM s JOIN users u ON u.id = s.user_id"
    ))
    .bind(new.token_hash)
    .bind(new.user_id)
    .bind(new.csrf_token)
    .bind(new.expires_at)
    .bind(new.ip)
    .bind(new.user_agent)
    .bind(new.two_factor)
    .fetch_one(pool)
    .await
}

/// The session if it exists, has not expired and its user is active.
pub async fn find_active(pool: &PgPool, token_hash: &[u8]) -> sqlx::Result<Option<ActiveSession>> {
    read(|| {
        sqlx::query_as::<_, ActiveSession>(concat!(
            "SELECT ",
            active_session_columns!(),
            " FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > now() AND u.status = 'active'"
        ))
        .bind(token_hash)
        .fetch_optional(pool)
    })
    .await
}

/// Slides the expiry: idle timeout from now, never past the absolute limit.
pub async fn touch(
    pool: &PgPool,
    token_hash: &[u8],
    idle_minutes: i64,
    absolute_days: i64,
) -> sqlx::Result<Option<(OffsetDateTime, OffsetDateTime)>> {
    read(|| {
        sqlx::query_as::<_, (OffsetDateTime, OffsetDateTime)>(
            "UPDATE sessions SET last_seen_at = now(), \
         expires_at = LEAST(now() + make_interval(mins => $2::int), created_at + make_interval(days => $3::int)) \
         WHERE token_hash = $1 AND expires_at > now() RETURNING last_seen_at, expires_at",
        )
        .bind(token_hash)
        .bind(idle_minutes as i32)
        .bind(absolute_days as i32)
        .fetch_optional(pool)
    })
    .await
}

pub async fn delete(pool: &PgPool, token_hash: &[u8]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(pool).await?;
    Ok(())
}

/// Deletes one of the user's sessions by its public id; the hash it had, if it existed.
pub async fn delete_by_id(pool: &PgPool, user_id: i64, id: i64) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar("DELETE FROM sessions WHERE id = $1 AND user_id = $2 RETURNING token_hash")
        .bind(id)
        .bind(user_id)
        .fetch_optional(pool)
        .await
}

/// Deletes every session of the user but `keep`; the hashes they had.
pub async fn delete_others(pool: &PgPool, user_id: i64, keep: &[u8]) -> sqlx::Result<Vec<Vec<u8>>> {
    sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2 RETURNING token_hash")
        .bind(user_id)
        .bind(keep)
        .fetch_all(pool)
        .await
}

/// Deletes every session of the user; the hashes they had.
pub async fn delete_all(conn: &mut sqlx::PgConnection, user_id: i64) -> sqlx::Result<Vec<Vec<u8>>> {
    sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash")
        .bind(user_id)
        .fetch_all(conn)
        .await
}

pub async fn list_for_user(pool: &PgPool, user_id: i64) -> sqlx::Result<Vec<SessionInfo>> {
    read(|| {
        sqlx::query_as::<_, SessionInfo>(
            "SELECT id, created_at, last_seen_at, expires_at, ip, user_agent, two_factor FROM sessions \
         WHERE user_id = $1 AND expires_at > now() ORDER BY last_seen_at DESC LIMIT 100",
        )
        .bind(user_id)
        .fetch_all(pool)
    })
    .await
}
