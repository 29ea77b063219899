//! `/api/v1`: the shapes the old portal's API clients expect (`client_name`, `protocol`), kept
//! working over the same domain calls. Every answer says it is deprecated (RFC 9745), when it
//! ends (RFC 8594) and where its successor is (`Link: rel="successor-version"`).
use super::common::{Answer, Body};
use super::shapes::{AccountV1, ClientListV1, ClientV1, ClientV2, NewClientV1};
use super::v2::{client_id, config_file};
use crate::auth::api_token::ApiAuth;
use crate::db::Db;
use crate::domain::accounts;
use crate::domain::api_tokens::Scope;
use crate::domain::clients::ClientForm;
use crate::error::{AppError, ErrorPage};
use crate::state::Portal;
use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::{catch, catchers, delete, get, post, routes, Catcher, State};

pub fn routes() -> Vec<rocket::Route> {
    routes![list, create, show, revoke, config, account]
}

/// v1 was deprecated when v2 shipped (2026-12-08, `@1796688000`)...
pub const DEPRECATED_AT: &str = "@1796688000";
/// ...and is switched off at the end of June 2027.
pub const SUNSET: &str = "Wed, 30 Jun 2027 23:59:59 GMT";

/// An answer of v1's, with its deprecation headers.
pub struct Deprecated<R>(pub R);

impl<'r, R: Responder<'r, 'static>> Responder<'r, 'static> for Deprecated<R> {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let mut response = self.0.respond_to(req)?;
        let path = req.uri().path();
        let successor = path.as_str().strip_prefix("/api/v1").unwrap_or("");
        response.set_header(Header::new("Deprecation", DEPRECATED_AT));
        response.set_header(Header::new("Sunset", SUNSET));
        response.set_header(Header::new("Link", format!("</api/v2{successor}>; rel=\"successor-version\"")));
        Ok(response)
    }
}

type V1 = Deprecated<Result<Answer, AppError>>;

#[utoipa::path(get, path = "/clients", tag = "clients (deprecated)", summary = "List clients",
    responses((status = 200, description = "Every client, active and revoked", body = ClientListV1)),
    security(("token" = ["clients:read"])))]
#[get("/clients")]
async fn list(auth: ApiAuth, db: &Db, portal: &State<Portal>) -> V1 {
    Deprecated(
        async {
            let caller = auth.with(Scope::ClientsRead)?;
            let rows = portal.clients(db).list(caller.user_id).await?;
            let clients = rows.iter().map(|c| ClientV1::from(ClientV2::from(c))).collect();
            Ok(Answer::json(Status::Ok, &ClientListV1 { clients }))
        }
        .await,
    )
}

#[utoipa::path(post, path = "/clients", tag = "clients (deprecated)", summary = "Create a client",
    request_body = NewClientV1,
    responses(
        (status = 201, description = "Created", body = ClientV1),
        (status = 409, description = "At the plan's client limit", body = super::shapes::Problem, content_type = "application/problem+json"),
    ),
    security(("token" = ["clients:write"])))]
#[post("/clients", data = "<body>")]
async fn create(auth: ApiAuth, body: Body<NewClientV1>, db: &Db, portal: &State<Portal>) -> V1 {
    Deprecated(
        async {
            let caller = auth.with(Scope::ClientsWrite)?;
            let new = body.value()?;
            let input = ClientForm { name: new.client_name, protocol: new.protocol, node_id: None };
            let clients = portal.clients(db);
            let id = clients.create(caller.user_id, &input).await.map_err(client_v1_problem)?;
            let details = clients.details(caller.user_id, id, false).await?;
            Ok(Answer::json(Status::Created, &ClientV1::from(ClientV2::from(&details.client)))
                .header("Location", format!("/api/v1/clients/{id}")))
        }
        .await,
    )
}

/// v1 called the name `client_name`: field errors use its word.
fn client_v1_problem(e: crate::domain::clients::ClientError) -> AppError {
    match AppError::from(e) {
        AppError::Invalid(mut fields) => {
            if let Some(message) = fields.0.remove("name") {
                fields.add("client_name", message);
            }
            AppError::Invalid(fields)
        }
        other => other,
    }
}

#[utoipa::path(get, path = "/clients/{id}", tag = "clients (deprecated)", summary = "One client",
    params(("id" = uuid::Uuid, Path, description = "The client's id")),
    responses((status = 200, description = "The client", body = ClientV1)),
    security(("token" = ["clients:read"])))]
#[get("/clients/<id>")]
async fn show(auth: ApiAuth, id: &str, db: &Db, portal: &State<Portal>) -> V1 {
    Deprecated(
        async {
            let caller = auth.with(Scope::ClientsRead)?;
            let details = portal.clients(db).details(caller.user_id, client_id(id)?, false).await?;
            Ok(Answer::json(Status::Ok, &ClientV1::from(ClientV2::from(&details.client))))
        }
        .await,
    )
}

#[utoipa::path(delete, path = "/clients/{id}", tag = "clients (deprecated)", summary = "Revoke a client",
    params(("id" = uuid::Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, description = "Revoked: the client as it is now", body = ClientV1),
        (status = 409, description = "Already revoked", body = super::shapes::Problem, content_type = "application/problem+json"),
    ),
    security(("token" = ["clients:write"])))]
#[delete("/clients/<id>")]
async fn revoke(auth: ApiAuth, id: &str, db: &Db, portal: &State<Portal>) -> V1 {
    Deprecated(
        async {
            let caller = auth.with(Scope::ClientsWrite)?;
            let id = client_id(id)?;
            let clients = portal.clients(db);
            clients.revoke(caller.user_id, id).await?;
            let details = clients.details(caller.user_id, id, false).await?;
            Ok(Answer::json(Status::Ok, &ClientV1::from(ClientV2::from(&details.client))))
        }
        .await,
    )
}

#[utoipa::path(get, path = "/clients/{id}/config", tag = "clients (deprecated)", summary = "Download a client's config",
    params(("id" = uuid::Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The config file", content(
            (String = "text/plain"), (String = "application/x-openvpn-profile"), (serde_json::Value = "application/json"))),
        (status = 409, description = "The client is revoked", body = super::shapes::Problem, content_type = "application/problem+json"),
    ),
    security(("token" = ["clients:read"])))]
#[get("/clients/<id>/config")]
async fn config(auth: ApiAuth, id: &str, db: &Db, portal: &State<Portal>) -> V1 {
    Deprecated(
        async {
            let caller = auth.with(Scope::ClientsRead)?;
            config_file(caller.user_id, id, db, portal).await
        }
        .await,
    )
}

#[utoipa::path(get, path = "/account", tag = "account (deprecated)", summary = "The account behind the token",
    responses((status = 200, description = "The account", body = AccountV1)),
    security(("token" = ["account:read"])))]
#[get("/account")]
async fn account(auth: ApiAuth, db: &Db) -> V1 {
    Deprecated(
        async {
            let caller = auth.with(Scope::AccountRead)?;
            let summary = accounts::summary(db.pool(), caller.user_id).await?.ok_or(AppError::NotFound)?;
            Ok(Answer::json(Status::Ok, &AccountV1::from(&summary)))
        }
        .await,
    )
}

#[catch(default)]
fn v1_error(status: Status, _req: &Request<'_>) -> Deprecated<ErrorPage> {
    Deprecated(ErrorPage(status))
}

/// Errors under `/api/v1` carry the deprecation headers too (the node API has its own catchers).
pub fn catchers() -> Vec<Catcher> {
    catchers![v1_error]
}
