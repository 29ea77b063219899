//! Getting back into an account: password reset by email (a single-use link, one hour), and
//! sending the address-confirmation link again.
use super::accounts::{AccountError, LoginRules};
use super::signup::{check_email, check_new_password};
use super::FieldErrors;
use crate::auth::{password, tokens};
use crate::cache::{Decision, RateLimiter, SessionCache};
use crate::store;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// The one answer to a reset request, whether or not an account has the address.
pub const RESET_SENT: &str =
    "If an account uses this address, we sent it a link to choose a new password. It works for one hour.";

/// Sends a reset link if an active account has `email`; the caller answers `RESET_SENT` either way.
pub async fn request_reset(
    pool: &PgPool,
    limiter: &RateLimiter,
    rules: &LoginRules,
    public_url: &str,
    ip: &str,
    email: &str,
) -> Result<(), AccountError> {
    let email = email.trim();
    check_email(email).map_err(|m| AccountError::Invalid(FieldErrors::single("email", m)))?;
    let address = hex::encode(&Sha256::digest(email.to_lowercase().as_bytes())[..12]);
    let limits = [(rules.resets_per_ip, ip), (rules.resets_per_address, address.as_str())];
    if let Decision::Limited { retry_after_secs } = limiter.take(&limits).await {
        return Err(AccountError::RateLimited { retry_after_secs });
    }
    let Some((user_id, username, email)) = store::users::find_by_email(pool, email).await? else {
        log::info!(event = "password_reset_unknown_address"; "password_reset_unknown_address");
        return Ok(());
    };
    let mut tx = pool.begin().await?;
    let valid = time::Duration::minutes(super::email::RESET_MINUTES);
    let token = super::email::issue_token(&mut tx, user_id, "reset", &email, valid).await?;
    let link = format!("{public_url}/reset-password?token={token}");
    super::email::queue(&mut tx, &email, &crate::views::email::password_reset(&username, &link), None).await?;
    tx.commit().await?;
    log::info!(event = "password_reset_requested", user_id = user_id; "password_reset_requested");
    Ok(())
}

/// Sets a new password with a reset token (used up by this) and ends every session of the user.
pub async fn reset_password(
    pool: &PgPool,
    sessions: &SessionCache,
    token: &str,
    new: &str,
    confirm: &str,
) -> Result<i64, AccountError> {
    let expired = || {
        AccountError::Invalid(FieldErrors::single("token", "This link is used, expired or wrong. Ask for a new one."))
    };
    if !tokens::looks_like_token(token) {
        return Err(expired());
    }
    let errors = check_new_password(new, confirm, "");
    if !errors.is_empty() {
        return Err(AccountError::Invalid(errors));
    }
    let hash = password::hash(new).await;
    let mut tx = pool.begin().await?;
    let user_id = store::outbox::use_token(&mut tx, &tokens::hash_token(token), "reset").await?.ok_or_else(expired)?;
    let (username, _) = store::users::contact(&mut tx, user_id).await?;
    if password::is_common(new) || new.eq_ignore_ascii_case(&username) {
        return Err(AccountError::Invalid(FieldErrors::single(
            "password",
            "This password is too easy to guess; choose another.",
        )));
    }
    store::users::set_password_hash(&mut tx, user_id, &hash).await?;
    // Following the link proves the address too.
    store::outbox::mark_verified(&mut tx, user_id).await?;
    let ended = store::sessions::delete_all(&mut tx, user_id).await?;
    tx.commit().await?;
    sessions.forget(&ended).await;
    log::info!(event = "password_reset", user_id = user_id, sessions_ended = ended.len(); "password_reset");
    Ok(user_id)
}

/// Sends the confirmation link again (to the current address), a few times an hour at most.
/// False: already confirmed.
pub async fn resend_verification(
    pool: &PgPool,
    limiter: &RateLimiter,
    rules: &LoginRules,
    public_url: &str,
    user_id: i64,
) -> Result<bool, AccountError> {
    if store::users::email_verified(pool, user_id).await?.unwrap_or(true) {
        return Ok(false);
    }
    let key = user_id.to_string();
    if let Decision::Limited { retry_after_secs } = limiter.take(&[(rules.verification_resends_per_user, &key)]).await {
        return Err(AccountError::RateLimited { retry_after_secs });
    }
    let mut tx = pool.begin().await?;
    let (username, email) = store::users::contact(&mut tx, user_id).await?;
    super::email::queue_verification(&mut tx, public_url, user_id, &username, &email).await?;
    tx.commit().await?;
    Ok(true)
}
