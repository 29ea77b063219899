use super::components::{csrf_input, field_error, Field};
use super::{page, PageContext};
use crate::domain::nodes::NodeForm;
use crate::domain::FieldErrors;
use maud::{html, Markup};

pub struct AdminOverview {
    pub users: i64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub cache_bypasses: u64,
}

pub fn overview(ctx: &PageContext, o: &AdminOverview) -> Markup {
    page(
        ctx,
        "Admin",
        html! {
            h1 { "Admin" }
            p { a href="/admin/nodes" { "VPN nodes" } }
            p { "Users, payments and tickets panels arrive in later releases." }
            dl #admin-figures {
                dt { "Users" } dd #admin-users { (o.users) }
                dt { "Fragment cache (this instance)" }
                dd #admin-cache { (o.cache_hits) " hits, " (o.cache_misses) " misses, " (o.cache_bypasses) " bypassed" }
            }
        },
    )
}

pub fn nodes(ctx: &PageContext, nodes: &[crate::store::nodes::Node], form: &NodeForm, errors: &FieldErrors) -> Markup {
    let port = |p: u16| p.to_string();
    let (wg, ovpn, phaze) = (port(form.wireguard_port), port(form.openvpn_port), port(form.phazevpn_port));
    page(
        ctx,
        "Nodes",
        html! {
            p { a href="/admin" { "← Admin" } }
            h1 { "VPN nodes" }
            table #node-list {
                thead { tr { th { "Name" } th { "Region" } th { "Host" } th { "Pool" } th { "Protocols" } th { "WireGuard key" } } }
                tbody {
                    @for n in nodes {
                        tr {
                            td { (n.name) } td { (n.region) } td { (n.host) } td { (n.address_pool) }
                            td { (n.protocols.join(", ")) } td { code { (n.wg_public_key) } }
                        }
                    }
                }
            }
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
