//! Support tickets: a user opens, replies and closes; staff reply (the user is emailed), add
//! internal notes the user never sees, and move tickets between open, awaiting reply and closed.
use super::{email, FieldErrors};
use crate::store::tickets::{self as store, NewMessage};
use sqlx::PgPool;

pub const CATEGORIES: [(&str, &str); 4] =
    [("technical", "Connection or setup"), ("billing", "Billing"), ("account", "Account"), ("other", "Something else")];
pub const STATUSES: [&str; 3] = ["open", "awaiting_reply", "closed"];
pub const BODY_MAX: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error("invalid ticket")]
    Invalid(FieldErrors),
    #[error("no such ticket")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub fn status_label(status: &str) -> &'static str {
    match status {
        "open" => "Open",
        "awaiting_reply" => "Awaiting your reply",
        "closed" => "Closed",
        _ => "Unknown",
    }
}

/// A message: 1 to 10,000 characters of text (no NUL), not only spaces.
pub fn check_body(body: &str) -> Result<&str, String> {
    let body = body.trim_end();
    if body.trim().is_empty() {
        Err("Write a message.".into())
    } else if body.chars().count() > BODY_MAX {
        Err(format!("Keep the message under {BODY_MAX} characters."))
    } else if body.contains('\0') {
        Err("The message holds a character that is not text.".into())
    } else {
        Ok(body)
    }
}

pub struct NewTicket {
    pub subject: String,
    pub category: String,
    pub body: String,
}

pub async fn open(pool: &PgPool, user_id: i64, t: &NewTicket) -> Result<i64, TicketError> {
    let mut errors = FieldErrors::default();
    let subject = t.subject.trim();
    if !(3..=120).contains(&subject.chars().count()) || subject.contains('\0') {
        errors.add("subject", "Use 3 to 120 characters.");
    }
    if !CATEGORIES.iter().any(|(c, _)| *c == t.category) {
        errors.add("category", "Choose a category.");
    }
    let body = check_body(&t.body).map_err(|m| errors.add("body", m)).ok();
    let Some(body) = body.filter(|_| errors.is_empty()) else {
        return Err(TicketError::Invalid(errors));
    };
    let mut tx = pool.begin().await?;
    let id = store::insert(&mut tx, user_id, subject, &t.category, body).await?;
    tx.commit().await?;
    log::info!(event = "ticket_opened", user_id = user_id, ticket_id = id; "ticket_opened");
    Ok(id)
}

/// The user replies to their own ticket: it is open again (waiting for support).
pub async fn user_reply(pool: &PgPool, user_id: i64, ticket_id: i64, body: &str) -> Result<(), TicketError> {
    let body = check_body(body).map_err(|m| TicketError::Invalid(FieldErrors::single("body", m)))?;
    let mut tx = pool.begin().await?;
    let message = NewMessage {
        ticket_id,
        owner: Some(user_id),
        author_id: user_id,
        from_staff: false,
        internal: false,
        body,
        status: Some("open"),
    };
    if !store::add_message(&mut tx, &message).await? {
        return Err(TicketError::NotFound);
    }
    tx.commit().await?;
    log::info!(event = "ticket_user_reply", user_id = user_id, ticket_id = ticket_id; "ticket_user_reply");
    Ok(())
}

pub async fn user_close(pool: &PgPool, user_id: i64, ticket_id: i64) -> Result<(), TicketError> {
    if !store::set_status(pool, ticket_id, Some(user_id), "closed").await? {
        return Err(TicketError::NotFound);
    }
    log::info!(event = "ticket_closed", user_id = user_id, ticket_id = ticket_id; "ticket_closed");
    Ok(())
}

/// Staff reply (the ticket then awaits the user, who is emailed in the same transaction) or add
/// an internal note (no status change, no email, never shown to the user).
pub async fn staff_reply(
    pool: &PgPool,
    public_url: &str,
    admin_id: i64,
    ticket_id: i64,
    body: &str,
    internal: bool,
) -> Result<(), TicketError> {
    let body = check_body(body).map_err(|m| TicketError::Invalid(FieldErrors::single("body", m)))?;
    let ticket = store::ticket(pool, ticket_id).await?.ok_or(TicketError::NotFound)?;
    let mut tx = pool.begin().await?;
    let message = NewMessage {
        ticket_id,
        owner: None,
        author_id: admin_id,
        from_staff: true,
        internal,
        body,
        status: (!internal).then_some("awaiting_reply"),
    };
    if !store::add_message(&mut tx, &message).await? {
        return Err(TicketError::NotFound);
    }
    if !internal {
        let link = format!("{public_url}/support/tickets/{ticket_id}");
        let mail = crate::views::email::ticket_reply(&ticket.username, &ticket.subject, body, &link);
        email::queue(&mut tx, &ticket.email, &mail, None).await?;
    }
    tx.commit().await?;
    log::info!(event = "ticket_staff_reply", admin_id = admin_id, ticket_id = ticket_id, internal = internal; "ticket_staff_reply");
    Ok(())
}

pub async fn staff_set_status(pool: &PgPool, admin_id: i64, ticket_id: i64, status: &str) -> Result<(), TicketError> {
    if !STATUSES.contains(&status) {
        return Err(TicketError::Invalid(FieldErrors::single("status", "Choose open, awaiting reply or closed.")));
    }
    if !store::set_status(pool, ticket_id, None, status).await? {
        return Err(TicketError::NotFound);
    }
    log::info!(event = "ticket_status_set", admin_id = admin_id, ticket_id = ticket_id, status = status; "ticket_status_set");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn bodies_need_text_within_the_limit() {
        assert!(super::check_body("  \n ").is_err());
        assert!(super::check_body(&"x".repeat(10_001)).is_err());
        assert!(super::check_body("a\0b").is_err());
        assert_eq!(super::check_body("hello\nthere \n"), Ok("hello\nthere"));
    }
}
