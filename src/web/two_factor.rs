//! Two-factor sign-in: the step after the password, and turning TOTP on and off on the account.
use super::auth::{sign_in, FormResponse};
use super::forms;
use super::responses::{safe_next, unprocessable};
use crate::auth::{ClientInfo, CsrfForm, CurrentUser};
use crate::cache::Decision;
use crate::db::Db;
use crate::domain::two_factor::{self, TwoFactorError, CHALLENGE_MINUTES};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::state::Portal;
use crate::views::{self, PageContext};
use maud::Markup;
use rocket::form::FromForm;
use rocket::http::{Cookie, CookieJar, Header, SameSite, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Responder, State};

pub fn routes() -> Vec<rocket::Route> {
    routes![challenge_page, challenge_submit, account_page, setup, enable, regenerate, disable]
}

/// The cookie that binds the half-signed-in state to this browser.
pub const CHALLENGE_COOKIE: &str = "phaze_2fa";

pub fn set_challenge_cookie(cookies: &CookieJar<'_>, token: String, portal: &Portal) {
    cookies.add(
        Cookie::build((CHALLENGE_COOKIE, token))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(portal.config.secure_cookies)
            .path("/login/two-factor")
            .max_age(rocket::time::Duration::minutes(CHALLENGE_MINUTES)),
    );
}

fn clear_challenge_cookie(cookies: &CookieJar<'_>) {
    cookies.remove(Cookie::build(CHALLENGE_COOKIE).path("/login/two-factor"));
}

impl From<TwoFactorError> for AppError {
    fn from(e: TwoFactorError) -> Self {
        match e {
            TwoFactorError::Invalid(errors) => {
                AppError::BadRequest(errors.0.into_values().collect::<Vec<_>>().join(" "))
            }
            TwoFactorError::NotEnabled => AppError::Conflict("Two-factor sign-in is not set up.".into()),
            TwoFactorError::Sealed(cause) => AppError::Internal(cause),
            TwoFactorError::Db(e) => e.into(),
        }
    }
}

fn start_again() -> Flash<Redirect> {
    Flash::error(Redirect::to("/login"), "Your sign-in took too long (or began in another browser). Log in again.")
}

#[get("/login/two-factor?<next>")]
async fn challenge_page(
    ctx: PageContext,
    next: Option<&str>,
    cookies: &CookieJar<'_>,
    db: &Db,
) -> Result<Result<Markup, Flash<Redirect>>, AppError> {
    let token = cookies.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    if two_factor::challenged_user(db.pool(), &token).await?.is_none() {
        return Ok(Err(start_again()));
    }
    Ok(Ok(views::two_factor::challenge(&ctx, safe_next(next).as_deref(), &FieldErrors::default())))
}

#[derive(FromForm, Default)]
struct CodeFields {
    #[field(default = String::new())]
    code: String,
    next: Option<String>,
}

#[derive(Responder)]
enum ChallengeAnswer {
    Done(Redirect),
    Again(Flash<Redirect>),
    Page((Status, Markup)),
}

#[post("/login/two-factor", data = "<form>")]
async fn challenge_submit(
    form: CsrfForm<'_, CodeFields>,
    ctx: PageContext,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
    db: &Db,
    portal: &State<Portal>,
) -> Result<ChallengeAnswer, AppError> {
    let fields = forms::values(form.0).unwrap_or_default();
    let next = safe_next(fields.next.as_deref());
    let token = cookies.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    let Some(user_id) = two_factor::challenged_user(db.pool(), &token).await? else {
        return Ok(ChallengeAnswer::Again(start_again()));
    };
    // Every code tried counts towards the login limits, given back when it is right.
    let user_key = format!("2fa:{user_id}");
    let checks = [(portal.rules.per_user, user_key.as_str()), (portal.rules.per_ip, client.ip.as_str())];
    if let Decision::Limited { retry_after_secs } = portal.limiter.take(&checks).await {
        return Err(AppError::RateLimited { retry_after_secs });
    }
    match two_factor::verify(db.pool(), &portal.vault, user_id, &fields.code).await {
        Ok(()) => {
            if !two_factor::finish_challenge(db.pool(), &token).await? {
                return Ok(ChallengeAnswer::Again(start_again()));
            }
            portal.limiter.give_back(&checks).await;
            clear_challenge_cookie(cookies);
            sign_in(user_id, true, &client, cookies, db, portal).await?;
            log::info!(event = "user_logged_in_two_factor", user_id = user_id; "user_logged_in_two_factor");
            Ok(ChallengeAnswer::Done(Redirect::to(next.unwrap_or_else(|| "/dashboard".into()))))
        }
        Err(TwoFactorError::Invalid(errors)) => {
            log::info!(event = "two_factor_failed", user_id = user_id; "two_factor_failed");
            Ok(ChallengeAnswer::Page(unprocessable(views::two_factor::challenge(&ctx, next.as_deref(), &errors))))
        }
        Err(other) => Err(other.into()),
    }
}

