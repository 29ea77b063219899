//! Assembles Rocket: configuration, fairings, each feature's routes, catchers.
use crate::assets::Assets;
use crate::cache::{FragmentCache, RateLimiter, Redis, SessionCache};
use crate::config::AppConfig;
use crate::db::{self, Db};
use crate::domain::accounts::LoginRules;
use crate::domain::clients::Clients;
use crate::domain::pki::{self, Pki};
use crate::domain::sessions::Sessions;
use crate::telemetry::RequestLog;
use crate::vault::Vault;
use crate::web;
use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use rocket_db_pools::Database;
use std::sync::Arc;

/// The services every request may use, built once at ignite.
pub struct Portal {
    pub config: AppConfig,
    pub sessions: SessionCache,
    pub fragments: FragmentCache,
    pub limiter: RateLimiter,
    pub rules: LoginRules,
    /// The CDN origin of static assets, if any (for the CSP).
    pub asset_origin: String,
    pub vault: Vault,
    pub pki: Arc<Pki>,
}

impl Portal {
    pub fn sessions<'a>(&'a self, db: &'a Db) -> Sessions<'a> {
        Sessions { pool: db.pool(), cache: &self.sessions, config: &self.config }
    }

    pub fn clients<'a>(&'a self, db: &'a Db) -> Clients<'a> {
        Clients {
            pool: db.pool(),
            vault: &self.vault,
            pki: &self.pki,
            max_clients: self.config.max_clients,
            address_grace_hours: self.config.address_grace_hours,
            profile_days: self.config.phazevpn_profile_days,
        }
    }
}

pub fn rocket(figment: Figment) -> Rocket<Build> {
    rocket::custom(figment)
        .attach(RequestLog)
        .attach(web::headers::SecurityHeaders)
        .attach(Db::init())
        .attach(Redis::init())
        .attach(db::migrations())
        .attach(AdHoc::try_on_ignite("Portal services", |rocket| async move {
            let config: AppConfig = match rocket.figment().extract() {
                Ok(config) => config,
                Err(e) => {
                    log::error!("invalid portal configuration: {e}");
                    return Err(rocket);
                }
            };
            let assets = match Assets::load(&config.static_dir, &config.asset_base_url) {
                Ok(assets) => assets,
                Err(e) => {
                    log::error!("cannot load static assets from {}: {e}", config.static_dir.display());
                    return Err(rocket);
                }
            };
            let Some(redis) = Redis::fetch(&rocket).map(Redis::connection) else {
                return Err(rocket);
            };
            let vault = match Vault::from_secret(config.secret_key.as_deref()) {
                Ok(vault) => vault,
                Err(e) => {
                    log::error!("{e}");
                    return Err(rocket);
                }
            };
            let Some(db) = Db::fetch(&rocket) else {
                return Err(rocket);
            };
            let pki = match pki::load_or_create(db.pool(), &vault).await {
                Ok(pki) => Arc::new(pki),
                Err(e) => {
                    log::error!("cannot load the certificate authority: {e}");
                    return Err(rocket);
                }
            };
            crate::auth::password::warm_up().await;
            let rules = LoginRules::from_config(&config);
            let portal = Portal {
                sessions: SessionCache::new(redis.clone()),
                fragments: FragmentCache::new(redis.clone()),
                limiter: RateLimiter::new(redis, &rules.all()),
                rules,
                asset_origin: assets.origin().to_owned(),
                vault,
                pki,
                config,
            };
            Ok(rocket.manage(portal).manage(assets))
        }))
        .mount("/", web::routes())
        .register("/", web::catchers())
}
