//! Transactional email: queued in the transaction of the change that causes it, sent by a worker
//! with retries and backoff, so nothing is lost while SMTP is down.
use crate::auth::tokens;
use crate::mail::{MailError, Mailer, Outgoing};
use crate::store::outbox::{self, NewEmail};
use crate::views::email::Composed;
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

pub const VERIFY_HOURS: i64 = 48;
pub const RESET_MINUTES: i64 = 60;

/// Puts an email in the outbox within the caller's transaction. With a `once_key`, a second
/// email for the same occasion is dropped (false).
pub async fn queue(conn: &mut PgConnection, to: &str, mail: &Composed, once_key: Option<&str>) -> sqlx::Result<bool> {
    outbox::enqueue(
        conn,
        &NewEmail {
            kind: mail.kind,
            to_address: to,
            subject: &mail.subject,
            text_body: &mail.text,
            html_body: &mail.html,
            once_key,
        },
    )
    .await
}

/// Makes a single-use link token for `purpose` (`verify` or `reset`) in the caller's
/// transaction; earlier unused ones of the user stop working. The token itself, for the link.
pub async fn issue_token(
    conn: &mut PgConnection,
    user_id: i64,
    purpose: &str,
    email: &str,
    valid_for: time::Duration,
) -> sqlx::Result<String> {
    let (token, hash) = tokens::new_token();
    outbox::insert_token(conn, &hash, user_id, purpose, email, OffsetDateTime::now_utc() + valid_for).await?;
    Ok(token)
}

/// The verification email for a new (or changed) address, queued in the caller's transaction.
pub async fn queue_verification(
    conn: &mut PgConnection,
    public_url: &str,
    user_id: i64,
    username: &str,
    email: &str,
) -> sqlx::Result<()> {
    let token = issue_token(conn, user_id, "verify", email, time::Duration::hours(VERIFY_HOURS)).await?;
    let link = format!("{public_url}/verify-email?token={token}");
    queue(conn, email, &crate::views::email::verify_address(username, &link), None).await?;
    Ok(())
}

/// Uses a verification token: the user whose address it confirmed.
pub async fn verify_address(pool: &PgPool, token: &str) -> sqlx::Result<Option<i64>> {
    if !tokens::looks_like_token(token) {
        return Ok(None);
    }
    let mut tx = pool.begin().await?;
    let user = outbox::use_token(&mut tx, &tokens::hash_token(token), "verify").await?;
    if let Some(user_id) = user {
        outbox::mark_verified(&mut tx, user_id).await?;
    }
    tx.commit().await?;
    if let Some(user_id) = user {
        log::info!(event = "email_verified", user_id = user_id; "email_verified");
    }
    Ok(user)
}

/// How long the n-th retry (n from 1) waits: `base`, doubling, at most an hour.
pub fn backoff_secs(base: u64, attempts: i32) -> i64 {
    let doublings = attempts.clamp(1, 20) as u32 - 1;
    (base.max(1).saturating_mul(1u64 << doublings)).min(3600) as i64
}

/// Sends what is due: one batch, each email in the batch's transaction (other instances' workers
/// skip the locked rows). The number sent.
pub async fn send_due(pool: &PgPool, mailer: &Mailer, from: &str, retry_base_secs: u64) -> sqlx::Result<usize> {
    let (mut tx, due) = outbox::take_due(pool, 20).await?;
    let mut sent = 0;
    for email in &due {
        let outgoing =
            Outgoing { to: &email.to_address, subject: &email.subject, text: &email.text_body, html: &email.html_body };
        match mailer.send(from, &outgoing).await {
            Ok(()) => {
                outbox::mark_sent(&mut tx, email.id).await?;
                sent += 1;
                log::info!(event = "email_sent", kind = email.kind.as_str(), outbox_id = email.id; "email_sent");
            }
            Err(e) => {
                let attempts = email.attempts + 1;
                // A malformed message will not improve: it waits the longest, for an operator.
                let wait = if e.permanent() { 3600 } else { backoff_secs(retry_base_secs, attempts) };
                outbox::mark_failed(&mut tx, email.id, &e.to_string(), wait).await?;
                log::warn!(event = "email_failed", kind = email.kind.as_str(), outbox_id = email.id,
                    attempts = attempts, retry_in_secs = wait, error = e.to_string().as_str(); "email_failed");
                if matches!(e, MailError::Send(_)) {
                    // The server is likely down: leave the rest for the next round.
                    break;
                }
            }
        }
    }
    tx.commit().await?;
    Ok(sent)
}

/// What the worker needs.
pub struct Worker {
    pub pool: PgPool,
    pub mailer: Arc<Mailer>,
    pub from: String,
    pub poll: Duration,
    pub retry_base_secs: u64,
}

/// Sends the outbox in the background, for as long as the process runs.
pub fn start_worker(worker: Worker) {
    tokio::spawn(async move {
        loop {
            match send_due(&worker.pool, &worker.mailer, &worker.from, worker.retry_base_secs).await {
                Ok(20) => continue,
                Ok(_) => {}
                Err(e) => {
                    log::warn!(event = "email_worker_error", error = e.to_string().as_str(); "email_worker_error")
                }
            }
            tokio::time::sleep(worker.poll).await;
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_from_the_base_up_to_an_hour() {
        assert_eq!(super::backoff_secs(30, 1), 30);
        assert_eq!(super::backoff_secs(30, 2), 60);
        assert_eq!(super::backoff_secs(30, 4), 240);
        assert_eq!(super::backoff_secs(30, 12), 3600);
        assert_eq!(super::backoff_secs(1, 1), 1);
        assert_eq!(super::backoff_secs(0, 100), 3600);
    }
}
