use super::account::date;
use super::components::{csrf_input, field_error, Field};
use super::{page, PageContext};
use crate::domain::clients::{ClientDetails, ClientForm};
use crate::domain::FieldErrors;
use crate::store::clients::ClientSummary;
use crate::store::nodes::Node;
use crate::vpn::Protocol;
use maud::{html, Markup, PreEscaped};

pub struct ClientsSection<'a> {
    /// `client_list`'s markup (cached per user).
    pub list: Markup,
    /// `node_options`' markup (cached for everyone while no node is chosen).
    pub node_options: Markup,
    pub form: &'a ClientForm,
    pub errors: &'a FieldErrors,
}

fn protocol_label(protocol: &str) -> &'static str {
    Protocol::parse(protocol).map_or("?", Protocol::label)
}

/// The dashboard's clients: the list and the form to add one. Also the htmx swap target.
pub fn clients_section(csrf: &str, s: &ClientsSection) -> Markup {
    html! {
        section #clients {
            h2 { "VPN clients" }
            (s.list)
            (create_form(csrf, s))
        }
    }
}

/// How many clients are active, and the table of them all.
pub fn client_list(clients: &[ClientSummary], max_clients: i32) -> Markup {
    let active = clients.iter().filter(|c| c.status == "active").count();
    html! {
        p { (active) " of " (max_clients) " active clients." }
        @if clients.is_empty() {
            p { "No clients yet: add your first device below." }
        } @else {
            table #client-list {
                thead { tr { th { "Name" } th { "Protocol" } th { "Server" } th { "Address" } th { "Status" } th {} } }
                tbody {
                    @for c in clients {
                        tr data-status=(c.status) {
                            td { a href={ "/clients/" (c.id) } { (c.name) } }
                            td { (protocol_label(&c.protocol)) }
                            td { (c.node_name) " (" (c.node_region) ")" }
                            td { (c.address.as_deref().unwrap_or("—")) }
                            td { @if c.status == "active" { "Active" } @else { "Revoked" } }
                            td { @if c.status == "active" { a href={ "/clients/" (c.id) "/config" } download hx-boost="false" { "Download" } } }
                        }
                    }
                }
            }
        }
    }
}

/// The server choices of the form.
pub fn node_options(nodes: &[Node], selected: Option<i64>) -> Markup {
    html! {
        option value="" { "Best available" }
        @for n in nodes.iter().filter(|n| n.active) {
            option value=(n.id) selected[selected == Some(n.id)] { (n.name) " — " (n.region) }
        }
    }
}

fn create_form(csrf: &str, s: &ClientsSection) -> Markup {
    html! {
        form #new-client method="post" action="/clients" hx-post="/clients" hx-target="#clients" hx-swap="outerHTML" novalidate {
            (csrf_input(csrf))
            @if let Some(e) = s.errors.get("limit") { p.form-error role="alert" { (e) } }
            (Field::new("name", "Device name", "text").value(&s.form.name).hint("3 to 50 letters, digits, '_' or '-'.").render(s.errors))
            label for="protocol" {
                "Protocol"
                select #protocol name="protocol" required {
                    @for p in Protocol::ALL {
                        option value=(p.as_str()) selected[s.form.protocol == p.as_str()] { (p.label()) }
                    }
                }
                (field_error("protocol", s.errors.get("protocol")))
            }
            label for="node" {
                "Server"
                select #node name="node" { (s.node_options) }
                (field_error("node", s.errors.get("node")))
            }
            button type="submit" { "Add client" }
        }
    }
}

/// The client page; `activity` is its usage and connection history.
pub fn client_page(ctx: &PageContext, d: &ClientDetails, rename_errors: &FieldErrors, activity: Markup) -> Markup {
    let c = &d.client;
    let active = c.status == "active";
    page(
        ctx,
        &c.name,
        html! {
            p { a href="/dashboard" { "← Dashboard" } }
            h1 { (c.name) }
            dl #client-facts {
                dt { "Protocol" } dd { (protocol_label(&c.protocol)) }
                dt { "Server" } dd { (c.node_name) " (" (c.node_region) ")" }
                @if let Some(address) = &c.address { dt { "Address" } dd { (address) } }
                dt { "Created" } dd { (date(c.created_at)) }
                dt { "Status" } dd #client-status { @if active { "Active" } @else { "Revoked" @if let Some(at) = c.revoked_at { " on " (date(at)) } } }
            }
            @if active {
                p { a role="button" href={ "/clients/" (c.id) "/config" } download hx-boost="false" { "Download config" } }
                @if let Some(svg) = &d.qr_svg {
                    figure #client-qr {
                        (PreEscaped(svg))
                        figcaption { "Scan with the " (protocol_label(&c.protocol)) " app on your phone." }
                    }
                }
                @if let Some(uri) = &d.uri { details { summary { "Profile link" } code #client-uri { (uri) } } }
            }
            (activity)
            @if active {
                section {
                    h2 { "Rename" }
                    form method="post" action={ "/clients/" (c.id) "/rename" } novalidate {
                        (csrf_input(&ctx.csrf))
                        (Field::new("name", "New name", "text").value(&c.name).render(rename_errors))
                        button type="submit" { "Rename" }
                    }
                }
                section {
                    h2 { "Revoke" }
                    p { "A revoked client leaves the servers' lists at their next poll (within a minute) and can no longer connect; it stays listed as revoked." }
                    a.secondary role="button" href={ "/clients/" (c.id) "/revoke" } { "Revoke this client…" }
                }
            }
        },
    )
}

pub fn revoke_confirm(ctx: &PageContext, d: &ClientDetails) -> Markup {
    let c = &d.client;
    page(
        ctx,
        "Revoke client",
        html! {
            article.narrow {
                h1 { "Revoke " (c.name) "?" }
                p { "The servers drop the device at their next poll, within a minute, and it cannot be brought back; you can add a new client instead." }
                form method="post" action={ "/clients/" (c.id) "/revoke" } {
                    (csrf_input(&ctx.csrf))
                    button type="submit" { "Yes, revoke " (c.name) }
                }
                p { a href={ "/clients/" (c.id) } { "No, keep it" } }
            }
        },
    )
}
