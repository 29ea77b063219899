//! Sign up, log in, log out.
use super::forms::{self, Confirm};
use super::responses::{safe_next, unprocessable};
use crate::auth::{ClientInfo, CsrfForm, CurrentUser, SESSION_COOKIE};
use crate::cache::Decision;
use crate::db::Db;
use crate::domain::accounts::{self, AccountError};
use crate::domain::signup::{self, SignupError, SignupForm};
use crate::domain::two_factor;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::state::Portal;
use crate::views::{self, components::field_error, PageContext};
use maud::Markup;
use rocket::data::{self, Data, FromData};
use rocket::form::{Errors, FromForm};
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::outcome::Outcome;
use rocket::request::Request;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Responder, State};

pub fn routes() -> Vec<rocket::Route> {
    routes![signup_page, check_username, check_email, signup_submit, login_page, login_submit, logout]
}

#[derive(Responder)]
pub enum FormResponse {
    Done(Flash<Redirect>),
    /// A page with its status: a form shown, or shown again with its errors (422).
    Page((Status, Markup)),
    Redirect(Redirect),
}

#[derive(FromForm, Default)]
struct SignupFields {
    #[field(default = String::new())]
    username: String,
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    password_confirm: String,
}

#[derive(FromForm, Default)]
struct LoginFields {
    #[field(default = String::new())]
    login: String,
    #[field(default = String::new())]
    password: String,
    next: Option<String>,
}

/// A login form, or the refusal this instance already knows for the client's IP: a client that
/// is already refused costs one map lookup, and its body is never read or parsed.
enum LoginAttempt<'r> {
    Refused { retry_after_secs: u64 },
    Form(Box<CsrfForm<'r, LoginFields>>),
}

#[rocket::async_trait]
impl<'r> FromData<'r> for LoginAttempt<'r> {
    type Error = ();

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        if let (Some(portal), Outcome::Success(client)) =
            (req.rocket().state::<Portal>(), req.guard::<ClientInfo>().await)
        {
            if let Some(retry_after_secs) = accounts::login_already_refused(&portal.limiter, &portal.rules, &client.ip)
            {
                return Outcome::Success(LoginAttempt::Refused { retry_after_secs });
            }
        }
        CsrfForm::from_data(req, data).await.map(|form| LoginAttempt::Form(Box::new(form)))
    }
}

#[get("/signup")]
fn signup_page(ctx: PageContext, user: Option<CurrentUser>) -> FormResponse {
    if user.is_some() {
        return FormResponse::Redirect(Redirect::to("/dashboard"));
    }
    FormResponse::Page((Status::Ok, views::auth::signup(&ctx, &SignupForm::default(), &FieldErrors::default())))
}

/// Inline validation while the user types (htmx): the field's message slot. Limited per IP,
/// since it says whether a name is taken.
async fn check_field(
    field: &str,
    value: Result<&str, Errors<'_>>,
    client: &ClientInfo,
    db: &Db,
    portal: &Portal,
) -> Result<Markup, AppError> {
    let limit = [(portal.rules.field_checks_per_ip, client.ip.as_str())];
    if let Decision::Limited { retry_after_secs } = portal.limiter.take(&limit).await {
        return Err(AppError::RateLimited { retry_after_secs });
    }
    let value = value.map_err(|_| AppError::BadRequest(format!("Send the {field} as text.")))?;
    let message = signup::check_field(db.pool(), field, value).await?;
    Ok(field_error(field, message.as_deref()))
}

