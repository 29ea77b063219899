//! Builds the layout's `PageContext` from a request.
use crate::assets::Assets;
use crate::auth::guards::{resolve_session, resolved_session, CurrentUser};
use crate::auth::{tokens, ANON_CSRF_COOKIE};
use crate::views::layout::{AssetUrls, Flash, NavUser, PageContext};
use rocket::http::{Cookie, SameSite};
use rocket::request::{self, FlashMessage, FromRequest, Request};
use std::convert::Infallible;

fn asset_urls(req: &Request<'_>) -> AssetUrls {
    let url = |name: &str| req.rocket().state::<Assets>().map_or_else(|| format!("/static/{name}"), |a| a.url(name));
    AssetUrls {
        htmx: url("htmx.min.js"),
        stylesheet: url("pico.classless.min.css"),
        app_stylesheet: url("app.css"),
        icon: url("favicon.svg"),
    }
}

fn nav_user(user: &CurrentUser) -> NavUser {
    NavUser { username: user.session.username.clone(), is_admin: user.session.is_admin() }
}

async fn build(req: &Request<'_>, anonymous_forms: bool) -> PageContext {
    let user = resolve_session(req).await.0.as_ref().ok().and_then(Option::as_ref);
    let csrf = match user {
        Some(u) => u.session.csrf_token.clone(),
        None if anonymous_forms => anonymous_csrf(req),
        None => String::new(),
    };
    // Public pages leave the flash cookie alone: reading it would set a cookie on a cacheable page.
    let flash = if !anonymous_forms && user.is_none() {
        None
    } else {
        match req.guard::<Option<FlashMessage<'_>>>().await {
            request::Outcome::Success(Some(f)) => {
                Some(Flash { kind: f.kind().to_owned(), message: f.message().to_owned() })
            }
            _ => None,
        }
    };
    PageContext { user: user.map(nav_user), csrf, flash, assets: asset_urls(req) }
}

/// The pre-sign-in CSRF token, set as a cookie the first time a form is shown.
fn anonymous_csrf(req: &Request<'_>) -> String {
    if let Some(c) = req.cookies().get(ANON_CSRF_COOKIE) {
        if tokens::looks_like_token(c.value()) {
            return c.value().to_owned();
        }
    }
    let (token, _) = tokens::new_token();
    let secure = req.rocket().state::<crate::state::Portal>().is_some_and(|p| p.config.secure_cookies);
    req.cookies().add(
        Cookie::build((ANON_CSRF_COOKIE, token.clone()))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .path("/"),
    );
    token
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for PageContext {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        request::Outcome::Success(build(req, true).await)
    }
}

/// The context of a public, CDN-cacheable page: it never sets a cookie.
pub struct PublicContext(pub PageContext);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for PublicContext {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        request::Outcome::Success(PublicContext(build(req, false).await))
    }
}

/// For error pages and catchers: uses only what this request already resolved.
pub fn for_error_page(req: &Request<'_>) -> PageContext {
    let user = resolved_session(req);
    PageContext {
        user: user.map(nav_user),
        csrf: user.map(|u| u.session.csrf_token.clone()).unwrap_or_default(),
        flash: None,
        assets: asset_urls(req),
    }
}
