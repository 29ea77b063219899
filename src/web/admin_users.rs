//! Admin: users (search, page, suspend, role, subscription) and VPN clients (list, revoke).
use super::forms::{self, Confirm};
use crate::auth::{Admin, AdminActor, CsrfForm};
use crate::db::Db;
use crate::domain::admin_users::{self, AdminError, UserQuery};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::state::Portal;
use crate::store;
use crate::views::{self, PageContext};
use maud::Markup;
use rocket::form::FromForm;
use rocket::http::{RawStr, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, State};
use uuid::Uuid;

pub fn routes() -> Vec<rocket::Route> {
    routes![users, user, set_status, set_role, extend, clients, revoke_client]
}

impl From<AdminError> for AppError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(errors) => AppError::BadRequest(errors.0.into_values().collect::<Vec<_>>().join(" ")),
            AdminError::NotFound => AppError::NotFound,
            AdminError::Db(e) => e.into(),
        }
    }
}

fn encode(value: &str) -> String {
    RawStr::new(value).percent_encode().to_string()
}

#[allow(clippy::too_many_arguments)]
#[get("/admin/users?<q>&<status>&<role>&<plan>&<after>")]
async fn users(
    _admin: Admin,
    ctx: PageContext,
    q: Option<&str>,
    status: Option<&str>,
    role: Option<&str>,
    plan: Option<&str>,
    after: Option<&str>,
    db: &Db,
) -> Result<(Status, Markup), AppError> {
    let query = UserQuery {
        q: q.unwrap_or_default().to_owned(),
        status: status.unwrap_or_default().to_owned(),
        role: role.unwrap_or_default().to_owned(),
        plan: plan.unwrap_or_default().to_owned(),
        after: after.unwrap_or_default().to_owned(),
    };
    let plans = store::billing::plans(db.pool(), false).await?;
    let (status, rows, errors) = match admin_users::search(db.pool(), &query).await {
        Ok(rows) => (Status::Ok, rows, FieldErrors::default()),
        Err(AdminError::Invalid(errors)) => (Status::BadRequest, Vec::new(), errors),
        Err(other) => return Err(other.into()),
    };
    let next = (rows.len() as i64 == admin_users::PAGE).then(|| {
        let last = rows.last().expect("a full page");
        format!(
            "/admin/users?q={}&status={}&role={}&plan={}&after={}",
            encode(&query.q),
            encode(&query.status),
            encode(&query.role),
            encode(&query.plan),
            encode(&format!("{}\n{}", last.sort_key, last.id))
        )
    });
    Ok((status, views::admin_users::users(&ctx, &query, &plans, &rows, next, &errors)))
}

async fn user_view(ctx: &PageContext, db: &Db, id: i64, errors: &FieldErrors) -> Result<Markup, AppError> {
    let page = admin_users::user_page(db.pool(), id).await?;
    let plans = store::billing::plans(db.pool(), false).await?;
    Ok(views::admin_users::user(ctx, &page, &plans, errors))
}

#[get("/admin/users/<id>")]
async fn user(id: i64, _admin: Admin, ctx: PageContext, db: &Db) -> Result<Markup, AppError> {
    user_view(&ctx, db, id, &FieldErrors::default()).await
}

fn back(id: i64, message: &str) -> Flash<Redirect> {
    Flash::success(Redirect::to(format!("/admin/users/{id}")), message.to_owned())
}

#[derive(FromForm, Default)]
struct StatusFields {
    #[field(default = String::new())]
    status: String,
}

