//! Usage and connection history as users see them, and the limits that decide who is served.
//! A usage period runs from the subscription's start in steps of the plan's period; without a
//! subscription (the free plan) it is the calendar month (UTC). The limit is the plan's, capped
//! by a per-user limit an operator may set.
use super::peers;
use crate::cache::{FragmentCache, SessionCache};
use crate::store::{self, connections::HistoryRow};
use sqlx::PgPool;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

pub const HISTORY_PAGE: i64 = 25;
pub const CHART_DAYS: i64 = 30;

/// The first day of the calendar month `now` falls in (the free plan's usage period).
pub fn period_start(now: OffsetDateTime) -> Date {
    now.date().replace_day(1).expect("day 1 exists")
}

/// The first day of the next period.
pub fn period_end(now: OffsetDateTime) -> Date {
    let start = period_start(now);
    let (year, month) = if start.month() == time::Month::December {
        (start.year() + 1, time::Month::January)
    } else {
        (start.year(), start.month().next())
    };
    Date::from_calendar_date(year, month, 1).expect("day 1 exists")
}

/// A day's traffic for the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayUsage {
    pub day: Date,
    pub rx: i64,
    pub tx: i64,
}

/// This period's usage against the limit, and the last 30 days day by day.
#[derive(Debug, Clone)]
pub struct UsageOverview {
    pub period_start: Date,
    pub period_end: Date,
    pub rx: i64,
    pub tx: i64,
    pub limit: Option<i64>,
    pub days: Vec<DayUsage>,
    /// Per client this period: (client id, rx, tx).
    pub per_client: Vec<(Uuid, i64, i64)>,
}

impl UsageOverview {
    pub fn used(&self) -> i64 {
        self.rx.saturating_add(self.tx)
    }

    /// Past the limit: the user's clients are off the nodes until it is raised or the period ends.
    pub fn over_limit(&self) -> bool {
        self.limit.is_some_and(|limit| self.used() >= limit)
    }
}

/// Every one of the last `CHART_DAYS` days up to `today`, zero where nothing was used.
fn fill_days(rows: Vec<(Date, i64, i64)>, today: Date) -> Vec<DayUsage> {
    let first = today - Duration::days(CHART_DAYS - 1);
    (0..CHART_DAYS)
        .map(|i| {
            let day = first + Duration::days(i);
            let (rx, tx) = rows.iter().find(|r| r.0 == day).map_or((0, 0), |r| (r.1, r.2));
            DayUsage { day, rx, tx }
        })
        .collect()
}

/// The user's usage (or one client's, when `client_id` is given; the limit is the user's).
pub async fn overview(pool: &PgPool, user_id: i64, client_id: Option<Uuid>) -> sqlx::Result<UsageOverview> {
    let now = OffsetDateTime::now_utc();
    let entitled = store::billing::entitlement(pool, user_id).await?;
    let (start, end) = match &entitled {
        Some(e) if e.paid => {
            let next = e.period_start + Duration::days(i64::from(e.period_days.unwrap_or(30)));
            (e.period_start.date(), e.current_period_end.map_or(next, |end| end.min(next)).date())
        }
        _ => (period_start(now), period_end(now)),
    };
    let today = now.date();
    let from = start.min(today - Duration::days(CHART_DAYS - 1));
    let rows = match client_id {
        Some(id) => store::usage::client_days(pool, user_id, id, from).await?,
        None => store::usage::user_days(pool, user_id, from).await?,
    };
    let (rx, tx) = rows.iter().filter(|r| r.0 >= start).fold((0i64, 0i64), |(rx, tx), r| (rx + r.1, tx + r.2));
    let per_client = match client_id {
        Some(_) => Vec::new(),
        None => store::usage::per_client_since(pool, user_id, start).await?,
    };
    Ok(UsageOverview {
        period_start: start,
        period_end: end,
        rx,
        tx,
        limit: entitled.and_then(|e| e.data_limit_bytes),
        days: fill_days(rows, today),
        per_client,
    })
}

/// Queues the 80% warning for the user's current period, once (in the caller's transaction).
pub async fn queue_warning(
    conn: &mut sqlx::PgConnection,
    public_url: &str,
    u: &store::usage::LimitedUsage,
) -> sqlx::Result<()> {
    let mail = crate::views::email::usage_warning(
        &u.username,
        &human_bytes(u.used),
        &human_bytes(u.limit),
        &format!("{public_url}/usage"),
    );
    let once = format!("usage80:{}:{}", u.user_id, u.period_start);
    if super::email::queue(conn, &u.email, &mail, Some(&once)).await? {
        log::info!(event = "usage_warning_queued", user_id = u.user_id; "usage_warning_queued");
    }
    Ok(())
}

/// Where a history page starts: after the connection that started at `started_at` with `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub started_at: OffsetDateTime,
    pub id: i64,
}

impl Cursor {
    /// `MICROSECONDS-ID`, as the "older" link carries it.
    pub fn encode(&self) -> String {
        format!("{}-{}", self.started_at.unix_timestamp_nanos() / 1000, self.id)
    }

    pub fn parse(s: &str) -> Option<Cursor> {
        let (micros, id) = s.split_once('-')?;
        let micros: i128 = micros.parse().ok()?;
        let started_at = OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1000)?).ok()?;
        Some(Cursor { started_at, id: id.parse().ok().filter(|id: &i64| *id > 0)? })
    }
}

