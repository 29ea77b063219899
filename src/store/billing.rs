//! Plans, subscriptions, payments and the provider events already handled.
use super::read;
use super::violated_constraint;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Plan {
    pub id: i64,
    pub name: String,
    pub price_cents: i64,
    pub currency: String,
    pub period_days: i32,
    pub max_clients: i32,
    pub data_limit_bytes: Option<i64>,
    pub active: bool,
    pub free: bool,
}

const PLAN_COLUMNS: &str =
    "id, name::text AS name, price_cents, currency, period_days, max_clients, data_limit_bytes, active, free";

pub struct PlanFields<'a> {
    pub name: &'a str,
    pub price_cents: i64,
    pub currency: &'a str,
    pub period_days: i32,
    pub max_clients: i32,
    pub data_limit_bytes: Option<i64>,
    pub active: bool,
    pub free: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanConflict {
    #[error("a plan has this name")]
    Name,
    #[error("another plan is the free plan")]
    Free,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn plan_conflict(e: sqlx::Error) -> PlanConflict {
    match violated_constraint(&e).as_deref() {
        Some("plans_name_key") => PlanConflict::Name,
        Some("plans_one_free") => PlanConflict::Free,
        _ => PlanConflict::Db(e),
    }
}

/// Every plan (the admin's list), or only the active ones (what users can buy).
pub async fn plans(pool: &PgPool, only_active: bool) -> sqlx::Result<Vec<Plan>> {
    read(|| {
        sqlx::query_as::<_, Plan>(sqlx::AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM plans WHERE active OR NOT $1 ORDER BY free DESC, price_cents, name"
        )))
        .bind(only_active)
        .fetch_all(pool)
    })
    .await
}

pub async fn plan(pool: &PgPool, id: i64) -> sqlx::Result<Option<Plan>> {
    read(|| {
        sqlx::query_as::<_, Plan>(sqlx::AssertSqlSafe(format!("SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1")))
            .bind(id)
            .fetch_optional(pool)
    })
    .await
}

type PlanQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds the plan's fields as $n, $n+1, … in the order both statements list them.
fn bind_plan<'q>(query: PlanQuery<'q>, p: &PlanFields<'q>) -> PlanQuery<'q> {
    query
        .bind(p.name)
        .bind(p.price_cents)
        .bind(p.currency)
        .bind(p.period_days)
        .bind(p.max_clients)
        .bind(p.data_limit_bytes)
        .bind(p.active)
        .bind(p.free)
}

pub async fn insert_plan(pool: &PgPool, p: &PlanFields<'_>) -> Result<i64, PlanConflict> {
    let insert = sqlx::query(
        "INSERT INTO plans (name, price_cents, currency, period_days, max_clients, data_limit_bytes, active, free) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    );
    let row = bind_plan(insert, p).fetch_one(pool).await.map_err(plan_conflict)?;
    Ok(sqlx::Row::get(&row, 0))
}

/// False: no such plan.
pub async fn update_plan(pool: &PgPool, id: i64, p: &PlanFields<'_>) -> Result<bool, PlanConflict> {
    let update = sqlx::query(
        "UPDATE plans SET name = $1, price_cents = $2, currency = $3, period_days = $4, max_clients = $5, \
         data_limit_bytes = $6, active = $7, free = $8, updated_at = now() WHERE id = $9",
    );
    let done = bind_plan(update, p).bind(id).execute(pool).await.map_err(plan_conflict)?;
    Ok(done.rows_affected() == 1)
}

/// What a user gets now (the `entitlements` view).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entitlement {
    pub plan_id: Option<i64>,
    pub plan_name: Option<String>,
    /// A current paid subscription (not the free plan).
    pub paid: bool,
    pub current_period_end: Option<OffsetDateTime>,
    pub max_clients: i32,
    pub data_limit_bytes: Option<i64>,
    pub period_start: OffsetDateTime,
    pub period_days: Option<i32>,
    pub email_verified: bool,
}