/// Suspends (`status=suspended`: signed out everywhere, clients off the nodes) or reinstates.
#[post("/admin/users/<id>/status", data = "<form>")]
async fn set_status(
    id: i64,
    form: CsrfForm<'_, StatusFields>,
    admin: AdminActor,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Flash<Redirect>, AppError> {
    let suspend = match forms::values(form.0).unwrap_or_default().status.as_str() {
        "suspended" => true,
        "active" => false,
        _ => return Err(AppError::BadRequest("Choose active or suspended.".into())),
    };
    admin_users::set_suspended(db.pool(), &portal.fragments, &portal.sessions, &admin.actor, id, suspend).await?;
    Ok(back(id, if suspend { "Suspended: signed out everywhere, clients off the nodes." } else { "Reinstated." }))
}

#[derive(FromForm, Default)]
struct RoleFields {
    #[field(default = String::new())]
    role: String,
}

#[post("/admin/users/<id>/role", data = "<form>")]
async fn set_role(
    id: i64,
    form: CsrfForm<'_, RoleFields>,
    admin: AdminActor,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Flash<Redirect>, AppError> {
    let role = forms::values(form.0).unwrap_or_default().role;
    if id == admin.admin.user_id() && role != "admin" {
        return Err(AppError::Conflict("You cannot take your own admin role away; ask another admin.".into()));
    }
    admin_users::set_role(db.pool(), &portal.fragments, &portal.sessions, &admin.actor, id, &role).await?;
    Ok(back(id, "Role changed; it applies on every instance at once."))
}

#[derive(FromForm, Default)]
struct ExtendFields {
    #[field(default = String::new())]
    plan: String,
    #[field(default = String::new())]
    days: String,
}

#[post("/admin/users/<id>/extend", data = "<form>")]
async fn extend(
    id: i64,
    form: CsrfForm<'_, ExtendFields>,
    admin: AdminActor,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Result<Flash<Redirect>, (Status, Markup)>, AppError> {
    let f = forms::values(form.0).unwrap_or_default();
    match admin_users::extend_subscription(db.pool(), &portal.fragments, &admin.actor, id, &f.plan, &f.days).await {
        Ok(()) => Ok(Ok(back(id, "Subscription extended."))),
        Err(AdminError::Invalid(errors)) => {
            Ok(Err((Status::UnprocessableEntity, user_view(&ctx, db, id, &errors).await?)))
        }
        Err(other) => Err(other.into()),
    }
}

#[get("/admin/clients?<status>&<protocol>&<after>")]
async fn clients(
    _admin: Admin,
    ctx: PageContext,
    status: Option<&str>,
    protocol: Option<&str>,
    after: Option<&str>,
    db: &Db,
) -> Result<Markup, AppError> {
    let status = status.filter(|s| ["active", "revoked"].contains(s));
    let protocol = protocol.filter(|p| ["wireguard", "openvpn", "phazevpn"].contains(p));
    let after = match after.filter(|a| !a.is_empty()) {
        Some(a) => {
            let (at, id) = a.split_once('_').ok_or_else(|| AppError::BadRequest("That page link is broken.".into()))?;
            let at = at.parse::<i128>().ok().and_then(|n| time::OffsetDateTime::from_unix_timestamp_nanos(n).ok());
            let id = Uuid::parse_str(id).ok();
            Some(at.zip(id).ok_or_else(|| AppError::BadRequest("That page link is broken.".into()))?)
        }
        None => None,
    };
    let filter = store::admin_users::ClientFilter {
        user_id: None,
        status: status.map(str::to_owned),
        protocol: protocol.map(str::to_owned),
        after,
    };
    let rows = store::admin_users::clients(db.pool(), &filter, admin_users::PAGE).await?;
    let next = (rows.len() as i64 == admin_users::PAGE).then(|| {
        let last = rows.last().expect("a full page");
        format!(
            "/admin/clients?status={}&protocol={}&after={}_{}",
            status.unwrap_or_default(),
            protocol.unwrap_or_default(),
            last.created_at.unix_timestamp_nanos(),
            last.id
        )
    });
    Ok(views::admin_users::clients(&ctx, status.unwrap_or_default(), protocol.unwrap_or_default(), &rows, next))
}

#[post("/admin/clients/<id>/revoke", data = "<_form>")]
async fn revoke_client(
    id: &str,
    _form: CsrfForm<'_, Confirm>,
    admin: AdminActor,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Flash<Redirect>, AppError> {
    let id = Uuid::parse_str(id).map_err(|_| AppError::NotFound)?;
    let owner = admin_users::revoke_client(&portal.clients(db), db.pool(), &admin.actor, id).await?;
    Ok(Flash::success(
        Redirect::to(format!("/admin/users/{owner}")),
        "Client revoked: it leaves its node at the next poll.",
    ))
}
