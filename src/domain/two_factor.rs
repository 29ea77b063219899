//! Two-factor sign-in: TOTP (RFC 6238, by totp-rs) with ten single-use recovery codes. A code
//! is accepted once: the step it belongs to is recorded, and an older or equal step is refused.
use super::sessions::Sessions;
use super::FieldErrors;
use crate::auth::tokens;
use crate::cache::SessionCache;
use crate::store::{self, two_factor as store_2fa};
use crate::vault::Vault;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use totp_rs::{Algorithm, Secret, Totp};

pub const ISSUER: &str = "Phaze VPN";
pub const RECOVERY_CODES: usize = 10;
/// How long the step between password and code lasts.
pub const CHALLENGE_MINUTES: i64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum TwoFactorError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("two-factor sign-in is not set up")]
    NotEnabled,
    #[error("the sealed secret cannot be opened: {0}")]
    Sealed(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn wrong_code() -> TwoFactorError {
    TwoFactorError::Invalid(FieldErrors::single(
        "code",
        "That code is not right (or was used already). Try the current one.",
    ))
}

fn owner(user_id: i64) -> String {
    format!("totp:{user_id}")
}

/// The TOTP of a secret: SHA-1, 6 digits, 30-second steps, one step either way.
pub fn totp(secret: &[u8], username: &str) -> Totp {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
        .with_account_name(username.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build()
        .expect("a 20-byte secret and 6 digits are valid")
}

fn now_secs() -> u64 {
    time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64
}

/// What the setup page shows: the secret as text and as a QR code of its `otpauth://` URI.
pub struct Setup {
    pub secret_base32: String,
    pub uri: String,
    pub qr_svg: String,
}

fn setup_of(secret: &[u8], username: &str) -> Setup {
    let totp = totp(secret, username);
    let uri = totp.to_url().expect("an account name is set");
    Setup {
        secret_base32: totp.secret().to_base32(),
        qr_svg: crate::vpn::qr::svg(&uri).expect("an otpauth URI fits a QR code"),
        uri,
    }
}

/// Starts (or shows again) setting up TOTP: a new secret, sealed, pending until a right code.
pub async fn begin_setup(pool: &PgPool, vault: &Vault, user_id: i64, fresh: bool) -> Result<Setup, TwoFactorError> {
    let state = store_2fa::state(pool, user_id).await?.ok_or(TwoFactorError::NotEnabled)?;
    if let (Some(pending), false) = (&state.pending_sealed, fresh) {
        let secret = vault.open(pending, &owner(user_id)).map_err(|e| TwoFactorError::Sealed(e.to_string()))?;
        return Ok(setup_of(&secret, &state.username));
    }
    let mut secret = [0u8; 20];
    getrandom::fill(&mut secret).expect("OS random source");
    store_2fa::set_pending(pool, user_id, &vault.seal(&secret, &owner(user_id))).await?;
    Ok(setup_of(&secret, &state.username))
}

/// Ten new recovery codes such as `K7QM-2XPD-9RTA` (60 random bits each) and their hashes.
fn new_recovery_codes() -> (Vec<String>, Vec<Vec<u8>>) {
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars = tokens::readable_code(12);
            let code = format!("{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..]);
            let hash = hash_code(&code);
            (code, hash)
        })
        .unzip()
}

/// Codes are compared without dashes, spaces or case.
fn normalise(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

fn hash_code(code: &str) -> Vec<u8> {
    Sha256::digest(normalise(code).as_bytes()).to_vec()
}

/// Turns TOTP on if `code` is right for the pending secret; the recovery codes to show once.
/// `session_id`: the session that proved it counts as signed in with two factors.
pub async fn confirm_setup(
    pool: &PgPool,
    vault: &Vault,
    cache: &SessionCache,
    user_id: i64,
    session_id: Option<i64>,
    code: &str,
) -> Result<Vec<String>, TwoFactorError> {
    let state = store_2fa::state(pool, user_id).await?.ok_or(TwoFactorError::NotEnabled)?;
    let pending = state.pending_sealed.ok_or(TwoFactorError::NotEnabled)?;
    let secret = vault.open(&pending, &owner(user_id)).map_err(|e| TwoFactorError::Sealed(e.to_string()))?;
    let step = totp(&secret, &state.username).check(code.trim(), now_secs()).ok_or_else(wrong_code)?;
    let (codes, hashes) = new_recovery_codes();
    let mut tx = pool.begin().await?;
    if !store_2fa::enable(&mut tx, user_id, &pending, step as i64).await? {
        return Err(wrong_code());
    }
    store_2fa::replace_codes(&mut tx, user_id, &hashes).await?;
    tx.commit().await?;
    if let Some(id) = session_id {
        store_2fa::mark_session_two_factor(pool, id).await?;
    }
    // Cached sessions carry "TOTP off": every instance reads them again.
    cache.forget(&store_2fa::session_hashes(pool, user_id).await?).await;
    log::info!(event = "two_factor_enabled", user_id = user_id; "two_factor_enabled");
    Ok(codes)
}

/// Checks a second factor: a TOTP code (each accepted once) or an unused recovery code.
pub async fn verify(pool: &PgPool, vault: &Vault, user_id: i64, code: &str) -> Result<(), TwoFactorError> {
    let state = store_2fa::state(pool, user_id).await?.ok_or(TwoFactorError::NotEnabled)?;
    let sealed = state.secret_sealed.ok_or(TwoFactorError::NotEnabled)?;
    let code = code.trim();
    if code.len() > 64 {
        return Err(wrong_code());
    }
    let digits = code.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let secret = vault.open(&sealed, &owner(user_id)).map_err(|e| TwoFactorError::Sealed(e.to_string()))?;
        let step = totp(&secret, &state.username).check(&digits, now_secs()).ok_or_else(wrong_code)?;
        if !store_2fa::accept_step(pool, user_id, step as i64).await? {
            log::info!(event = "two_factor_code_replayed", user_id = user_id; "two_factor_code_replayed");
            return Err(wrong_code());
        }
        return Ok(());
    }
    if normalise(code).len() == 12 && store_2fa::use_recovery_code(pool, user_id, &hash_code(code)).await? {
        log::info!(event = "recovery_code_used", user_id = user_id; "recovery_code_used");
        return Ok(());
    }
    Err(wrong_code())
}

/// Proves the password and a current code, for turning TOTP off or making new codes.
async fn reauthenticate(
    pool: &PgPool,
    vault: &Vault,
    user_id: i64,
    current_password: &str,
    code: &str,
) -> Result<(), TwoFactorError> {
    super::accounts::check_current_password(pool, user_id, current_password).await.map_err(|e| match e {
        super::accounts::AccountError::Db(e) => TwoFactorError::Db(e),
        super::accounts::AccountError::Invalid(errors) => TwoFactorError::Invalid(errors),
        other => TwoFactorError::Invalid(FieldErrors::single("current_password", other.to_string())),
    })?;
    verify(pool, vault, user_id, code).await
}

/// New recovery codes (the old ones die); every other session is signed out.
pub async fn regenerate_codes(
    sessions: &Sessions<'_>,
    vault: &Vault,
    user_id: i64,
    session_token: &str,
    current_password: &str,
    code: &str,
) -> Result<Vec<String>, TwoFactorError> {
    let pool = sessions.pool;
    reauthenticate(pool, vault, user_id, current_password, code).await?;
    let (codes, hashes) = new_recovery_codes();
    let mut tx = pool.begin().await?;
    store_2fa::replace_codes(&mut tx, user_id, &hashes).await?;
    tx.commit().await?;
    sessions.end_others(user_id, session_token).await?;
    log::info!(event = "recovery_codes_regenerated", user_id = user_id; "recovery_codes_regenerated");
    Ok(codes)
}

/// Turns TOTP off; every other session is signed out, and the cached copy of this one (which
/// says "TOTP on") forgotten.
pub async fn disable(
    sessions: &Sessions<'_>,
    vault: &Vault,
    user_id: i64,
    session_token: &str,
    current_password: &str,
    code: &str,
) -> Result<(), TwoFactorError> {
    let pool = sessions.pool;
    reauthenticate(pool, vault, user_id, current_password, code).await?;
    let mut tx = pool.begin().await?;
    store_2fa::disable(&mut tx, user_id).await?;
    tx.commit().await?;
    sessions.end_others(user_id, session_token).await?;
    sessions.cache.forget(&[tokens::hash_token(session_token)]).await;
    log::info!(event = "two_factor_disabled", user_id = user_id; "two_factor_disabled");
    Ok(())
}

/// The operator's way out for a user who lost their device: TOTP off, codes gone, every session
/// ended. False: no such user or TOTP was off.
pub async fn reset(pool: &PgPool, cache: &SessionCache, user_id: i64) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let was_on = store_2fa::disable(&mut tx, user_id).await?;
    let ended = store::sessions::delete_all(&mut tx, user_id).await?;
    tx.commit().await?;
    cache.forget(&ended).await;
    log::warn!(event = "two_factor_reset", user_id = user_id, was_on = was_on; "two_factor_reset");
    Ok(was_on)
}

