//! Node authentication: `Authorization: Bearer TOKEN`, the token a node got when it was added
//! (or last rotated). Failures from one IP are counted and answered 429 past the limit.
use crate::db::Db;
use crate::domain::nodes;
use crate::error::AppError;
use crate::state::Portal;
use rocket::request::{self, FromRequest, Request};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The heartbeat is written at most this often per node and instance.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// Which node a token hash last proved to be, per instance: only a hint of which Redis keys to
/// ask. Whether the token is still good is decided by a signed entry in Redis under the node's
/// token generation (bumped when the token is rotated), or by PostgreSQL.
#[derive(Default)]
pub struct NodeHints(Mutex<HashMap<Vec<u8>, (NodeCaller, Instant)>>);

impl NodeHints {
    pub fn get(&self, token_hash: &[u8]) -> Option<NodeCaller> {
        self.0.lock().expect("not poisoned").get(token_hash).map(|(caller, _)| caller.clone())
    }

    pub fn remember(&self, token_hash: &[u8], caller: &NodeCaller) {
        let mut hints = self.0.lock().expect("not poisoned");
        // Only tokens that PostgreSQL accepted get here; a few per node at most.
        if hints.len() > 10_000 {
            hints.clear();
        }
        hints.insert(token_hash.to_vec(), (caller.clone(), Instant::now()));
    }

    pub fn forget(&self, token_hash: &[u8]) {
        self.0.lock().expect("not poisoned").remove(token_hash);
    }

    /// Whether this instance should write the node's heartbeat now (and it counts as written).
    pub fn heartbeat_due(&self, token_hash: &[u8]) -> bool {
        let mut hints = self.0.lock().expect("not poisoned");
        match hints.get_mut(token_hash) {
            Some((_, at)) if at.elapsed() >= HEARTBEAT_EVERY => {
                *at = Instant::now();
                true
            }
            _ => false,
        }
    }
}

/// Writes the node's heartbeat in the background: the answer does not wait for it.
pub fn spawn_heartbeat(pool: &sqlx::PgPool, node_id: i64) {
    let pool = pool.clone();
    tokio::spawn(async move { nodes::heartbeat(&pool, node_id).await });
}

/// The answer to a call without a good token: 429 past the per-IP limit of failures, else 401.
pub async fn refuse(portal: &Portal, ip: &str) -> AppError {
    let checks = [(portal.node_auth, ip)];
    if let crate::cache::Decision::Limited { retry_after_secs } = portal.limiter.take(&checks).await {
        return AppError::RateLimited { retry_after_secs };
    }
    log::warn!(event = "node_auth_failed", ip = ip; "node_auth_failed");
    AppError::Unauthorized("A valid node token is required: Authorization: Bearer TOKEN.".into())
}

/// The node making the call.
#[derive(Debug, Clone)]
pub struct NodeCaller {
    pub id: i64,
    pub name: String,
}

/// The caller, or the error to answer with (as JSON problem details, with the right headers).
pub struct NodeAuth(pub Result<NodeCaller, AppError>);

pub fn bearer<'a>(req: &'a Request<'_>) -> Option<&'a str> {
    let value = req.headers().get_one("Authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn authenticate(req: &Request<'_>) -> Result<NodeCaller, AppError> {
    let (Some(db), Some(portal)) = (req.rocket().state::<Db>(), req.rocket().state::<Portal>()) else {
        return Err(AppError::Internal("portal state missing".into()));
    };
    let found = match bearer(req) {
        Some(token) => nodes::authenticate(db.pool(), token).await?,
        None => None,
    };
    if let Some(holder) = found {
        if holder.heartbeat_due {
            spawn_heartbeat(db.pool(), holder.id);
        }
        return Ok(NodeCaller { id: holder.id, name: holder.name });
    }
    let ip = req.client_ip().map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    Err(refuse(portal, &ip).await)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for NodeAuth {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        request::Outcome::Success(NodeAuth(authenticate(req).await))
    }
}
