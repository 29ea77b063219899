//! Two-factor sign-in pages.
use super::components::{csrf_input, form_error, Field};
use super::layout::trusted;
use super::{page, PageContext};
use crate::domain::two_factor::Setup;
use crate::domain::FieldErrors;
use maud::{html, Markup};

fn code_field(errors: &FieldErrors) -> Markup {
    html! {
        label for="code" { "Code"
            input #code name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required
                aria-invalid=[errors.get("code").map(|_| "true")] aria-describedby="code-error";
            small.field-error #code-error { @if let Some(e) = errors.get("code") { (e) } }
        }
    }
}

pub fn challenge(ctx: &PageContext, next: Option<&str>, errors: &FieldErrors) -> Markup {
    page(
        ctx,
        "Two-factor sign-in",
        html! {
            article.narrow {
                h1 { "Enter your code" }
                p { "Open your authenticator app and enter the 6-digit code for Phaze VPN, or one of your recovery codes." }
                form method="post" action="/login/two-factor" novalidate {
                    (csrf_input(&ctx.csrf))
                    @if let Some(next) = next { input type="hidden" name="next" value=(next); }
                    (code_field(errors))
                    button type="submit" { "Sign in" }
                }
                p { a href="/login" { "Start again" } }
            }
        },
    )
}

/// What the account's two-factor page shows.
pub struct AccountTwoFactor<'a> {
    pub on: bool,
    pub unused_codes: i64,
    pub session_used_it: bool,
    pub is_admin: bool,
    pub errors: &'a FieldErrors,
}

fn reauth_form(ctx: &PageContext, action: &str, label: &str, errors: &FieldErrors) -> Markup {
    html! {
        form method="post" action=(action) novalidate {
            (csrf_input(&ctx.csrf))
            (Field::new("current_password", "Current password", "password").autocomplete("current-password").render(errors))
            (code_field(errors))
            button.secondary type="submit" { (label) }
        }
    }
}

pub fn account(ctx: &PageContext, a: &AccountTwoFactor) -> Markup {
    page(
        ctx,
        "Two-factor sign-in",
        html! {
            h1 { "Two-factor sign-in" }
            p { a href="/account" { "Back to your account" } }
            @if a.is_admin && !(a.on && a.session_used_it) {
                p.form-error #admin-needs-2fa role="alert" {
                    @if a.on { "Admin pages need a session signed in with your code: log out and in again." }
                    @else { "Admins must turn on two-factor sign-in before any admin page works." }
                }
            }
            @if a.on {
                p #two-factor-status data-on="true" { "Two-factor sign-in is " strong { "on" } ". " (a.unused_codes) " unused recovery codes left." }
                (form_error(a.errors, "current_password"))
                section {
                    h2 { "New recovery codes" }
                    p { "The old codes stop working, and your other sessions are signed out." }
                    (reauth_form(ctx, "/account/two-factor/codes", "Make new codes", a.errors))
                }
                section {
                    h2 { "Turn it off" }
                    (reauth_form(ctx, "/account/two-factor/disable", "Turn off two-factor sign-in", a.errors))
                }
            } @else {
                p #two-factor-status data-on="false" { "Two-factor sign-in is off. With it on, signing in needs a code from an authenticator app as well as your password." }
                form method="post" action="/account/two-factor/setup" {
                    (csrf_input(&ctx.csrf))
                    button type="submit" { "Set up two-factor sign-in" }
                }
            }
        },
    )
}

pub fn setup(ctx: &PageContext, s: &Setup, errors: &FieldErrors) -> Markup {
    page(
        ctx,
        "Set up two-factor sign-in",
        html! {
            h1 { "Set up two-factor sign-in" }
            p { "Scan this code with your authenticator app (or type the key), then enter the 6-digit code it shows." }
            figure #totp-qr { (trusted(s.qr_svg.clone())) }
            p { "Key: " code #totp-secret { (s.secret_base32) } }
            form method="post" action="/account/two-factor/enable" novalidate {
                (csrf_input(&ctx.csrf))
                (code_field(errors))
                button type="submit" { "Turn on" }
            }
        },
    )
}

pub fn recovery_codes(ctx: &PageContext, codes: &[String], just_enabled: bool) -> Markup {
    page(
        ctx,
        "Recovery codes",
        html! {
            h1 { "Your recovery codes" }
            @if just_enabled { p.flash { "Two-factor sign-in is on." } }
            p { "Each code signs you in once if you lose your device. Keep them somewhere safe: they are shown only now." }
            ol #recovery-codes { @for code in codes { li { code { (code) } } } }
            p { a href="/account/two-factor" { "Done" } }
        },
    )
}
