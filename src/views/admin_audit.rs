//! The audit log page.
use super::account::date_time;
use super::{page, PageContext};
use crate::domain::audit::Entry;
use maud::{html, Markup};

/// The filter as the form shows it.
#[derive(Default)]
pub struct AuditQuery<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub since: &'a str,
    pub until: &'a str,
}

fn json(value: &Option<serde_json::Value>) -> String {
    value.as_ref().map(serde_json::Value::to_string).unwrap_or_default()
}

pub fn audit(ctx: &PageContext, q: &AuditQuery, entries: &[Entry], older: Option<String>) -> Markup {
    page(
        ctx,
        "Audit log",
        html! {
            h1 { "Audit log" }
            p { a href="/admin" { "Admin" } " · Every change made by an admin or at the command line, newest first. It cannot be edited." }
            form method="get" action="/admin/audit" #audit-filter {
                label { "Actor " input name="actor" value=(q.actor); }
                label { "Action " input name="action" value=(q.action) placeholder="plan.update"; }
                label { "Target " input name="target" value=(q.target) placeholder="plan:7"; }
                label { "From " input type="date" name="since" value=(q.since); }
                label { "Before " input type="date" name="until" value=(q.until); }
                button.secondary type="submit" { "Filter" }
            }
            table #audit-log {
                thead { tr { th { "When" } th { "Actor" } th { "Action" } th { "Target" } th { "Before" } th { "After" } th { "From" } } }
                tbody {
                    @for e in entries {
                        tr data-action=(e.action) {
                            td { (date_time(e.at)) }
                            td { (e.actor) }
                            td { code { (e.action) } }
                            td { (e.target_type) ":" (e.target_id) }
                            td { small { (json(&e.before)) } }
                            td { small { (json(&e.after)) } }
                            td { small { (e.ip.as_deref().unwrap_or("")) " " (e.request_id.as_deref().unwrap_or("")) } }
                        }
                    }
                }
            }
            @if entries.is_empty() { p { "Nothing matches." } }
            @if let Some(older) = older { p { a #audit-older href=(older) { "Older entries" } } }
        },
    )
}
