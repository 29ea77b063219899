//! `/api/v2`: the customer API. Cursor pagination, ETags on reads, Idempotency-Key on creates,
//! rename, usage and connection history; every error is problem details (RFC 9457).
use super::common::{Answer, Body, IfNoneMatch, Params};
use super::shapes::{AccountV2, ClientPage, ClientV2, Connection, ConnectionPage, NewClientV2, RenameV2, Usage};
use crate::auth::api_token::ApiAuth;
use crate::db::Db;
use crate::domain::api_tokens::Scope;
use crate::domain::clients::ClientForm;
use crate::domain::idempotency::{self, Claim};
use crate::domain::{accounts, usage, FieldErrors};
use crate::error::AppError;
use crate::state::Portal;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rocket::http::{ContentType, Status};
use rocket::request::{self, FromRequest, Request};
use rocket::{delete, get, patch, post, routes, State};
use std::convert::Infallible;
use time::OffsetDateTime;
use uuid::Uuid;

pub fn routes() -> Vec<rocket::Route> {
    routes![list, create, show, rename, revoke, config, client_usage, account, usage_overview, connections]
}

pub const PAGE_DEFAULT: i64 = 50;
pub const PAGE_MAX: i64 = 100;

/// A client id from the path: anything but a UUID names no client.
pub fn client_id(id: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| AppError::NotFound)
}

fn page_limit(limit: Option<&str>) -> Result<i64, AppError> {
    match limit {
        None => Ok(PAGE_DEFAULT),
        Some(s) => s.parse::<i64>().ok().filter(|n| (1..=PAGE_MAX).contains(n)).ok_or_else(|| {
            AppError::Invalid(FieldErrors::single("limit", format!("Give a whole number from 1 to {PAGE_MAX}.")))
        }),
    }
}

/// The clients cursor: base64url of `MICROSECONDS.UUID` of the last client of a page.
fn encode_cursor(created_at: OffsetDateTime, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{id}", created_at.unix_timestamp_nanos() / 1000))
}

fn decode_cursor(cursor: &str) -> Result<(OffsetDateTime, Uuid), AppError> {
    let invalid = || AppError::Invalid(FieldErrors::single("cursor", "Use the next_cursor of a previous page."));
    let text = URL_SAFE_NO_PAD.decode(cursor).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(invalid)?;
    let (micros, id) = text.split_once('.').ok_or_else(invalid)?;
    let micros: i128 = micros.parse().map_err(|_| invalid())?;
    let at = micros.checked_mul(1000).and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(n).ok());
    Ok((at.ok_or_else(invalid)?, Uuid::parse_str(id).map_err(|_| invalid())?))
}

/// The request's `Idempotency-Key`, if any.
pub struct IdempotencyKey(pub Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for IdempotencyKey {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        request::Outcome::Success(IdempotencyKey(req.headers().get_one("Idempotency-Key").map(str::to_owned)))
    }
}

#[utoipa::path(get, path = "/clients", tag = "clients",
    summary = "List the account's clients",
    description = "In the order they were made, active and revoked. Follow `next_cursor` (also in `Link: rel=\"next\"`) for the next page.",
    params(
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
        ("limit" = Option<i64>, Query, description = "Clients per page, 1 to 100 (50 by default)", minimum = 1, maximum = 100),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: 304 if unchanged"),
    ),
    responses(
        (status = 200, description = "A page of clients", body = ClientPage),
        (status = 304, description = "Unchanged since the ETag given"),
    ),
    security(("token" = ["clients:read"])))]
#[get("/clients")]
async fn list(
    auth: ApiAuth,
    params: Params,
    inm: IfNoneMatch,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Answer, AppError> {
    let caller = auth.with(Scope::ClientsRead)?;
    let limit = page_limit(params.once("limit")?)?;
    let after = params.once("cursor")?.map(decode_cursor).transpose()?;
    let (rows, more) = portal.clients(db).page(caller.user_id, after, limit).await?;
    let next_cursor = rows.last().filter(|_| more).map(|c| encode_cursor(c.created_at, c.id));
    let page = ClientPage { data: rows.iter().map(ClientV2::from).collect(), next_cursor };
    let mut answer = Answer::json(Status::Ok, &page);
    if let Some(next) = &page.next_cursor {
        answer = answer.header("Link", format!("</api/v2/clients?cursor={next}&limit={limit}>; rel=\"next\""));
    }
    Ok(answer.tagged(&inm))
}

/// Creates a client for the caller and answers 201 with it.
async fn make_client(user_id: i64, input: ClientForm, db: &Db, portal: &Portal) -> Result<Answer, AppError> {
    let clients = portal.clients(db);
    let id = clients.create(user_id, &input).await?;
    let details = clients.details(user_id, id, false).await?;
    Ok(Answer::json(Status::Created, &ClientV2::from(&details.client))
        .header("Location", format!("/api/v2/clients/{id}")))
}

#[utoipa::path(post, path = "/clients", tag = "clients",
    summary = "Create a client",
    description = "With an `Idempotency-Key`, a retry (same key, same body) within a day returns the first answer \
        (marked `Idempotent-Replayed: true`) and creates nothing; while the first is still being answered, 409.",
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters, unique per create")),
    request_body = NewClientV2,
    responses(
        (status = 201, description = "Created", body = ClientV2,
            headers(("Location" = String, description = "The client's URL"))),
        (status = 409, description = "At the plan's client limit, or the key is still being answered", body = super::shapes::Problem, content_type = "application/problem+json"),
    ),
    security(("token" = ["clients:write"])))]