/// Recovery codes and setup secrets must not stay in any cache.
#[derive(Responder)]
struct Secret {
    page: (Status, Markup),
    no_store: Header<'static>,
}

fn secret_page(status: Status, page: Markup) -> Secret {
    Secret { page: (status, page), no_store: Header::new("Cache-Control", "no-store") }
}

async fn account_view(
    ctx: &PageContext,
    user: &CurrentUser,
    db: &Db,
    errors: &FieldErrors,
) -> Result<Markup, AppError> {
    let on = user.session.totp;
    let unused = if on { two_factor::unused_codes(db.pool(), user.user_id()).await? } else { 0 };
    Ok(views::two_factor::account(
        ctx,
        &views::two_factor::AccountTwoFactor {
            on,
            unused_codes: unused,
            session_used_it: user.session.two_factor,
            is_admin: user.session.is_admin(),
            errors,
        },
    ))
}

#[get("/account/two-factor")]
async fn account_page(user: CurrentUser, ctx: PageContext, db: &Db) -> Result<Markup, AppError> {
    account_view(&ctx, &user, db, &FieldErrors::default()).await
}

#[post("/account/two-factor/setup", data = "<_form>")]
async fn setup(
    _form: CsrfForm<'_, forms::Confirm>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Secret, AppError> {
    if user.session.totp {
        return Err(AppError::Conflict("Two-factor sign-in is already on.".into()));
    }
    let setup = two_factor::begin_setup(db.pool(), &portal.vault, user.user_id(), true).await?;
    Ok(secret_page(Status::Ok, views::two_factor::setup(&ctx, &setup, &FieldErrors::default())))
}

#[post("/account/two-factor/enable", data = "<form>")]
async fn enable(
    form: CsrfForm<'_, CodeFields>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Secret, AppError> {
    let code = forms::values(form.0).unwrap_or_default().code;
    let (pool, vault) = (db.pool(), &portal.vault);
    match two_factor::confirm_setup(pool, vault, &portal.sessions, user.user_id(), Some(user.session.id), &code).await {
        Ok(codes) => Ok(secret_page(Status::Ok, views::two_factor::recovery_codes(&ctx, &codes, true))),
        Err(TwoFactorError::Invalid(errors)) => {
            let setup = two_factor::begin_setup(pool, vault, user.user_id(), false).await?;
            Ok(secret_page(Status::UnprocessableEntity, views::two_factor::setup(&ctx, &setup, &errors)))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(FromForm, Default)]
struct ReauthFields {
    #[field(default = String::new())]
    current_password: String,
    #[field(default = String::new())]
    code: String,
}

#[post("/account/two-factor/codes", data = "<form>")]
async fn regenerate(
    form: CsrfForm<'_, ReauthFields>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Secret, AppError> {
    let f = forms::values(form.0).unwrap_or_default();
    let made = two_factor::regenerate_codes(
        &portal.sessions(db),
        &portal.vault,
        user.user_id(),
        &user.token,
        &f.current_password,
        &f.code,
    )
    .await;
    match made {
        Ok(codes) => Ok(secret_page(Status::Ok, views::two_factor::recovery_codes(&ctx, &codes, false))),
        Err(TwoFactorError::Invalid(errors)) => {
            Ok(secret_page(Status::UnprocessableEntity, account_view(&ctx, &user, db, &errors).await?))
        }
        Err(other) => Err(other.into()),
    }
}

#[post("/account/two-factor/disable", data = "<form>")]
async fn disable(
    form: CsrfForm<'_, ReauthFields>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    let f = forms::values(form.0).unwrap_or_default();
    let sessions = portal.sessions(db);
    match two_factor::disable(&sessions, &portal.vault, user.user_id(), &user.token, &f.current_password, &f.code).await
    {
        Ok(()) => Ok(FormResponse::Done(Flash::success(
            Redirect::to("/account/two-factor"),
            "Two-factor sign-in is off, and your other sessions are signed out.",
        ))),
        Err(TwoFactorError::Invalid(errors)) => {
            Ok(FormResponse::Page(unprocessable(account_view(&ctx, &user, db, &errors).await?)))
        }
        Err(other) => Err(other.into()),
    }
}
