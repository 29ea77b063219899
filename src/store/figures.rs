//! Aggregate figures for monitoring, read at scrape time.
use super::read;
use sqlx::PgPool;

/// Users with a session active in the last five minutes.
pub async fn active_users(pool: &PgPool) -> sqlx::Result<i64> {
    read(|| {
        sqlx::query_scalar(
            "SELECT count(DISTINCT user_id) FROM sessions WHERE last_seen_at > now() - interval '5 minutes' \
             AND expires_at > now()",
        )
        .fetch_one(pool)
    })
    .await
}

/// Open VPN sessions per node and protocol.
pub async fn open_vpn_sessions(pool: &PgPool) -> sqlx::Result<Vec<(String, String, i64)>> {
    read(|| {
        sqlx::query_as(
            "SELECT n.name::text, c.protocol, count(*) FROM connection_sessions s JOIN nodes n ON n.id = s.node_id \
             JOIN clients c ON c.id = s.client_id WHERE s.ended_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .fetch_all(pool)
    })
    .await
}

pub async fn payments_by_status(pool: &PgPool) -> sqlx::Result<Vec<(String, i64)>> {
    read(|| sqlx::query_as("SELECT status, count(*) FROM payments GROUP BY status ORDER BY status").fetch_all(pool))
        .await
}

/// Each node and when it last polled (Unix seconds; 0: never).
pub async fn node_last_seen(pool: &PgPool) -> sqlx::Result<Vec<(String, i64)>> {
    read(|| {
        sqlx::query_as(
            "SELECT name::text, coalesce(extract(epoch FROM last_seen_at)::bigint, 0) FROM nodes WHERE active ORDER BY name",
        )
        .fetch_all(pool)
    })
    .await
}

/// Money received in the last 30 days, per currency (minor units), refunds excluded.
pub async fn revenue_30d(pool: &PgPool) -> sqlx::Result<Vec<(String, i64)>> {
    read(|| {
        sqlx::query_as(
            "SELECT currency, sum(amount_cents)::bigint FROM payments WHERE status = 'paid' \
             AND paid_at > now() - interval '30 days' GROUP BY currency ORDER BY currency",
        )
        .fetch_all(pool)
    })
    .await
}
