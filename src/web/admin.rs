use crate::app::Portal;
use crate::auth::Admin;
use crate::db::Db;
use crate::error::AppError;
use crate::store;
use crate::views::{self, admin::AdminOverview, PageContext};
use maud::Markup;
use rocket::{get, routes, State};
use std::sync::atomic::Ordering;

pub fn routes() -> Vec<rocket::Route> {
    routes![overview]
}

#[get("/admin")]
async fn overview(_admin: Admin, ctx: PageContext, db: &Db, portal: &State<Portal>) -> Result<Markup, AppError> {
    let stats = &portal.fragments.stats;
    let overview = AdminOverview {
        users: store::users::count(db.pool()).await?,
        cache_hits: stats.hits.load(Ordering::Relaxed),
        cache_misses: stats.misses.load(Ordering::Relaxed),
        cache_bypasses: stats.bypasses.load(Ordering::Relaxed),
    };
    Ok(views::admin::overview(&ctx, &overview))
}
