//! Typed portal configuration, read from Rocket's figment (Rocket.toml, ROCKET_*, PORTAL_*).
use rocket::figment::providers::Env;
use rocket::figment::Figment;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct AppConfig {
    /// Set when the portal is served over TLS (directly or by a proxy): Secure cookies and HSTS.
    pub secure_cookies: bool,
    /// Origin that serves `/static/...` (a CDN), e.g. `https://cdn.example.com`. Empty: same origin.
    pub asset_base_url: String,
    pub static_dir: PathBuf,
    /// `s-maxage` of public pages for a CDN or shared cache.
    pub public_s_maxage: u32,
    /// A session ends after this long without a request (sliding expiry).
    pub session_idle_minutes: i64,
    /// A session ends this long after login, however active.
    pub session_absolute_days: i64,
    pub login_failures_per_user: u32,
    pub login_failures_per_ip: u32,
    pub login_window_secs: u64,
    pub signups_per_ip: u32,
    pub signup_window_secs: u64,
    /// Sign-up attempts (failed ones too) per IP per `signup_window_secs`.
    pub signup_attempts_per_ip: u32,
    /// Inline username checks per IP per minute.
    pub field_checks_per_ip: u32,
    /// A secret: never logged.
    pub sentry_dsn: Option<String>,
    /// Seals private keys at rest (AES-256-GCM): `PORTAL_SECRET_KEY` (or Rocket's
    /// `secret_key`), 32+ random bytes in base64. A secret: never logged.
    pub secret_key: Option<String>,
    /// The portal's address as users reach it, for links in emails and provider redirects.
    pub public_url: String,
    /// Stripe (or a compatible provider): card payments are offered when both are set. Secrets.
    pub stripe_secret_key: Option<String>,
    pub stripe_webhook_secret: Option<String>,
    pub stripe_api_base: String,
    /// Shown with a manual payment's reference: where to send the money.
    pub manual_payment_instructions: String,
    /// `smtp://host:port` (add `?tls=required`, or `smtps://`, and `user:pass@`); empty: emails
    /// are written as .eml files to `mail_dir`. A secret when it holds a password.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub mail_dir: PathBuf,
    /// How often the email worker looks for due emails.
    pub email_poll_ms: u64,
    /// The first retry of a failed email waits this long; each next one twice as long (up to an hour).
    pub email_retry_base_secs: u64,
    /// Password-reset requests per IP per hour.
    pub password_resets_per_ip: u32,
    /// How often subscriptions that lapsed or renewed are looked for.
    pub renewals_sweep_secs: u64,
    /// The bearer token a Prometheus scraper sends to `/metrics`; unset: no `/metrics`. A secret.
    pub metrics_token: Option<String>,
    /// Mounts `/__fault/panic` (tests and staging only).
    pub fault_routes: bool,
    /// VPN client creations plus revocations a user may make per hour.
    pub client_changes_per_hour: u32,
    /// A revoked client's address returns to the pool after this long.
    pub address_grace_hours: i64,
    /// PhazeVPN profiles are valid this long after download.
    pub phazevpn_profile_days: i64,
    /// How often nodes poll their peers; a node is offline after missing two polls.
    pub node_poll_secs: u32,
    /// Connection history is kept this many months (older monthly partitions are dropped).
    pub connection_retention_months: u32,
    /// Prefix of every Redis key, so portals sharing a Redis never meet.
    pub redis_namespace: String,
    /// Failed node-token attempts per IP per minute before 429.
    pub node_auth_failures_per_ip: u32,
    /// Customer API requests per personal access token per minute before 429.
    pub api_requests_per_minute: u32,
    /// Customer API calls with a missing or bad token per IP per minute before 429.
    pub api_auth_failures_per_ip: u32,
    /// Memory for the near cache (sessions and fragments kept in-process, invalidated by Redis);
    /// 0 turns it off.
    pub near_cache_mb: u64,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            secure_cookies: false,
            asset_base_url: String::new(),
            static_dir: PathBuf::from("static"),
            near_cache_mb: 32,
            public_s_maxage: 300,
            session_idle_minutes: 7 * 24 * 60,
            session_absolute_days: 30,
            login_failures_per_user: 5,
            login_failures_per_ip: 20,
            login_window_secs: 15 * 60,
            signups_per_ip: 5,
            signup_window_secs: 60 * 60,
            signup_attempts_per_ip: 20,
            field_checks_per_ip: 60,
            sentry_dsn: None,
            secret_key: None,
            public_url: "http://127.0.0.1:8000".into(),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: "https://api.stripe.com".into(),
            manual_payment_instructions: "Send the amount by bank transfer to the account shown on our contact page, \
                quoting the reference. Your plan starts as soon as the payment is confirmed."
                .into(),
            smtp_url: None,
            mail_from: "Phaze VPN <no-reply@phaze.localhost>".into(),
            mail_dir: PathBuf::from("mail"),
            email_poll_ms: 1000,
            email_retry_base_secs: 30,
            password_resets_per_ip: 5,
            renewals_sweep_secs: 60,
            metrics_token: None,
            fault_routes: false,
            client_changes_per_hour: 30,
            address_grace_hours: 24,
            phazevpn_profile_days: 90,
            node_poll_secs: 30,
            connection_retention_months: 12,
            node_auth_failures_per_ip: 10,
            api_requests_per_minute: 600,
            api_auth_failures_per_ip: 30,
            redis_namespace: "phaze".into(),
        }
    }
}

impl AppConfig {
    /// The public URL without a trailing slash, ready for `{base}/path`.
    pub fn base_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

/// Rocket's figment plus the portal's environment overrides.
pub fn figment() -> Figment {
    let mut figment = rocket::Config::figment().merge(Env::prefixed("PORTAL_").global());
    for (var, key) in [
        ("DATABASE_URL", "databases.portal.url"),
        ("REDIS_URL", "databases.redis.url"),
        ("ASSET_BASE_URL", "asset_base_url"),
        ("SENTRY_DSN", "sentry_dsn"),
        ("PORTAL_SECRET_KEY", "secret_key"),
        ("STRIPE_SECRET_KEY", "stripe_secret_key"),
        ("STRIPE_WEBHOOK_SECRET", "stripe_webhook_secret"),
        ("SMTP_URL", "smtp_url"),
    ] {
        if let Ok(value) = std::env::var(var) {
            figment = figment.merge((key, value));
        }
    }
    figment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_builds_default_to_secure_cookies_and_debug_to_plain_http() {
        let config = |profile: &str| -> AppConfig { figment().select(profile).extract().unwrap() };
        assert!(config("release").secure_cookies, "release assumes TLS unless told otherwise");
        assert!(!config("debug").secure_cookies);
        let plain: AppConfig = figment().select("release").merge(("secure_cookies", false)).extract().unwrap();
        assert!(!plain.secure_cookies, "and can be told so for development");
    }

    #[test]
    fn the_default_loopback_database_url_does_not_pay_for_tls() {
        // Rocket.toml alone, without the environment's DATABASE_URL.
        let url: String = rocket::Config::figment().extract_inner("databases.portal.url").unwrap();
        assert!(url.contains("127.0.0.1") && url.ends_with("?sslmode=disable"), "{url}");
    }
}
