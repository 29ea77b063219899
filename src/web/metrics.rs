//! `GET /metrics` in Prometheus's text format, for a scraper holding the bearer token from
//! configuration (`PORTAL_METRICS_TOKEN`); without one configured the route does not exist.
use crate::auth::tokens;
use crate::db::Db;
use crate::error::AppError;
use crate::state::Portal;
use rocket::http::ContentType;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{get, routes, State};

pub fn routes() -> Vec<rocket::Route> {
    routes![metrics]
}

/// The `Authorization: Bearer …` token, if any.
pub struct Bearer(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Bearer {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(Bearer(crate::auth::node::bearer(req).map(str::to_owned)))
    }
}

#[get("/metrics")]
async fn metrics(bearer: Bearer, db: &Db, portal: &State<Portal>) -> Result<(ContentType, String), AppError> {
    let Some(expected) = portal.config.metrics_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(AppError::NotFound);
    };
    if !bearer.0.as_deref().is_some_and(|given| tokens::same_secret(given, expected)) {
        return Err(AppError::Unauthorized("A scraper needs the metrics bearer token.".into()));
    }
    let snapshot = crate::domain::figures::snapshot(db.pool()).await;
    let body = crate::telemetry::metrics::render(&snapshot);
    Ok((ContentType::new("text", "plain").with_params(("version", "0.0.4")), body))
}