#[post("/clients", data = "<body>")]
async fn create(
    auth: ApiAuth,
    key: IdempotencyKey,
    body: Body<NewClientV2>,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Answer, AppError> {
    let caller = auth.with(Scope::ClientsWrite)?;
    let (new, raw) = body.0?;
    let input = ClientForm { name: new.name, protocol: new.protocol, node_id: new.node_id };
    let Some(key) = key.0 else {
        return make_client(caller.user_id, input, db, portal).await;
    };
    idempotency::check_key(&key).map_err(AppError::BadRequest)?;
    match idempotency::claim(db.pool(), caller.user_id, &key, &raw).await? {
        Claim::Ours => {}
        Claim::Replay { status, body } => {
            let id =
                serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["id"].as_str().map(str::to_owned));
            let mut answer = Answer::raw_json(Status::from_code(status).unwrap_or(Status::Created), body)
                .header("Idempotent-Replayed", "true");
            if let Some(id) = id {
                answer = answer.header("Location", format!("/api/v2/clients/{id}"));
            }
            return Ok(answer);
        }
        Claim::InProgress => {
            return Err(AppError::Conflict(
                "A request with this Idempotency-Key is still being answered: retry in a moment.".into(),
            ))
        }
        Claim::Mismatch => {
            return Err(AppError::Unprocessable("This Idempotency-Key was used with a different request body.".into()))
        }
    }
    match make_client(caller.user_id, input, db, portal).await {
        Ok(answer) => {
            idempotency::keep(db.pool(), caller.user_id, &key, answer.status().code, answer.body()).await?;
            Ok(answer)
        }
        Err(e) => {
            idempotency::release(db.pool(), caller.user_id, &key).await?;
            Err(e)
        }
    }
}

#[utoipa::path(get, path = "/clients/{id}", tag = "clients", summary = "One client",
    params(
        ("id" = Uuid, Path, description = "The client's id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: 304 if unchanged"),
    ),
    responses((status = 200, description = "The client", body = ClientV2), (status = 304, description = "Unchanged")),
    security(("token" = ["clients:read"])))]
#[get("/clients/<id>")]
async fn show(auth: ApiAuth, id: &str, inm: IfNoneMatch, db: &Db, portal: &State<Portal>) -> Result<Answer, AppError> {
    let caller = auth.with(Scope::ClientsRead)?;
    let details = portal.clients(db).details(caller.user_id, client_id(id)?, false).await?;
    Ok(Answer::json(Status::Ok, &ClientV2::from(&details.client)).tagged(&inm))
}

#[utoipa::path(patch, path = "/clients/{id}", tag = "clients", summary = "Rename a client",
    params(("id" = Uuid, Path, description = "The client's id")),
    request_body = RenameV2,
    responses(
        (status = 200, description = "Renamed", body = ClientV2),
        (status = 409, description = "The client is revoked", body = super::shapes::Problem, content_type = "application/problem+json"),
    ),
    security(("token" = ["clients:write"])))]
#[patch("/clients/<id>", data = "<body>")]
async fn rename(
    auth: ApiAuth,
    id: &str,
    body: Body<RenameV2>,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Answer, AppError> {
    let caller = auth.with(Scope::ClientsWrite)?;
    let id = client_id(id)?;
    let new = body.value()?;
    let clients = portal.clients(db);
    clients.rename(caller.user_id, id, &new.name).await?;
    let details = clients.details(caller.user_id, id, false).await?;
    Ok(Answer::json(Status::Ok, &ClientV2::from(&details.client)))
}

#[utoipa::path(delete, path = "/clients/{id}", tag = "clients", summary = "Revoke a client",
    description = "A state change: the client stays listed as revoked, its config stops working.",
    params(("id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 409, description = "Already revoked", body = super::shapes::Problem, content_type = "application/problem+json"),
    ),
    security(("token" = ["clients:write"])))]
#[delete("/clients/<id>")]
async fn revoke(auth: ApiAuth, id: &str, db: &Db, portal: &State<Portal>) -> Result<Answer, AppError> {
    let caller = auth.with(Scope::ClientsWrite)?;
    portal.clients(db).revoke(caller.user_id, client_id(id)?).await?;
    Ok(Answer::empty(Status::NoContent))
}

