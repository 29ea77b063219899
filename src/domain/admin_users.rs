//! What admins do to users and their clients: find them, suspend and reinstate, change roles,
//! extend a subscription by hand, revoke a client. Every change is audited.
use super::audit::{self, Actor, Change};
use super::{billing, peers, FieldErrors};
use crate::cache::{FragmentCache, SessionCache};
use crate::store::{self, admin_users::UserFilter, billing as store_billing};
use sqlx::PgPool;
use uuid::Uuid;

pub const PAGE: i64 = 50;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The users panel's query as typed.
#[derive(Debug, Default, Clone)]
pub struct UserQuery {
    pub q: String,
    pub status: String,
    pub role: String,
    pub plan: String,
    pub after: String,
}

impl UserQuery {
    pub fn filter(&self) -> Result<UserFilter, AdminError> {
        let mut errors = FieldErrors::default();
        let q = self.q.trim();
        if q.len() > 254 || q.contains('\0') {
            errors.add("q", "Search with at most 254 characters.");
        }
        let pick = |value: &str, allowed: &[&str], field: &str, errors: &mut FieldErrors| match value {
            "" => None,
            v if allowed.contains(&v) => Some(v.to_owned()),
            _ => {
                errors.add(field, format!("Choose one of: {}.", allowed.join(", ")));
                None
            }
        };
        let status = pick(&self.status, &["active", "suspended"], "status", &mut errors);
        let role = pick(&self.role, &["user", "admin"], "role", &mut errors);
        let plan_id = match self.plan.as_str() {
            "" => None,
            p => p.parse().map(Some).unwrap_or_else(|_| {
                errors.add("plan", "Choose a plan from the list.");
                None
            }),
        };
        // The cursor is "sort key" + "\n" + id, as the page's "next" link wrote it.
        let after = match self.after.rsplit_once('\n') {
            Some((key, id)) => id.parse().ok().map(|id| (key.to_owned(), id)),
            None if self.after.is_empty() => None,
            None => {
                errors.add("after", "That page link is broken; start from the first page.");
                None
            }
        };
        if !errors.is_empty() {
            return Err(AdminError::Invalid(errors));
        }
        Ok(UserFilter { prefix: (!q.is_empty()).then(|| q.to_owned()), status, role, plan_id, after })
    }
}

pub async fn search(pool: &PgPool, query: &UserQuery) -> Result<Vec<store::admin_users::UserRow>, AdminError> {
    Ok(store::admin_users::search(pool, &query.filter()?, PAGE).await?)
}

/// Everything the admin's user page shows.
pub struct UserPage {
    pub user: store::admin_users::UserRow,
    pub subscription: Option<store_billing::SubscriptionView>,
    pub clients: Vec<store::admin_users::ClientRow>,
    pub payments: Vec<store_billing::Payment>,
    pub tickets: Vec<store::tickets::Ticket>,
    pub sessions: Vec<super::sessions::SessionInfo>,
}

pub async fn user_page(pool: &PgPool, id: i64) -> Result<UserPage, AdminError> {
    let user = store::admin_users::user(pool, id).await?.ok_or(AdminError::NotFound)?;
    let filter = store::admin_users::ClientFilter { user_id: Some(id), ..Default::default() };
    Ok(UserPage {
        subscription: store_billing::subscription_view(pool, id).await?,
        clients: store::admin_users::clients(pool, &filter, 200).await?,
        payments: store_billing::users_payments(pool, id, 50).await?,
        tickets: store::tickets::users_tickets(pool, id).await?,
        sessions: store::sessions::list_for_user(pool, id).await?,
        user,
    })
}

/// Suspends (signed out at once on every instance, clients off the nodes) or reinstates.
pub async fn set_suspended(
    pool: &PgPool,
    fragments: &FragmentCache,
    sessions: &SessionCache,
    actor: &Actor,
    user_id: i64,
    suspended: bool,
) -> Result<(), AdminError> {
    if !super::usage::set_user_status(pool, fragments, sessions, user_id, suspended).await? {
        return Err(AdminError::NotFound);
    }
    fragments.invalidate(&user_id.to_string()).await;
    let action = if suspended { "user.suspend" } else { "user.reinstate" };
    audit::record(pool, actor, Change::new(action, "user", user_id)).await?;
    Ok(())
}

