//! VPN clients: add (htmx fragment or plain post), page with QR, download, rename, revoke.
use super::auth::FormResponse;
use super::forms;
use super::responses::{unprocessable, HxRequest};
use crate::auth::{CsrfForm, CurrentUser};
use crate::cache::Lookup;
use crate::db::Db;
use crate::domain::clients::{ClientError, ClientForm};
use crate::domain::usage;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::state::Portal;
use crate::store;
use crate::views::{self, clients::ClientsSection, layout::trusted, PageContext};
use crate::web::dashboard;
use maud::Markup;
use rocket::form::FromForm;
use rocket::http::{ContentType, Header, Status};
use rocket::response::{self, Flash, Redirect, Responder};
use rocket::{get, post, routes, Request, State};
use uuid::Uuid;

pub fn routes() -> Vec<rocket::Route> {
    routes![create, client_page, download, rename, revoke_page, revoke]
}

#[derive(FromForm, Default)]
struct ClientFields {
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    protocol: String,
    #[field(default = String::new())]
    node: String,
}

#[derive(FromForm, Default)]
struct RenameFields {
    #[field(default = String::new())]
    name: String,
}

/// The clients section as the dashboard shows it.
pub async fn section(
    csrf: &str,
    user_id: i64,
    form: &ClientForm,
    errors: &FieldErrors,
    db: &Db,
    portal: &Portal,
    cached: &Lookup,
) -> Result<Markup, AppError> {
    let list = cached
        .get_or_render(CLIENT_LIST, &user_id.to_string(), || async {
            let clients = portal.clients(db).list(user_id).await?;
            let max = crate::domain::billing::entitlement(db.pool(), user_id).await?.map_or(0, |e| e.max_clients);
            Ok::<_, AppError>(views::clients::client_list(&clients, max).into_string())
        })
        .await?;
    let render_options = |selected| async move {
        let nodes = store::nodes::list(db.pool()).await?;
        Ok::<_, AppError>(views::clients::node_options(&nodes, selected).into_string())
    };
    let node_options = match form.node_id {
        None => cached.get_or_render(NODE_OPTIONS, NODES_OWNER, || render_options(None)).await?,
        Some(id) => render_options(Some(id)).await?,
    };
    Ok(views::clients::clients_section(
        csrf,
        &ClientsSection { list: trusted(list), node_options: trusted(node_options), form, errors },
    ))
}

/// Fragment names: a user's client list, and the server choices (the same for everyone).
pub const CLIENT_LIST: &str = "client_list";
pub const NODE_OPTIONS: &str = "node_options";
pub const NODES_OWNER: &str = "nodes";

#[post("/clients", data = "<form>")]
async fn create(
    form: CsrfForm<'_, ClientFields>,
    user: CurrentUser,
    ctx: PageContext,
    hx: HxRequest,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    let (input, outcome) = match forms::values(form.0) {
        Ok(f) => {
            let node_id = f.node.trim().parse::<i64>().ok();
            let input = ClientForm { name: f.name, protocol: f.protocol, node_id };
            let outcome = if !f.node.trim().is_empty() && node_id.is_none() {
                Err(ClientError::Invalid(FieldErrors::single("node", "Choose a server from the list.")))
            } else {
                portal.clients(db).create(user.user_id(), &input).await
            };
            (input, outcome)
        }
        Err(errors) => (ClientForm::default(), Err(ClientError::Invalid(errors))),
    };
    let (status, errors, input) = match outcome {
        Ok(_) if !hx.0 => {
            return Ok(FormResponse::Done(Flash::success(
                Redirect::to("/dashboard"),
                format!("{} is ready.", input.name),
            )))
        }
        Ok(_) => (Status::Ok, FieldErrors::default(), ClientForm::default()),
        Err(ClientError::Invalid(errors)) => (Status::UnprocessableEntity, errors, input),
        Err(e @ ClientError::AddressesHeld { .. }) => {
            (Status::UnprocessableEntity, FieldErrors::single("limit", e.user_message()), input)
        }
        Err(e @ (ClientError::EmailUnverified | ClientError::NoPlan)) => {
            (Status::Forbidden, FieldErrors::single("limit", e.to_string()), input)
        }
        Err(ClientError::LimitReached { max }) => (
            Status::UnprocessableEntity,
            FieldErrors::single(
                "limit",
                format!("You have {max} active clients, the most allowed. Revoke one to add another."),
            ),
            input,
        ),
        Err(other) => return Err(other.into()),
    };
    let cached = dashboard::fragments(portal, user.user_id(), &Default::default()).await;
    let clients = section(&ctx.csrf, user.user_id(), &input, &errors, db, portal, &cached).await?;
    if hx.0 {
        return Ok(FormResponse::Page((status, clients)));
    }
    let summary = dashboard::summary_fragment(&user, db, &cached).await?;
    Ok(FormResponse::Page((status, views::dashboard::dashboard(&ctx, summary, clients))))
}

