//! The node contract: `GET peers` (ETag, 304), `POST events` (batches with seqs, acked),
//! `GET crl.pem`. Every call carries the node's bearer token and counts as its heartbeat.
use super::common::IfNoneMatch;
use crate::auth::node::{bearer, refuse, NodeAuth};
use crate::auth::ClientInfo;
use crate::db::Db;
use crate::domain::{node_events, peers, pki};
use crate::error::AppError;
use crate::state::Portal;
use rocket::http::{ContentType, Header, Status};
use rocket::request::{self, FromRequest, Request};
use rocket::response::{self, Responder, Response};
use rocket::serde::json::{self, Json};
use rocket::{get, post, routes, State};
use serde::Deserialize;
use std::convert::Infallible;
use std::io::Cursor;

pub fn routes() -> Vec<rocket::Route> {
    routes![peer_list, events, crl]
}

/// A body with an ETag, or 304 with the ETag alone.
pub enum Tagged {
    Body { etag: String, media_type: (&'static str, &'static str), body: String },
    NotModified { etag: String },
}

impl<'r> Responder<'r, 'static> for Tagged {
    fn respond_to(self, _req: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build();
        match self {
            Tagged::Body { etag, media_type, body } => response
                .header(ContentType::new(media_type.0, media_type.1))
                .header(Header::new("ETag", etag))
                .sized_body(body.len(), Cursor::new(body)),
            Tagged::NotModified { etag } => response.status(Status::NotModified).header(Header::new("ETag", etag)),
        };
        // Nodes revalidate on every poll; nothing between may keep a copy.
        Ok(response.header(Header::new("Cache-Control", "private, no-cache")).finalize())
    }
}

/// The request's bearer token, if any.
pub struct Bearer(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Bearer {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        request::Outcome::Success(Bearer(bearer(req).map(str::to_owned)))
    }
}

#[utoipa::path(get, path = "/node/peers", tag = "node",
    summary = "The peers this node must serve",
    description = "Counts as the node's heartbeat. Poll every `poll_interval_secs` with the last ETag.",
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of the list the node holds")),
    responses(
        (status = 200, description = "The peer list", body = crate::domain::peers::PeerList),
        (status = 304, description = "The node's list is current"),
    ),
    security(("node_token" = [])))]
#[get("/peers")]
async fn peer_list(
    token: Bearer,
    inm: IfNoneMatch,
    client: ClientInfo,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Tagged, AppError> {
    let poll = peers::poll(
        db.pool(),
        &portal.fragments,
        &portal.node_hints,
        token.0.as_deref().unwrap_or_default(),
        inm.0.as_deref(),
        portal.config.node_poll_secs,
    )
    .await?;
    Ok(match poll {
        peers::Poll::Refused => return Err(refuse(portal, &client.ip).await),
        peers::Poll::Answered(peers::Peers::NotModified { etag }) => Tagged::NotModified { etag },
        peers::Poll::Answered(peers::Peers::List { etag, body }) => {
            Tagged::Body { etag, media_type: ("application", "json"), body }
        }
    })
}

#[derive(Deserialize)]
pub struct EventBatch {
    events: Vec<serde_json::Value>,
}

#[utoipa::path(post, path = "/node/events", tag = "node",
    summary = "Connection and usage events",
    description = "A repeated seq changes nothing; resend everything after `acked_seq`.",
    request_body = super::shapes::NodeEventBatch,
    responses((status = 200, description = "Stored up to acked_seq", body = crate::domain::node_events::IngestReport)),
    security(("node_token" = [])))]
#[post("/events", data = "<batch>")]
async fn events(
    auth: NodeAuth,
    batch: Result<Json<EventBatch>, json::Error<'_>>,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Json<node_events::IngestReport>, AppError> {
    let node = auth.0?;
    let batch = match batch {
        Ok(batch) => batch.into_inner(),
        Err(json::Error::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(AppError::TooLarge("The batch is larger than the JSON limit (1 MiB by default).".into()))
        }
        Err(json::Error::Io(_)) => return Err(AppError::BadRequest("The body could not be read.".into())),
        Err(json::Error::Parse(_, e)) => {
            return Err(AppError::BadRequest(format!("The body is not a batch {{\"events\": [...]}}: {e}")))
        }
    };
    if batch.events.len() > node_events::MAX_BATCH {
        return Err(AppError::Unprocessable(format!("A batch holds at most {} events.", node_events::MAX_BATCH)));
    }
    let report = node_events::ingest(
        db.pool(),
        &portal.fragments,
        node.id,
        batch.events,
        portal.config.connection_retention_months,
        portal.config.base_url(),
    )
    .await?;
    Ok(Json(report))
}

#[utoipa::path(get, path = "/node/crl.pem", tag = "node",
    summary = "The OpenVPN certificate revocation list",
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of the CRL the node holds")),
    responses(
        (status = 200, description = "The CRL (PEM)", body = String, content_type = "application/x-pem-file"),
        (status = 304, description = "The node's CRL is current"),
    ),
    security(("node_token" = [])))]
#[get("/crl.pem")]
async fn crl(auth: NodeAuth, inm: IfNoneMatch, db: &Db, portal: &State<Portal>) -> Result<Tagged, AppError> {
    auth.0?;
    let (etag, pem) = pki::crl_pem(db.pool(), &portal.pki).await.map_err(|e| match e {
        pki::PkiSetupError::Db(e) => AppError::from(e),
        other => AppError::Internal(other.to_string()),
    })?;
    if inm.0.as_deref().is_some_and(|inm| peers::matches(inm, &etag)) {
        return Ok(Tagged::NotModified { etag });
    }
    Ok(Tagged::Body { etag, media_type: ("application", "x-pem-file"), body: pem })
}
