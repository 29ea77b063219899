//! Admin: the ticket queue, replies, internal notes, status.
use super::auth::FormResponse;
use super::forms;
use super::responses::unprocessable;
use super::support::ReplyFields;
use crate::auth::{Admin, AdminActor, CsrfForm};
use crate::db::Db;
use crate::domain::audit::{self, Change};
use crate::domain::tickets::{self, TicketError};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::state::Portal;
use crate::store;
use crate::views::{self, PageContext};
use maud::Markup;
use rocket::form::FromForm;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, State};

pub fn routes() -> Vec<rocket::Route> {
    routes![queue, ticket, messages, reply, set_status]
}

#[get("/admin/tickets?<status>&<older_than>")]
async fn queue(
    _admin: Admin,
    ctx: PageContext,
    status: Option<&str>,
    older_than: Option<i64>,
    db: &Db,
) -> Result<Markup, AppError> {
    // The default view is the work to do: tickets waiting for support.
    let status = match status {
        None => Some("open"),
        Some("") => None,
        Some(s) if tickets::STATUSES.contains(&s) => Some(s),
        Some(_) => return Err(AppError::BadRequest("Choose open, awaiting reply or closed.".into())),
    };
    let older_than = older_than.unwrap_or(0).clamp(0, 24 * 365);
    let list = store::tickets::queue(db.pool(), status, older_than).await?;
    Ok(views::tickets::queue(&ctx, &list, status, older_than))
}

async fn ticket_page(ctx: &PageContext, db: &Db, id: i64, errors: &FieldErrors) -> Result<Markup, AppError> {
    let t = store::tickets::ticket(db.pool(), id).await?.ok_or(AppError::NotFound)?;
    let list = store::tickets::messages(db.pool(), id, true).await?;
    Ok(views::tickets::ticket(ctx, &t, &list, errors, true))
}

#[get("/admin/tickets/<id>")]
async fn ticket(id: i64, _admin: Admin, ctx: PageContext, db: &Db) -> Result<Markup, AppError> {
    ticket_page(&ctx, db, id, &FieldErrors::default()).await
}

#[get("/admin/tickets/<id>/messages")]
async fn messages(id: i64, _admin: Admin, db: &Db) -> Result<Markup, AppError> {
    store::tickets::ticket(db.pool(), id).await?.ok_or(AppError::NotFound)?;
    let list = store::tickets::messages(db.pool(), id, true).await?;
    Ok(views::tickets::messages(&list, &format!("/admin/tickets/{id}/messages")))
}

#[post("/admin/tickets/<id>/reply", data = "<form>")]
async fn reply(
    id: i64,
    form: CsrfForm<'_, ReplyFields>,
    admin: AdminActor,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    let public_url = portal.config.base_url();
    let (replied, internal) = match forms::values(form.0) {
        Ok(f) => (
            tickets::staff_reply(db.pool(), public_url, admin.admin.user_id(), id, &f.body, f.internal).await,
            f.internal,
        ),
        Err(errors) => (Err(TicketError::Invalid(errors)), false),
    };
    match replied {
        Ok(()) => {
            let action = if internal { "ticket.note" } else { "ticket.reply" };
            audit::record(db.pool(), &admin.actor, Change::new(action, "ticket", id)).await?;
            Ok(FormResponse::Redirect(Redirect::to(format!("/admin/tickets/{id}"))))
        }
        Err(TicketError::Invalid(errors)) => {
            Ok(FormResponse::Page(unprocessable(ticket_page(&ctx, db, id, &errors).await?)))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(FromForm, Default)]
struct StatusFields {
    #[field(default = String::new())]
    status: String,
}

#[post("/admin/tickets/<id>/status", data = "<form>")]
async fn set_status(
    id: i64,
    form: CsrfForm<'_, StatusFields>,
    admin: AdminActor,
    db: &Db,
) -> Result<Flash<Redirect>, AppError> {
    let status = forms::values(form.0).unwrap_or_default().status;
    let before = store::tickets::ticket(db.pool(), id).await?.ok_or(AppError::NotFound)?.status;
    tickets::staff_set_status(db.pool(), admin.admin.user_id(), id, &status).await?;
    let change = Change::new("ticket.status", "ticket", id)
        .before(serde_json::json!({ "status": before }))
        .after(serde_json::json!({ "status": status }));
    audit::record(db.pool(), &admin.actor, change).await?;
    Ok(Flash::success(Redirect::to(format!("/admin/tickets/{id}")), "Status changed."))
}
