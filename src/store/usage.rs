//! Daily usage per client, and users' data limits.
use super::read;
use sqlx::{PgConnection, PgPool};
use time::Date;
use uuid::Uuid;

/// Adds bytes to each (client, day); counters only ever grow.
pub async fn add_daily(conn: &mut PgConnection, rows: &[(Uuid, Date, i64, i64, i64)]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let clients: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let days: Vec<Date> = rows.iter().map(|r| r.1).collect();
    let users: Vec<i64> = rows.iter().map(|r| r.2).collect();
    let rx: Vec<i64> = rows.iter().map(|r| r.3).collect();
    let tx: Vec<i64> = rows.iter().map(|r| r.4).collect();
    sqlx::query(
        "INSERT INTO usage_daily (client_id, day, user_id, rx_bytes, tx_bytes) \
         SELECT * FROM unnest($1::uuid[], $2::date[], $3::bigint[], $4::bigint[], $5::bigint[]) \
         ON CONFLICT (client_id, day) DO UPDATE SET rx_bytes = usage_daily.rx_bytes + excluded.rx_bytes, \
         tx_bytes = usage_daily.tx_bytes + excluded.tx_bytes",
    )
    .bind(clients)
    .bind(days)
    .bind(users)
    .bind(rx)
    .bind(tx)
    .execute(conn)
    .await?;
    Ok(())
}

/// A user with a data limit, and their use of it in the current period.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LimitedUsage {
    pub user_id: i64,
    pub limit: i64,
    pub used: i64,
    pub period_start: Date,
    pub username: String,
    pub email: String,
}

/// The users among `user_ids` who have a data limit, with what they used in their period.
pub async fn limited_users_usage(conn: &mut PgConnection, user_ids: &[i64]) -> sqlx::Result<Vec<LimitedUsage>> {
    sqlx::query_as(
        "SELECT u.id AS user_id, e.data_limit_bytes AS limit, (e.period_start AT TIME ZONE 'UTC')::date AS period_start, \
         coalesce((SELECT sum(d.rx_bytes + d.tx_bytes) FROM usage_daily d \
           WHERE d.user_id = u.id AND d.day >= (e.period_start AT TIME ZONE 'UTC')::date), 0)::bigint AS used, \
         u.username::text AS username, u.email::text AS email \
         FROM users u JOIN entitlements e ON e.user_id = u.id \
         WHERE u.id = ANY($1) AND e.user_id = ANY($1) AND e.data_limit_bytes IS NOT NULL",
    )
    .bind(user_ids)
    .fetch_all(conn)
    .await
}

/// A user's bytes per day from `from` on (days without traffic are absent).
pub async fn user_days(pool: &PgPool, user_id: i64, from: Date) -> sqlx::Result<Vec<(Date, i64, i64)>> {
    read(|| {
        sqlx::query_as(
        "SELECT day, sum(rx_bytes)::bigint, sum(tx_bytes)::bigint FROM usage_daily WHERE user_id = $1 AND day >= $2 \
         GROUP BY day ORDER BY day",
    )
    .bind(user_id)
    .bind(from)
    .fetch_all(pool)
    })
    .await
}

/// One client's bytes per day from `from` on.
pub async fn client_days(
    pool: &PgPool,
    user_id: i64,
    client_id: Uuid,
    from: Date,
) -> sqlx::Result<Vec<(Date, i64, i64)>> {
    read(|| {
sqlx::query_as(
        "SELECT day, rx_bytes, tx_bytes FROM usage_daily WHERE client_id = $1 AND user_id = $2 AND day >= $3 ORDER BY day",
    )
    .bind(client_id)
    .bind(user_id)
    .bind(from)
    .fetch_all(pool)
})
    .await
}

/// Each of the user's clients' bytes since `from`: (client id, rx, tx).
pub async fn per_client_since(pool: &PgPool, user_id: i64, from: Date) -> sqlx::Result<Vec<(Uuid, i64, i64)>> {
    read(|| {
        sqlx::query_as(
            "SELECT client_id, sum(rx_bytes)::bigint, sum(tx_bytes)::bigint FROM usage_daily \
         WHERE user_id = $1 AND day >= $2 GROUP BY client_id",
        )
        .bind(user_id)
        .bind(from)
        .fetch_all(pool)
    })
    .await
}

pub async fn data_limit(pool: &PgPool, user_id: i64) -> sqlx::Result<Option<i64>> {
    read(|| sqlx::query_scalar("SELECT data_limit_bytes FROM users WHERE id = $1").bind(user_id).fetch_one(pool)).await
}

/// Sets a user's data limit (None: unlimited); false if there is no such user.
pub async fn set_data_limit(pool: &PgPool, user_id: i64, limit: Option<i64>) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE users SET data_limit_bytes = $2, updated_at = now() WHERE id = $1")
        .bind(user_id)
        .bind(limit)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