pub async fn entitlement(pool: &PgPool, user_id: i64) -> sqlx::Result<Option<Entitlement>> {
    read(|| {
        sqlx::query_as::<_, Entitlement>(
            "SELECT e.plan_id, e.plan_name, e.paid, e.current_period_end, e.max_clients, e.data_limit_bytes, \
             e.period_start, p.period_days, u.email_verified_at IS NOT NULL AS email_verified \
             FROM entitlements e JOIN users u ON u.id = e.user_id LEFT JOIN plans p ON p.id = e.plan_id \
             WHERE e.user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(pool)
    })
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Subscription {
    pub plan_id: i64,
    pub period_anchor: OffsetDateTime,
    pub current_period_end: OffsetDateTime,
    pub next_plan_id: Option<i64>,
    pub next_plan_from: Option<OffsetDateTime>,
}

/// The user's subscription, locked until the transaction ends: one credit or refund at a time.
pub async fn lock_subscription(conn: &mut PgConnection, user_id: i64) -> sqlx::Result<Option<Subscription>> {
    // The user's row is locked first, so a first subscription (no row to lock yet) is serialised too.
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE").bind(user_id).execute(&mut *conn).await?;
    sqlx::query_as::<_, Subscription>(
        "SELECT plan_id, period_anchor, current_period_end, next_plan_id, next_plan_from FROM subscriptions \
         WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

pub async fn save_subscription(conn: &mut PgConnection, user_id: i64, s: &Subscription) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO subscriptions (user_id, plan_id, period_anchor, current_period_end, next_plan_id, next_plan_from) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id) DO UPDATE SET plan_id = $2, period_anchor = $3, \
         current_period_end = $4, next_plan_id = $5, next_plan_from = $6, updated_at = now()",
    )
    .bind(user_id)
    .bind(s.plan_id)
    .bind(s.period_anchor)
    .bind(s.current_period_end)
    .bind(s.next_plan_id)
    .bind(s.next_plan_from)
    .execute(conn)
    .await?;
    Ok(())
}

/// The subscription as the billing page shows it, with the plans' names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubscriptionView {
    pub plan_name: String,
    pub current_period_end: OffsetDateTime,
    pub next_plan_name: Option<String>,
    pub next_plan_from: Option<OffsetDateTime>,
}

