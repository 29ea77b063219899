//! A rocket_db_pools `Pool` over one shared, multiplexed, lazily connected
//! `ConnectionManager` (faster than checking a connection out of a pool per request).
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use rocket::figment::Figment;
use rocket_db_pools::{Database, Pool};
use std::time::Duration;

#[derive(Clone)]
pub struct RedisPool(ConnectionManager);

#[rocket::async_trait]
impl Pool for RedisPool {
    type Connection = ConnectionManager;
    type Error = rocket_db_pools::Error<redis::RedisError>;

    async fn init(figment: &Figment) -> Result<Self, Self::Error> {
        let config: rocket_db_pools::Config = figment.extract()?;
        RedisPool::connect_lazy(&config.url).map_err(rocket_db_pools::Error::Init)
    }

    async fn get(&self) -> Result<Self::Connection, Self::Error> {
        Ok(self.0.clone())
    }

    async fn close(&self) {}
}

impl RedisPool {
    /// Connects on first use, so the portal starts (and serves, degraded) with Redis down.
    pub fn connect_lazy(url: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        Ok(RedisPool(ConnectionManager::new_lazy_with_config(client, config)?))
    }

    pub fn connection(&self) -> ConnectionManager {
        self.0.clone()
    }
}

/// The portal's Redis: `databases.redis` in Rocket.toml.
#[derive(Database)]
#[database("redis")]
pub struct Redis(RedisPool);

impl Redis {
    pub fn connection(&self) -> ConnectionManager {
        self.0.connection()
    }
}
