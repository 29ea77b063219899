use super::context::PublicContext;
use super::responses::{PageHtml, PublicPage};
use crate::state::Portal;
use crate::views;
use rocket::{get, routes, State};
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![landing]
}

#[get("/")]
fn landing(ctx: PublicContext, portal: &State<Portal>) -> PublicPage {
    let signed_in = ctx.0.user.is_some();
    // Every signed-out visitor without a flash message sees the same page: rendered once.
    let html = if signed_in || ctx.0.flash.is_some() {
        PageHtml::Fresh(views::public::landing(&ctx.0))
    } else {
        PageHtml::Kept(Arc::clone(
            portal.landing_page.get_or_init(|| views::public::landing(&ctx.0).into_string().into_bytes().into()),
        ))
    };
    PublicPage { html, signed_in, s_maxage: portal.config.public_s_maxage }
}
