use super::read;
use super::violated_constraint;
use sqlx::PgPool;
use time::OffsetDateTime;

/// What a login needs to know about the account it names.
#[derive(Debug, sqlx::FromRow)]
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
    pub status: String,
    /// Two-factor sign-in is on: the password alone is not enough.
    pub two_factor: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountSummary {
    pub username: String,
    pub email: String,
    pub role: String,
    pub created_at: OffsetDateTime,
    pub email_verified: bool,
    pub active_sessions: i64,
    /// Past the data limit in the current usage period.
    pub over_limit: bool,
    /// The plan the user has now (a current subscription or the free plan), if any.
    pub plan_name: Option<String>,
    /// Paid until (a current subscription).
    pub paid_until: Option<OffsetDateTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum Conflict {
    #[error("username taken")]
    Username,
    #[error("email taken")]
    Email,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn conflict(error: sqlx::Error) -> Conflict {
    match violated_constraint(&error).as_deref() {
        Some("users_username_key") => Conflict::Username,
        Some("users_email_key") => Conflict::Email,
        _ => Conflict::Db(error),
    }
}

/// A new account; `verified`: its email address counts as confirmed (an admin made by the operator).
pub async fn insert(
    conn: &mut sqlx::PgConnection,
    username: &str,
    email: &str,
    password_hash: &str,
    role: &str,
    verified: bool,
) -> Result<i64, Conflict> {
    sqlx::query_scalar(
        "INSERT INTO users (username, email, password_hash, role, email_verified_at) \
         VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END) RETURNING id",
    )
    .bind(username)
    .bind(email)
    .bind(password_hash)
    .bind(role)
    .bind(verified)
    .fetch_one(conn)
    .await
    .map_err(conflict)
}

/// The account whose username or email is `login` (both are case-insensitive).
pub async fn find_credentials(pool: &PgPool, login: &str) -> sqlx::Result<Option<Credentials>> {
    read(|| {
        sqlx::query_as::<_, Credentials>(
            "SELECT id, password_hash, status, totp_enabled_at IS NOT NULL AS two_factor FROM users \
             WHERE username = $1::citext OR email = $1::citext \
         ORDER BY (username = $1::citext) DESC LIMIT 1",
        )
        .bind(login)
        .fetch_optional(pool)
    })
    .await
}

pub async fn password_hash(pool: &PgPool, user_id: i64) -> sqlx::Result<Option<String>> {
    read(|| sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1").bind(user_id).fetch_optional(pool))
        .await
}

pub async fn set_password_hash(conn: &mut sqlx::PgConnection, user_id: i64, password_hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1")
        .bind(user_id)
        .bind(password_hash)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_email(conn: &mut sqlx::PgConnection, user_id: i64, email: &str) -> Result<(), Conflict> {
    sqlx::query("UPDATE users SET email = $2, email_verified_at = NULL, updated_at = now() WHERE id = $1")
        .bind(user_id)
        .bind(email)
        .execute(conn)
        .await
        .map_err(conflict)?;
    Ok(())
}

pub async fn account_summary(pool: &PgPool, user_id: i64) -> sqlx::Result<Option<AccountSummary>> {
    read(|| {
        sqlx::query_as::<_, AccountSummary>(
            "SELECT u.username::text AS username, u.email::text AS email, u.role, u.created_at, \
             u.email_verified_at IS NOT NULL AS email_verified, \
             (SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > now()) AS active_sessions, \
             coalesce(e.data_limit_bytes <= (SELECT coalesce(sum(d.rx_bytes + d.tx_bytes), 0) FROM usage_daily d \
               WHERE d.user_id = u.id AND d.day >= (e.period_start AT TIME ZONE 'UTC')::date), false) AS over_limit, \
             e.plan_name, CASE WHEN e.paid THEN e.current_period_end END AS paid_until \
             FROM users u JOIN entitlements e ON e.user_id = u.id WHERE u.id = $1 AND e.user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(pool)
    })
    .await
}

/// The active account with this email address: (id, username, the address as stored).
pub async fn find_by_email(pool: &PgPool, email: &str) -> sqlx::Result<Option<(i64, String, String)>> {
    read(|| {
        sqlx::query_as(
            "SELECT id, username::text, email::text FROM users WHERE email = $1::citext AND status = 'active'",
        )
        .bind(email)
        .fetch_optional(pool)
    })
    .await
}

/// Whether the user's address is confirmed; None: no such user.
pub async fn email_verified(pool: &PgPool, user_id: i64) -> sqlx::Result<Option<bool>> {
    read(|| {
        sqlx::query_scalar("SELECT email_verified_at IS NOT NULL FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(pool)
    })
    .await
}

pub async fn admin_exists(pool: &PgPool) -> sqlx::Result<bool> {
    read(|| sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')").fetch_one(pool)).await
}

pub async fn count(pool: &PgPool) -> sqlx::Result<i64> {
    read(|| sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool)).await
}

pub async fn username_taken(pool: &PgPool, username: &str) -> sqlx::Result<bool> {
    read(|| {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE username = $1::citext)")
            .bind(username)
            .fetch_one(pool)
    })
    .await
}

pub async fn id_by_username(pool: &PgPool, username: &str) -> sqlx::Result<Option<i64>> {
    read(|| sqlx::query_scalar("SELECT id FROM users WHERE username = $1::citext").bind(username).fetch_optional(pool))
        .await
}

/// Sets `active` or `suspended` and ends every session of the user when suspending; the token
/// hashes of the ended sessions, or None if there is no such user.
pub async fn set_status(pool: &PgPool, user_id: i64, status: &str) -> sqlx::Result<Option<Vec<Vec<u8>>>> {
    let mut tx = pool.begin().await?;
    let found = sqlx::query("UPDATE users SET status = $2, updated_at = now() WHERE id = $1")
        .bind(user_id)
        .bind(status)
        .execute(&mut *tx)
        .await?;
    if found.rows_affected() == 0 {
        return Ok(None);
    }
    let ended = if status == "suspended" {
        sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash")
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    Ok(Some(ended))
}

/// Sets the user's role; the token hashes of their sessions (whose cached copies carry the old
/// role), or None if there is no such user.
pub async fn set_role(pool: &PgPool, user_id: i64, role: &str) -> sqlx::Result<Option<Vec<Vec<u8>>>> {
    let mut tx = pool.begin().await?;
    let found = sqlx::query("UPDATE users SET role = $2, updated_at = now() WHERE id = $1")
        .bind(user_id)
        .bind(role)
        .execute(&mut *tx)
        .await?;
    if found.rows_affected() == 0 {
        return Ok(None);
    }
    let sessions = sqlx::query_scalar("SELECT token_hash FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(sessions))
}

/// The user's name and email address, for a message to them.
pub async fn contact(conn: &mut sqlx::PgConnection, user_id: i64) -> sqlx::Result<(String, String)> {
    sqlx::query_as("SELECT username::text, email::text FROM users WHERE id = $1").bind(user_id).fetch_one(conn).await
}
