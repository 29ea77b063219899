//! Logging in and changing one's own account.
use super::signup::{check_email, check_new_password};
use super::FieldErrors;
use crate::auth::password;
use crate::cache::{Decision, RateLimiter, Rule};
use crate::config::AppConfig;
use crate::store;
use crate::store::users::{AccountSummary, Conflict};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::time::Duration;

/// The one answer to a failed login, whether or not the account exists.
pub const LOGIN_FAILED: &str = "Wrong username, email or password.";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<Conflict> for AccountError {
    fn from(c: Conflict) -> Self {
        match c {
            Conflict::Email => AccountError::Invalid(FieldErrors::single("email", "Another account uses this email.")),
            Conflict::Username => AccountError::Invalid(FieldErrors::single("username", "This username is taken.")),
            Conflict::Db(e) => AccountError::Db(e),
        }
    }
}

pub struct LoginRules {
    pub per_user: Rule,
    pub per_ip: Rule,
    pub signup_per_ip: Rule,
    /// Sign-up attempts per IP, successful or not (a failed one still probes names).
    pub signup_attempts_per_ip: Rule,
    /// Inline "is this name free?" checks per IP, so names cannot be listed at speed.
    pub field_checks_per_ip: Rule,
    /// VPN client creations and revocations per user.
    pub client_changes_per_user: Rule,
    /// Password-reset requests per IP, and per address asked for.
    pub resets_per_ip: Rule,
    pub resets_per_address: Rule,
    /// Verification emails sent again, per user.
    pub verification_resends_per_user: Rule,
    /// Customer API requests per personal access token.
    pub api_per_token: Rule,
    /// Customer API calls without a good token, per IP.
    pub api_auth_failures_per_ip: Rule,
}

impl LoginRules {
    pub fn from_config(config: &AppConfig) -> Self {
        LoginRules {
            per_user: Rule {
                name: "login_user",
                limit: config.login_failures_per_user,
                window: Duration::from_secs(config.login_window_secs),
            },
            per_ip: Rule {
                name: "login_ip",
                limit: config.login_failures_per_ip,
                window: Duration::from_secs(config.login_window_secs),
            },
            signup_per_ip: Rule {
                name: "signup_ip",
                limit: config.signups_per_ip,
                window: Duration::from_secs(config.signup_window_secs),
            },
            signup_attempts_per_ip: Rule {
                name: "signup_attempt_ip",
                limit: config.signup_attempts_per_ip,
                window: Duration::from_secs(config.signup_window_secs),
            },
            field_checks_per_ip: Rule {
                name: "field_check_ip",
                limit: config.field_checks_per_ip,
                window: Duration::from_secs(60),
            },
            client_changes_per_user: Rule {
                name: "client_change_user",
                limit: config.client_changes_per_hour,
                window: Duration::from_secs(60 * 60),
            },
            resets_per_ip: Rule {
                name: "reset_ip",
                limit: config.password_resets_per_ip,
                window: Duration::from_secs(60 * 60),
            },
            resets_per_address: Rule { name: "reset_address", limit: 3, window: Duration::from_secs(60 * 60) },
            verification_resends_per_user: Rule {
                name: "verify_resend_user",
                limit: 3,
                window: Duration::from_secs(60 * 60),
            },
            api_per_token: Rule {
                name: "api_token",
                limit: config.api_requests_per_minute,
                window: Duration::from_secs(60),
            },
            api_auth_failures_per_ip: Rule {
                name: "api_auth_ip",
                limit: config.api_auth_failures_per_ip,
                window: Duration::from_secs(60),
            },
        }
    }

    pub fn all(&self) -> [Rule; 11] {
        [
            self.per_user,
            self.per_ip,
            self.signup_per_ip,
            self.signup_attempts_per_ip,
            self.field_checks_per_ip,
            self.client_changes_per_user,
            self.resets_per_ip,
            self.resets_per_address,
            self.verification_resends_per_user,
            self.api_per_token,
            self.api_auth_failures_per_ip,
        ]
    }
}

/// Who proved their password, and whether a second factor must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordProven {
    pub user_id: i64,
    pub needs_second_factor: bool,
}

/// Whether this instance already knows the IP is refused: such a login attempt gets 429 before
/// its form is even read (`log_in` refuses it the same way, later).
pub fn login_already_refused(limiter: &RateLimiter, rules: &LoginRules, ip: &str) -> Option<u64> {
    match limiter.already_refused(&[(rules.per_ip, ip)]) {
        Decision::Limited { retry_after_secs } => Some(retry_after_secs),
        Decision::Allowed => None,
    }
}

