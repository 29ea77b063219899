//! The figures monitoring reads at scrape time.
use crate::store::{figures, outbox};
use crate::telemetry::metrics::Snapshot;
use sqlx::PgPool;

/// What the database says now; with the database down, only that (the rest stays unset).
pub async fn snapshot(pool: &PgPool) -> Snapshot {
    let mut s = Snapshot { pool_size: pool.size(), pool_idle: pool.num_idle() as u32, ..Default::default() };
    let read = async {
        s.active_users = figures::active_users(pool).await?;
        s.email_backlog = outbox::backlog(pool).await?;
        s.vpn_sessions = figures::open_vpn_sessions(pool).await?;
        s.payments = figures::payments_by_status(pool).await?;
        s.node_last_seen = figures::node_last_seen(pool).await?;
        s.revenue_30d = figures::revenue_30d(pool).await?;
        Ok::<_, sqlx::Error>(())
    };
    match read.await {
        Ok(()) => s.database_up = true,
        Err(e) => {
            log::warn!(event = "metrics_snapshot_failed", error = e.to_string().as_str(); "metrics_snapshot_failed")
        }
    }
    s
}
