//! Admin pages for users and clients, and the overview's charts.
use super::account::{date, date_time};
use super::billing::status_label;
use super::components::csrf_input;
use super::{page, PageContext};
use crate::domain::admin_users::{UserPage, UserQuery};
use crate::domain::billing::money;
use crate::domain::FieldErrors;
use crate::store::admin_users::{ClientRow, UserRow};
use crate::store::billing::Plan;
use maud::{html, Markup};

fn errors_list(errors: &FieldErrors) -> Markup {
    html! { @for message in errors.0.values() { p.form-error role="alert" { (message) } } }
}

pub fn users(
    ctx: &PageContext,
    q: &UserQuery,
    plans: &[Plan],
    rows: &[UserRow],
    next: Option<String>,
    errors: &FieldErrors,
) -> Markup {
    page(
        ctx,
        "Users",
        html! {
            h1 { "Users" }
            p { a href="/admin" { "Admin" } " · " a href="/admin/clients" { "Clients" } }
            (errors_list(errors))
            form method="get" action="/admin/users" #user-search {
                label { "Username or email starts with " input type="search" name="q" value=(q.q) autofocus; }
                label { "Status " select name="status" {
                    option value="" { "Any" }
                    @for s in ["active", "suspended"] { option value=(s) selected[q.status == s] { (s) } }
                } }
                label { "Role " select name="role" {
                    option value="" { "Any" }
                    @for r in ["user", "admin"] { option value=(r) selected[q.role == r] { (r) } }
                } }
                label { "Paying for " select name="plan" {
                    option value="" { "Any plan or none" }
                    @for p in plans { option value=(p.id) selected[q.plan == p.id.to_string()] { (p.name) } }
                } }
                button.secondary type="submit" { "Search" }
            }
            table #users {
                thead { tr { th { "User" } th { "Email" } th { "Role" } th { "Status" } th { "Plan" } th { "Clients" } th { "Joined" } } }
                tbody {
                    @for u in rows {
                        tr data-user=(u.id) {
                            td { a href={ "/admin/users/" (u.id) } { (u.username) } }
                            td { (u.email) }
                            td { (u.role) }
                            td { (u.status) }
                            td { (u.paid_plan.as_deref().unwrap_or("free / none")) }
                            td { (u.active_clients) }
                            td { (date(u.created_at)) }
                        }
                    }
                }
            }
            @if rows.is_empty() { p { "No user matches." } }
            @if let Some(next) = next { p { a #users-next href=(next) { "Next page" } } }
        },
    )
}

pub fn user(ctx: &PageContext, p: &UserPage, plans: &[Plan], errors: &FieldErrors) -> Markup {
    let u = &p.user;
    let base = format!("/admin/users/{}", u.id);
    page(
        ctx,
        &u.username,
        html! {
            p { a href="/admin/users" { "Users" } }
            h1 { (u.username) }
            (errors_list(errors))
            dl #admin-user data-status=(u.status) data-role=(u.role) {
                dt { "Email" } dd { (u.email) }
                dt { "Role" } dd #user-role { (u.role) }
                dt { "Status" } dd #user-status { (u.status) }
                dt { "Joined" } dd { (date_time(u.created_at)) }
                dt { "Plan" } dd #user-plan {
                    @match &p.subscription {
                        Some(s) => { (s.plan_name) " until " (date_time(s.current_period_end))
                            @if let Some(next) = &s.next_plan_name { ", then " (next) } }
                        None => { "No subscription" }
                    }
                }
            }
            section #user-actions {
                form.inline method="post" action={ (base) "/status" } {
                    (csrf_input(&ctx.csrf))
                    input type="hidden" name="status" value=(if u.status == "active" { "suspended" } else { "active" });
                    button.secondary type="submit" { @if u.status == "active" { "Suspend" } @else { "Reinstate" } }
                }
                " "
                form.inline method="post" action={ (base) "/role" } {
                    (csrf_input(&ctx.csrf))
                    input type="hidden" name="role" value=(if u.role == "admin" { "user" } else { "admin" });
                    button.secondary type="submit" { @if u.role == "admin" { "Make a user" } @else { "Make an admin" } }
                }
                form method="post" action={ (base) "/extend" } #extend {
                    (csrf_input(&ctx.csrf))
                    label { "Give " input type="number" name="days" min="1" max="3660" value="30"; " days of " }
                    select name="plan" aria-label="Plan" { @for plan in plans { option value=(plan.id) { (plan.name) } } }
                    button.secondary type="submit" { "Extend the subscription" }
                }
            }
            h2 { "Clients" }
            (client_table(ctx, &p.clients))
            h2 { "Payments" }
            table #user-payments {
                tbody { @for pay in &p.payments { tr { td { (date(pay.created_at)) } td { (pay.plan_name) } td { (money(pay.amount_cents, &pay.currency)) } td { (pay.provider) } td { (status_label(&pay.status)) } } } }
            }
            h2 { "Tickets" }
            ul #user-tickets { @for t in &p.tickets { li { a href={ "/admin/tickets/" (t.id) } { (t.subject) } " · " (t.status) } } }
            h2 { "Sessions" }
            table #user-sessions {
                tbody { @for s in &p.sessions { tr { td { (s.user_agent.as_deref().unwrap_or("Unknown device")) } td { (s.ip.as_deref().unwrap_or("")) } td { (date_time(s.last_seen_at)) } td { @if s.two_factor { "2FA" } } } } }
            }
        },
    )
}