/// Proves a user's password; failures count towards the (IP, login) and IP limits, and past
/// them even the right password is refused until the window passes.
pub async fn log_in(
    pool: &PgPool,
    limiter: &RateLimiter,
    rules: &LoginRules,
    ip: &str,
    login: &str,
    password: &str,
) -> Result<PasswordProven, AccountError> {
    let login = login.trim();
    // Counter keys hold a digest, not the name someone typed.
    let ip_login = format!("{ip}:{}", hex::encode(&Sha256::digest(login.to_lowercase().as_bytes())[..12]));
    let checks = [(rules.per_user, ip_login.as_str()), (rules.per_ip, ip)];
    // Every attempt is counted before the password is checked (and given back if it succeeds),
    // so twelve attempts at once cannot all reach the hash under a limit of five.
    if let Decision::Limited { retry_after_secs } = limiter.take(&checks).await {
        log::info!(event = "login_rate_limited", retry_after_secs = retry_after_secs; "login_rate_limited");
        return Err(AccountError::RateLimited { retry_after_secs });
    }
    // PostgreSQL text cannot hold NUL: such a name cannot exist, so it is not looked up.
    let unusable = login.is_empty() || login.len() > 254 || login.contains('\0');
    let credentials = if unusable || password.len() > password::MAX_LENGTH * 4 {
        None
    } else {
        store::users::find_credentials(pool, login).await?
    };
    let verified = password::verify(password, credentials.as_ref().map(|c| c.password_hash.as_str())).await;
    match credentials {
        Some(c) if verified && c.status == "active" => {
            limiter.give_back(&checks).await;
            log::info!(event = "user_logged_in", user_id = c.id; "user_logged_in");
            Ok(PasswordProven { user_id: c.id, needs_second_factor: c.two_factor })
        }
        _ => {
            log::info!(event = "login_failed"; "login_failed");
            Err(AccountError::Invalid(FieldErrors::single("login", LOGIN_FAILED)))
        }
    }
}

pub(crate) async fn check_current_password(pool: &PgPool, user_id: i64, current: &str) -> Result<(), AccountError> {
    let stored = store::users::password_hash(pool, user_id).await?;
    if password::verify(current, stored.as_deref()).await {
        Ok(())
    } else {
        Err(AccountError::Invalid(FieldErrors::single("current_password", "This is not your current password.")))
    }
}

pub async fn change_password(
    pool: &PgPool,
    user_id: i64,
    username: &str,
    current: &str,
    new: &str,
    confirm: &str,
) -> Result<(), AccountError> {
    let errors = check_new_password(new, confirm, username);
    if !errors.is_empty() {
        return Err(AccountError::Invalid(errors));
    }
    check_current_password(pool, user_id, current).await?;
    let hash = password::hash(new).await;
    store::users::set_password_hash(&mut *pool.acquire().await?, user_id, &hash).await?;
    log::info!(event = "password_changed", user_id = user_id; "password_changed");
    Ok(())
}

/// Changes the address (unconfirmed until the link sent to it is followed).
pub async fn change_email(
    pool: &PgPool,
    public_url: &str,
    user_id: i64,
    email: &str,
    current: &str,
) -> Result<(), AccountError> {
    let email = email.trim();
    check_email(email).map_err(|m| AccountError::Invalid(FieldErrors::single("email", m)))?;
    check_current_password(pool, user_id, current).await?;
    let mut tx = pool.begin().await?;
    store::users::set_email(&mut tx, user_id, email).await?;
    let (username, _) = store::users::contact(&mut tx, user_id).await?;
    super::email::queue_verification(&mut tx, public_url, user_id, &username, email).await?;
    tx.commit().await?;
    log::info!(event = "email_changed", user_id = user_id; "email_changed");
    Ok(())
}

pub async fn summary(pool: &PgPool, user_id: i64) -> sqlx::Result<Option<AccountSummary>> {
    store::users::account_summary(pool, user_id).await
}

/// Makes a user an admin or a user again. Their cached sessions are forgotten, so every instance
/// reads the new role from PostgreSQL on the next request; false if there is no such user.
pub async fn set_role(
    pool: &PgPool,
    sessions: &crate::cache::SessionCache,
    fragments: &crate::cache::FragmentCache,
    user_id: i64,
    role: &str,
) -> Result<bool, AccountError> {
    if !matches!(role, "admin" | "user") {
        return Err(AccountError::Invalid(FieldErrors::single("role", "A role is admin or user.")));
    }
    let Some(hashes) = store::users::set_role(pool, user_id, role).await? else {
        return Ok(false);
    };
    sessions.forget(&hashes).await;
    fragments.invalidate(&user_id.to_string()).await;
    log::info!(event = "user_role_set", user_id = user_id, role = role; "user_role_set");
    Ok(true)
}
