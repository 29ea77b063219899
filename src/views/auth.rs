use super::components::{csrf_input, form_error, Field};
use super::{page, PageContext};
use crate::domain::signup::SignupForm;
use crate::domain::FieldErrors;
use maud::{html, Markup};

pub fn signup(ctx: &PageContext, form: &SignupForm, errors: &FieldErrors) -> Markup {
    page(
        ctx,
        "Sign up",
        html! {
            article.narrow {
                h1 { "Create your account" }
                form method="post" action="/signup" novalidate {
                    (csrf_input(&ctx.csrf))
                    (Field::new("username", "Username", "text").value(&form.username).autocomplete("username")
                        .hint("3 to 32 letters, digits, '_' or '-'.").checked_at("/signup/check/username").render(errors))
                    (Field::new("email", "Email", "email").value(&form.email).autocomplete("email")
                        .checked_at("/signup/check/email").render(errors))
                    (Field::new("password", "Password", "password").autocomplete("new-password")
                        .hint("At least 10 characters; not a common password.").render(errors))
                    (Field::new("password_confirm", "Repeat the password", "password").autocomplete("new-password").render(errors))
                    button type="submit" { "Sign up" }
                }
                p { "Already have an account? " a href="/login" { "Log in" } }
            }
        },
    )
}

pub fn login(ctx: &PageContext, login: &str, next: Option<&str>, errors: &FieldErrors) -> Markup {
    page(
        ctx,
        "Log in",
        html! {
            article.narrow {
                h1 { "Log in" }
                (form_error(errors, "login"))
                form method="post" action="/login" novalidate {
                    (csrf_input(&ctx.csrf))
                    @if let Some(next) = next { input type="hidden" name="next" value=(next); }
                    (Field::new("login", "Username or email", "text").value(login).autocomplete("username").render(&FieldErrors::default()))
                    (Field::new("password", "Password", "password").autocomplete("current-password").render(&FieldErrors::default()))
                    button type="submit" { "Log in" }
                }
                p { a href="/forgot-password" { "Forgot your password?" } " · New here? " a href="/signup" { "Create an account" } }
            }
        },
    )
}

pub fn forgot_password(ctx: &PageContext, email: &str, errors: &FieldErrors, sent: bool) -> Markup {
    page(
        ctx,
        "Forgot your password?",
        html! {
            article.narrow {
                h1 { "Forgot your password?" }
                @if sent {
                    p.flash #reset-sent role="status" { (crate::domain::recovery::RESET_SENT) }
                } @else {
                    p { "Enter the email address of your account: we send it a link to choose a new password." }
                    form method="post" action="/forgot-password" novalidate {
                        (csrf_input(&ctx.csrf))
                        (Field::new("email", "Email", "email").value(email).autocomplete("email").render(errors))
                        button type="submit" { "Send the link" }
                    }
                }
                p { a href="/login" { "Back to log in" } }
            }
        },
    )
}

pub fn reset_password(ctx: &PageContext, token: &str, errors: &FieldErrors) -> Markup {
    page(
        ctx,
        "Choose a new password",
        html! {
            article.narrow {
                h1 { "Choose a new password" }
                (form_error(errors, "token"))
                form method="post" action="/reset-password" novalidate {
                    (csrf_input(&ctx.csrf))
                    input type="hidden" name="token" value=(token);
                    (Field::new("password", "New password", "password").autocomplete("new-password")
                        .hint("At least 10 characters; not a common password. Every session is signed out.").render(errors))
                    (Field::new("password_confirm", "Repeat the new password", "password").autocomplete("new-password").render(errors))
                    button type="submit" { "Set the new password" }
                }
            }
        },
    )
}
