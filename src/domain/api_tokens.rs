//! Personal access tokens for the customer API: named, scoped, optionally expiring; 256-bit,
//! shown once and stored as SHA-256; revocable; dead at once when the user is suspended.
use super::FieldErrors;
use crate::auth::tokens;
use crate::store::api_tokens::{self as store, NewToken, TokenHolder, TokenRow};
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};
use validator::Validate;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    ClientsRead,
    ClientsWrite,
    AccountRead,
    UsageRead,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::ClientsRead, Scope::ClientsWrite, Scope::AccountRead, Scope::UsageRead];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ClientsRead => "clients:read",
            Scope::ClientsWrite => "clients:write",
            Scope::AccountRead => "account:read",
            Scope::UsageRead => "usage:read",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Scope::ClientsRead => "List clients and download their configs",
            Scope::ClientsWrite => "Create, rename and revoke clients",
            Scope::AccountRead => "Read the account's name, email and plan",
            Scope::UsageRead => "Read usage and connection history",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }
}

/// How long a new token lives, as the form offers it: days, or none for no expiry.
pub const LIFETIMES: [(&str, &str); 5] =
    [("30", "30 days"), ("90", "90 days"), ("365", "A year"), ("7", "7 days"), ("never", "No expiry")];

/// Live tokens a user may hold at once.
pub const MAX_LIVE: i64 = 50;

/// Uses are written at most this often per token.
const TOUCH_EVERY_SECS: i64 = 60;

/// The form that makes a token.
#[derive(Debug, Clone, Default, Validate)]
pub struct TokenForm {
    #[validate(length(min = 1, max = 60, message = "Give the token a name of 1 to 60 characters."))]
    pub name: String,
    pub scopes: Vec<String>,
    /// Days, or `never`.
    pub lifetime: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token form")]
    Invalid(FieldErrors),
    #[error("You already have {MAX_LIVE} live tokens: revoke one first.")]
    TooMany,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A token just made: the secret is shown this once.
pub struct Created {
    pub id: i64,
    pub token: String,
}

/// The scopes and expiry the form asks for, or each field's message.
fn read_form(form: &TokenForm, now: OffsetDateTime) -> Result<(Vec<Scope>, Option<OffsetDateTime>), FieldErrors> {
    let mut errors = match form.validate() {
        Ok(()) => FieldErrors::default(),
        Err(e) => FieldErrors::from(e),
    };
    if form.name.chars().any(char::is_control) {
        errors.add("name", "The name holds a character that is not text.");
    }
    let mut scopes = Vec::new();
    for s in &form.scopes {
        match Scope::parse(s) {
            Some(scope) if !scopes.contains(&scope) => scopes.push(scope),
            Some(_) => {}
            None => errors.add("scopes", format!("{s:?} is not a scope.")),
        }
    }
    if scopes.is_empty() {
        errors.add("scopes", "Choose at least one scope.");
    }
    let expires_at = match form.lifetime.as_str() {
        "never" => None,
        days => match days.parse::<i64>() {
            Ok(d) if LIFETIMES.iter().any(|(v, _)| *v == days) => Some(now + Duration::days(d)),
            _ => {
                errors.add("lifetime", "Choose how long the token lives.");
                None
            }
        },
    };
    if errors.is_empty() {
        Ok((scopes, expires_at))
    } else {
        Err(errors)
    }
}

pub async fn create(pool: &PgPool, user_id: i64, form: &TokenForm) -> Result<Created, TokenError> {
    let (scopes, expires_at) = read_form(form, OffsetDateTime::now_utc()).map_err(TokenError::Invalid)?;
    let (token, hash) = tokens::new_token();
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let new = NewToken { user_id, name: form.name.trim(), token_hash: &hash, scopes: &scopes, expires_at };
    let id = store::insert(pool, &new, MAX_LIVE).await?.ok_or(TokenError::TooMany)?;
    log::info!(event = "api_token_created", user_id = user_id, token_id = id; "api_token_created");
    Ok(Created { id, token: format!("{PREFIX}{token}") })
}

/// Every token starts with this, so that a leaked one is recognisable (e.g. by secret scanners).
pub const PREFIX: &str = "phz_";

pub async fn list(pool: &PgPool, user_id: i64) -> sqlx::Result<Vec<TokenRow>> {
    store::list_for_user(pool, user_id).await
}

/// Revokes the user's token; false if it is not theirs or already revoked.
pub async fn revoke(pool: &PgPool, user_id: i64, id: i64) -> sqlx::Result<bool> {
    let revoked = store::revoke(pool, user_id, id).await?;
    if revoked {
        log::info!(event = "api_token_revoked", user_id = user_id, token_id = id; "api_token_revoked");
    }
    Ok(revoked)
}

/// Whether the token's state as listed is live, expired or revoked.
pub fn state(row: &TokenRow, now: OffsetDateTime) -> &'static str {
    if row.revoked_at.is_some() {
        "revoked"
    } else if row.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "live"
    }
}

/// Who a presented token speaks for: a live token of an active user. Its use is recorded.
pub async fn authenticate(pool: &PgPool, presented: &str, ip: &str) -> sqlx::Result<Option<TokenHolder>> {
    let Some(secret) = presented.strip_prefix(PREFIX).filter(|s| tokens::looks_like_token(s)) else {
        return Ok(None);
    };
    let holder = store::holder(pool, &tokens::hash_token(secret), TOUCH_EVERY_SECS).await?;
    if let Some(h) = holder.as_ref().filter(|h| h.touch_due) {
        store::touch(pool, h.id, ip).await?;
    }
    Ok(holder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, scopes: &[&str], lifetime: &str) -> TokenForm {
        TokenForm {
            name: name.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            lifetime: lifetime.into(),
        }
    }

    #[test]
    fn forms_are_read_into_scopes_and_an_expiry() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let (scopes, expires) = read_form(&form("ci", &["clients:read", "clients:read"], "30"), now).unwrap();
        assert_eq!(scopes, vec![Scope::ClientsRead]);
        assert_eq!(expires, Some(now + Duration::days(30)));
        assert_eq!(read_form(&form("ci", &["usage:read"], "never"), now).unwrap().1, None);
        let errors = read_form(&form("", &["admin"], "12"), now).unwrap_err();
        assert!(errors.get("name").is_some() && errors.get("scopes").is_some() && errors.get("lifetime").is_some());
        assert!(read_form(&form("x".repeat(61).as_str(), &["usage:read"], "7"), now).is_err());
        assert!(read_form(&form("ci", &[], "7"), now).unwrap_err().get("scopes").is_some());
    }
}
