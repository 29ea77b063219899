//! Assembles Rocket: configuration, fairings, each feature's routes, catchers.
use crate::assets::Assets;
use crate::cache::{FragmentCache, RateLimiter, Redis, SessionCache};
use crate::config::AppConfig;
use crate::db::{self, Db};
use crate::domain::accounts::LoginRules;
use crate::domain::sessions::Sessions;
use crate::telemetry::RequestLog;
use crate::web;
use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use rocket_db_pools::Database;

/// The services every request may use, built once at ignite.
pub struct Portal {
    pub config: AppConfig,
    pub sessions: SessionCache,
    pub fragments: FragmentCache,
    pub limiter: RateLimiter,
    pub rules: LoginRules,
    /// The CDN origin of static assets, if any (for the CSP).
    pub asset_origin: String,
}

impl Portal {
    pub fn sessions<'a>(&'a self, db: &'a Db) -> Sessions<'a> {
        Sessions { pool: db.pool(), cache: &self.sessions, config: &self.config }
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
            crate::auth::password::warm_up().await;
            let rules = LoginRules::from_config(&config);
            let portal = Portal {
                sessions: SessionCache::new(redis.clone()),
                fragments: FragmentCache::new(redis.clone()),
                limiter: RateLimiter::new(redis, &rules.all()),
                rules,
                asset_origin: assets.origin().to_owned(),
                config,
            };
            Ok(rocket.manage(portal).manage(assets))
        }))
        .mount("/", web::routes())
        .register("/", web::catchers())
}
