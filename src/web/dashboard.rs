use crate::app::Portal;
use crate::auth::CurrentUser;
use crate::db::Db;
use crate::domain::accounts;
use crate::domain::clients::ClientForm;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::views::{self, layout::trusted, PageContext};
use maud::Markup;
use rocket::{get, routes, State};

pub fn routes() -> Vec<rocket::Route> {
    routes![dashboard, account_summary]
}

pub const SUMMARY_FRAGMENT: &str = "account_summary";

/// The account summary card, from the fragment cache when it is fresh.
pub async fn summary_fragment(user: &CurrentUser, db: &Db, portal: &Portal) -> Result<Markup, AppError> {
    let html = portal
        .fragments
        .get_or_render(SUMMARY_FRAGMENT, &user.user_id().to_string(), || async {
            let summary = accounts::summary(db.pool(), user.user_id()).await?.ok_or(AppError::NotFound)?;
            Ok::<_, AppError>(views::dashboard::account_summary(&summary).into_string())
        })
        .await?;
    Ok(trusted(html))
}

#[get("/dashboard")]
async fn dashboard(user: CurrentUser, ctx: PageContext, db: &Db, portal: &State<Portal>) -> Result<Markup, AppError> {
    let summary = summary_fragment(&user, db, portal).await?;
    let clients = super::clients::section(
        &ctx.csrf,
        user.user_id(),
        &ClientForm { protocol: "wireguard".into(), ..Default::default() },
        &FieldErrors::default(),
        db,
        portal,
    )
    .await?;
    Ok(views::dashboard::dashboard(&ctx, summary, clients))
}

/// The same card alone, for an htmx swap.
#[get("/dashboard/summary")]
async fn account_summary(user: CurrentUser, db: &Db, portal: &State<Portal>) -> Result<Markup, AppError> {
    summary_fragment(&user, db, portal).await
}
