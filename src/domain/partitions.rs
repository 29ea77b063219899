//! Monthly partitions of `connection_sessions`: made ahead (at start and daily), dropped past
//! the retention. A default partition catches anything else, so an insert never fails for want
//! of a partition.
use crate::store;
use sqlx::PgPool;
use time::{Date, Month, OffsetDateTime};

/// The first day of the month `months` before (negative: after) the month of `day`.
fn shift_months(day: Date, months: i32) -> Date {
    let index = day.year() * 12 + (day.month() as i32 - 1) - months;
    let month = Month::try_from((index.rem_euclid(12) + 1) as u8).expect("1..=12");
    Date::from_calendar_date(index.div_euclid(12), month, 1).expect("day 1 exists")
}

/// The oldest moment the history keeps: the start of the month `retention_months` ago.
pub fn retention_start(now: OffsetDateTime, retention_months: u32) -> OffsetDateTime {
    shift_months(now.date(), retention_months as i32).midnight().assume_utc()
}

fn partition_name(month: Date) -> String {
    format!("connection_sessions_y{:04}m{:02}", month.year(), month.month() as u8)
}

fn month_of(name: &str) -> Option<Date> {
    let rest = name.strip_prefix("connection_sessions_y")?;
    let (year, month) = rest.split_once('m')?;
    Date::from_calendar_date(year.parse().ok()?, Month::try_from(month.parse::<u8>().ok()?).ok()?, 1).ok()
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Upkeep {
    pub created: Vec<String>,
    pub dropped: Vec<String>,
}

/// Makes the partitions of this month and the next `months_ahead`, and drops those wholly
/// older than the retention. Instances running it at once take turns (advisory lock).
pub async fn upkeep(
    pool: &PgPool,
    now: OffsetDateTime,
    months_ahead: u32,
    retention_months: u32,
) -> sqlx::Result<Upkeep> {
    let mut tx = pool.begin().await?;
    store::connections::lock_partition_upkeep(&mut tx).await?;
    let existing = store::connections::partitions(&mut tx).await?;
    let keep_from = retention_start(now, retention_months).date();
    let mut done = Upkeep::default();
    for ahead in 0..=months_ahead as i32 {
        let month = shift_months(now.date(), -ahead);
        let name = partition_name(month);
        if !existing.contains(&name) {
            let to = shift_months(month, -1);
            store::connections::create_partition(&mut tx, &name, &month.to_string(), &to.to_string()).await?;
            done.created.push(name);
        }
    }
    for name in existing {
        if month_of(&name).is_some_and(|month| month < keep_from) {
            store::connections::drop_partition(&mut tx, &name).await?;
            done.dropped.push(name);
        }
    }
    tx.commit().await?;
    if !done.created.is_empty() || !done.dropped.is_empty() {
        log::info!(event = "partitions_upkeep", created = done.created.len(), dropped = done.dropped.len(); "partitions_upkeep");
    }
    Ok(done)
}

/// Partitions are kept this many months ahead.
pub const MONTHS_AHEAD: u32 = 2;

/// Runs the upkeep now and then every day, in the background, for as long as the portal runs.
pub fn start_daily_upkeep(pool: PgPool, retention_months: u32) {
    tokio::spawn(async move {
        let mut every_day = tokio::time::interval(std::time::Duration::from_secs(24 * 60 * 60));
        loop {
            every_day.tick().await;
            if let Err(e) = upkeep(&pool, OffsetDateTime::now_utc(), MONTHS_AHEAD, retention_months).await {
                log::error!(event = "partitions_upkeep_failed"; "connection history partitions: {e}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn months_shift_across_years() {
        assert_eq!(shift_months(date!(2026 - 01 - 15), 1), date!(2025 - 12 - 01));
        assert_eq!(shift_months(date!(2026 - 12 - 31), -1), date!(2027 - 01 - 01));
        assert_eq!(shift_months(date!(2026 - 11 - 29), 12), date!(2025 - 11 - 01));
        assert_eq!(retention_start(datetime!(2026-11-29 10:00 UTC), 12), datetime!(2025-11-01 0:00 UTC));
    }

    #[test]
    fn partition_names_round_trip() {
        let name = partition_name(date!(2026 - 03 - 01));
        assert_eq!(name, "connection_sessions_y2026m03");
        assert_eq!(month_of(&name), Some(date!(2026 - 03 - 01)));
        assert_eq!(month_of("connection_sessions_default"), None);
    }
}
