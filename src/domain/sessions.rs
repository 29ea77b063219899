//! Browser sessions: Postgres is the truth, Redis a five-minute cache in front of it.
use crate::auth::tokens;
use crate::cache::{NearCheck, SessionCache};
use crate::config::AppConfig;
use crate::store;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct ActiveSession {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub role: String,
    pub csrf_token: String,
    #[serde(with = "time::serde::timestamp")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::timestamp")]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
    /// The session was started with a second factor.
    pub two_factor: bool,
    /// The account has two-factor sign-in on.
    pub totp: bool,
}

impl ActiveSession {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }

    /// An admin may use the admin pages only with TOTP on and this session signed in with it.
    pub fn admin_ready(&self) -> bool {
        self.is_admin() && self.totp && self.two_factor
    }
}

/// A session as listed on the account page.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionInfo {
    pub id: i64,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub two_factor: bool,
}

/// Sliding expiry is written at most this often per session.
const TOUCH_EVERY: Duration = Duration::seconds(60);

pub struct Sessions<'a> {
    pub pool: &'a PgPool,
    pub cache: &'a SessionCache,
    pub config: &'a AppConfig,
}

impl Sessions<'_> {
    /// Starts a session for a user who just proved who they are (`two_factor`: with a second
    /// factor too); returns the cookie token.
    pub async fn start(
        &self,
        user_id: i64,
        ip: Option<&str>,
        user_agent: Option<&str>,
        two_factor: bool,
    ) -> sqlx::Result<(String, ActiveSession)> {
        let (token, token_hash) = tokens::new_token();
        let (csrf_token, _) = tokens::new_token();
        let idle = Duration::minutes(self.config.session_idle_minutes);
        let absolute = Duration::days(self.config.session_absolute_days);
        let user_agent = user_agent.map(|ua| truncate(ua, 256));
        let session = store::sessions::insert(
            self.pool,
            store::sessions::NewSession {
                token_hash: &token_hash,
                user_id,
                csrf_token: &csrf_token,
                expires_at: OffsetDateTime::now_utc() + idle.min(absolute),
                ip,
                user_agent: user_agent.as_deref(),
                two_factor,
            },
        )
        .await?;
        self.cache.put(&token_hash, &session).await;
        Ok((token, session))
    }

    /// The live session behind a cookie token, its expiry slid forward.
    pub async fn resolve(&self, token: &str, check: &NearCheck) -> sqlx::Result<Option<ActiveSession>> {
        if !tokens::looks_like_token(token) {
            return Ok(None);
        }
        let token_hash = tokens::hash_token(token);
        let now = OffsetDateTime::now_utc();
        let mut session = match self.cache.get(&token_hash, check).await {
            Some(s) if s.expires_at > now => s,
            _ => match store::sessions::find_active(self.pool, &token_hash).await? {
                Some(s) => {
                    self.cache.put(&token_hash, &s).await;
                    s
                }
                None => return Ok(None),
            },
        };
        if now - session.last_seen_at > TOUCH_EVERY {
            let touched = store::sessions::touch(
                self.pool,
                &token_hash,
                self.config.session_idle_minutes,
                self.config.session_absolute_days,
            )
            .await?;
            let Some((last_seen_at, expires_at)) = touched else {
                self.cache.forget(&[token_hash]).await;
                return Ok(None);
            };
            session.last_seen_at = last_seen_at;
            session.expires_at = expires_at;
            self.cache.put(&token_hash, &session).await;
        }
        Ok(Some(session))
    }

    pub async fn end(&self, token: &str) -> sqlx::Result<()> {
        let token_hash = tokens::hash_token(token);
        store::sessions::delete(self.pool, &token_hash).await?;
        self.cache.forget(&[token_hash]).await;
        Ok(())
    }

    /// Ends one of the user's sessions by id; false if it was not theirs or already gone.
    pub async fn end_by_id(&self, user_id: i64, id: i64) -> sqlx::Result<bool> {
        match store::sessions::delete_by_id(self.pool, user_id, id).await? {
            Some(hash) => {
                self.cache.forget(&[hash]).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Ends every session of the user except the one holding `token`; how many ended.
    pub async fn end_others(&self, user_id: i64, token: &str) -> sqlx::Result<usize> {
        let hashes = store::sessions::delete_others(self.pool, user_id, &tokens::hash_token(token)).await?;
        self.cache.forget(&hashes).await;
        Ok(hashes.len())
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}
