//! The PostgreSQL pool (a rocket_db_pools `Pool` over a current sqlx) and migrations.
use rocket::fairing::{self, AdHoc};
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use rocket_db_pools::{Database, Pool};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub struct PgPool(sqlx::PgPool);

#[rocket::async_trait]
impl Pool for PgPool {
    type Connection = sqlx::pool::PoolConnection<sqlx::Postgres>;
    type Error = rocket_db_pools::Error<sqlx::Error>;

    async fn init(figment: &Figment) -> Result<Self, Self::Error> {
        let config: rocket_db_pools::Config = figment.extract()?;
        let options = PgConnectOptions::from_str(&config.url).map_err(rocket_db_pools::Error::Init)?;
        let pool = PgPoolOptions::new()
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
