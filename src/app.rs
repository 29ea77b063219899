//! Assembles Rocket: configuration, fairings, each feature's routes, catchers.
use crate::assets::Assets;
use crate::cache::{self, FragmentCache, Keyring, NearCache, RateLimiter, Redis, Rule, SessionCache};
use crate::config::AppConfig;
use crate::db::{self, Db};
use crate::domain::accounts::LoginRules;
use crate::domain::pki;
use crate::payments::stripe::Stripe;
use crate::state::Portal;
use crate::telemetry::RequestLog;
use crate::vault::Vault;
use crate::{api, web};
use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use rocket_db_pools::Database;
use std::sync::Arc;

pub fn rocket(figment: Figment) -> Rocket<Build> {
    // The portal's TLS clients (the payment provider, SMTP, Sentry) need a process-wide rustls
    // provider; `main` installs one first, and whoever else builds the portal gets it here.
    let _ = rustls::crypto::ring::default_provider().install_default();
    rocket::custom(figment)
        // Rocket's default Shield sets three headers that `SecurityHeaders` sets again (and a
        // Permissions-Policy for the retired FLoC); an empty Shield replaces it.
        .attach(rocket::shield::Shield::new())
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
            if config.metrics_token.as_deref().is_some_and(|t| !t.is_empty()) {
                crate::telemetry::metrics::enable();
            }
            let rules = LoginRules::from_config(&config);
            let node_auth = Rule {
                name: "node_auth_ip",
                limit: config.node_auth_failures_per_ip,
                window: std::time::Duration::from_secs(60),
            };
            let keys = match Vault::secret_bytes(config.secret_key.as_deref()) {
                Ok(secret) => Keyring::new(&config.redis_namespace, &secret),
                Err(e) => {
                    log::error!("{e}");
                    return Err(rocket);
                }
            };
            let mailer = match crate::mail::Mailer::new(config.smtp_url.as_deref(), &config.mail_dir) {
                Ok(mailer) => Arc::new(mailer),
                Err(e) => {
                    log::error!("{e}");
                    return Err(rocket);
                }
            };
            let near = NearCache::new(config.near_cache_mb * 1024 * 1024);
            if config.near_cache_mb > 0 {
                match rocket.figment().extract_inner::<String>("databases.redis.url") {
                    Ok(url) => cache::track(near.clone(), url, vec![keys.key("gen:"), keys.key("sess:")]),
                    Err(e) => log::warn!("near cache off: no Redis URL ({e})"),
                }
            }
            let portal = Portal {
                sessions: SessionCache::new(redis.clone(), keys.clone(), near.clone()),
                fragments: FragmentCache::new(redis.clone(), keys.clone(), near.clone()),
                near,
                limiter: RateLimiter::new(redis, keys, &[&rules.all()[..], &[node_auth]].concat()),
                rules,
                node_auth,
                node_hints: Default::default(),
                client_turns: Default::default(),
                landing_page: Default::default(),
                stripe: match (&config.stripe_secret_key, &config.stripe_webhook_secret) {
                    (Some(key), Some(secret)) if !key.is_empty() && !secret.is_empty() => {
                        Some(Stripe::new(key, secret, &config.stripe_api_base))
                    }
                    _ => None,
                },
                content_security_policy: web::headers::content_security_policy(assets.origin()),
                vault,
                pki,
                config,
            };
            Ok(rocket.manage(portal).manage(assets).manage(mailer))
        }))
        .attach(AdHoc::on_liftoff("Background upkeep: partitions, email", |rocket| {
            Box::pin(async move {
                if let (Some(db), Some(portal)) = (Db::fetch(rocket), rocket.state::<Portal>()) {
                    crate::domain::partitions::start_daily_upkeep(
                        db.pool().clone(),
                        portal.config.connection_retention_months,
                    );
                    crate::telemetry::metrics::start_upkeep();
                    crate::domain::idempotency::start_pruning(db.pool().clone());
                    crate::domain::renewals::start(
                        db.pool().clone(),
                        portal.fragments.clone(),
                        portal.config.base_url().to_owned(),
                        std::time::Duration::from_secs(portal.config.renewals_sweep_secs.max(1)),
                    );
                    if let Some(mailer) = rocket.state::<Arc<crate::mail::Mailer>>() {
                        crate::domain::email::start_worker(crate::domain::email::Worker {
                            pool: db.pool().clone(),
                            mailer: mailer.clone(),
                            from: portal.config.mail_from.clone(),
                            poll: std::time::Duration::from_millis(portal.config.email_poll_ms.max(50)),
                            retry_base_secs: portal.config.email_retry_base_secs,
                        });
                    }
                }
            })
        }))
        .attach(AdHoc::on_ignite("Fault routes (only if configured)", |rocket| async move {
            if rocket.figment().extract_inner::<bool>("fault_routes").unwrap_or(false) {
                log::warn!("PORTAL_FAULT_ROUTES is on: /__fault/panic is mounted");
                rocket.mount("/__fault", web::faults::routes())
            } else {
                rocket
            }
        }))
        .mount("/", web::routes())
        .mount("/api/v1/node", api::node::routes())
        .mount("/api/v1", [api::v1::routes(), api::docs::v1_routes()].concat())
        .mount("/api/v2", [api::v2::routes(), api::docs::v2_routes()].concat())
        .register("/", web::catchers())
        .register("/api", api::common::catchers())
        .register("/api/v1", api::v1::catchers())
        .register("/api/v1/node", api::common::catchers())
}
