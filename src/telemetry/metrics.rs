//! Prometheus metrics through the `metrics` facade: counters and histograms recorded where
//! things happen, gauges of the database's figures set at scrape time, rendered by
//! metrics-exporter-prometheus. Labels are route patterns and fixed names, never raw paths.
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

/// Seconds: from 1 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Whether anything records: only a portal that serves `/metrics` (a token is configured) pays
/// for metrics.
static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether metrics are recorded in this process (callers may skip measuring what would be lost).
pub fn enabled() -> bool {
    ENABLED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Turns recording on (once a portal with a metrics token ignites; never off again).
pub fn enable() {
    handle();
    ENABLED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The process's recorder (installed once, whatever number of portals the process runs).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder =
            PrometheusBuilder::new().set_buckets(&LATENCY_BUCKETS).expect("buckets are not empty").build_recorder();
        let handle = recorder.handle();
        // Another recorder (a test harness's) may be installed already: ours still renders what
        // it records through the handle only if it is the global one, so say so.
        if let Err(e) = metrics::set_global_recorder(recorder) {
            log::warn!("metrics recorder not installed: {e}");
        }
        handle
    })
}

/// Histograms keep their samples until upkeep folds them into buckets: run it on a timer, so
/// memory stays flat whether or not anyone scrapes.
pub fn start_upkeep() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        tokio::spawn(async {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                handle().run_upkeep();
            }
        });
    });
}

type RequestSeries = HashMap<(usize, &'static str, u16), (Counter, Histogram)>;

thread_local! {
    /// Each worker thread's handles to the series it has recorded: a request costs a small map
    /// lookup and two atomic updates, not a registry lookup with its label hashing.
    static REQUEST_SERIES: RefCell<RequestSeries> = RefCell::new(HashMap::new());
}

/// One answered request: its route (`route_id` tells routes apart cheaply; `route` is the
/// pattern, `-` when no route matched), method and status.
pub fn request(route_id: usize, route: &str, method: &'static str, status: u16, seconds: f64) {
    if !enabled() {
        return;
    }
    REQUEST_SERIES.with(|series| {
        let mut series = series.borrow_mut();
        let (counter, histogram) = series.entry((route_id, method, status)).or_insert_with(|| {
            let route = route.to_owned();
            (
                metrics::counter!("portal_http_requests_total", "route" => route.clone(), "method" => method, "status" => status_label(status)),
                metrics::histogram!("portal_http_request_duration_seconds", "route" => route, "method" => method),
            )
        });
        counter.increment(1);
        histogram.record(seconds);
    });
}

fn status_label(status: u16) -> &'static str {
    // Static strings for the statuses the portal answers with: no allocation per request.
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        303 => "303",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        409 => "409",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        503 => "503",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

/// A request refused by a rate-limit rule.
pub fn rate_limited(rule: &'static str) {
    if !enabled() {
        return;
    }
    metrics::counter!("portal_rate_limited_total", "rule" => rule).increment(1);
}

/// A cache or limiter used its in-process fallback because Redis did not answer.
pub fn redis_fallback(what: &'static str) {
    if !enabled() {
        return;
    }
    metrics::counter!("portal_redis_fallback_total", "cache" => what).increment(1);
}

thread_local! {
    /// Per result (hit, miss, bypass), each fragment's counter.
    static FRAGMENT_SERIES: RefCell<[HashMap<String, Counter>; 3]> = RefCell::new(Default::default());
}

/// A fragment looked up: `hit`, `miss` or `bypass` (Redis down). `name` is the fragment's name
/// up to any `:` (what follows, a period or a time window, would make labels unbounded).
pub fn fragment(name: &str, result: &'static str) {
    if !enabled() {
        return;
    }
    let name = name.split(':').next().unwrap_or(name);
    let slot = match result {
        "hit" => 0,
        "miss" => 1,
        _ => 2,
    };
    FRAGMENT_SERIES.with(|series| {
        let mut series = series.borrow_mut();
        if let Some(counter) = series[slot].get(name) {
            counter.increment(1);
            return;
        }
        let counter =
            metrics::counter!("portal_fragment_cache_total", "fragment" => name.to_owned(), "result" => result);
        counter.increment(1);
        series[slot].insert(name.to_owned(), counter);
    });
}

/// A database read and how long it took (a retried one counts once, with its retry).
pub fn db_read(seconds: f64) {
    if !enabled() {
        return;
    }
    static SERIES: OnceLock<Histogram> = OnceLock::new();
    SERIES.get_or_init(|| metrics::histogram!("portal_db_read_duration_seconds")).record(seconds);
}

/// Figures read from the database at scrape time.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The database answered the snapshot's queries.
    pub database_up: bool,
    /// (node, Unix seconds of its last poll)
    pub node_last_seen: Vec<(String, i64)>,
    /// (currency, minor units paid in the last 30 days)
    pub revenue_30d: Vec<(String, i64)>,
    pub active_users: i64,
    pub pool_size: u32,
    pub pool_idle: u32,
    pub email_backlog: i64,
    /// (node, protocol, open sessions)
    pub vpn_sessions: Vec<(String, String, i64)>,
    /// (status, payments)
    pub payments: Vec<(String, i64)>,
}

/// The text exposition, with the snapshot's gauges set first.
pub fn render(s: &Snapshot) -> String {
    let handle = handle();
    metrics::gauge!("portal_database_up").set(if s.database_up { 1.0 } else { 0.0 });
    metrics::gauge!("portal_db_pool_connections", "state" => "in_use")
        .set(f64::from(s.pool_size.saturating_sub(s.pool_idle)));
    metrics::gauge!("portal_db_pool_connections", "state" => "idle").set(f64::from(s.pool_idle));
    if !s.database_up {
        handle.run_upkeep();
        return handle.render();
    }
    metrics::gauge!("portal_active_users").set(s.active_users as f64);
    metrics::gauge!("portal_email_outbox_backlog").set(s.email_backlog as f64);
    for (node, protocol, open) in &s.vpn_sessions {
        metrics::gauge!("portal_vpn_sessions_open", "node" => node.clone(), "protocol" => protocol.clone())
            .set(*open as f64);
    }
    for (node, seen) in &s.node_last_seen {
        metrics::gauge!("portal_node_last_seen_timestamp_seconds", "node" => node.clone()).set(*seen as f64);
    }
    for (currency, cents) in &s.revenue_30d {
        metrics::gauge!("portal_revenue_30d_minor_units", "currency" => currency.clone()).set(*cents as f64);
    }
    for (status, count) in &s.payments {
        metrics::gauge!("portal_payments", "status" => status.clone()).set(*count as f64);
    }
    handle.run_upkeep();
    handle.render()
}