pub fn client_table(ctx: &PageContext, rows: &[ClientRow]) -> Markup {
    html! {
        table.admin-clients {
            thead { tr { th { "Client" } th { "User" } th { "Protocol" } th { "Server" } th { "Address" } th { "Status" } th { "Created" } th {} } }
            tbody {
                @for c in rows {
                    tr data-client=(c.id) data-status=(c.status) {
                        td { (c.name) }
                        td { a href={ "/admin/users/" (c.user_id) } { (c.username) } }
                        td { (c.protocol) }
                        td { (c.node_name) }
                        td { (c.address.as_deref().unwrap_or("")) }
                        td { (c.status) }
                        td { (date(c.created_at)) }
                        td { @if c.status == "active" {
                            form.inline method="post" action={ "/admin/clients/" (c.id) "/revoke" } {
                                (csrf_input(&ctx.csrf))
                                button.secondary type="submit" { "Revoke" }
                            }
                        } }
                    }
                }
            }
        }
    }
}

pub fn clients(ctx: &PageContext, status: &str, protocol: &str, rows: &[ClientRow], next: Option<String>) -> Markup {
    page(
        ctx,
        "Clients",
        html! {
            h1 { "VPN clients" }
            p { a href="/admin" { "Admin" } " · " a href="/admin/users" { "Users" } }
            form method="get" action="/admin/clients" {
                label { "Status " select name="status" {
                    option value="" { "Any" }
                    @for s in ["active", "revoked"] { option value=(s) selected[status == s] { (s) } }
                } }
                label { "Protocol " select name="protocol" {
                    option value="" { "Any" }
                    @for p in ["wireguard", "openvpn", "phazevpn"] { option value=(p) selected[protocol == p] { (p) } }
                } }
                button.secondary type="submit" { "Filter" }
            }
            (client_table(ctx, rows))
            @if rows.is_empty() { p { "No client matches." } }
            @if let Some(next) = next { p { a #clients-next href=(next) { "Next page" } } }
        },
    )
}

/// A bar chart of one value per day, as inline SVG (no script, CSP-safe).
pub fn day_chart(id: &str, title: &str, days: &[(time::Date, i64)], label: impl Fn(i64) -> String) -> Markup {
    let max = days.iter().map(|d| d.1).max().unwrap_or(0).max(1);
    let (width, height, bar) = (600.0, 120.0, 600.0 / days.len().max(1) as f64);
    html! {
        figure {
            svg.usage-chart id=(id) viewBox={ "0 0 " (width) " " (height + 20.0) } role="img" aria-labelledby={ (id) "-title" } {
                title id={ (id) "-title" } { (title) ", highest " (label(max)) }
                @for (i, (day, value)) in days.iter().enumerate() {
                    @let h = (*value as f64 / max as f64) * height;
                    rect.bar-rx x=(format!("{:.1}", i as f64 * bar + 1.0)) y=(format!("{:.1}", height - h)) width=(format!("{:.1}", (bar - 2.0).max(1.0))) height=(format!("{:.1}", h)) {
                        title { (day) ": " (label(*value)) }
                    }
                }
                text.axis x="0" y=(height + 15.0) { (days.first().map(|d| d.0.to_string()).unwrap_or_default()) }
                text.axis x=(width) y=(height + 15.0) text-anchor="end" { (days.last().map(|d| d.0.to_string()).unwrap_or_default()) }
            }
            figcaption { (title) }
        }
    }
}