pub struct HistoryPage {
    pub rows: Vec<HistoryRow>,
    /// The cursor of the next (older) page, if there is one.
    pub older: Option<Cursor>,
}

/// One page of connections, newest first.
pub async fn history(
    pool: &PgPool,
    user_id: i64,
    client_id: Option<Uuid>,
    after: Option<Cursor>,
) -> sqlx::Result<HistoryPage> {
    let mut rows =
        store::connections::history(pool, user_id, client_id, after.map(|c| (c.started_at, c.id)), HISTORY_PAGE + 1)
            .await?;
    let older = if rows.len() as i64 > HISTORY_PAGE {
        rows.truncate(HISTORY_PAGE as usize);
        rows.last().map(|r| Cursor { started_at: r.started_at, id: r.id })
    } else {
        None
    };
    Ok(HistoryPage { rows, older })
}

/// Parses a data limit as an operator writes it: `unlimited`, bytes, or a number with
/// KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB.
pub fn parse_limit(s: &str) -> Result<Option<i64>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("unlimited") || s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let factor: i64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KIB" => 1 << 10,
        "MIB" => 1 << 20,
        "GIB" => 1 << 30,
        "TIB" => 1 << 40,
        _ => return Err(format!("unknown unit {unit:?}: use B, KB, MB, GB, TB (or KiB…TiB) or `unlimited`")),
    };
    let number: i64 = number.parse().map_err(|_| "give a whole number, e.g. 50GB".to_owned())?;
    number.checked_mul(factor).map(Some).ok_or_else(|| "that limit is too large".to_owned())
}

/// Sets a user's data limit; their clients leave or rejoin the peer lists at once.
pub async fn set_data_limit(
    pool: &PgPool,
    fragments: &FragmentCache,
    user_id: i64,
    limit: Option<i64>,
) -> sqlx::Result<bool> {
    if !store::usage::set_data_limit(pool, user_id, limit).await? {
        return Ok(false);
    }
    peers::users_changed(pool, fragments, &[user_id]).await?;
    fragments.invalidate(&user_id.to_string()).await;
    log::info!(event = "data_limit_set", user_id = user_id, limit = limit; "data_limit_set");
    Ok(true)
}

/// Suspends (signing the user out everywhere at once) or reinstates a user; their clients leave
/// or rejoin the peer lists at once.
pub async fn set_user_status(
    pool: &PgPool,
    fragments: &FragmentCache,
    sessions: &SessionCache,
    user_id: i64,
    suspended: bool,
) -> sqlx::Result<bool> {
    let status = if suspended { "suspended" } else { "active" };
    let Some(ended) = store::users::set_status(pool, user_id, status).await? else {
        return Ok(false);
    };
    sessions.forget(&ended).await;
    peers::users_changed(pool, fragments, &[user_id]).await?;
    log::info!(event = "user_status_set", user_id = user_id, status = status; "user_status_set");
    Ok(true)
}

/// Bytes for people: 1.5 GB (powers of 1000, as operators and apps show traffic).
pub fn human_bytes(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if bytes < 1_000 {
        format!("{} B", bytes.max(0))
    } else if bytes < 1_000_000 {
        format!("{:.1} KB", b / 1e3)
    } else if bytes < 1_000_000_000 {
        format!("{:.1} MB", b / 1e6)
    } else if bytes < 1_000_000_000_000 {
        format!("{:.2} GB", b / 1e9)
    } else {
        format!("{:.2} TB", b / 1e12)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn periods_are_calendar_months() {
        assert_eq!(period_start(datetime!(2026-11-29 10:00 UTC)).to_string(), "2026-11-01");
        assert_eq!(period_end(datetime!(2026-12-31 23:59 UTC)).to_string(), "2027-01-01");
        assert_eq!(period_end(datetime!(2026-02-03 00:00 UTC)).to_string(), "2026-03-01");
    }

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = Cursor { started_at: datetime!(2026-11-29 10:00:00.123456 UTC), id: 42 };
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        for junk in ["", "1-", "-1", "x-1", "1-x", "1-0", "99999999999999999999999-1"] {
            assert_eq!(Cursor::parse(junk), None, "{junk}");
        }
    }

    #[test]
    fn limits_parse_with_units() {
        assert_eq!(parse_limit("unlimited"), Ok(None));
        assert_eq!(parse_limit("1500"), Ok(Some(1500)));
        assert_eq!(parse_limit("50GB"), Ok(Some(50_000_000_000)));
        assert_eq!(parse_limit("2 GiB"), Ok(Some(2 << 30)));
        assert!(parse_limit("5 parsecs").is_err());
        assert!(parse_limit("-5GB").is_err());
        assert!(parse_limit("99999999999TB").is_err());
    }

    #[test]
    fn chart_days_are_filled_with_zeroes() {
        let today = datetime!(2026-11-29 0:00 UTC).date();
        let days = fill_days(vec![(today, 5, 7)], today);
        assert_eq!(days.len(), 30);
        assert_eq!(days[29], DayUsage { day: today, rx: 5, tx: 7 });
        assert_eq!(days[0].rx + days[0].tx, 0);
        assert_eq!(human_bytes(1_500_000_000), "1.50 GB");
        assert_eq!(human_bytes(999), "999 B");
    }
}
