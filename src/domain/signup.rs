//! Sign-up: the rules for a new account's username, email and password.
use super::FieldErrors;
use crate::auth::password;
use crate::store;
use crate::store::users::Conflict;
use sqlx::PgPool;
use validator::ValidateEmail;

pub const USERNAME_MAX: usize = 32;
pub const EMAIL_MAX: usize = 254;

#[derive(Debug, Default, Clone)]
pub struct SignupForm {
    pub username: String,
    pub email: String,
    pub password: String,
    pub password_confirm: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("invalid sign-up")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// `^[A-Za-z0-9_-]{3,32}$`
pub fn check_username(username: &str) -> Result<(), String> {
    let ok_chars = username.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if username.is_empty() {
        Err("Choose a username.".into())
    } else if !(3..=USERNAME_MAX).contains(&username.len()) || !ok_chars {
        Err("Use 3 to 32 letters, digits, '_' or '-'.".into())
    } else {
        Ok(())
    }
}

pub fn check_email(email: &str) -> Result<(), String> {
    if email.is_empty() {
        Err("Enter your email address.".into())
    } else if email.len() > EMAIL_MAX || !email.validate_email() {
        Err("Enter a valid email address, like name@example.com.".into())
    } else {
        Ok(())
    }
}

pub fn check_new_password(password: &str, confirm: &str, username: &str) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let chars = password.chars().count();
    if chars < password::MIN_LENGTH {
        errors.add("password", format!("Use at least {} characters.", password::MIN_LENGTH));
    } else if chars > password::MAX_LENGTH {
        errors.add("password", format!("Use at most {} characters.", password::MAX_LENGTH));
    } else if password::is_common(password) || password.eq_ignore_ascii_case(username) {
        errors.add("password", "This password is too easy to guess; choose another.");
    }
    if password != confirm {
        errors.add("password_confirm", "The passwords do not match.");
    }
    errors
}

pub fn validate(form: &SignupForm) -> FieldErrors {
    let mut errors = check_new_password(&form.password, &form.password_confirm, &form.username);
    if let Err(m) = check_username(&form.username) {
        errors.add("username", m);
    }
    if let Err(m) = check_email(&form.email) {
        errors.add("email", m);
    }
    errors
}

/// Creates the account, with the email that confirms its address queued in the same
/// transaction; the database's unique constraints decide a race for a name.
pub async fn sign_up(pool: &PgPool, public_url: &str, form: &SignupForm) -> Result<i64, SignupError> {
    let errors = validate(form);
    if !errors.is_empty() {
        return Err(SignupError::Invalid(errors));
    }
    // A taken name costs a lookup, not an argon2 hash; the unique constraints still decide races.
    if store::users::username_taken(pool, &form.username).await? {
        return Err(SignupError::Invalid(FieldErrors::single("username", "This username is taken.")));
    }
    let hash = password::hash(&form.password).await;
    let mut tx = pool.begin().await?;
    let email = form.email.trim();
    match store::users::insert(&mut tx, &form.username, email, &hash, "user", false).await {
        Ok(id) => {
            super::email::queue_verification(&mut tx, public_url, id, &form.username, email).await?;
            tx.commit().await?;
            log::info!(event = "user_signed_up", user_id = id; "user_signed_up");
            Ok(id)
        }
        Err(Conflict::Username) => {
            Err(SignupError::Invalid(FieldErrors::single("username", "This username is taken.")))
        }
        Err(Conflict::Email) => Err(SignupError::Invalid(FieldErrors::single(
            "email",
            "An account with this email already exists. Log in instead?",
        ))),
        Err(Conflict::Db(e)) => Err(e.into()),
    }
}

/// The message for one field as the user types (inline validation), if any.
pub async fn check_field(pool: &PgPool, field: &str, value: &str) -> sqlx::Result<Option<String>> {
    Ok(match field {
        "username" => match check_username(value) {
            Err(m) => Some(m),
            Ok(()) if store::users::username_taken(pool, value).await? => Some("This username is taken.".into()),
            Ok(()) => None,
        },
        "email" => check_email(value.trim()).err(),
        _ => None,
    })
}

/// Creates an administrator (CLI and demo seed).
pub async fn create_admin(pool: &PgPool, username: &str, email: &str, password: &str) -> Result<i64, SignupError> {
    let form = SignupForm {
        username: username.into(),
        email: email.into(),
        password: password.into(),
        password_confirm: password.into(),
    };
    let errors = validate(&form);
    if !errors.is_empty() {
        return Err(SignupError::Invalid(errors));
    }
    let hash = password::hash(password).await;
    let mut conn = pool.acquire().await?;
    match store::users::insert(&mut conn, username, email, &hash, "admin", true).await {
        Ok(id) => {
            log::info!(event = "admin_created", user_id = id; "admin_created");
            Ok(id)
        }
        Err(Conflict::Username) => {
            Err(SignupError::Invalid(FieldErrors::single("username", "This username is taken.")))
        }
        Err(Conflict::Email) => Err(SignupError::Invalid(FieldErrors::single("email", "This email is taken."))),
        Err(Conflict::Db(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_pattern() {
        for ok in ["abc", "A_b-9", &"x".repeat(32)] {
            assert!(check_username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "ab", &"x".repeat(33), "has space", "ünï", "a\0b", "semi;colon"] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_need_length_and_rarity_and_confirmation() {
        assert!(check_new_password("short", "short", "u").get("password").is_some());
        assert!(check_new_password("password123", "password123", "u").get("password").is_some());
        assert!(check_new_password("violet-tractor-1", "violet-tractor-2", "u").get("password_confirm").is_some());
        assert!(check_new_password("violet-tractor-1", "violet-tractor-1", "u").is_empty());
        assert!(check_new_password("myusername1", "myusername1", "MyUsername1").get("password").is_some());
    }

    #[test]
    fn emails_are_validated() {
        assert!(check_email("a@example.com").is_ok());
        assert!(check_email("not-an-email").is_err());
        assert!(check_email("").is_err());
    }
}
