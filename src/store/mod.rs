//! The only place that runs SQL.
pub mod admin_users;
pub mod api_tokens;
pub mod audit;
pub mod billing;
pub mod clients;
pub mod connections;
pub mod figures;
pub mod nodes;
pub mod outbox;
pub mod pki;
pub mod sessions;
pub mod tickets;
pub mod two_factor;
pub mod usage;
pub mod users;

/// Name of the unique constraint a failed insert or update ran into, if any.
pub(crate) fn violated_constraint(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => db.constraint().map(str::to_owned),
        _ => None,
    }
}

/// Whether an error means the connection died under the query (the server restarted, or an
/// operator or failover terminated it), not that the query itself was wrong.
pub fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) => true,
        // admin_shutdown, crash_shutdown, cannot_connect_now.
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// Runs a read, and once more if the first one's connection died under it: a PostgreSQL restart
/// or failover costs a read a retry, not a 5xx. The retry waits a moment first, so that the pool's
/// check of its idle connections sees every one the same event killed, and it gets a live or a
/// new connection. Writes are not retried here; their transactions fail whole and the request
/// answers 503.
pub(crate) async fn read<T, F, Fut>(attempt: F) -> sqlx::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = sqlx::Result<T>>,
{
    if !crate::telemetry::metrics::enabled() {
        return read_once_more(attempt).await;
    }
    let started = std::time::Instant::now();
    let result = read_once_more(attempt).await;
    crate::telemetry::metrics::db_read(started.elapsed().as_secs_f64());
    result
}

async fn read_once_more<T, F, Fut>(attempt: F) -> sqlx::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = sqlx::Result<T>>,
{
    match attempt().await {
        Err(e) if connection_lost(&e) => {
            crate::db::suspect_connections();
            log::warn!(event = "db_read_retried", error = e.to_string().as_str(); "a read lost its database connection; retrying once");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            attempt().await
        }
        done => done,
    }
}
