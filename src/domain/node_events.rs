//! `POST /api/v1/node/events`: a node's batch of connect / usage / disconnect events, each with
//! the node's own increasing `seq`. A repeated seq changes nothing; the answer acks the highest
//! contiguous seq stored, so a node that lost answers resends from there. A bad event is
//! rejected alone (its seq is consumed: resending it will not help) and the rest is stored.
use super::connections::{EventKind, NodeEvent, Timeline};
use super::{peers, usage};
use crate::cache::FragmentCache;
use crate::store;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap, HashSet};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

pub const MAX_BATCH: usize = 1000;
/// How far ahead of the portal's clock a node's clock may be.
const CLOCK_SKEW: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Rejected {
    pub seq: Option<i64>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct IngestReport {
    /// Every seq up to this one is stored (or rejected for good): resend only what follows.
    pub acked_seq: i64,
    pub stored: usize,
    pub duplicates: usize,
    pub rejected: Vec<Rejected>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Body {
    Connect { client: Uuid, at: String, remote: Option<String> },
    Usage { client: Uuid, at: String, rx_bytes: u64, tx_bytes: u64 },
    Disconnect { client: Uuid, at: String, rx_bytes: u64, tx_bytes: u64 },
}

fn bytes(n: u64, field: &str) -> Result<i64, String> {
    i64::try_from(n).map_err(|_| format!("{field} is too large"))
}

fn check_remote(remote: Option<String>) -> Result<Option<String>, String> {
    let Some(remote) = remote.filter(|r| !r.is_empty()) else { return Ok(None) };
    let ok = remote.len() <= 64
        && (remote.parse::<std::net::SocketAddr>().is_ok() || remote.parse::<std::net::IpAddr>().is_ok());
    if ok {
        Ok(Some(remote))
    } else {
        Err("remote must be an IP address, with or without a port".into())
    }
}

/// One event of a batch, checked on its own: its seq (when it has a usable one) and the event
/// or the reason it is refused.
pub fn parse_event(
    value: serde_json::Value,
    now: OffsetDateTime,
    oldest: OffsetDateTime,
) -> (Option<i64>, Result<NodeEvent, String>) {
    let seq = value.get("seq").and_then(serde_json::Value::as_i64).filter(|s| *s > 0);
    let Some(seq) = seq else {
        return (None, Err("seq must be a whole number from 1 up".into()));
    };
    let event = serde_json::from_value::<Body>(value).map_err(|e| e.to_string()).and_then(|body| {
        let (client, at, kind) = match body {
            Body::Connect { client, at, remote } => (client, at, EventKind::Connect { remote: check_remote(remote)? }),
            Body::Usage { client, at, rx_bytes, tx_bytes } => {
                (client, at, EventKind::Usage { rx: bytes(rx_bytes, "rx_bytes")?, tx: bytes(tx_bytes, "tx_bytes")? })
            }
            Body::Disconnect { client, at, rx_bytes, tx_bytes } => (
                client,
                at,
                EventKind::Disconnect { rx: bytes(rx_bytes, "rx_bytes")?, tx: bytes(tx_bytes, "tx_bytes")? },
            ),
        };
        let at = OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
            .map_err(|_| "at must be an RFC 3339 time such as 2026-11-29T10:00:00Z".to_owned())?
            .to_offset(time::UtcOffset::UTC);
        if at > now + CLOCK_SKEW {
            return Err("at is in the future: check the node's clock".into());
        }
        if at < oldest {
            return Err("at is older than the connection history is kept".into());
        }
        Ok(NodeEvent { seq, client, at, kind })
    });
    (Some(seq), event)
}

/// Stores a node's batch; what became of it. Nothing is half-written: one transaction.
pub async fn ingest(
    pool: &PgPool,
    fragments: &FragmentCache,
    node_id: i64,
    batch: Vec<serde_json::Value>,
    retention_months: u32,
    public_url: &str,
) -> Result<IngestReport, sqlx::Error> {
    let now = OffsetDateTime::now_utc();
    let oldest = super::partitions::retention_start(now, retention_months);
    let mut rejected = Vec::new();
    let mut parsed = Vec::with_capacity(batch.len());
    for value in batch {
        match parse_event(value, now, oldest) {
            (seq, Err(reason)) => {
                rejected.push(Rejected { seq, reason });
                if let Some(seq) = seq {
                    parsed.push((seq, None));
                }
            }
            (Some(seq), Ok(event)) => parsed.push((seq, Some(event))),
            (None, Ok(_)) => unreachable!("an event always has its seq"),
        }
    }
    let total = parsed.len();
    let mut tx = pool.begin().await?;
    let watermark = store::connections::lock_watermark(&mut tx, node_id).await?;
    let mut seen = HashSet::new();
    parsed.retain(|(seq, _)| *seq > watermark && seen.insert(*seq));
    let candidates: Vec<i64> = parsed.iter().map(|(seq, _)| *seq).collect();
    let new: HashSet<i64> = store::connections::record_seqs(&mut tx, node_id, &candidates).await?.into_iter().collect();
    let mut fresh: Vec<NodeEvent> =
        parsed.into_iter().filter(|(seq, _)| new.contains(seq)).filter_map(|(_, event)| event).collect();
    let duplicates = total - new.len();
    fresh.sort_by_key(|e| e.seq);

    let ids: Vec<Uuid> = fresh.iter().map(|e| e.client).collect::<HashSet<_>>().into_iter().collect();
    let owners: HashMap<Uuid, i64> =
        store::connections::clients_of_node(&mut tx, node_id, &ids).await?.into_iter().collect();
    fresh.retain(|e| {
        let known = owners.contains_key(&e.client);
        if !known {
            rejected.push(Rejected { seq: Some(e.seq), reason: format!("client {} is not on this node", e.client) });
        }
        known
    });

    let mut windows: BTreeMap<Uuid, (OffsetDateTime, OffsetDateTime)> = BTreeMap::new();
    for e in &fresh {
        let w = windows.entry(e.client).or_insert((e.at, e.at));
        *w = (w.0.min(e.at), w.1.max(e.at));
    }
    let windows: Vec<_> = windows.into_iter().map(|(c, (lo, hi))| (c, lo, hi)).collect();
    let mut by_client: HashMap<Uuid, Vec<_>> = HashMap::new();
    for row in store::connections::sessions_around(&mut tx, &windows).await? {
        by_client.entry(row.client_id).or_default().push(row);
    }
    let mut timelines: HashMap<Uuid, Timeline> = HashMap::new();
    let mut daily: BTreeMap<(Uuid, Date), (i64, i64, i64)> = BTreeMap::new();
    let mut users: HashSet<i64> = HashSet::new();
    for e in &fresh {
        let user_id = owners[&e.client];
        let timeline = timelines
            .entry(e.client)
            .or_insert_with(|| Timeline::new(e.client, user_id, by_client.remove(&e.client).unwrap_or_default()));
        let (rx, tx_bytes) = timeline.apply(e);
        if rx == 0 && tx_bytes == 0 {
            continue;
        }
        let day = daily.entry((e.client, e.at.date())).or_insert((user_id, 0, 0));
        day.1 += rx;
        day.2 += tx_bytes;
        users.insert(user_id);
    }
    let sessions: Vec<_> = timelines.into_values().flat_map(Timeline::changed).collect();
    store::connections::save_sessions(&mut tx, node_id, &sessions).await?;
    let daily: Vec<_> = daily.into_iter().map(|((c, d), (u, rx, txb))| (c, d, u, rx, txb)).collect();
    store::usage::add_daily(&mut tx, &daily).await?;
    let users: Vec<i64> = users.into_iter().collect();
    let mut crossed = Vec::new();
    for limited in store::usage::limited_users_usage(&mut tx, &users).await? {
        // What this batch added to the user's current period (each user's period starts on its own day).
        let added: i64 = daily
            .iter()
            .filter(|(_, day, user, _, _)| *user == limited.user_id && *day >= limited.period_start)
            .map(|(_, _, _, rx, txb)| rx + txb)
            .sum();
        let (used, before) = (limited.used, limited.used - added);
        if used >= limited.limit && before < limited.limit {
            crossed.push(limited.user_id);
        }
        // 80% of the limit: a warning by email, once per period.
        if used.saturating_mul(5) >= limited.limit.saturating_mul(4)
            && before.saturating_mul(5) < limited.limit.saturating_mul(4)
        {
            usage::queue_warning(&mut tx, public_url, &limited).await?;
        }
    }
    let acked_seq = store::connections::advance_watermark(&mut tx, node_id, watermark).await?;
    tx.commit().await?;

    if !crossed.is_empty() {
        // Over the limit: their clients leave every node's peer list at the next poll.
        peers::users_changed(pool, fragments, &crossed).await?;
        for user in &crossed {
            fragments.invalidate(&user.to_string()).await;
            log::info!(event = "data_limit_reached", user_id = *user; "data_limit_reached");
        }
    }
    let stored = fresh.len();
    log::info!(event = "node_events_stored", node_id = node_id, stored = stored, acked_seq = acked_seq; "node_events_stored");
    rejected.sort_by_key(|r| r.seq);
    Ok(IngestReport { acked_seq, stored, duplicates, rejected })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn each_event_is_checked_on_its_own() {
        let now = datetime!(2026-11-29 12:00 UTC);
        let oldest = datetime!(2025-11-01 0:00 UTC);
        let client = Uuid::nil().to_string();
        let ok = json!({"seq": 1, "type": "usage", "client": client, "at": "2026-11-29T11:59:00Z", "rx_bytes": 5, "tx_bytes": 6});
        let (seq, event) = parse_event(ok, now, oldest);
        assert_eq!((seq, event.unwrap().kind), (Some(1), EventKind::Usage { rx: 5, tx: 6 }));
        let cases = [
            (json!({"type": "usage"}), None, "seq"),
            (json!({"seq": 0, "type": "usage"}), None, "seq"),
            (
                json!({"seq": 2, "type": "teleport", "client": client, "at": "2026-11-29T11:00:00Z"}),
                Some(2),
                "unknown variant",
            ),
            (
                json!({"seq": 3, "type": "usage", "client": "nope", "at": "2026-11-29T11:00:00Z", "rx_bytes": 1, "tx_bytes": 1}),
                Some(3),
                "UUID",
            ),
            (
                json!({"seq": 4, "type": "usage", "client": client, "at": "2026-11-29T11:00:00Z", "rx_bytes": -1, "tx_bytes": 1}),
                Some(4),
                "invalid value",
            ),
            (
                json!({"seq": 5, "type": "usage", "client": client, "at": "2027-01-01T00:00:00Z", "rx_bytes": 1, "tx_bytes": 1}),
                Some(5),
                "future",
            ),
            (
                json!({"seq": 6, "type": "usage", "client": client, "at": "2020-01-01T00:00:00Z", "rx_bytes": 1, "tx_bytes": 1}),
                Some(6),
                "older",
            ),
            (
                json!({"seq": 7, "type": "connect", "client": client, "at": "2026-11-29T11:00:00Z", "remote": "<script>"}),
                Some(7),
                "remote",
            ),
            (
                json!({"seq": 8, "type": "disconnect", "client": client, "at": "2026-11-29T11:00:00Z"}),
                Some(8),
                "missing field",
            ),
            (
                json!({"seq": 9, "type": "usage", "client": client, "at": "2026-11-29T11:00:00Z", "rx_bytes": u64::MAX, "tx_bytes": 1}),
                Some(9),
                "too large",
            ),
        ];
        for (value, want_seq, reason) in cases {
            let (seq, event) = parse_event(value, now, oldest);
            assert_eq!(seq, want_seq, "{reason}");
            let err = event.unwrap_err();
            assert!(err.contains(reason), "{err} should mention {reason}");
        }
    }
}
