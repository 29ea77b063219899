//! Support: the user's tickets, a conversation, the admins' queue.
use super::account::date_time;
use super::components::{csrf_input, field_error, Field};
use super::{page, PageContext};
use crate::domain::tickets::{status_label, CATEGORIES, STATUSES};
use crate::domain::FieldErrors;
use crate::store::tickets::{Message, Ticket};
use maud::{html, Markup};

/// What the new-ticket form holds.
#[derive(Default)]
pub struct TicketDraft<'a> {
    pub subject: &'a str,
    pub category: &'a str,
    pub body: &'a str,
}

fn body_field(value: &str, errors: &FieldErrors) -> Markup {
    html! {
        label for="body" { "Message"
            textarea #body name="body" rows="6" maxlength="10000" required aria-invalid=[errors.get("body").map(|_| "true")] { (value) }
            (field_error("body", errors.get("body")))
        }
    }
}

pub fn support(ctx: &PageContext, tickets: &[Ticket], draft: &TicketDraft, errors: &FieldErrors) -> Markup {
    page(
        ctx,
        "Support",
        html! {
            h1 { "Support" }
            section #tickets {
                h2 { "Your tickets" }
                @if tickets.is_empty() { p { "No tickets yet." } } @else {
                    table {
                        thead { tr { th { "Subject" } th { "Status" } th { "Last message" } } }
                        tbody {
                            @for t in tickets {
                                tr data-status=(t.status) {
                                    td { a href={ "/support/tickets/" (t.id) } { (t.subject) } }
                                    td { (status_label(&t.status)) }
                                    td { (date_time(t.last_message_at)) }
                                }
                            }
                        }
                    }
                }
            }
            section #new-ticket {
                h2 { "Ask for help" }
                form method="post" action="/support/tickets" novalidate {
                    (csrf_input(&ctx.csrf))
                    (Field::new("subject", "Subject", "text").value(draft.subject).render(errors))
                    label for="category" { "Category"
                        select #category name="category" {
                            @for (value, label) in CATEGORIES { option value=(value) selected[draft.category == value] { (label) } }
                        }
                        (field_error("category", errors.get("category")))
                    }
                    (body_field(draft.body, errors))
                    button type="submit" { "Send" }
                }
            }
        },
    )
}

/// The conversation; htmx polls `poll_url` for new replies and swaps this in place.
pub fn messages(messages: &[Message], poll_url: &str) -> Markup {
    html! {
        div #messages hx-get=(poll_url) hx-trigger="every 10s" hx-swap="outerHTML" {
            @for m in messages {
                article.message data-from=(if m.internal { "note" } else if m.from_staff { "staff" } else { "user" }) id={ "message-" (m.id) } {
                    header {
                        strong { @if m.from_staff { "Support" @if let Some(a) = &m.author { " (" (a) ")" } } @else { (m.author.as_deref().unwrap_or("You")) } }
                        @if m.internal { " · " mark { "internal note" } }
                        " · " small { (date_time(m.created_at)) }
                    }
                    p.message-body { (m.body) }
                }
            }
        }
    }
}

/// A ticket as its owner sees it (`staff`: as an admin sees it, with notes and status controls).
pub fn ticket(ctx: &PageContext, t: &Ticket, list: &[Message], errors: &FieldErrors, staff: bool) -> Markup {
    let base = if staff { format!("/admin/tickets/{}", t.id) } else { format!("/support/tickets/{}", t.id) };
    page(
        ctx,
        &t.subject,
        html! {
            p { @if staff { a href="/admin/tickets" { "Ticket queue" } } @else { a href="/support" { "Your tickets" } } }
            h1 { (t.subject) }
            p #ticket-status data-status=(t.status) {
                (status_label(&t.status)) " · " (t.category)
                @if staff { " · from " (t.username) " <" (t.email) ">" }
            }
            (messages(list, &format!("{base}/messages")))
            section #reply {
                form method="post" action={ (base) "/reply" } novalidate {
                    (csrf_input(&ctx.csrf))
                    (body_field("", errors))
                    @if staff {
                        label { input type="checkbox" name="internal" value="true"; " Internal note (the user never sees it)" }
                    }
                    button type="submit" { @if staff { "Send" } @else if t.status == "closed" { "Reply and reopen" } @else { "Reply" } }
                }
                @if staff {
                    form.inline method="post" action={ (base) "/status" } {
                        (csrf_input(&ctx.csrf))
                        select name="status" aria-label="Status" {
                            @for s in STATUSES { option value=(s) selected[t.status == s] { (status_label(s)) } }
                        }
                        button.secondary type="submit" { "Set status" }
                    }
                } @else if t.status != "closed" {
                    form.inline method="post" action={ (base) "/close" } {
                        (csrf_input(&ctx.csrf))
                        button.secondary type="submit" { "Close the ticket" }
                    }
                }
            }
        },
    )
}

pub fn queue(ctx: &PageContext, tickets: &[Ticket], status: Option<&str>, older_than_hours: i64) -> Markup {
    page(
        ctx,
        "Tickets",
        html! {
            h1 { "Tickets" }
            form method="get" action="/admin/tickets" #queue-filter {
                label { "Status "
                    select name="status" {
                        option value="" selected[status.is_none()] { "Any" }
                        @for s in STATUSES { option value=(s) selected[status == Some(s)] { (status_label(s)) } }
                    }
                }
                label { "Waiting at least (hours) " input type="number" name="older_than" min="0" value=(older_than_hours); }
                button.secondary type="submit" { "Filter" }
            }
            table #ticket-queue {
                thead { tr { th { "Subject" } th { "User" } th { "Category" } th { "Status" } th { "Last message" } } }
                tbody {
                    @for t in tickets {
                        tr data-ticket=(t.id) data-status=(t.status) {
                            td { a href={ "/admin/tickets/" (t.id) } { (t.subject) } }
                            td { (t.username) }
                            td { (t.category) }
                            td { (status_label(&t.status)) }
                            td { (date_time(t.last_message_at)) }
                        }
                    }
                }
            }
            @if tickets.is_empty() { p { "Nothing in the queue." } }
        },
    )
}
