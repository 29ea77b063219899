//! Support tickets, as their owner sees them. Another user's ticket is 404.
use super::auth::FormResponse;
use super::forms::{self, Confirm};
use super::responses::unprocessable;
use crate::auth::{CsrfForm, CurrentUser};
use crate::db::Db;
use crate::domain::tickets::{self, NewTicket, TicketError};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::store;
use crate::views::{self, tickets::TicketDraft, PageContext};
use maud::Markup;
use rocket::form::FromForm;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![support, open, ticket, messages, reply, close]
}

impl From<TicketError> for AppError {
    fn from(e: TicketError) -> Self {
        match e {
            TicketError::Invalid(errors) => AppError::BadRequest(errors.0.into_values().collect::<Vec<_>>().join(" ")),
            TicketError::NotFound => AppError::NotFound,
            TicketError::Db(e) => e.into(),
        }
    }
}

async fn support_page(
    ctx: &PageContext,
    user: &CurrentUser,
    db: &Db,
    draft: &TicketDraft<'_>,
    errors: &FieldErrors,
) -> Result<Markup, AppError> {
    let list = store::tickets::users_tickets(db.pool(), user.user_id()).await?;
    Ok(views::tickets::support(ctx, &list, draft, errors))
}

#[get("/support")]
async fn support(user: CurrentUser, ctx: PageContext, db: &Db) -> Result<Markup, AppError> {
    support_page(&ctx, &user, db, &TicketDraft { category: "technical", ..Default::default() }, &FieldErrors::default())
        .await
}

#[derive(FromForm, Default)]
struct TicketFields {
    #[field(default = String::new())]
    subject: String,
    #[field(default = String::new())]
    category: String,
    #[field(default = String::new())]
    body: String,
}

#[post("/support/tickets", data = "<form>")]
async fn open(
    form: CsrfForm<'_, TicketFields>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
) -> Result<FormResponse, AppError> {
    let fields = forms::values(form.0);
    let (draft, opened) = match fields {
        Ok(f) => {
            let t = NewTicket { subject: f.subject, category: f.category, body: f.body };
            let opened = tickets::open(db.pool(), user.user_id(), &t).await;
            (t, opened)
        }
        Err(errors) => (
            NewTicket { subject: String::new(), category: String::new(), body: String::new() },
            Err(TicketError::Invalid(errors)),
        ),
    };
    match opened {
        Ok(id) => Ok(FormResponse::Done(Flash::success(
            Redirect::to(format!("/support/tickets/{id}")),
            "Your ticket is open. We reply here and by email.",
        ))),
        Err(TicketError::Invalid(errors)) => {
            let draft = TicketDraft { subject: &draft.subject, category: &draft.category, body: &draft.body };
            Ok(FormResponse::Page(unprocessable(support_page(&ctx, &user, db, &draft, &errors).await?)))
        }
        Err(other) => Err(other.into()),
    }
}

async fn ticket_page(
    ctx: &PageContext,
    user: &CurrentUser,
    db: &Db,
    id: i64,
    errors: &FieldErrors,
) -> Result<Markup, AppError> {
    let t = store::tickets::users_ticket(db.pool(), user.user_id(), id).await?.ok_or(AppError::NotFound)?;
    let list = store::tickets::messages(db.pool(), id, false).await?;
    Ok(views::tickets::ticket(ctx, &t, &list, errors, false))
}

#[get("/support/tickets/<id>")]
async fn ticket(id: i64, user: CurrentUser, ctx: PageContext, db: &Db) -> Result<Markup, AppError> {
    ticket_page(&ctx, &user, db, id, &FieldErrors::default()).await
}

/// The conversation alone, for htmx polling.
#[get("/support/tickets/<id>/messages")]
async fn messages(id: i64, user: CurrentUser, db: &Db) -> Result<Markup, AppError> {
    store::tickets::users_ticket(db.pool(), user.user_id(), id).await?.ok_or(AppError::NotFound)?;
    let list = store::tickets::messages(db.pool(), id, false).await?;
    Ok(views::tickets::messages(&list, &format!("/support/tickets/{id}/messages")))
}

#[derive(FromForm, Default)]
pub struct ReplyFields {
    #[field(default = String::new())]
    pub body: String,
    #[field(default = false)]
    pub internal: bool,
}

#[post("/support/tickets/<id>/reply", data = "<form>")]
async fn reply(
    id: i64,
    form: CsrfForm<'_, ReplyFields>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
) -> Result<FormResponse, AppError> {
    let replied = match forms::values(form.0) {
        Ok(f) => tickets::user_reply(db.pool(), user.user_id(), id, &f.body).await,
        Err(errors) => Err(TicketError::Invalid(errors)),
    };
    match replied {
        Ok(()) => Ok(FormResponse::Redirect(Redirect::to(format!("/support/tickets/{id}")))),
        Err(TicketError::Invalid(errors)) => {
            Ok(FormResponse::Page(unprocessable(ticket_page(&ctx, &user, db, id, &errors).await?)))
        }
        Err(other) => Err(other.into()),
    }
}

#[post("/support/tickets/<id>/close", data = "<_form>")]
async fn close(id: i64, _form: CsrfForm<'_, Confirm>, user: CurrentUser, db: &Db) -> Result<Flash<Redirect>, AppError> {
    tickets::user_close(db.pool(), user.user_id(), id).await?;
    Ok(Flash::success(
        Redirect::to(format!("/support/tickets/{id}")),
        "The ticket is closed. Reply to it to reopen it.",
    ))
}
