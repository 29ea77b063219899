//! The API tokens page: `/account/tokens`.
use super::auth::FormResponse;
use super::forms::{self, Confirm};
use crate::auth::{CsrfForm, CurrentUser};
use crate::db::Db;
use crate::domain::api_tokens::{self, TokenError, TokenForm};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::views::{self, api_tokens::TokensPage, PageContext};
use maud::Markup;
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes};
use time::OffsetDateTime;

pub fn routes() -> Vec<rocket::Route> {
    routes![tokens, create, revoke]
}

#[derive(FromForm, Default)]
struct TokenFields {
    #[field(default = String::new())]
    name: String,
    #[field(default = Vec::new())]
    scopes: Vec<String>,
    #[field(default = String::new())]
    lifetime: String,
}

async fn render(
    ctx: &PageContext,
    user: &CurrentUser,
    db: &Db,
    created: Option<(&str, &str)>,
    form: &TokenForm,
    errors: &FieldErrors,
) -> Result<Markup, AppError> {
    let tokens = api_tokens::list(db.pool(), user.user_id()).await?;
    let page = TokensPage { tokens: &tokens, created, form, errors, api_docs_url: "/api/docs" };
    Ok(views::api_tokens::tokens_page(ctx, &page, OffsetDateTime::now_utc()))
}

fn blank_form() -> TokenForm {
    TokenForm { lifetime: "90".into(), ..TokenForm::default() }
}

#[get("/account/tokens")]
async fn tokens(user: CurrentUser, ctx: PageContext, db: &Db) -> Result<Markup, AppError> {
    render(&ctx, &user, db, None, &blank_form(), &FieldErrors::default()).await
}

#[post("/account/tokens", data = "<form>")]
async fn create(
    form: CsrfForm<'_, TokenFields>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
) -> Result<FormResponse, AppError> {
    let form = match forms::values(form.0) {
        Ok(f) => TokenForm { name: f.name, scopes: f.scopes, lifetime: f.lifetime },
        Err(errors) => {
            return Ok(FormResponse::Page((
                Status::UnprocessableEntity,
                render(&ctx, &user, db, None, &blank_form(), &errors).await?,
            )))
        }
    };
    match api_tokens::create(db.pool(), user.user_id(), &form).await {
        // The secret is in this answer only (never in a flash cookie); `no-store` keeps it out of caches.
        Ok(created) => Ok(FormResponse::Page((
            Status::Created,
            render(&ctx, &user, db, Some((&form.name, &created.token)), &blank_form(), &FieldErrors::default()).await?,
        ))),
        Err(TokenError::Invalid(errors)) => {
            Ok(FormResponse::Page((Status::UnprocessableEntity, render(&ctx, &user, db, None, &form, &errors).await?)))
        }
        Err(e @ TokenError::TooMany) => Ok(FormResponse::Page((
            Status::UnprocessableEntity,
            render(&ctx, &user, db, None, &form, &FieldErrors::single("form", e.to_string())).await?,
        ))),
        Err(TokenError::Db(e)) => Err(e.into()),
    }
}

#[post("/account/tokens/<id>/revoke", data = "<_form>")]
async fn revoke(
    id: i64,
    _form: CsrfForm<'_, Confirm>,
    user: CurrentUser,
    db: &Db,
) -> Result<Flash<Redirect>, AppError> {
    if !api_tokens::revoke(db.pool(), user.user_id(), id).await? {
        return Err(AppError::NotFound);
    }
    Ok(Flash::success(Redirect::to("/account/tokens"), "The token is revoked: it no longer works."))
}
