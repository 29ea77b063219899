//! Admin: the audit log, filtered by actor, action, target and time, newest first.
use crate::auth::Admin;
use crate::db::Db;
use crate::domain::audit::{self, Filter};
use crate::error::AppError;
use crate::views::{self, admin_audit::AuditQuery, PageContext};
use maud::Markup;
use rocket::{get, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![audit_log]
}

fn some(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

fn day(value: Option<&str>, field: &str) -> Result<Option<time::OffsetDateTime>, AppError> {
    let Some(value) = some(value) else { return Ok(None) };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(&value, format)
        .map(|d| Some(d.midnight().assume_utc()))
        .map_err(|_| AppError::BadRequest(format!("{field}: use a date such as 2026-11-29.")))
}

#[allow(clippy::too_many_arguments)]
#[get("/admin/audit?<actor>&<action>&<target>&<since>&<until>&<before>")]
async fn audit_log(
    _admin: Admin,
    ctx: PageContext,
    actor: Option<&str>,
    action: Option<&str>,
    target: Option<&str>,
    since: Option<&str>,
    until: Option<&str>,
    before: Option<i64>,
    db: &Db,
) -> Result<Markup, AppError> {
    let (target_type, target_id) = match some(target) {
        Some(t) => match t.split_once(':') {
            Some((kind, id)) => (Some(kind.to_owned()), Some(id.to_owned())),
            None => (Some(t), None),
        },
        None => (None, None),
    };
    let filter = Filter {
        actor: some(actor),
        action: some(action),
        target_type,
        target_id,
        since: day(since, "From")?,
        until: day(until, "Before")?,
        before_id: before,
    };
    let entries = audit::search(db.pool(), &filter).await?;
    let older = (entries.len() as i64 == audit::PAGE).then(|| {
        let last = entries.last().map_or(0, |e| e.id);
        let keep = |name: &str, value: Option<&str>| {
            some(value)
                .map(|v| format!("&{name}={}", rocket::http::RawStr::new(&v).percent_encode()))
                .unwrap_or_default()
        };
        format!(
            "/admin/audit?before={last}{}{}{}{}{}",
            keep("actor", actor),
            keep("action", action),
            keep("target", target),
            keep("since", since),
            keep("until", until)
        )
    });
    let query = AuditQuery {
        actor: actor.unwrap_or_default(),
        action: action.unwrap_or_default(),
        target: target.unwrap_or_default(),
        since: since.unwrap_or_default(),
        until: until.unwrap_or_default(),
    };
    Ok(views::admin_audit::audit(&ctx, &query, &entries, older))
}
