//! The API tokens page: make a token (shown once), list tokens with their last use, revoke.
use super::account::date_time;
use super::components::{csrf_input, field_error, form_error, Field};
use super::{page, PageContext};
use crate::domain::api_tokens::{self, Scope, LIFETIMES};
use crate::domain::FieldErrors;
use crate::store::api_tokens::TokenRow;
use maud::{html, Markup};
use time::OffsetDateTime;

pub struct TokensPage<'a> {
    pub tokens: &'a [TokenRow],
    /// A token just made: its secret, shown this once.
    pub created: Option<(&'a str, &'a str)>,
    pub form: &'a api_tokens::TokenForm,
    pub errors: &'a FieldErrors,
    pub api_docs_url: &'a str,
}

pub fn tokens_page(ctx: &PageContext, p: &TokensPage, now: OffsetDateTime) -> Markup {
    page(
        ctx,
        "API tokens",
        html! {
            h1 { "API tokens" }
            p { "Personal access tokens let your own scripts use the " a href=(p.api_docs_url) { "portal's API" }
                ". Send one as " code { "Authorization: Bearer …" } "; give each only the scopes it needs." }
            @if let Some((name, token)) = p.created {
                section #new-token role="status" {
                    h2 { "Your new token “" (name) "”" }
                    p { strong { "Copy it now: it is shown only this once." } " We keep only a hash of it." }
                    pre { code #token-secret { (token) } }
                }
            }
            section #make-token {
                h2 { "Make a token" }
                form method="post" action="/account/tokens" novalidate {
                    (csrf_input(&ctx.csrf))
                    (form_error(p.errors, "form"))
                    (Field::new("name", "Name", "text").value(&p.form.name).hint("What it is for, e.g. “backup script”.").render(p.errors))
                    fieldset {
                        legend { "Scopes" }
                        @for scope in Scope::ALL {
                            label {
                                input type="checkbox" name="scopes" value=(scope.as_str())
                                    checked[p.form.scopes.iter().any(|s| s == scope.as_str())];
                                code { (scope.as_str()) } " · " (scope.describe())
                            }
                        }
                        (field_error("scopes", p.errors.get("scopes")))
                    }
                    label for="lifetime" {
                        "Expires"
                        select #lifetime name="lifetime" {
                            @for (value, label) in LIFETIMES {
                                option value=(value) selected[p.form.lifetime == value] { (label) }
                            }
                        }
                        (field_error("lifetime", p.errors.get("lifetime")))
                    }
                    button type="submit" { "Make token" }
                }
            }
            section #tokens {
                h2 { "Your tokens" }
                @if p.tokens.is_empty() {
                    p { "No tokens yet." }
                } @else {
                    table {
                        thead { tr { th { "Name" } th { "Scopes" } th { "Made" } th { "Expires" } th { "Last used" } th { "State" } th {} } }
                        tbody {
                            @for t in p.tokens {
                                @let state = api_tokens::state(t, now);
                                tr data-token=(t.id) {
                                    td { (t.name) }
                                    td { @for s in &t.scopes { code { (s) } " " } }
                                    td { (date_time(t.created_at)) }
                                    td { @match t.expires_at { Some(at) => (date_time(at)), None => "never" } }
                                    td.last-used {
                                        @match t.last_used_at {
                                            Some(at) => { (date_time(at)) @if let Some(ip) = &t.last_used_ip { " from " (ip) } }
                                            None => "never",
                                        }
                                    }
                                    td.state { (state) }
                                    td {
                                        @if state == "live" {
                                            form.inline method="post" action={ "/account/tokens/" (t.id) "/revoke" } {
                                                (csrf_input(&ctx.csrf))
                                                button.secondary type="submit" { "Revoke" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
