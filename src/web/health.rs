//! Liveness and readiness for load balancers and orchestrators.
use crate::cache::Redis;
use crate::db::Db;
use rocket::http::{ContentType, Status};
use rocket::serde::json::{json, Value};
use rocket::tokio::time::{timeout, Duration};
use rocket::{get, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![healthz, readyz]
}

#[get("/healthz")]
fn healthz() -> (ContentType, &'static str) {
    (ContentType::JSON, r#"{"status":"ok"}"#)
}

/// 200 while PostgreSQL answers within a second (the portal serves without Redis, on its
/// fallbacks, and says so in the body: `"redis": "down", "degraded": true`); 503 without it.
#[get("/readyz")]
async fn readyz(db: &Db, redis: &Redis) -> (Status, Value) {
    let postgres = timeout(Duration::from_secs(1), sqlx::query("SELECT 1").execute(db.pool())).await;
    let postgres_ok = matches!(postgres, Ok(Ok(_)));
    let mut conn = redis.connection();
    let pong = timeout(Duration::from_secs(1), redis::cmd("PING").query_async::<String>(&mut conn)).await;
    let redis_ok = matches!(pong, Ok(Ok(_)));
    let word = |ok: bool| if ok { "ok" } else { "down" };
    let status = if postgres_ok { Status::Ok } else { Status::ServiceUnavailable };
    (
        status,
        json!({
            "status": if status == Status::Ok { "ready" } else { "not ready" },
            "postgres": word(postgres_ok),
            "redis": word(redis_ok),
            "degraded": !redis_ok,
        }),
    )
}
