use super::auth::FormResponse;
use super::forms;
use super::responses::unprocessable;
use crate::auth::CsrfForm;
use crate::auth::{Admin, AdminActor};
use crate::db::Db;
use crate::domain::audit::{self, Change};
use crate::domain::{
    self,
    nodes::{NodeError, NodeForm},
    FieldErrors,
};
use crate::error::AppError;
use crate::state::Portal;
use crate::store;
use crate::views::{self, admin::NodeRow, PageContext};
use crate::vpn::Protocol;
use maud::Markup;
use rocket::form::FromForm;
use rocket::{get, post, routes, State};

pub fn routes() -> Vec<rocket::Route> {
    routes![overview, overview_figures, nodes, add_node, rotate_token]
}

/// The overview's figures from the fragment cache: one entry per 30-second window, so polls
/// from every admin on every instance cost one render per window.
async fn figures(db: &Db, portal: &Portal) -> Result<Markup, AppError> {
    let window = time::OffsetDateTime::now_utc().unix_timestamp() / 30;
    let name = format!("admin_overview:{window}");
    let html = portal
        .fragments
        .get_or_render(&name, "admin", || async {
            let o = domain::admin_users::overview(db.pool()).await?;
            Ok::<_, AppError>(views::admin::overview_figures(&o).into_string())
        })
        .await?;
    Ok(views::layout::trusted(html))
}

#[get("/admin")]
async fn overview(_admin: Admin, ctx: PageContext, db: &Db, portal: &State<Portal>) -> Result<Markup, AppError> {
    Ok(views::admin::overview(&ctx, figures(db, portal).await?))
}

#[get("/admin/overview")]
async fn overview_figures(_admin: Admin, db: &Db, portal: &State<Portal>) -> Result<Markup, AppError> {
    figures(db, portal).await
}

#[derive(FromForm)]
struct NodeFields {
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    region: String,
    #[field(default = String::new())]
    host: String,
    #[field(default = String::new())]
    address_pool: String,
    #[field(default = 51820)]
    wireguard_port: u16,
    #[field(default = 1194)]
    openvpn_port: u16,
    #[field(default = 443)]
    phazevpn_port: u16,
    protocols: Vec<String>,
    #[field(default = String::new())]
    dns: String,
    #[field(default = String::new())]
    wg_public_key: String,
}

fn blank_node_form() -> NodeForm {
    NodeForm {
        wireguard_port: 51820,
        openvpn_port: 1194,
        phazevpn_port: 443,
        protocols: Protocol::ALL.iter().map(|p| p.as_str().to_owned()).collect(),
        dns: "1.1.1.1, 1.0.0.1".into(),
        ..Default::default()
    }
}

/// The nodes page's table: each node with its status as of now.
async fn node_rows(db: &Db, portal: &Portal) -> Result<Vec<NodeRow>, AppError> {
    let now = time::OffsetDateTime::now_utc();
    let poll = portal.config.node_poll_secs;
    Ok(store::nodes::statuses(db.pool())
        .await?
        .into_iter()
        .map(|status| NodeRow { online: domain::nodes::is_online(status.node.last_seen_at, poll, now), status })
        .collect())
}

async fn nodes_page(
    ctx: &PageContext,
    db: &Db,
    portal: &Portal,
    form: &NodeForm,
    errors: &FieldErrors,
    new_token: Option<(&str, &str)>,
) -> Result<Markup, AppError> {
    let rows = node_rows(db, portal).await?;
    Ok(views::admin::nodes(ctx, &views::admin::NodesPage { rows: &rows, form, errors, new_token }))
}

#[get("/admin/nodes")]
async fn nodes(_admin: Admin, ctx: PageContext, db: &Db, portal: &State<Portal>) -> Result<Markup, AppError> {
    nodes_page(&ctx, db, portal, &blank_node_form(), &FieldErrors::default(), None).await
}

/// A new token for the node, shown on this page once; the old token stops at once.
#[post("/admin/nodes/<id>/token", data = "<_form>")]
async fn rotate_token(
    id: i64,
    _form: CsrfForm<'_, forms::Confirm>,
    admin: AdminActor,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Markup, AppError> {
    let token = domain::nodes::rotate_token(db.pool(), &portal.fragments, id).await?.ok_or(AppError::NotFound)?;
    let node = store::nodes::find(db.pool(), id).await?.ok_or(AppError::NotFound)?;
    audit::record(db.pool(), &admin.actor, Change::new("node.rotate_token", "node", id)).await?;
    nodes_page(&ctx, db, portal, &blank_node_form(), &FieldErrors::default(), Some((&node.name, &token))).await
}

#[post("/admin/nodes", data = "<form>")]
async fn add_node(
    form: CsrfForm<'_, NodeFields>,
    admin: AdminActor,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    let (node, added) = match forms::values(form.0) {
        Ok(f) => {
            let node = NodeForm {
                name: f.name.trim().to_owned(),
                region: f.region,
                host: f.host.trim().to_owned(),
                wireguard_port: f.wireguard_port,
                openvpn_port: f.openvpn_port,
                phazevpn_port: f.phazevpn_port,
                protocols: f.protocols,
                address_pool: f.address_pool.trim().to_owned(),
                dns: f.dns,
                wg_public_key: f.wg_public_key.trim().to_owned(),
            };
            let added = domain::nodes::add(db.pool(), &portal.vault, &node).await;
            (node, added)
        }
        Err(errors) => (blank_node_form(), Err(NodeError::Invalid(errors))),
    };
    match added {
        Ok(added) => {
            portal.fragments.invalidate(super::clients::NODES_OWNER).await;
            let after = serde_json::json!({
                "name": node.name, "region": node.region, "host": node.host, "address_pool": node.address_pool,
                "protocols": node.protocols,
            });
            audit::record(db.pool(), &admin.actor, Change::new("node.add", "node", added.id).after(after)).await?;
            // The token is shown in this answer only: no redirect, nothing stored but its hash.
            let page = nodes_page(
                &ctx,
                db,
                portal,
                &blank_node_form(),
                &FieldErrors::default(),
                Some((&node.name, &added.token)),
            )
            .await?;
            Ok(FormResponse::Page((rocket::http::Status::Ok, page)))
        }
        Err(NodeError::Invalid(errors)) => {
            Ok(FormResponse::Page(unprocessable(nodes_page(&ctx, db, portal, &node, &errors, None).await?)))
        }
        Err(NodeError::Db(e)) => Err(e.into()),
        Err(NodeError::Setup(e)) => Err(AppError::Internal(e.to_string())),
    }
}
