//! The services every request uses, built once at ignite by `app`.
use crate::auth::node::NodeHints;
use crate::cache::{FragmentCache, NearCache, RateLimiter, Rule, SessionCache};
use crate::config::AppConfig;
use crate::db::Db;
use crate::domain::accounts::LoginRules;
use crate::domain::billing::Billing;
use crate::domain::clients::Clients;
use crate::domain::pki::Pki;
use crate::domain::sessions::Sessions;
use crate::payments::stripe::Stripe;
use crate::vault::Vault;
use std::sync::Arc;

/// The services every request may use, built once at ignite.
pub struct Portal {
    pub config: AppConfig,
    pub sessions: SessionCache,
    pub fragments: FragmentCache,
    /// Sessions and fragments kept in-process, invalidated by Redis (`cache::near`).
    pub near: Arc<NearCache>,
    pub limiter: RateLimiter,
    pub rules: LoginRules,
    /// The Content-Security-Policy, naming the CDN origin of static assets if there is one.
    pub content_security_policy: &'static str,
    pub vault: Vault,
    pub pki: Arc<Pki>,
    /// One client change at a time per user on this instance.
    pub client_turns: crate::domain::turns::Turns,
    /// Failed node-token attempts per IP.
    pub node_auth: Rule,
    /// Which node each token that polled here belongs to (a hint; see `auth::node`).
    pub node_hints: NodeHints,
    /// Card payments, when Stripe (or a compatible provider) is configured.
    pub stripe: Option<Stripe>,
    /// The landing page as every signed-out visitor sees it, rendered on first use.
    pub landing_page: std::sync::OnceLock<Arc<[u8]>>,
}

impl Portal {
    pub fn sessions<'a>(&'a self, db: &'a Db) -> Sessions<'a> {
        Sessions { pool: db.pool(), cache: &self.sessions, config: &self.config }
    }

    pub fn billing<'a>(&'a self, db: &'a Db) -> Billing<'a> {
        Billing {
            pool: db.pool(),
            fragments: &self.fragments,
            stripe: self.stripe.as_ref(),
            public_url: self.config.base_url(),
        }
    }

    pub fn clients<'a>(&'a self, db: &'a Db) -> Clients<'a> {
        Clients {
            pool: db.pool(),
            fragments: &self.fragments,
            limiter: &self.limiter,
            changes: self.rules.client_changes_per_user,
            vault: &self.vault,
            pki: &self.pki,
            turns: &self.client_turns,
            address_grace_hours: self.config.address_grace_hours,
            profile_days: self.config.phazevpn_profile_days,
        }
    }
}
