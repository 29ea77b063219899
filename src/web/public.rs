use super::context::PublicContext;
use super::responses::PublicPage;
use crate::state::Portal;
use crate::views;
use rocket::{get, routes, State};

pub fn routes() -> Vec<rocket::Route> {
    routes![landing]
}

#[get("/")]
fn landing(ctx: PublicContext, portal: &State<Portal>) -> PublicPage {
    let signed_in = ctx.0.user.is_some();
    PublicPage { markup: views::public::landing(&ctx.0), signed_in, s_maxage: portal.config.public_s_maxage }
}
