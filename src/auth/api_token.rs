//! Customer API authentication: `Authorization: Bearer phz_…`, a personal access token. The
//! session cookie is never looked at, so the API needs no CSRF token. Each token has its own
//! rate limit; calls without a good token are counted per IP.
use super::node::bearer;
use crate::cache::Decision;
use crate::db::Db;
use crate::domain::api_tokens::{self, Scope};
use crate::error::AppError;
use crate::state::Portal;
use rocket::request::{self, FromRequest, Request};
use std::convert::Infallible;

/// Whose token a call came with, and what it may do.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub user_id: i64,
    scopes: Vec<String>,
}

/// The caller, or the error to answer with (problem details with the right headers).
pub struct ApiAuth(pub Result<ApiCaller, AppError>);

impl ApiAuth {
    /// The caller, if their token carries `scope`; 403 if it does not.
    pub fn with(self, scope: Scope) -> Result<ApiCaller, AppError> {
        let caller = self.0?;
        if caller.scopes.iter().any(|s| s == scope.as_str()) {
            Ok(caller)
        } else {
            Err(AppError::Forbidden(format!("This token lacks the {} scope.", scope.as_str())))
        }
    }
}

async fn authenticate(req: &Request<'_>) -> Result<ApiCaller, AppError> {
    let (Some(db), Some(portal)) = (req.rocket().state::<Db>(), req.rocket().state::<Portal>()) else {
        return Err(AppError::Internal("portal state missing".into()));
    };
    let ip = req.client_ip().map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let holder = match bearer(req) {
        Some(token) => api_tokens::authenticate(db.pool(), token, &ip).await?,
        None => None,
    };
    let Some(holder) = holder else {
        let rule = portal.rules.api_auth_failures_per_ip;
        if let Decision::Limited { retry_after_secs } = portal.limiter.take(&[(rule, &ip)]).await {
            return Err(AppError::RateLimited { retry_after_secs });
        }
        log::warn!(event = "api_auth_failed", ip = ip.as_str(); "api_auth_failed");
        return Err(AppError::Unauthorized(
            "A valid personal access token is required: Authorization: Bearer phz_… (made on the account page).".into(),
        ));
    };
    let rule = portal.rules.api_per_token;
    if let Decision::Limited { retry_after_secs } = portal.limiter.take(&[(rule, &holder.id.to_string())]).await {
        return Err(AppError::RateLimited { retry_after_secs });
    }
    Ok(ApiCaller { user_id: holder.user_id, scopes: holder.scopes })
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ApiAuth {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        request::Outcome::Success(ApiAuth(authenticate(req).await))
    }
}