/// Starts the step between password and code: the token for the browser's cookie.
pub async fn challenge(pool: &PgPool, user_id: i64) -> sqlx::Result<String> {
    let (token, hash) = tokens::new_token();
    let expires = time::OffsetDateTime::now_utc() + time::Duration::minutes(CHALLENGE_MINUTES);
    store_2fa::insert_challenge(pool, &hash, user_id, expires).await?;
    Ok(token)
}

/// The user a live challenge token belongs to.
pub async fn challenged_user(pool: &PgPool, token: &str) -> sqlx::Result<Option<i64>> {
    if !tokens::looks_like_token(token) {
        return Ok(None);
    }
    store_2fa::challenge_user(pool, &tokens::hash_token(token)).await
}

/// Ends a challenge once its code was right; false if it expired meanwhile.
pub async fn finish_challenge(pool: &PgPool, token: &str) -> sqlx::Result<bool> {
    Ok(store_2fa::take_challenge(pool, &tokens::hash_token(token)).await?.is_some())
}

pub async fn unused_codes(pool: &PgPool, user_id: i64) -> sqlx::Result<i64> {
    store_2fa::unused_codes(pool, user_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked_within_one_step_either_way_and_no_further() {
        let t = totp(b"12345678901234567890", "ann");
        let now = 1_800_000_000;
        let code = |at: u64| t.generate(at).to_string();
        assert_eq!(t.check(&code(now), now), Some(now / 30));
        assert!(t.check(&code(now - 30), now).is_some());
        assert!(t.check(&code(now + 30), now).is_some());
        assert_eq!(t.check(&code(now - 60), now), None, "two steps ago");
        assert_eq!(t.check("12345", now), None);
    }

    #[test]
    fn recovery_codes_are_distinct_unambiguous_and_forgiving_to_type() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 14);
            assert!(!code.contains(['0', 'O', '1', 'I']));
        }
        assert_eq!(hash_code(&codes[0].to_lowercase().replace('-', " ")), hashes[0]);
    }

    #[test]
    fn the_uri_names_the_issuer_and_account() {
        let setup = setup_of(b"12345678901234567890", "ann");
        assert!(setup.uri.starts_with("otpauth://totp/Phaze%20VPN:ann?"), "{}", setup.uri);
        assert!(setup.uri.contains(&format!("secret={}", setup.secret_base32)));
        assert!(setup.qr_svg.starts_with("<svg"));
    }
}
