//! Usage (this period, a 30-day chart) and connection history. The live part is one fragment
//! that serves the full page and htmx's polling alike.
use super::account::{date, date_time};
use super::{page, PageContext};
use crate::domain::usage::{human_bytes, Cursor, DayUsage, HistoryPage, UsageOverview};
use maud::{html, Markup};
use time::OffsetDateTime;

const CHART_W: i64 = 600;
const CHART_H: i64 = 150;

/// A bar chart of the days, received (rx) under sent (tx), as SVG; each bar has a tooltip.
pub fn chart(days: &[DayUsage]) -> Markup {
    let max = days.iter().map(|d| d.rx + d.tx).max().unwrap_or(0).max(1);
    let slot = CHART_W / days.len().max(1) as i64;
    let scale = |bytes: i64| (bytes as f64 / max as f64 * CHART_H as f64).round() as i64;
    html! {
        svg.usage-chart viewBox={ "0 0 " (CHART_W) " " (CHART_H + 20) } role="img" aria-labelledby="usage-chart-title" {
            title #usage-chart-title { "Traffic per day, last " (days.len()) " days; highest " (human_bytes(max)) }
            @for (i, d) in days.iter().enumerate() {
                @let (rx_h, tx_h) = (scale(d.rx), scale(d.tx));
                @let x = i as i64 * slot + 1;
                g data-day=(d.day) {
                    title { (d.day) ": " (human_bytes(d.rx)) " received, " (human_bytes(d.tx)) " sent" }
                    rect.bar-rx x=(x) y=(CHART_H - rx_h) width=(slot - 2) height=(rx_h) {}
                    rect.bar-tx x=(x) y=(CHART_H - rx_h - tx_h) width=(slot - 2) height=(tx_h) {}
                }
            }
            @if let (Some(first), Some(last)) = (days.first(), days.last()) {
                text.axis x="0" y=(CHART_H + 16) { (first.day) }
                text.axis x=(CHART_W) y=(CHART_H + 16) text-anchor="end" { (last.day) }
            }
        }
    }
}

/// This period's figures and the chart; `poll_url` makes htmx refresh it while the page is open.
pub fn live(o: &UsageOverview, poll_url: &str) -> Markup {
    html! {
        section #usage-live hx-get=(poll_url) hx-trigger="every 30s" hx-swap="outerHTML" {
            @if o.over_limit() {
                p.form-error #over-limit role="alert" {
                    "You have used your data allowance for this period. Your clients are paused until "
                    (o.period_end) " or until the limit is raised."
                }
            }
            dl #usage-figures {
                dt { "This period (" (o.period_start) " to " (o.period_end) ")" }
                dd #usage-total { (human_bytes(o.used())) " (" (human_bytes(o.rx)) " received, " (human_bytes(o.tx)) " sent)" }
                dt { "Allowance" }
                dd #usage-limit {
                    @match o.limit {
                        Some(limit) => { (human_bytes(limit)) " " progress value=(o.used().min(limit)) max=(limit.max(1)) {} },
                        None => "Unlimited",
                    }
                }
            }
            (chart(&o.days))
        }
    }
}

fn duration(from: OffsetDateTime, to: Option<OffsetDateTime>) -> String {
    let Some(to) = to else { return "connected".into() };
    let secs = (to - from).whole_seconds().max(0);
    if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("{} min", secs / 60)
    } else {
        format!("{} h {} min", secs / 3600, secs % 3600 / 60)
    }
}

/// The history table with a link to the next (older) page at `base?after=CURSOR`.
pub fn history(page: &HistoryPage, base: &str, show_client: bool) -> Markup {
    html! {
        section #history {
            h2 { "Connection history" }
            @if page.rows.is_empty() {
                p { "No connections yet." }
            } @else {
                table #history-list {
                    thead { tr { th { "Started" } @if show_client { th { "Client" } } th { "Server" } th { "From" } th { "Duration" } th { "Traffic" } } }
                    tbody {
                        @for r in &page.rows {
                            tr {
                                td { (date_time(r.started_at)) }
                                @if show_client { td { a href={ "/clients/" (r.client_id) } { (r.client_name) } } }
                                td { (r.node_name) }
                                td { (r.remote_address.as_deref().unwrap_or("—")) }
                                td { (duration(r.started_at, r.ended_at)) }
                                td { (human_bytes(r.rx_bytes.saturating_add(r.tx_bytes))) }
                            }
                        }
                    }
                }
                @if let Some(older) = page.older { p { a #history-older href=(older_link(base, older)) { "Older connections →" } } }
            }
        }
    }
}

fn older_link(base: &str, cursor: Cursor) -> String {
    format!("{base}?after={}", cursor.encode())
}

/// Per-client usage this period: (name, id, bytes).
pub struct ClientUsage<'a> {
    pub name: &'a str,
    pub id: uuid::Uuid,
    pub bytes: i64,
}

pub fn usage_page(ctx: &PageContext, o: &UsageOverview, clients: &[ClientUsage], connections: &HistoryPage) -> Markup {
    page(
        ctx,
        "Usage",
        html! {
            h1 { "Usage and connections" }
            (live(o, "/usage/live"))
            @if !clients.is_empty() {
                h2 { "By client, this period" }
                table #usage-by-client {
                    tbody { @for c in clients { tr { td { a href={ "/clients/" (c.id) } { (c.name) } } td { (human_bytes(c.bytes)) } } } }
                }
            }
            (history(connections, "/usage", true))
            p { small { "Figures come from the VPN servers every few minutes. As of " (date(OffsetDateTime::now_utc())) "." } }
        },
    )
}
