//! Usage and connection history pages; the live figures are polled by htmx.
use crate::auth::CurrentUser;
use crate::db::Db;
use crate::domain::usage::{self, Cursor};
use crate::error::AppError;
use crate::state::Portal;
use crate::views::{self, usage::ClientUsage, PageContext};
use maud::Markup;
use rocket::{get, routes, State};
use uuid::Uuid;

pub fn routes() -> Vec<rocket::Route> {
    routes![usage_page, usage_live, client_usage_live]
}

/// The `after` of an "older" link; anything else is a clear 400.
pub fn cursor(after: Option<&str>) -> Result<Option<Cursor>, AppError> {
    match after {
        None | Some("") => Ok(None),
        Some(s) => Cursor::parse(s).map(Some).ok_or_else(|| {
            AppError::BadRequest("That page link is not valid: start again from the first page.".into())
        }),
    }
}

#[get("/usage?<after>")]
async fn usage_page(
    after: Option<&str>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Markup, AppError> {
    let after = cursor(after)?;
    let overview = usage::overview(db.pool(), user.user_id(), None).await?;
    let history = usage::history(db.pool(), user.user_id(), None, after).await?;
    let clients = portal.clients(db).list(user.user_id()).await?;
    let per_client: Vec<ClientUsage> = clients
        .iter()
        .filter_map(|c| {
            let (_, rx, tx) = overview.per_client.iter().find(|(id, _, _)| *id == c.id)?;
            Some(ClientUsage { name: &c.name, id: c.id, bytes: rx + tx })
        })
        .collect();
    Ok(views::usage::usage_page(&ctx, &overview, &per_client, &history))
}

#[get("/usage/live")]
async fn usage_live(user: CurrentUser, db: &Db) -> Result<Markup, AppError> {
    let overview = usage::overview(db.pool(), user.user_id(), None).await?;
    Ok(views::usage::live(&overview, "/usage/live"))
}

#[get("/clients/<id>/usage")]
async fn client_usage_live(id: Uuid, user: CurrentUser, db: &Db, portal: &State<Portal>) -> Result<Markup, AppError> {
    portal.clients(db).details(user.user_id(), id, false).await?;
    let overview = usage::overview(db.pool(), user.user_id(), Some(id)).await?;
    Ok(views::usage::live(&overview, &format!("/clients/{id}/usage")))
}