pub async fn set_role(
    pool: &PgPool,
    fragments: &FragmentCache,
    sessions: &SessionCache,
    actor: &Actor,
    user_id: i64,
    role: &str,
) -> Result<(), AdminError> {
    let before = store::admin_users::user(pool, user_id).await?.ok_or(AdminError::NotFound)?.role;
    match super::accounts::set_role(pool, sessions, fragments, user_id, role).await {
        Ok(true) => {}
        Ok(false) => return Err(AdminError::NotFound),
        Err(super::accounts::AccountError::Invalid(errors)) => return Err(AdminError::Invalid(errors)),
        Err(super::accounts::AccountError::Db(e)) => return Err(e.into()),
        Err(other) => return Err(AdminError::Invalid(FieldErrors::single("role", other.to_string()))),
    }
    let change = Change::new("user.set_role", "user", user_id)
        .before(serde_json::json!({ "role": before }))
        .after(serde_json::json!({ "role": role }));
    audit::record(pool, actor, change).await?;
    Ok(())
}

/// Adds `days` of `plan` to the user's subscription without a payment (a goodwill gesture, a
/// payment taken elsewhere), by the same rules as a payment.
pub async fn extend_subscription(
    pool: &PgPool,
    fragments: &FragmentCache,
    actor: &Actor,
    user_id: i64,
    plan_id: &str,
    days: &str,
) -> Result<(), AdminError> {
    let mut errors = FieldErrors::default();
    let days = days.trim().parse::<i32>().ok().filter(|d| (1..=3660).contains(d));
    if days.is_none() {
        errors.add("days", "Enter a number of days from 1 to 3660.");
    }
    let plan = match plan_id.trim().parse::<i64>() {
        Ok(id) => store_billing::plan(pool, id).await?,
        Err(_) => None,
    };
    if plan.is_none() {
        errors.add("plan", "Choose a plan from the list.");
    }
    let (Some(days), Some(plan)) = (days, plan.filter(|_| errors.is_empty())) else {
        return Err(AdminError::Invalid(errors));
    };
    store::admin_users::user(pool, user_id).await?.ok_or(AdminError::NotFound)?;
    let mut tx = pool.begin().await?;
    let current = store_billing::lock_subscription(&mut tx, user_id).await?;
    let next = billing::extend(current.as_ref(), plan.id, days, time::OffsetDateTime::now_utc());
    store_billing::save_subscription(&mut tx, user_id, &next).await?;
    let change = Change::new("subscription.extend", "user", user_id)
        .before(serde_json::json!(current.map(|s| s.current_period_end.unix_timestamp())))
        .after(serde_json::json!({ "plan": plan.name, "days": days, "period_end": next.current_period_end.unix_timestamp() }));
    audit::record_in(&mut tx, actor, change).await?;
    tx.commit().await?;
    fragments.invalidate(&user_id.to_string()).await;
    peers::users_changed(pool, fragments, &[user_id]).await?;
    Ok(())
}

/// Revokes any user's client (the owner's pages and the node's list follow).
pub async fn revoke_client(
    clients: &super::clients::Clients<'_>,
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
) -> Result<i64, AdminError> {
    let owner = store::admin_users::client_owner(pool, id).await?.ok_or(AdminError::NotFound)?;
    match clients.revoke_for_admin(owner, id).await {
        Ok(()) => {}
        Err(super::clients::ClientError::NotFound) => return Err(AdminError::NotFound),
        Err(super::clients::ClientError::Revoked) => {
            return Err(AdminError::Invalid(FieldErrors::single("client", "This client is revoked already.")))
        }
        Err(super::clients::ClientError::Db(e)) => return Err(e.into()),
        Err(other) => return Err(AdminError::Invalid(FieldErrors::single("client", other.to_string()))),
    }
    audit::record(
        pool,
        actor,
        Change::new("client.revoke", "client", id).before(serde_json::json!({ "user_id": owner })),
    )
    .await?;
    Ok(owner)
}

/// The overview's figures (cached for 30 s: they change with the clock and with everyone's
/// actions, so no single write invalidates them).
pub struct AdminOverview {
    pub users: i64,
    pub paying_users: i64,
    pub open_tickets: i64,
    /// (currency, minor units) received this month
    pub revenue: Vec<(String, i64)>,
    /// (node, protocol, open sessions)
    pub vpn_sessions: Vec<(String, String, i64)>,
    /// (day, sign-ups, revenue in minor units)
    pub days: Vec<(time::Date, i64, i64)>,
}

/// The admin overview's figures, read now.
pub async fn overview(pool: &PgPool) -> sqlx::Result<AdminOverview> {
    let o = store::admin_users::overview(pool).await?;
    Ok(AdminOverview {
        users: o.users,
        paying_users: o.paying_users,
        open_tickets: o.open_tickets,
        revenue: store::admin_users::revenue_this_month(pool).await?,
        vpn_sessions: store::figures::open_vpn_sessions(pool).await?,
        days: store::admin_users::daily(pool, 30).await?,
    })
}
