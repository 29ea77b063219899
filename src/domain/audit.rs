//! Who changed what: every admin (and operator) change is recorded in the append-only audit log.
use crate::store::audit::{self as store, NewEntry};
use sqlx::PgPool;

/// Who makes a change, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub name: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

impl Actor {
    /// An operator at the command line.
    pub fn cli() -> Self {
        Actor { user_id: None, name: "cli".into(), ip: None, request_id: None }
    }
}

/// One change: its action (`plan.update`), its target (`plan`, `7`) and the state around it.
pub struct Change<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl<'a> Change<'a> {
    pub fn new(action: &'a str, target_type: &'a str, target_id: impl ToString) -> Self {
        Change { action, target_type, target_id: target_id.to_string(), before: None, after: None }
    }

    pub fn before(mut self, value: serde_json::Value) -> Self {
        self.before = Some(value);
        self
    }

    pub fn after(mut self, value: serde_json::Value) -> Self {
        self.after = Some(value);
        self
    }
}

fn entry<'a>(actor: &'a Actor, change: &'a Change<'_>) -> NewEntry<'a> {
    NewEntry {
        actor_id: actor.user_id,
        actor: &actor.name,
        action: change.action,
        target_type: change.target_type,
        target_id: &change.target_id,
        before: change.before.clone(),
        after: change.after.clone(),
        ip: actor.ip.as_deref(),
        request_id: actor.request_id.as_deref(),
    }
}

/// Records a change inside the transaction that makes it (both commit, or neither).
pub async fn record_in(conn: &mut sqlx::PgConnection, actor: &Actor, change: Change<'_>) -> sqlx::Result<()> {
    store::insert(conn, &entry(actor, &change)).await?;
    log::info!(event = "audited", action = change.action, actor = actor.name.as_str(); "audited");
    Ok(())
}

/// Records a change that was committed on its own just before.
pub async fn record(pool: &PgPool, actor: &Actor, change: Change<'_>) -> sqlx::Result<()> {
    store::insert(pool, &entry(actor, &change)).await?;
    log::info!(event = "audited", action = change.action, actor = actor.name.as_str(); "audited");
    Ok(())
}

pub use store::{Entry, Filter};

pub const PAGE: i64 = 50;

pub async fn search(pool: &PgPool, filter: &Filter) -> sqlx::Result<Vec<Entry>> {
    store::search(pool, filter, PAGE).await
}
