//! Emails: each one a subject, a plain-text part and an HTML part, from plain data.
use maud::{html, Markup, DOCTYPE};

/// An email ready for the outbox.
pub struct Composed {
    pub kind: &'static str,
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn wrap(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (title) } }
            body style="font-family: sans-serif; max-width: 36rem; margin: auto; line-height: 1.5" {
                (body)
                hr;
                p style="color: #666; font-size: 0.9em" { "Phaze VPN · you get this email because of your account with us." }
            }
        }
    }
    .into_string()
}

fn button(link: &str, label: &str) -> Markup {
    html! { p { a href=(link) style="display: inline-block; padding: 0.6em 1.2em; background: #1864ab; color: #fff; text-decoration: none; border-radius: 4px" { (label) } } }
}

pub fn verify_address(username: &str, link: &str) -> Composed {
    let subject = "Confirm your email address".to_owned();
    let text = format!(
        "Hello {username},\n\nConfirm your email address to start using Phaze VPN:\n\n{link}\n\n\
         The link works for 48 hours. If you did not sign up, ignore this email.\n"
    );
    let html = wrap(
        &subject,
        html! {
            p { "Hello " (username) "," }
            p { "Confirm your email address to start using Phaze VPN." }
            (button(link, "Confirm my address"))
            p { "Or open " a href=(link) { (link) } ". The link works for 48 hours. If you did not sign up, ignore this email." }
        },
    );
    Composed { kind: "verify_address", subject, text, html }
}

pub fn password_reset(username: &str, link: &str) -> Composed {
    let subject = "Reset your password".to_owned();
    let text = format!(
        "Hello {username},\n\nSomeone asked to reset the password of your Phaze VPN account. To choose a new one, open:\n\n\
         {link}\n\nThe link works once, for one hour. If it was not you, ignore this email: your password stays as it is.\n"
    );
    let html = wrap(
        &subject,
        html! {
            p { "Hello " (username) "," }
            p { "Someone asked to reset the password of your Phaze VPN account." }
            (button(link, "Choose a new password"))
            p { "The link works once, for one hour. If it was not you, ignore this email: your password stays as it is." }
        },
    );
    Composed { kind: "password_reset", subject, text, html }
}

/// What a receipt email says about a payment.
pub struct ReceiptLine<'a> {
    pub plan: &'a str,
    pub amount: &'a str,
    pub paid_until: &'a str,
    pub link: &'a str,
}

pub fn receipt(username: &str, r: &ReceiptLine<'_>) -> Composed {
    let subject = format!("Receipt: {} ({})", r.plan, r.amount);
    let text = format!(
        "Hello {username},\n\nThank you: we received {amount} for the {plan} plan. Your service is paid until {until}.\n\n\
         Your receipt: {link}\n",
        amount = r.amount,
        plan = r.plan,
        until = r.paid_until,
        link = r.link
    );
    let html = wrap(
        &subject,
        html! {
            p { "Hello " (username) "," }
            p { "Thank you: we received " strong { (r.amount) } " for the " strong { (r.plan) } " plan. Your service is paid until " (r.paid_until) "." }
            (button(r.link, "View the receipt"))
        },
    );
    Composed { kind: "payment_receipt", subject, text, html }
}

pub fn ticket_reply(username: &str, ticket_subject: &str, reply: &str, link: &str) -> Composed {
    let subject = format!("Re: {ticket_subject}");
    let text = format!(
        "Hello {username},\n\nSupport replied to your ticket \"{ticket_subject}\":\n\n{reply}\n\nReply here: {link}\n"
    );
    let html = wrap(
        &subject,
        html! {
            p { "Hello " (username) "," }
            p { "Support replied to your ticket " strong { (ticket_subject) } ":" }
            blockquote style="white-space: pre-wrap; border-left: 3px solid #ccc; padding-left: 1em" { (reply) }
            (button(link, "Open the ticket"))
        },
    );
    Composed { kind: "ticket_reply", subject, text, html }
}

pub fn subscription_ending(username: &str, plan: &str, ends: &str, link: &str) -> Composed {
    let subject = format!("Your {plan} plan ends on {ends}");
    let text = format!(
        "Hello {username},\n\nYour {plan} plan ends on {ends}. After that your devices can no longer connect.\n\n\
         Renew it here: {link}\n"
    );
    let html = wrap(
        &subject,
        html! {
            p { "Hello " (username) "," }
            p { "Your " strong { (plan) } " plan ends on " (ends) ". After that your devices can no longer connect." }
            (button(link, "Renew my plan"))
        },
    );
    Composed { kind: "subscription_ending", subject, text, html }
}

pub fn usage_warning(username: &str, used: &str, limit: &str, link: &str) -> Composed {
    let subject = "You have used 80% of your data".to_owned();
    let text = format!(
        "Hello {username},\n\nYou have used {used} of your {limit} this period. When you reach the limit your devices \
         stop connecting until the next period starts.\n\nSee your usage: {link}\n"
    );
    let html = wrap(
        &subject,
        html! {
            p { "Hello " (username) "," }
            p { "You have used " strong { (used) } " of your " (limit) " this period. When you reach the limit your devices stop connecting until the next period starts." }
            (button(link, "See my usage"))
        },
    );
    Composed { kind: "usage_warning", subject, text, html }
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_text_is_escaped_in_html_and_kept_in_text() {
        let mail = super::ticket_reply("ann", "<b>VPN</b>", "line 1\n<script>x</script>", "https://p/t/1");
        assert!(mail.html.contains("&lt;script&gt;x&lt;/script&gt;") && !mail.html.contains("<script>"));
        assert!(mail.html.contains("&lt;b&gt;VPN&lt;/b&gt;"));
        assert!(mail.text.contains("line 1\n<script>x</script>"));
    }
}