pub async fn subscription_view(pool: &PgPool, user_id: i64) -> sqlx::Result<Option<SubscriptionView>> {
    read(|| {
        sqlx::query_as::<_, SubscriptionView>(
            "SELECT p.name::text AS plan_name, s.current_period_end, n.name::text AS next_plan_name, s.next_plan_from \
             FROM subscriptions s JOIN plans p ON p.id = s.plan_id LEFT JOIN plans n ON n.id = s.next_plan_id \
             WHERE s.user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(pool)
    })
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Payment {
    pub id: Uuid,
    pub user_id: i64,
    pub plan_id: i64,
    pub plan_name: String,
    pub provider: String,
    pub provider_ref: Option<String>,
    pub amount_cents: i64,
    pub currency: String,
    pub period_days: i32,
    pub status: String,
    pub failure: Option<String>,
    pub created_at: OffsetDateTime,
    pub paid_at: Option<OffsetDateTime>,
    pub refunded_at: Option<OffsetDateTime>,
    pub username: String,
    pub email: String,
}

const PAYMENT_SELECT: &str = "SELECT pay.id, pay.user_id, pay.plan_id, p.name::text AS plan_name, pay.provider, \
     pay.provider_ref, pay.amount_cents, pay.currency, pay.period_days, pay.status, pay.failure, pay.created_at, \
     pay.paid_at, pay.refunded_at, u.username::text AS username, u.email::text AS email \
     FROM payments pay JOIN plans p ON p.id = pay.plan_id JOIN users u ON u.id = pay.user_id";

pub struct NewPayment<'a> {
    pub id: Uuid,
    pub user_id: i64,
    pub plan: &'a Plan,
    pub provider: &'a str,
    pub provider_ref: Option<&'a str>,
    pub idempotency_key: &'a str,
}

/// Records a pending payment; if the user already started one with this idempotency key, that
/// one's id instead (and false).
pub async fn insert_payment(pool: &PgPool, p: &NewPayment<'_>) -> sqlx::Result<(Uuid, bool)> {
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO payments (id, user_id, plan_id, provider, provider_ref, amount_cents, currency, period_days, \
         idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(p.id)
    .bind(p.user_id)
    .bind(p.plan.id)
    .bind(p.provider)
    .bind(p.provider_ref)
    .bind(p.plan.price_cents)
    .bind(&p.plan.currency)
    .bind(p.plan.period_days)
    .bind(p.idempotency_key)
    .fetch_optional(pool)
    .await?;
    if let Some(id) = inserted {
        return Ok((id, true));
    }
    let first = sqlx::query_scalar("SELECT id FROM payments WHERE user_id = $1 AND idempotency_key = $2")
        .bind(p.user_id)
        .bind(p.idempotency_key)
        .fetch_one(pool)
        .await?;
    Ok((first, false))
}

/// Names the provider's checkout session of a pending payment.
pub async fn set_provider_ref(pool: &PgPool, id: Uuid, provider_ref: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE payments SET provider_ref = $2, updated_at = now() WHERE id = $1 AND provider_ref IS NULL")
        .bind(id)
        .bind(provider_ref)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn payment(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Payment>> {
    find_payment(pool, id, None).await
}

/// A payment of this user's: another user's is None, as if it did not exist.
pub async fn users_payment(pool: &PgPool, user_id: i64, id: Uuid) -> sqlx::Result<Option<Payment>> {
    find_payment(pool, id, Some(user_id)).await
}

async fn find_payment(pool: &PgPool, id: Uuid, user_id: Option<i64>) -> sqlx::Result<Option<Payment>> {
    read(|| {
        sqlx::query_as::<_, Payment>(sqlx::AssertSqlSafe(format!(
            "{PAYMENT_SELECT} WHERE pay.id = $1 AND ($2::bigint IS NULL OR pay.user_id = $2)"
        )))
        .bind(id)
        .bind(user_id)
        .fetch_optional(pool)
    })
    .await
}

pub async fn users_payments(pool: &PgPool, user_id: i64, limit: i64) -> sqlx::Result<Vec<Payment>> {
    read(|| {
        sqlx::query_as::<_, Payment>(sqlx::AssertSqlSafe(format!(
            "{PAYMENT_SELECT} WHERE pay.user_id = $1 ORDER BY pay.created_at DESC LIMIT $2"
        )))
        .bind(user_id)
        .bind(limit)
        .fetch_all(pool)
    })
    .await
}

/// The newest payments, of one status or all.
pub async fn recent_payments(pool: &PgPool, status: Option<&str>, limit: i64) -> sqlx::Result<Vec<Payment>> {
    read(|| {
        sqlx::query_as::<_, Payment>(sqlx::AssertSqlSafe(format!(
            "{PAYMENT_SELECT} WHERE ($1::text IS NULL OR pay.status = $1) ORDER BY pay.created_at DESC LIMIT $2"
        )))
        .bind(status)
        .bind(limit)
        .fetch_all(pool)
    })
    .await
}

/// The payment a provider's reference or intent names.
pub async fn payment_by_provider(
    conn: &mut PgConnection,
    provider: &str,
    provider_ref: Option<&str>,
    intent: Option<&str>,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM payments WHERE provider = $1 AND (provider_ref = $2 OR provider_intent = $3) LIMIT 1",
    )
    .bind(provider)
    .bind(provider_ref)
    .bind(intent)
    .fetch_optional(conn)
    .await
}

/// Records a provider event; false if it was recorded before (a replay).
pub async fn record_event(
    conn: &mut PgConnection,
    provider: &str,
    event_id: &str,
    event_type: &str,
    payment_id: Option<Uuid>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO payment_events (provider, event_id, event_type, payment_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(provider)
    .bind(event_id)
    .bind(event_type)
    .bind(payment_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What crediting or refunding a payment needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Settled {
    pub user_id: i64,
    pub plan_id: i64,
    pub period_days: i32,
    pub amount_cents: i64,
    pub currency: String,
}

/// Marks a pending (or failed, then paid after all) payment paid; None if it is not in such a
/// state, so a payment is credited once however many times this runs.
pub async fn mark_paid(conn: &mut PgConnection, id: Uuid, intent: Option<&str>) -> sqlx::Result<Option<Settled>> {
    sqlx::query_as::<_, Settled>(
        "UPDATE payments SET status = 'paid', paid_at = now(), failure = NULL, updated_at = now(), \
         provider_intent = coalesce($2, provider_intent) WHERE id = $1 AND status IN ('pending', 'failed') \
         RETURNING user_id, plan_id, period_days, amount_cents, currency",
    )
    .bind(id)
    .bind(intent)
    .fetch_optional(conn)
    .await
}

/// Marks a pending payment failed: the user it belongs to, or None if it was not pending.
pub async fn mark_failed(conn: &mut PgConnection, id: Uuid, reason: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "UPDATE payments SET status = 'failed', failure = left($2, 500), updated_at = now() \
         WHERE id = $1 AND status = 'pending' RETURNING user_id",
    )
    .bind(id)
    .bind(reason)
    .fetch_optional(conn)
    .await
}

/// Marks a paid payment refunded; None if it was not paid.
pub async fn mark_refunded(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Settled>> {
    sqlx::query_as::<_, Settled>(
        "UPDATE payments SET status = 'refunded', refunded_at = now(), updated_at = now() \
         WHERE id = $1 AND status = 'paid' RETURNING user_id, plan_id, period_days, amount_cents, currency",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Users whose subscription (or its next plan) starts or ends within `(since, until]`: their
/// peers and limits change with the clock, not with a write.
pub async fn turned_between(pool: &PgPool, since: OffsetDateTime, until: OffsetDateTime) -> sqlx::Result<Vec<i64>> {
    read(|| {
        sqlx::query_scalar(
            "SELECT user_id FROM subscriptions WHERE current_period_end > $1 AND current_period_end <= $2 \
             UNION SELECT user_id FROM subscriptions WHERE next_plan_from > $1 AND next_plan_from <= $2 \
             UNION SELECT s.user_id FROM subscriptions s \
               CROSS JOIN LATERAL (SELECT * FROM entitlements e WHERE e.user_id = s.user_id AND e.paid) e \
               WHERE e.period_start > $1 AND e.period_start <= $2",
        )
        .bind(since)
        .bind(until)
        .fetch_all(pool)
    })
    .await
}

/// Subscriptions ending within `days` with no next payment: (user id, email, username, plan, end).
pub async fn ending_within(
    pool: &PgPool,
    days: i64,
) -> sqlx::Result<Vec<(i64, String, String, String, OffsetDateTime)>> {
    read(|| {
        sqlx::query_as(
            "SELECT s.user_id, u.email::text, u.username::text, p.name::text, s.current_period_end \
             FROM subscriptions s JOIN users u ON u.id = s.user_id JOIN plans p ON p.id = coalesce(s.next_plan_id, s.plan_id) \
             WHERE s.current_period_end > now() AND s.current_period_end <= now() + make_interval(days => $1::int) \
             AND u.status = 'active'",
        )
        .bind(days as i32)
        .fetch_all(pool)
    })
    .await
}

pub async fn plan_name(conn: &mut PgConnection, id: i64) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT name::text FROM plans WHERE id = $1").bind(id).fetch_one(conn).await
}
