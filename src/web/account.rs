//! The account page: sessions, password, email.
use super::auth::FormResponse;
use super::forms::{self, Confirm};
use super::responses::unprocessable;
use crate::auth::{CsrfForm, CurrentUser};
use crate::db::Db;
use crate::domain::accounts::{self, AccountError};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::state::Portal;
use crate::store;
use crate::views::{self, account::AccountPage, PageContext};
use maud::Markup;
use rocket::form::FromForm;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, State};

pub fn routes() -> Vec<rocket::Route> {
    routes![account, change_password, change_email, revoke_session, revoke_other_sessions]
}

#[derive(FromForm, Default)]
struct PasswordFields {
    #[field(default = String::new())]
    current_password: String,
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    password_confirm: String,
}

#[derive(FromForm, Default)]
struct EmailFields {
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    current_password: String,
}

async fn render(
    ctx: &PageContext,
    user: &CurrentUser,
    db: &Db,
    email: Option<&str>,
    password_errors: &FieldErrors,
    email_errors: &FieldErrors,
) -> Result<Markup, AppError> {
    let sessions = store::sessions::list_for_user(db.pool(), user.user_id()).await?;
    let summary = accounts::summary(db.pool(), user.user_id()).await?.ok_or(AppError::NotFound)?;
    Ok(views::account::account(
        ctx,
        &AccountPage {
            sessions: &sessions,
            current_session_id: user.session.id,
            email: email.unwrap_or(&summary.email),
            email_verified: summary.email_verified,
            password_errors,
            email_errors,
        },
    ))
}

#[get("/account")]
async fn account(user: CurrentUser, ctx: PageContext, db: &Db) -> Result<Markup, AppError> {
    render(&ctx, &user, db, None, &FieldErrors::default(), &FieldErrors::default()).await
}

#[post("/account/password", data = "<form>")]
async fn change_password(
    form: CsrfForm<'_, PasswordFields>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    let changed = match forms::values(form.0) {
        Ok(f) => {
            let (user_id, username) = (user.user_id(), &user.session.username);
            accounts::change_password(
                db.pool(),
                user_id,
                username,
                &f.current_password,
                &f.password,
                &f.password_confirm,
            )
            .await
        }
        Err(errors) => Err(AccountError::Invalid(errors)),
    };
    match changed {
        Ok(()) => {
            let ended = portal.sessions(db).end_others(user.user_id(), &user.token).await?;
            portal.fragments.invalidate(&user.user_id().to_string()).await;
            let message = format!("Your password is changed. {ended} other session(s) were signed out.");
            Ok(FormResponse::Done(Flash::success(Redirect::to("/account"), message)))
        }
        Err(AccountError::Invalid(errors)) => Ok(FormResponse::Page(unprocessable(
            render(&ctx, &user, db, None, &errors, &FieldErrors::default()).await?,
        ))),
        Err(other) => Err(other.into()),
    }
}

#[post("/account/email", data = "<form>")]
async fn change_email(
    form: CsrfForm<'_, EmailFields>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    let (email, changed) = match forms::values(form.0) {
        Ok(f) => (
            Some(f.email.clone()),
            accounts::change_email(db.pool(), portal.config.base_url(), user.user_id(), &f.email, &f.current_password)
                .await,
        ),
        Err(errors) => (None, Err(AccountError::Invalid(errors))),
    };
    match changed {
        Ok(()) => {
            portal.fragments.invalidate(&user.user_id().to_string()).await;
            Ok(FormResponse::Done(Flash::success(
                Redirect::to("/account"),
                "Your email address is changed. Follow the link we sent to it to confirm it.",
            )))
        }
        Err(AccountError::Invalid(errors)) => Ok(FormResponse::Page(unprocessable(
            render(&ctx, &user, db, email.as_deref(), &FieldErrors::default(), &errors).await?,
        ))),
        Err(other) => Err(other.into()),
    }
}

#[post("/account/sessions/<id>/revoke", data = "<_form>")]
async fn revoke_session(
    id: i64,
    _form: CsrfForm<'_, Confirm>,
    user: CurrentUser,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Flash<Redirect>, AppError> {
    if id == user.session.id {
        return Err(AppError::BadRequest("To end this session, log out.".into()));
    }
    if !portal.sessions(db).end_by_id(user.user_id(), id).await? {
        return Err(AppError::NotFound);
    }
    portal.fragments.invalidate(&user.user_id().to_string()).await;
    log::info!(event = "session_revoked", user_id = user.user_id(); "session_revoked");
    Ok(Flash::success(Redirect::to("/account"), "That session is signed out."))
}

#[post("/account/sessions/revoke-others", data = "<_form>")]
async fn revoke_other_sessions(
    _form: CsrfForm<'_, Confirm>,
    user: CurrentUser,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Flash<Redirect>, AppError> {
    let ended = portal.sessions(db).end_others(user.user_id(), &user.token).await?;
    portal.fragments.invalidate(&user.user_id().to_string()).await;
    log::info!(event = "other_sessions_revoked", user_id = user.user_id(), count = ended; "other_sessions_revoked");
    Ok(Flash::success(Redirect::to("/account"), format!("{ended} other session(s) signed out.")))
}
