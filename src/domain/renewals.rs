//! What changes with the clock, not with a write: subscriptions that lapse, next plans that
//! start, usage periods that roll over (peer lists follow), and the "ends in 3 days" email.
use super::{billing, email, peers};
use crate::cache::FragmentCache;
use crate::store::billing as store;
use sqlx::PgPool;
use std::time::Duration;
use time::OffsetDateTime;

pub const ENDING_NOTICE_DAYS: i64 = 3;

/// One sweep over `(since, now]`: the users whose service turned are re-read by every node and
/// page; subscriptions ending soon get their notice (once per end date).
pub async fn sweep(
    pool: &PgPool,
    fragments: &FragmentCache,
    public_url: &str,
    since: OffsetDateTime,
) -> sqlx::Result<OffsetDateTime> {
    let now = OffsetDateTime::now_utc();
    let turned = store::turned_between(pool, since, now).await?;
    if !turned.is_empty() {
        peers::users_changed(pool, fragments, &turned).await?;
        for user in &turned {
            fragments.invalidate(&user.to_string()).await;
        }
        log::info!(event = "subscriptions_turned", users = turned.len(); "subscriptions_turned");
    }
    for (user_id, address, username, plan, ends) in store::ending_within(pool, ENDING_NOTICE_DAYS).await? {
        let mail = crate::views::email::subscription_ending(
            &username,
            &plan,
            &billing::day(ends),
            &format!("{public_url}/billing"),
        );
        let once = format!("ending:{user_id}:{}", ends.unix_timestamp());
        let mut conn = pool.acquire().await?;
        if email::queue(&mut conn, &address, &mail, Some(&once)).await? {
            log::info!(event = "subscription_ending_queued", user_id = user_id; "subscription_ending_queued");
        }
    }
    Ok(now)
}

/// Sweeps every `every` for as long as the process runs.
pub fn start(pool: PgPool, fragments: FragmentCache, public_url: String, every: Duration) {
    tokio::spawn(async move {
        let mut since = OffsetDateTime::now_utc() - time::Duration::seconds(every.as_secs() as i64 * 2);
        loop {
            match sweep(&pool, &fragments, &public_url, since).await {
                Ok(now) => since = now,
                Err(e) => {
                    log::warn!(event = "renewals_sweep_failed", error = e.to_string().as_str(); "renewals_sweep_failed")
                }
            }
            tokio::time::sleep(every).await;
        }
    });
}