#[get("/signup/check/username?<username>")]
async fn check_username(
    username: Result<&str, Errors<'_>>,
    client: ClientInfo,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Markup, AppError> {
    check_field("username", username, &client, db, portal).await
}

#[get("/signup/check/email?<email>")]
async fn check_email(
    email: Result<&str, Errors<'_>>,
    client: ClientInfo,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Markup, AppError> {
    check_field("email", email, &client, db, portal).await
}

pub fn set_session_cookie(cookies: &CookieJar<'_>, token: String, portal: &Portal) {
    cookies.add(
        Cookie::build((SESSION_COOKIE, token))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(portal.config.secure_cookies)
            .path("/")
            .max_age(rocket::time::Duration::days(portal.config.session_absolute_days)),
    );
}

/// A new session id on every sign-in; the one the browser had before is ended.
pub(super) async fn sign_in(
    user_id: i64,
    two_factor: bool,
    client: &ClientInfo,
    cookies: &CookieJar<'_>,
    db: &Db,
    portal: &Portal,
) -> Result<(), AppError> {
    let sessions = portal.sessions(db);
    if let Some(old) = cookies.get(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        sessions.end(&old).await?;
    }
    let (token, _) = sessions.start(user_id, Some(&client.ip), client.user_agent.as_deref(), two_factor).await?;
    set_session_cookie(cookies, token, portal);
    portal.fragments.invalidate(&user_id.to_string()).await;
    Ok(())
}

#[post("/signup", data = "<form>")]
async fn signup_submit(
    form: CsrfForm<'_, SignupFields>,
    ctx: PageContext,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    let limit = [(portal.rules.signup_per_ip, client.ip.as_str())];
    // Every attempt counts (a failed one still tells whether a name or email is taken), and
    // accounts made count again against their own, lower limit.
    let attempts = [(portal.rules.signup_attempts_per_ip, client.ip.as_str())];
    if let Decision::Limited { retry_after_secs } = portal.limiter.take(&attempts).await {
        return Err(AppError::RateLimited { retry_after_secs });
    }
    if let Decision::Limited { retry_after_secs } = portal.limiter.check(&limit).await {
        return Err(AppError::RateLimited { retry_after_secs });
    }
    let fields = match forms::values(form.0) {
        Ok(f) => f,
        Err(errors) => {
            return Ok(FormResponse::Page(unprocessable(views::auth::signup(&ctx, &SignupForm::default(), &errors))))
        }
    };
    let signup = SignupForm {
        username: fields.username,
        email: fields.email,
        password: fields.password,
        password_confirm: fields.password_confirm,
    };
    match signup::sign_up(db.pool(), portal.config.base_url(), &signup).await {
        Ok(user_id) => {
            portal.limiter.hit(&limit).await;
            sign_in(user_id, false, &client, cookies, db, portal).await?;
            let welcome = format!(
                "Welcome to Phaze, {}! We sent a link to {}: follow it to confirm your address.",
                signup.username,
                signup.email.trim()
            );
            Ok(FormResponse::Done(Flash::success(Redirect::to("/dashboard"), welcome)))
        }
        Err(SignupError::Invalid(errors)) => {
            Ok(FormResponse::Page(unprocessable(views::auth::signup(&ctx, &signup, &errors))))
        }
        Err(SignupError::Db(e)) => Err(e.into()),
    }
}

#[get("/login?<next>")]
fn login_page(ctx: PageContext, user: Option<CurrentUser>, next: Option<&str>) -> FormResponse {
    let next = safe_next(next);
    if user.is_some() {
        return FormResponse::Redirect(Redirect::to(next.unwrap_or_else(|| "/dashboard".into())));
    }
    FormResponse::Page((Status::Ok, views::auth::login(&ctx, "", next.as_deref(), &FieldErrors::default())))
}

#[post("/login", data = "<form>")]
async fn login_submit(
    form: LoginAttempt<'_>,
    ctx: PageContext,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    let form = match form {
        LoginAttempt::Form(form) => *form,
        LoginAttempt::Refused { retry_after_secs } => return Err(AppError::RateLimited { retry_after_secs }),
    };
    let fields = forms::values(form.0).unwrap_or_default();
    let next = safe_next(fields.next.as_deref());
    match accounts::log_in(db.pool(), &portal.limiter, &portal.rules, &client.ip, &fields.login, &fields.password).await
    {
        Ok(proven) if proven.needs_second_factor => {
            // Half signed in: the code is asked for next, for five minutes, in this browser only.
            let token = two_factor::challenge(db.pool(), proven.user_id).await?;
            super::two_factor::set_challenge_cookie(cookies, token, portal);
            let next = next.map(|n| format!("?next={}", rocket::http::RawStr::new(&n).percent_encode()));
            Ok(FormResponse::Redirect(Redirect::to(format!("/login/two-factor{}", next.unwrap_or_default()))))
        }
        Ok(proven) => {
            sign_in(proven.user_id, false, &client, cookies, db, portal).await?;
            Ok(FormResponse::Redirect(Redirect::to(next.unwrap_or_else(|| "/dashboard".into()))))
        }
        Err(AccountError::Invalid(errors)) => {
            Ok(FormResponse::Page(unprocessable(views::auth::login(&ctx, &fields.login, next.as_deref(), &errors))))
        }
        Err(other) => Err(other.into()),
    }
}

#[post("/logout", data = "<_form>")]
async fn logout(
    _form: CsrfForm<'_, Confirm>,
    user: CurrentUser,
    cookies: &CookieJar<'_>,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Flash<Redirect>, AppError> {
    portal.sessions(db).end(&user.token).await?;
    portal.fragments.invalidate(&user.user_id().to_string()).await;
    cookies.remove(Cookie::build(SESSION_COOKIE).path("/"));
    log::info!(event = "user_logged_out", user_id = user.user_id(); "user_logged_out");
    Ok(Flash::success(Redirect::to("/login"), "You are logged out."))
}
