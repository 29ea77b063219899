//! The PostgreSQL pool (a rocket_db_pools `Pool` over a current sqlx) and migrations.
use rocket::fairing::{self, AdHoc};
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use rocket_db_pools::{Database, Pool};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub struct PgPool(sqlx::PgPool);

const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);
const SUSPECT_FOR_MS: i64 = 5_000;
static SUSPECT_UNTIL_MS: AtomicI64 = AtomicI64::new(0);

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// A connection just died under a query (a restart, a failover, a terminated backend): for the
/// next few seconds every pooled connection is checked before use, so the dead ones are dropped.
pub fn suspect_connections() {
    SUSPECT_UNTIL_MS.store(now_ms() + SUSPECT_FOR_MS, Ordering::Relaxed);
}

fn suspect() -> bool {
    SUSPECT_UNTIL_MS.load(Ordering::Relaxed) > now_ms()
}

#[rocket::async_trait]
impl Pool for PgPool {
    type Connection = sqlx::pool::PoolConnection<sqlx::Postgres>;
    type Error = rocket_db_pools::Error<sqlx::Error>;

    async fn init(figment: &Figment) -> Result<Self, Self::Error> {
        let config: rocket_db_pools::Config = figment.extract()?;
        let options = PgConnectOptions::from_str(&config.url).map_err(rocket_db_pools::Error::Init)?;
        let pool = PgPoolOptions::new()
            // sqlx would ping every connection it hands out: a round trip on every query. Ping
            // only a connection idle for a while, or every one while connections are suspect.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IF_IDLE_FOR || suspect() {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .max_connections(config.max_connections as u32)
            .min_connections(config.min_connections.unwrap_or(0))
            .acquire_timeout(Duration::from_secs(config.connect_timeout))
            .idle_timeout(config.idle_timeout.map(Duration::from_secs))
            .connect_lazy_with(options);
        Ok(PgPool(pool))
    }

    async fn get(&self) -> Result<Self::Connection, Self::Error> {
        self.0.acquire().await.map_err(rocket_db_pools::Error::Get)
    }

    async fn close(&self) {
        self.0.close().await
    }
}

/// The portal's database: `databases.portal` in Rocket.toml.
#[derive(Database)]
#[database("portal")]
pub struct Db(PgPool);

impl Db {
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.0 .0
    }
}

impl From<sqlx::PgPool> for Db {
    fn from(pool: sqlx::PgPool) -> Self {
        Db(PgPool(pool))
    }
}

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn migrate(pool: &sqlx::PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// Runs the migrations at ignite; attach after `Db::init()`.
pub fn migrations() -> AdHoc {
    AdHoc::try_on_ignite("Database migrations", |rocket: Rocket<Build>| async move {
        let Some(db) = Db::fetch(&rocket) else {
            return Err(rocket);
        };
        match migrate(db.pool()).await {
            Ok(()) => fairing::Result::Ok(rocket),
            Err(e) => {
                log::error!("database migrations failed: {e}");
                Err(rocket)
            }
        }
    })
}
