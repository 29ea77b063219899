use super::components::{csrf_input, Field};
use super::{page, PageContext};
use crate::domain::sessions::SessionInfo;
use crate::domain::FieldErrors;
use maud::{html, Markup};
use time::OffsetDateTime;

pub struct AccountPage<'a> {
    pub sessions: &'a [SessionInfo],
    pub current_session_id: i64,
    pub email: &'a str,
    pub email_verified: bool,
    pub password_errors: &'a FieldErrors,
    pub email_errors: &'a FieldErrors,
}

pub fn date(t: OffsetDateTime) -> String {
    format!("{}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

pub fn date_time(t: OffsetDateTime) -> String {
    format!("{} {:02}:{:02} UTC", date(t), t.hour(), t.minute())
}

pub fn account(ctx: &PageContext, p: &AccountPage) -> Markup {
    page(
        ctx,
        "Account",
        html! {
            h1 { "Account" }
            @if !p.email_verified {
                section #verify-email {
                    p.form-error { "Your email address is not confirmed yet: follow the link we sent to " (p.email) " to create VPN clients." }
                    form method="post" action="/account/verify-email" {
                        (csrf_input(&ctx.csrf))
                        button.secondary type="submit" { "Send the link again" }
                    }
                }
            }
            (sessions(ctx, p.sessions, p.current_session_id))
            section #api-tokens {
                h2 { "API tokens" }
                p { a href="/account/tokens" { "Manage personal access tokens for the API" } }
            }
            section #two-factor {
                h2 { "Two-factor sign-in" }
                p { a href="/account/two-factor" { "Manage two-factor sign-in and recovery codes" } }
            }
            section #change-password {
                h2 { "Change password" }
                form method="post" action="/account/password" novalidate {
                    (csrf_input(&ctx.csrf))
                    (Field::new("current_password", "Current password", "password").autocomplete("current-password").render(p.password_errors))
                    (Field::new("password", "New password", "password").autocomplete("new-password")
                        .hint("At least 10 characters. Your other sessions will be signed out.").render(p.password_errors))
                    (Field::new("password_confirm", "Repeat the new password", "password").autocomplete("new-password").render(p.password_errors))
                    button type="submit" { "Change password" }
                }
            }
            section #change-email {
                h2 { "Change email" }
                form method="post" action="/account/email" novalidate {
                    (csrf_input(&ctx.csrf))
                    (Field::new("email", "Email", "email").value(p.email).autocomplete("email").render(p.email_errors))
                    (Field::new("current_password", "Current password", "password").autocomplete("current-password").render(p.email_errors))
                    button type="submit" { "Change email" }
                }
            }
        },
    )
}

fn sessions(ctx: &PageContext, sessions: &[SessionInfo], current: i64) -> Markup {
    html! {
        section #sessions {
            h2 { "Signed-in sessions" }
            table {
                thead { tr { th { "Device" } th { "IP address" } th { "Signed in" } th { "Last active" } th { "Two-factor" } th {} } }
                tbody {
                    @for s in sessions {
                        tr {
                            td { (s.user_agent.as_deref().unwrap_or("Unknown device")) }
                            td { (s.ip.as_deref().unwrap_or("unknown")) }
                            td { (date_time(s.created_at)) }
                            td { (date_time(s.last_seen_at)) }
                            td.two-factor { @if s.two_factor { "yes" } @else { "no" } }
                            td {
                                @if s.id == current {
                                    strong { "This session" }
                                } @else {
                                    form.inline method="post" action={ "/account/sessions/" (s.id) "/revoke" } {
                                        (csrf_input(&ctx.csrf))
                                        button.secondary type="submit" { "Sign out" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if sessions.len() > 1 {
                form method="post" action="/account/sessions/revoke-others" {
                    (csrf_input(&ctx.csrf))
                    button.secondary type="submit" { "Sign out everywhere else" }
                }
            }
        }
    }
}
