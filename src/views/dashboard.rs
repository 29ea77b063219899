use super::{page, PageContext};
use crate::store::users::AccountSummary;
use maud::{html, Markup};

pub fn dashboard(ctx: &PageContext, summary: Markup, clients: Markup) -> Markup {
    page(
        ctx,
        "Dashboard",
        html! {
            h1 { "Dashboard" }
            (summary)
            (clients)
        },
    )
}

/// The account summary card: cached per user in the fragment cache.
pub fn account_summary(summary: &AccountSummary) -> Markup {
    html! {
        section #account-summary {
            h2 { "Your account" }
            @if summary.over_limit {
                p.form-error #summary-over-limit role="alert" {
                    "You have used this period's data allowance: your clients are paused. " a href="/usage" { "See your usage" }
                }
            }
            dl {
                dt { "Username" } dd { (summary.username) }
                dt { "Email" } dd #summary-email { (summary.email) @if !summary.email_verified { " " small { "(not confirmed yet: " a href="/account" { "confirm it" } ")" } } }
                dt { "Plan" } dd #summary-plan {
                    @match &summary.plan_name { Some(plan) => { (plan) }, None => { "None · " a href="/billing" { "choose a plan" } } }
                    @if let Some(until) = summary.paid_until { " · paid until " (super::account::date(until)) }
                }
                dt { "Role" } dd { (summary.role) }
                dt { "Member since" } dd { (super::account::date(summary.created_at)) }
                dt { "Signed-in sessions" } dd #summary-sessions { (summary.active_sessions) }
            }
            a href="/account" { "Manage your account" }
        }
    }
}
