//! Admin pages for plans and payments.
use super::account::date_time;
use super::billing::status_label;
use super::components::{csrf_input, field_error, Field};
use super::{page, PageContext};
use crate::domain::billing::{money, PlanForm};
use crate::domain::usage::human_bytes;
use crate::domain::FieldErrors;
use crate::store::billing::{Payment, Plan};
use maud::{html, Markup};

pub fn plan_form_of(plan: &Plan) -> PlanForm {
    PlanForm {
        name: plan.name.clone(),
        price: format!("{}.{:02}", plan.price_cents / 100, plan.price_cents % 100),
        currency: plan.currency.clone(),
        period_days: plan.period_days.to_string(),
        max_clients: plan.max_clients.to_string(),
        data_limit_gb: plan.data_limit_bytes.map(|b| (b / 1_000_000_000).to_string()).unwrap_or_default(),
        active: plan.active,
        free: plan.free,
    }
}

fn plan_fields(ctx: &PageContext, action: &str, form: &PlanForm, errors: &FieldErrors, label: &str) -> Markup {
    html! {
        form method="post" action=(action) novalidate {
            (csrf_input(&ctx.csrf))
            (Field::new("name", "Name", "text").value(&form.name).render(errors))
            (Field::new("price", "Price", "text").value(&form.price).hint("In the currency's units, e.g. 9.99").render(errors))
            (Field::new("currency", "Currency", "text").value(&form.currency).hint("Three letters, e.g. EUR").render(errors))
            (Field::new("period_days", "Period (days)", "number").value(&form.period_days).render(errors))
            (Field::new("max_clients", "Devices", "number").value(&form.max_clients).render(errors))
            label for="data_limit_gb" { "Data per period (GB)"
                input #data_limit_gb name="data_limit_gb" type="number" value=(form.data_limit_gb);
                (field_error("data_limit_gb", errors.get("data_limit_gb")))
                small { "Empty: unlimited." }
            }
            label { input type="checkbox" name="active" value="true" checked[form.active]; " On offer" }
            label { input type="checkbox" name="free" value="true" checked[form.free]; " The free plan (what users without a subscription get)" }
            (field_error("free", errors.get("free")))
            button type="submit" { (label) }
        }
    }
}

pub fn plans(ctx: &PageContext, plans: &[Plan], form: &PlanForm, errors: &FieldErrors) -> Markup {
    page(
        ctx,
        "Plans",
        html! {
            h1 { "Plans" }
            p { a href="/admin" { "Admin" } " · " a href="/admin/payments" { "Payments" } }
            table #plans {
                thead { tr { th { "Name" } th { "Price" } th { "Period" } th { "Devices" } th { "Data" } th { "Status" } th {} } }
                tbody {
                    @for p in plans {
                        tr data-plan=(p.id) {
                            td { (p.name) }
                            td { (money(p.price_cents, &p.currency)) }
                            td { (p.period_days) " days" }
                            td { (p.max_clients) }
                            td { @match p.data_limit_bytes { Some(b) => (human_bytes(b)), None => "unlimited" } }
                            td { @if p.active { "on offer" } @else { "withdrawn" } @if p.free { ", free plan" } }
                            td { a href={ "/admin/plans/" (p.id) } { "Edit" } }
                        }
                    }
                }
            }
            section #new-plan {
                h2 { "Add a plan" }
                (plan_fields(ctx, "/admin/plans", form, errors, "Add plan"))
            }
        },
    )
}

pub fn edit_plan(ctx: &PageContext, id: i64, form: &PlanForm, errors: &FieldErrors) -> Markup {
    page(
        ctx,
        "Edit plan",
        html! {
            h1 { "Edit plan" }
            p { a href="/admin/plans" { "All plans" } }
            p { "A change of limits applies at once to everyone on the plan; a change of price applies to new payments." }
            (plan_fields(ctx, &format!("/admin/plans/{id}"), form, errors, "Save plan"))
        },
    )
}

pub fn payments(ctx: &PageContext, payments: &[Payment], status: Option<&str>) -> Markup {
    page(
        ctx,
        "Payments",
        html! {
            h1 { "Payments" }
            p {
                a href="/admin" { "Admin" } " · " a href="/admin/plans" { "Plans" } " · Show: "
                @for (value, label) in [("", "all"), ("pending", "pending"), ("paid", "paid"), ("failed", "failed"), ("refunded", "refunded")] {
                    @if status.unwrap_or("") == value { strong { (label) } } @else {
                        a href={ "/admin/payments" @if !value.is_empty() { "?status=" (value) } } { (label) }
                    }
                    " "
                }
            }
            table #admin-payments {
                thead { tr { th { "Created" } th { "User" } th { "Plan" } th { "Amount" } th { "Method" } th { "Reference" } th { "Status" } th {} } }
                tbody {
                    @for p in payments {
                        tr data-payment=(p.id) data-status=(p.status) {
                            td { (date_time(p.created_at)) }
                            td { (p.username) }
                            td { (p.plan_name) }
                            td { (money(p.amount_cents, &p.currency)) }
                            td { (p.provider) }
                            td { code { (p.provider_ref.as_deref().unwrap_or("")) } }
                            td { (status_label(&p.status)) }
                            td {
                                @if p.status == "pending" || (p.status == "failed" && p.provider == "manual") {
                                    (action(ctx, p, "paid", "Mark paid"))
                                }
                                @if p.status == "pending" { (action(ctx, p, "failed", "Mark failed")) }
                                @if p.status == "paid" { (action(ctx, p, "refund", "Refund")) }
                            }
                        }
                    }
                }
            }
            @if payments.is_empty() { p { "No payments." } }
        },
    )
}

fn action(ctx: &PageContext, p: &Payment, what: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action={ "/admin/payments/" (p.id) "/" (what) } {
            (csrf_input(&ctx.csrf))
            button.secondary type="submit" { (label) }
        }
    }
}
