use super::clients;
use crate::auth::CurrentUser;
use crate::cache::{Lookup, NearCheck};
use crate::db::Db;
use crate::domain::accounts;
use crate::domain::clients::ClientForm;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::state::Portal;
use crate::views::{self, layout::trusted, PageContext};
use maud::Markup;
use rocket::{get, routes, State};

pub fn routes() -> Vec<rocket::Route> {
    routes![dashboard, account_summary]
}

pub const SUMMARY_FRAGMENT: &str = "account_summary";

/// Every fragment of the dashboard, looked up in one Redis round trip (or none, from the near
/// cache, with the request's `check` of it).
pub async fn fragments(portal: &Portal, user_id: i64, check: &NearCheck) -> Lookup {
    let owner = user_id.to_string();
    portal
        .fragments
        .lookup_in(
            &[
                (SUMMARY_FRAGMENT, &owner),
                (clients::CLIENT_LIST, &owner),
                (clients::NODE_OPTIONS, clients::NODES_OWNER),
            ],
            check,
        )
        .await
}

/// The account summary card, from the fragment cache when it is fresh.
pub async fn summary_fragment(user: &CurrentUser, db: &Db, cached: &Lookup) -> Result<Markup, AppError> {
    let html = cached
        .get_or_render(SUMMARY_FRAGMENT, &user.user_id().to_string(), || async {
            let summary = accounts::summary(db.pool(), user.user_id()).await?.ok_or(AppError::NotFound)?;
            Ok::<_, AppError>(views::dashboard::account_summary(&summary).into_string())
        })
        .await?;
    Ok(trusted(html))
}

#[get("/dashboard")]
async fn dashboard(
    user: CurrentUser,
    ctx: PageContext,
    near: &NearCheck,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Markup, AppError> {
    let cached = fragments(portal, user.user_id(), near).await;
    let summary = summary_fragment(&user, db, &cached).await?;
    let clients = clients::section(
        &ctx.csrf,
        user.user_id(),
        &ClientForm { protocol: "wireguard".into(), ..Default::default() },
        &FieldErrors::default(),
        db,
        portal,
        &cached,
    )
    .await?;
    Ok(views::dashboard::dashboard(&ctx, summary, clients))
}

/// The same card alone, for an htmx swap.
#[get("/dashboard/summary")]
async fn account_summary(user: CurrentUser, db: &Db, portal: &State<Portal>) -> Result<Markup, AppError> {
    let cached = portal.fragments.lookup(&[(SUMMARY_FRAGMENT, &user.user_id().to_string())]).await;
    summary_fragment(&user, db, &cached).await
}
