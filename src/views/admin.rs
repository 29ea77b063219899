use super::account::date_time;
use super::components::{csrf_input, field_error, Field};
use super::{page, PageContext};
use crate::domain::admin_users::AdminOverview;
use crate::domain::nodes::NodeForm;
use crate::domain::FieldErrors;
use crate::store::nodes::NodeStatus;
use maud::{html, Markup};

/// The figures alone: the fragment htmx polls every 30 seconds.
pub fn overview_figures(o: &AdminOverview) -> Markup {
    let signups: Vec<_> = o.days.iter().map(|d| (d.0, d.1)).collect();
    let revenue: Vec<_> = o.days.iter().map(|d| (d.0, d.2)).collect();
    let currency = if o.revenue.len() == 1 { o.revenue[0].0.clone() } else { String::new() };
    html! {
        section #admin-figures hx-get="/admin/overview" hx-trigger="every 30s" hx-swap="outerHTML" {
            dl {
                dt { "Users" } dd #admin-users { (o.users) }
                dt { "Paying users" } dd #admin-paying { (o.paying_users) }
                dt { "Revenue this month" } dd #admin-revenue {
                    @if o.revenue.is_empty() { "0" }
                    @for (i, (cur, cents)) in o.revenue.iter().enumerate() { @if i > 0 { ", " } (crate::domain::billing::money(*cents, cur)) }
                }
                dt { "Open tickets" } dd #admin-open-tickets { a href="/admin/tickets" { (o.open_tickets) } }
            }
            h2 { "VPN sessions now" }
            table #admin-vpn-sessions {
                thead { tr { th { "Node" } th { "Protocol" } th { "Connected" } } }
                tbody { @for (node, protocol, n) in &o.vpn_sessions { tr { td { (node) } td { (protocol) } td { (n) } } } }
            }
            @if o.vpn_sessions.is_empty() { p { "Nobody is connected." } }
            (super::admin_users::day_chart("signups-chart", "Sign-ups per day, last 30 days", &signups, |n| n.to_string()))
            (super::admin_users::day_chart("revenue-chart", "Revenue per day, last 30 days", &revenue,
                |cents| crate::domain::billing::money(cents, &currency)))
        }
    }
}

pub fn overview(ctx: &PageContext, figures: Markup) -> Markup {
    page(
        ctx,
        "Admin",
        html! {
            h1 { "Admin" }
            p {
                a href="/admin/users" { "Users" } " · " a href="/admin/clients" { "Clients" } " · "
                a href="/admin/nodes" { "VPN nodes" } " · " a href="/admin/plans" { "Plans" } " · "
                a href="/admin/payments" { "Payments" } " · " a href="/admin/tickets" { "Tickets" } " · "
                a href="/admin/audit" { "Audit log" }
            }
            (figures)
        },
    )
}

/// A node on the nodes page, with whether it polled lately.
pub struct NodeRow {
    pub status: NodeStatus,
    pub online: bool,
}

pub struct NodesPage<'a> {
    pub rows: &'a [NodeRow],
    pub form: &'a NodeForm,
    pub errors: &'a FieldErrors,
    /// A node's name and its new token, shown this once.
    pub new_token: Option<(&'a str, &'a str)>,
}

pub fn nodes(ctx: &PageContext, p: &NodesPage) -> Markup {
    let form = p.form;
    let errors = p.errors;
    let port = |p: u16| p.to_string();
    let (wg, ovpn, phaze) = (port(form.wireguard_port), port(form.openvpn_port), port(form.phazevpn_port));
    page(
        ctx,
        "Nodes",
        html! {
            p { a href="/admin" { "← Admin" } }
            h1 { "VPN nodes" }
            @if let Some((name, token)) = p.new_token {
                article #node-token role="status" {
                    h2 { "API token of " (name) }
                    p { "Copy it now: it is shown only this once. The node sends it as " code { "Authorization: Bearer TOKEN" } "." }
                    pre { code #new-node-token { (token) } }
                }
            }
            table #node-list {
                thead { tr { th { "Name" } th { "Region" } th { "Host" } th { "Pool" } th { "Protocols" } th { "Status" } th { "Last seen" } th { "Peers" } th { "Connected" } th { "Token" } } }
                tbody {
                    @for row in p.rows {
                        @let n = &row.status.node;
                        tr data-node=(n.name) {
                            td { (n.name) } td { (n.region) } td { (n.host) } td { (n.address_pool) }
                            td { (n.protocols.join(", ")) }
                            td.node-status { @if row.online { mark { "online" } } @else { "offline" } }
                            td { @match n.last_seen_at { Some(at) => (date_time(at)), None => "never" } }
                            td.node-peers { (row.status.peers) }
                            td.node-sessions { (row.status.open_sessions) }
                            td {
                                form method="post" action={ "/admin/nodes/" (n.id) "/token" } {
                                    (csrf_input(&ctx.csrf))
                                    button.secondary type="submit" { @if row.status.has_token { "Rotate token" } @else { "Issue token" } }
                                }
                            }
                        }
                    }
                }
            }
            p { small { "A node is offline when it has missed two polls. Rotating a token stops the old one at once." } }
            h2 { "Add a node" }
            form method="post" action="/admin/nodes" novalidate {
                (csrf_input(&ctx.csrf))
                (Field::new("name", "Name", "text").value(&form.name).render(errors))
                (Field::new("region", "Region", "text").value(&form.region).render(errors))
                (Field::new("host", "Public host or IP", "text").value(&form.host).render(errors))
                (Field::new("address_pool", "Address pool", "text").value(&form.address_pool).hint("IPv4 network, e.g. 10.67.0.0/24: the lower half for WireGuard and PhazeVPN, the upper half for OpenVPN.").render(errors))
                (Field::new("wireguard_port", "WireGuard port", "number").value(&wg).render(errors))
                (Field::new("openvpn_port", "OpenVPN port", "number").value(&ovpn).render(errors))
                (Field::new("phazevpn_port", "PhazeVPN port", "number").value(&phaze).render(errors))
                fieldset {
                    legend { "Protocols" }
                    @for p in crate::vpn::Protocol::ALL {
                        label { input type="checkbox" name="protocols" value=(p.as_str()) checked[form.protocols.iter().any(|x| x == p.as_str())]; " " (p.label()) }
                    }
                    (field_error("protocols", errors.get("protocols")))
                }
                (Field::new("dns", "DNS servers", "text").value(&form.dns).render(errors))
                label for="wg_public_key" {
                    "WireGuard public key (leave empty to have the portal make the key pair)"
                    input #wg_public_key name="wg_public_key" type="text" value=(form.wg_public_key);
                    (field_error("wg_public_key", errors.get("wg_public_key")))
                }
                button type="submit" { "Add node" }
            }
        },
    )
}
