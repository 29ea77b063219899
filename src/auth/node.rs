//! Node authentication: `Authorization: Bearer TOKEN`, the token a node got when it was added
//! (or last rotated). Failures from one IP are counted and answered 429 past the limit.
use crate::db::Db;
use crate::domain::nodes;
use crate::error::AppError;
use crate::state::Portal;
use rocket::request::{self, FromRequest, Request};
use std::convert::Infallible;

/// The node making the call.
#[derive(Debug, Clone)]
pub struct NodeCaller {
    pub id: i64,
    pub name: String,
}

/// The caller, or the error to answer with (as JSON problem details, with the right headers).
pub struct NodeAuth(pub Result<NodeCaller, AppError>);

fn bearer<'a>(req: &'a Request<'_>) -> Option<&'a str> {
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
            // The heartbeat need not hold up the answer.
            let pool = db.pool().clone();
            tokio::spawn(async move { nodes::heartbeat(&pool, holder.id).await });
        }
        return Ok(NodeCaller { id: holder.id, name: holder.name });
    }
    let ip = req.client_ip().map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let checks = [(portal.node_auth, ip.as_str())];
    if let crate::cache::Decision::Limited { retry_after_secs } = portal.limiter.take(&checks).await {
        return Err(AppError::RateLimited { retry_after_secs });
    }
    log::warn!(event = "node_auth_failed", ip = ip.as_str(); "node_auth_failed");
    Err(AppError::Unauthorized("A valid node token is required: Authorization: Bearer TOKEN.".into()))
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for NodeAuth {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        request::Outcome::Success(NodeAuth(authenticate(req).await))
    }
}
