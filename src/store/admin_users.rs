//! What the admin users panel reads: search by prefix with keyset pagination, and one user whole.
use super::read;
use sqlx::PgPool;
use time::OffsetDateTime;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub role: String,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub active_clients: i32,
    /// The plan of a current subscription, if any.
    pub paid_plan: Option<String>,
    /// The key the next page starts after.
    pub sort_key: String,
}

/// A `UserRow`'s columns from `u` (users), all but its sort key.
const USER_COLUMNS: &str =
    "u.id, u.username::text AS username, u.email::text AS email, u.role, u.status, u.created_at, \
     u.active_clients, (SELECT p.name::text FROM subscriptions s JOIN plans p ON p.id = s.plan_id \
       WHERE s.user_id = u.id AND s.current_period_end > now()) AS paid_plan";

/// The panel's filters; empty ones match everyone.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    /// A username prefix, or an email prefix when it holds `@`.
    pub prefix: Option<String>,
    pub status: Option<String>,
    pub role: Option<String>,
    /// A plan id: users whose current subscription is on it.
    pub plan_id: Option<i64>,
    /// Start after this (sort key, id).
    pub after: Option<(String, i64)>,
}

/// A page of users: by the searched field's lower-cased value when there is a prefix, else by
/// name; each step an index range scan (users_username_prefix / users_email_prefix).
pub async fn search(pool: &PgPool, f: &UserFilter, limit: i64) -> sqlx::Result<Vec<UserRow>> {
    let by_email = f.prefix.as_deref().is_some_and(|p| p.contains('@'));
    let key = if by_email { "(lower(u.email::text) COLLATE \"C\")" } else { "(lower(u.username::text) COLLATE \"C\")" };
    // Only `key` (one of two fixed expressions) is spliced in; every value is a bind parameter.
    let sql = format!(
        "SELECT {USER_COLUMNS}, {key} AS sort_key FROM users u \
         WHERE ($1::text IS NULL OR {key} LIKE $1 || '%') \
         AND ($2::text IS NULL OR u.status = $2) AND ($3::text IS NULL OR u.role = $3) \
         AND ($4::bigint IS NULL OR EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = u.id \
              AND s.plan_id = $4 AND s.current_period_end > now())) \
         AND ($5::text IS NULL OR ({key}, u.id) > ($5 COLLATE \"C\", $6)) \
         ORDER BY {key}, u.id LIMIT $7"
    );
    let prefix =
        f.prefix.as_deref().map(|p| p.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    read(|| {
        sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&prefix)
            .bind(&f.status)
            .bind(&f.role)
            .bind(f.plan_id)
            .bind(f.after.as_ref().map(|a| a.0.clone()))
            .bind(f.after.as_ref().map_or(0, |a| a.1))
            .bind(limit)
            .fetch_all(pool)
    })
    .await
}

pub async fn user(pool: &PgPool, id: i64) -> sqlx::Result<Option<UserRow>> {
    read(|| {
        sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, '' AS sort_key FROM users u WHERE u.id = $1"
        )))
        .bind(id)
        .fetch_optional(pool)
    })
    .await
}

/// A client as the admin panels list it, with its owner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRow {
    pub id: uuid::Uuid,
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub protocol: String,
    pub status: String,
    pub address: Option<String>,
    pub node_name: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Default, Clone)]
pub struct ClientFilter {
    pub user_id: Option<i64>,
    pub status: Option<String>,
    pub protocol: Option<String>,
    /// Start after this (created_at, id).
    pub after: Option<(OffsetDateTime, uuid::Uuid)>,
}

/// Clients, newest first (keyset on created_at, id).
pub async fn clients(pool: &PgPool, f: &ClientFilter, limit: i64) -> sqlx::Result<Vec<ClientRow>> {
    read(|| {
        sqlx::query_as::<_, ClientRow>(
            "SELECT c.id, c.user_id, u.username::text AS username, c.name, c.protocol, c.status, c.address, \
             n.name::text AS node_name, c.created_at FROM clients c JOIN users u ON u.id = c.user_id \
             JOIN nodes n ON n.id = c.node_id \
             WHERE ($1::bigint IS NULL OR c.user_id = $1) AND ($2::text IS NULL OR c.status = $2) \
             AND ($3::text IS NULL OR c.protocol = $3) \
             AND ($4::timestamptz IS NULL OR (c.created_at, c.id) < ($4, $5)) \
             ORDER BY c.created_at DESC, c.id DESC LIMIT $6",
        )
        .bind(f.user_id)
        .bind(&f.status)
        .bind(&f.protocol)
        .bind(f.after.map(|a| a.0))
        .bind(f.after.map_or(uuid::Uuid::nil(), |a| a.1))
        .bind(limit)
        .fetch_all(pool)
    })
    .await
}

/// The owner of a client (any user's).
pub async fn client_owner(pool: &PgPool, id: uuid::Uuid) -> sqlx::Result<Option<i64>> {
    read(|| sqlx::query_scalar("SELECT user_id FROM clients WHERE id = $1").bind(id).fetch_optional(pool)).await
}

/// The overview's figures.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Overview {
    pub users: i64,
    pub paying_users: i64,
    pub open_tickets: i64,
}

pub async fn overview(pool: &PgPool) -> sqlx::Result<Overview> {
    read(|| {
        sqlx::query_as::<_, Overview>(
            "SELECT (SELECT count(*) FROM users) AS users, \
             (SELECT count(*) FROM subscriptions WHERE current_period_end > now()) AS paying_users, \
             (SELECT count(*) FROM tickets WHERE status = 'open') AS open_tickets",
        )
        .fetch_one(pool)
    })
    .await
}

/// Money received this calendar month (UTC), per currency, in minor units.
pub async fn revenue_this_month(pool: &PgPool) -> sqlx::Result<Vec<(String, i64)>> {
    read(|| {
        sqlx::query_as(
            "SELECT currency, sum(amount_cents)::bigint FROM payments WHERE status = 'paid' \
             AND paid_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' GROUP BY currency ORDER BY currency",
        )
        .fetch_all(pool)
    })
    .await
}

/// Per day (UTC) for the last `days` days: sign-ups, and money received (all currencies summed
/// in minor units; the chart says which currency when there is one).
pub async fn daily(pool: &PgPool, days: i32) -> sqlx::Result<Vec<(time::Date, i64, i64)>> {
    read(|| {
        sqlx::query_as(
            "SELECT d::date, \
             (SELECT count(*) FROM users u WHERE u.created_at >= d AND u.created_at < d + interval '1 day'), \
             (SELECT coalesce(sum(amount_cents), 0)::bigint FROM payments p WHERE p.status = 'paid' \
               AND p.paid_at >= d AND p.paid_at < d + interval '1 day') \
             FROM generate_series(date_trunc('day', now() AT TIME ZONE 'UTC') - make_interval(days => $1 - 1), \
                                  date_trunc('day', now() AT TIME ZONE 'UTC'), interval '1 day') AS g(d_local), \
             LATERAL (SELECT d_local AT TIME ZONE 'UTC' AS d) t ORDER BY 1",
        )
        .bind(days)
        .fetch_all(pool)
    })
    .await
}