/// The client's usage and connections, as its page shows them.
async fn activity(user_id: i64, id: Uuid, after: Option<&str>, db: &Db) -> Result<Markup, AppError> {
    let after = super::usage::cursor(after)?;
    let overview = usage::overview(db.pool(), user_id, Some(id)).await?;
    let history = usage::history(db.pool(), user_id, Some(id), after).await?;
    let base = format!("/clients/{id}");
    Ok(maud::html! {
        h2 { "Usage" }
        (views::usage::live(&overview, &format!("{base}/usage")))
        (views::usage::history(&history, &base, false))
    })
}

#[get("/clients/<id>?<after>")]
async fn client_page(
    id: Uuid,
    after: Option<&str>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Markup, AppError> {
    let details = portal.clients(db).details(user.user_id(), id, true).await?;
    let activity = activity(user.user_id(), id, after, db).await?;
    Ok(views::clients::client_page(&ctx, &details, &FieldErrors::default(), activity))
}

/// A config file as an attachment.
pub struct Download(crate::domain::clients::ConfigFile);

impl<'r> Responder<'r, 'static> for Download {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let file = self.0;
        let mut response = file.body.respond_to(req)?;
        let (top, sub) = file.media_type;
        response.set_header(ContentType::new(top, sub));
        // Names are [A-Za-z0-9_-]: nothing to escape.
        response.set_header(Header::new("Content-Disposition", format!("attachment; filename=\"{}\"", file.file_name)));
        Ok(response)
    }
}

#[get("/clients/<id>/config")]
async fn download(id: Uuid, user: CurrentUser, db: &Db, portal: &State<Portal>) -> Result<Download, AppError> {
    let file = portal.clients(db).config(user.user_id(), id).await?;
    log::info!(event = "client_config_downloaded", user_id = user.user_id(); "client_config_downloaded");
    Ok(Download(file))
}

#[post("/clients/<id>/rename", data = "<form>")]
async fn rename(
    id: Uuid,
    form: CsrfForm<'_, RenameFields>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    let clients = portal.clients(db);
    let renamed = match forms::values(form.0) {
        Ok(f) => clients.rename(user.user_id(), id, &f.name).await,
        Err(errors) => Err(ClientError::Invalid(errors)),
    };
    match renamed {
        Ok(()) => Ok(FormResponse::Done(Flash::success(Redirect::to(format!("/clients/{id}")), "Renamed."))),
        Err(ClientError::Invalid(errors)) => {
            let details = clients.details(user.user_id(), id, true).await?;
            let activity = activity(user.user_id(), id, None, db).await?;
            Ok(FormResponse::Page(unprocessable(views::clients::client_page(&ctx, &details, &errors, activity))))
        }
        Err(other) => Err(other.into()),
    }
}

#[get("/clients/<id>/revoke")]
async fn revoke_page(
    id: Uuid,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Markup, AppError> {
    let details = portal.clients(db).details(user.user_id(), id, false).await?;
    if details.client.status != "active" {
        return Err(ClientError::Revoked.into());
    }
    Ok(views::clients::revoke_confirm(&ctx, &details))
}

#[post("/clients/<id>/revoke", data = "<_form>")]
async fn revoke(
    id: Uuid,
    _form: CsrfForm<'_, forms::Confirm>,
    user: CurrentUser,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Flash<Redirect>, AppError> {
    portal.clients(db).revoke(user.user_id(), id).await?;
    Ok(Flash::success(Redirect::to("/dashboard"), "The client is revoked."))
}
