//! Admin: plans and payments.
use super::auth::FormResponse;
use super::forms::{self, Confirm};
use super::responses::unprocessable;
use crate::auth::{Admin, AdminActor, CsrfForm};
use crate::db::Db;
use crate::domain::audit::{self, Change};
use crate::domain::billing::{self, BillingError, PlanForm};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::state::Portal;
use crate::store;
use crate::views::{self, PageContext};
use maud::Markup;
use rocket::form::FromForm;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, State};
use uuid::Uuid;

pub fn routes() -> Vec<rocket::Route> {
    routes![plans, add_plan, plan, save_plan, payments, settle]
}

#[derive(FromForm)]
struct PlanFields {
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    price: String,
    #[field(default = String::new())]
    currency: String,
    #[field(default = String::new())]
    period_days: String,
    #[field(default = String::new())]
    max_clients: String,
    #[field(default = String::new())]
    data_limit_gb: String,
    #[field(default = false)]
    active: bool,
    #[field(default = false)]
    free: bool,
}

fn plan_form(f: PlanFields) -> PlanForm {
    PlanForm {
        name: f.name,
        price: f.price,
        currency: f.currency.trim().to_ascii_uppercase(),
        period_days: f.period_days,
        max_clients: f.max_clients,
        data_limit_gb: f.data_limit_gb,
        active: f.active,
        free: f.free,
    }
}

fn blank_plan() -> PlanForm {
    PlanForm {
        name: String::new(),
        price: String::new(),
        currency: "EUR".into(),
        period_days: "30".into(),
        max_clients: "5".into(),
        data_limit_gb: String::new(),
        active: true,
        free: false,
    }
}

async fn plans_page(ctx: &PageContext, db: &Db, form: &PlanForm, errors: &FieldErrors) -> Result<Markup, AppError> {
    let plans = store::billing::plans(db.pool(), false).await?;
    Ok(views::admin_billing::plans(ctx, &plans, form, errors))
}

#[get("/admin/plans")]
async fn plans(_admin: Admin, ctx: PageContext, db: &Db) -> Result<Markup, AppError> {
    plans_page(&ctx, db, &blank_plan(), &FieldErrors::default()).await
}

/// Saves a plan (new when `id` is None); the form again with its errors when it is wrong.
async fn save(
    id: Option<i64>,
    form: rocket::form::Contextual<'_, PlanFields>,
    admin: &AdminActor,
    ctx: &PageContext,
    db: &Db,
    portal: &Portal,
) -> Result<FormResponse, AppError> {
    let form = match forms::values(form) {
        Ok(f) => plan_form(f),
        Err(errors) => return Err(AppError::BadRequest(errors.0.into_values().collect::<Vec<_>>().join(" "))),
    };
    let before = match id {
        Some(id) => store::billing::plan(db.pool(), id).await?,
        None => None,
    };
    match billing::save_plan(db.pool(), &portal.fragments, id, &form).await {
        Ok(plan_id) => {
            let after = store::billing::plan(db.pool(), plan_id).await?;
            let action = if id.is_some() { "plan.update" } else { "plan.create" };
            let mut change = Change::new(action, "plan", plan_id).after(serde_json::json!(after));
            if let Some(before) = before {
                change = change.before(serde_json::json!(before));
            }
            audit::record(db.pool(), &admin.actor, change).await?;
            Ok(FormResponse::Done(Flash::success(
                Redirect::to("/admin/plans"),
                format!("Plan {} saved.", form.name.trim()),
            )))
        }
        Err(BillingError::Invalid(errors)) => Ok(FormResponse::Page(unprocessable(match id {
            Some(id) => views::admin_billing::edit_plan(ctx, id, &form, &errors),
            None => plans_page(ctx, db, &form, &errors).await?,
        }))),
        Err(BillingError::NotFound) => Err(AppError::NotFound),
        Err(BillingError::Db(e)) => Err(e.into()),
        Err(other) => Err(AppError::BadRequest(other.to_string())),
    }
}

#[post("/admin/plans", data = "<form>")]
async fn add_plan(
    form: CsrfForm<'_, PlanFields>,
    admin: AdminActor,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    save(None, form.0, &admin, &ctx, db, portal).await
}

#[get("/admin/plans/<id>")]
async fn plan(id: i64, _admin: Admin, ctx: PageContext, db: &Db) -> Result<Markup, AppError> {
    let plan = store::billing::plan(db.pool(), id).await?.ok_or(AppError::NotFound)?;
    Ok(views::admin_billing::edit_plan(&ctx, id, &views::admin_billing::plan_form_of(&plan), &FieldErrors::default()))
}

#[post("/admin/plans/<id>", data = "<form>")]
async fn save_plan(
    id: i64,
    form: CsrfForm<'_, PlanFields>,
    admin: AdminActor,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    save(Some(id), form.0, &admin, &ctx, db, portal).await
}

#[get("/admin/payments?<status>")]
async fn payments(_admin: Admin, ctx: PageContext, status: Option<&str>, db: &Db) -> Result<Markup, AppError> {
    let status = status.filter(|s| ["pending", "paid", "failed", "refunded"].contains(s));
    let list = store::billing::recent_payments(db.pool(), status, 200).await?;
    Ok(views::admin_billing::payments(&ctx, &list, status))
}

/// Marks a payment paid (crediting it once), failed, or refunded.
#[post("/admin/payments/<id>/<action>", data = "<_form>")]
async fn settle(
    id: &str,
    action: &str,
    _form: CsrfForm<'_, Confirm>,
    admin: AdminActor,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Flash<Redirect>, AppError> {
    let id = Uuid::parse_str(id).map_err(|_| AppError::NotFound)?;
    let before = store::billing::payment(db.pool(), id).await?.ok_or(AppError::NotFound)?;
    let billing = portal.billing(db);
    let done = match action {
        "paid" => billing.credit(id, None, None).await,
        "failed" => billing.fail(id, "marked failed by an admin", None).await,
        "refund" => billing.refund(id, None).await,
        _ => return Err(AppError::NotFound),
    }
    .map_err(|e| match e {
        BillingError::Db(e) => AppError::from(e),
        other => AppError::BadRequest(other.to_string()),
    })?;
    if !done {
        return Err(AppError::Conflict("The payment is not in a state that allows this (already done?).".into()));
    }
    let after = store::billing::payment(db.pool(), id).await?.map(|p| p.status);
    let audited = match action {
        "paid" => "payment.mark_paid",
        "failed" => "payment.mark_failed",
        _ => "payment.refund",
    };
    let change = Change::new(audited, "payment", id)
        .before(serde_json::json!({ "status": before.status, "user": before.username, "amount_cents": before.amount_cents }))
        .after(serde_json::json!({ "status": after }));
    audit::record(db.pool(), &admin.actor, change).await?;
    Ok(Flash::success(Redirect::to("/admin/payments"), format!("Payment {action}: done.")))
}