/// A client's config as a download.
pub async fn config_file(user_id: i64, id: &str, db: &Db, portal: &Portal) -> Result<Answer, AppError> {
    let file = portal.clients(db).config(user_id, client_id(id)?).await?;
    log::info!(event = "client_config_downloaded", user_id = user_id; "client_config_downloaded");
    let (top, sub) = file.media_type;
    Ok(Answer::file(ContentType::new(top, sub), file.body)
        .header("Content-Disposition", format!("attachment; filename=\"{}\"", file.file_name)))
}

#[utoipa::path(get, path = "/clients/{id}/config", tag = "clients", summary = "Download a client's config",
    description = "WireGuard `.conf` (text/plain), OpenVPN `.ovpn` (application/x-openvpn-profile) or the PhazeVPN JSON profile.",
    params(("id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The config file", content(
            (String = "text/plain"), (String = "application/x-openvpn-profile"), (serde_json::Value = "application/json"))),
        (status = 409, description = "The client is revoked", body = super::shapes::Problem, content_type = "application/problem+json"),
    ),
    security(("token" = ["clients:read"])))]
#[get("/clients/<id>/config")]
async fn config(auth: ApiAuth, id: &str, db: &Db, portal: &State<Portal>) -> Result<Answer, AppError> {
    let caller = auth.with(Scope::ClientsRead)?;
    config_file(caller.user_id, id, db, portal).await
}

#[utoipa::path(get, path = "/clients/{id}/usage", tag = "usage", summary = "One client's usage",
    params(("id" = Uuid, Path, description = "The client's id")),
    responses((status = 200, description = "This period and the last 30 days; the limit is the account's", body = Usage)),
    security(("token" = ["usage:read"])))]
#[get("/clients/<id>/usage")]
async fn client_usage(auth: ApiAuth, id: &str, db: &Db, portal: &State<Portal>) -> Result<Answer, AppError> {
    let caller = auth.with(Scope::UsageRead)?;
    let id = client_id(id)?;
    portal.clients(db).details(caller.user_id, id, false).await?;
    let overview = usage::overview(db.pool(), caller.user_id, Some(id)).await?;
    Ok(Answer::json(Status::Ok, &Usage::from(&overview)))
}

#[utoipa::path(get, path = "/usage", tag = "usage", summary = "The account's usage",
    responses((status = 200, description = "This period against the limit, and the last 30 days", body = Usage)),
    security(("token" = ["usage:read"])))]
#[get("/usage")]
async fn usage_overview(auth: ApiAuth, db: &Db) -> Result<Answer, AppError> {
    let caller = auth.with(Scope::UsageRead)?;
    let overview = usage::overview(db.pool(), caller.user_id, None).await?;
    Ok(Answer::json(Status::Ok, &Usage::from(&overview)))
}

#[utoipa::path(get, path = "/connections", tag = "usage", summary = "Connection history",
    description = "Newest first, 25 a page; `next_cursor` continues.",
    params(
        ("client_id" = Option<Uuid>, Query, description = "Only this client's connections"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "A page of connections", body = ConnectionPage)),
    security(("token" = ["usage:read"])))]
#[get("/connections")]
async fn connections(auth: ApiAuth, params: Params, db: &Db, portal: &State<Portal>) -> Result<Answer, AppError> {
    let caller = auth.with(Scope::UsageRead)?;
    let client = match params.once("client_id")? {
        Some(id) => {
            let id = Uuid::parse_str(id).map_err(|_| {
                AppError::Invalid(FieldErrors::single("client_id", "Give the id of one of your clients."))
            })?;
            portal.clients(db).details(caller.user_id, id, false).await?;
            Some(id)
        }
        None => None,
    };
    let after = match params.once("cursor")? {
        Some(c) => Some(usage::Cursor::parse(c).ok_or_else(|| {
            AppError::Invalid(FieldErrors::single("cursor", "Use the next_cursor of a previous page."))
        })?),
        None => None,
    };
    let page = usage::history(db.pool(), caller.user_id, client, after).await?;
    Ok(Answer::json(
        Status::Ok,
        &ConnectionPage {
            data: page.rows.iter().map(Connection::from).collect(),
            next_cursor: page.older.map(|c| c.encode()),
        },
    ))
}

#[utoipa::path(get, path = "/account", tag = "account", summary = "The account behind the token",
    params(("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: 304 if unchanged")),
    responses((status = 200, description = "The account", body = AccountV2), (status = 304, description = "Unchanged")),
    security(("token" = ["account:read"])))]
#[get("/account")]
async fn account(auth: ApiAuth, inm: IfNoneMatch, db: &Db) -> Result<Answer, AppError> {
    let caller = auth.with(Scope::AccountRead)?;
    let summary = accounts::summary(db.pool(), caller.user_id).await?.ok_or(AppError::NotFound)?;
    Ok(Answer::json(Status::Ok, &AccountV2::from(&summary)).tagged(&inm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(at, id)).unwrap(), (at, id));
        assert!(decode_cursor("not-a-cursor").is_err());
        assert!(page_limit(Some("0")).is_err() && page_limit(Some("101")).is_err());
        assert_eq!(page_limit(None).unwrap(), PAGE_DEFAULT);
    }
}
