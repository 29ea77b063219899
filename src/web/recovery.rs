//! Links that arrive by email: confirming an address, resetting a password.
use super::auth::FormResponse;
use super::forms::{self, Confirm};
use super::responses::unprocessable;
use crate::auth::{ClientInfo, CsrfForm, CurrentUser};
use crate::db::Db;
use crate::domain::accounts::AccountError;
use crate::domain::recovery;
use crate::domain::{email, FieldErrors};
use crate::error::AppError;
use crate::state::Portal;
use crate::views::{self, PageContext};
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, State};

pub fn routes() -> Vec<rocket::Route> {
    routes![verify_email, resend_verification, forgot_page, forgot_submit, reset_page, reset_submit]
}

#[get("/verify-email?<token>")]
async fn verify_email(
    token: Option<&str>,
    user: Option<CurrentUser>,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Flash<Redirect>, AppError> {
    let target = if user.is_some() { "/dashboard" } else { "/login" };
    match email::verify_address(db.pool(), token.unwrap_or_default()).await? {
        Some(user_id) => {
            portal.fragments.invalidate(&user_id.to_string()).await;
            Ok(Flash::success(Redirect::to(target), "Your email address is confirmed. Thank you!"))
        }
        None => Err(AppError::BadRequest(
            "This confirmation link is used, expired, or for an address the account no longer has. \
             Ask for a new one on your account page."
                .into(),
        )),
    }
}

#[post("/account/verify-email", data = "<_form>")]
async fn resend_verification(
    _form: CsrfForm<'_, Confirm>,
    user: CurrentUser,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Flash<Redirect>, AppError> {
    let public_url = portal.config.base_url();
    let sent =
        recovery::resend_verification(db.pool(), &portal.limiter, &portal.rules, public_url, user.user_id()).await?;
    let message =
        if sent { "We sent the link again. It works for 48 hours." } else { "Your address is already confirmed." };
    Ok(Flash::success(Redirect::to("/account"), message))
}

#[derive(FromForm, Default)]
struct ForgotFields {
    #[field(default = String::new())]
    email: String,
}

#[get("/forgot-password")]
fn forgot_page(ctx: PageContext) -> maud::Markup {
    views::auth::forgot_password(&ctx, "", &FieldErrors::default(), false)
}

#[post("/forgot-password", data = "<form>")]
async fn forgot_submit(
    form: CsrfForm<'_, ForgotFields>,
    ctx: PageContext,
    client: ClientInfo,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    let fields = forms::values(form.0).unwrap_or_default();
    let public_url = portal.config.base_url();
    match recovery::request_reset(db.pool(), &portal.limiter, &portal.rules, public_url, &client.ip, &fields.email)
        .await
    {
        Ok(()) => {
            Ok(FormResponse::Page((Status::Ok, views::auth::forgot_password(&ctx, "", &FieldErrors::default(), true))))
        }
        Err(AccountError::Invalid(errors)) => {
            Ok(FormResponse::Page(unprocessable(views::auth::forgot_password(&ctx, &fields.email, &errors, false))))
        }
        Err(other) => Err(other.into()),
    }
}

#[get("/reset-password?<token>")]
fn reset_page(ctx: PageContext, token: Option<&str>) -> maud::Markup {
    views::auth::reset_password(&ctx, token.unwrap_or_default(), &FieldErrors::default())
}

#[derive(FromForm, Default)]
struct ResetFields {
    #[field(default = String::new())]
    token: String,
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    password_confirm: String,
}

#[post("/reset-password", data = "<form>")]
async fn reset_submit(
    form: CsrfForm<'_, ResetFields>,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    let fields = forms::values(form.0).unwrap_or_default();
    match recovery::reset_password(
        db.pool(),
        &portal.sessions,
        &fields.token,
        &fields.password,
        &fields.password_confirm,
    )
    .await
    {
        Ok(user_id) => {
            portal.fragments.invalidate(&user_id.to_string()).await;
            Ok(FormResponse::Done(Flash::success(
                Redirect::to("/login"),
                "Your password is changed, and every session is signed out. Log in with the new password.",
            )))
        }
        Err(AccountError::Invalid(errors)) => {
            Ok(FormResponse::Page(unprocessable(views::auth::reset_password(&ctx, &fields.token, &errors))))
        }
        Err(other) => Err(other.into()),
    }
}
