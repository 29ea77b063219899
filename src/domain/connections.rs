//! How node events become connection sessions and bytes, one client at a time. Pure: the
//! caller loads the sessions an event batch can touch and saves what changed.
//!
//! Counters are cumulative per connection. A reading taken before the session's last one is
//! late and already covered by it (counted once); a later reading lower than the last is a
//! counter that restarted (a node restart), so it counts from zero and never goes negative.
use crate::store::connections::SessionRow;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Connect { remote: Option<String> },
    Usage { rx: i64, tx: i64 },
    Disconnect { rx: i64, tx: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEvent {
    pub seq: i64,
    pub client: Uuid,
    pub at: OffsetDateTime,
    pub kind: EventKind,
}

/// One client's sessions around a batch's events, oldest first.
pub struct Timeline {
    pub client_id: Uuid,
    pub user_id: i64,
    sessions: Vec<SessionRow>,
    /// Per session: whether it must be written (new sessions have id 0 and are always written).
    dirty: Vec<bool>,
}

impl Timeline {
    pub fn new(client_id: Uuid, user_id: i64, mut sessions: Vec<SessionRow>) -> Timeline {
        sessions.sort_by_key(|s| (s.started_at, s.id));
        let dirty = vec![false; sessions.len()];
        Timeline { client_id, user_id, sessions, dirty }
    }

    /// The session an event at `at` belongs to: the latest started at or before it.
    fn session_at(&self, at: OffsetDateTime) -> Option<usize> {
        self.sessions.iter().rposition(|s| s.started_at <= at)
    }

    fn insert(&mut self, session: SessionRow) -> usize {
        let at = self.sessions.partition_point(|s| s.started_at <= session.started_at);
        self.sessions.insert(at, session);
        self.dirty.insert(at, true);
        at
    }

    fn blank(&self, at: OffsetDateTime, remote: Option<String>, connect_seen: bool) -> SessionRow {
        SessionRow {
            id: 0,
            client_id: self.client_id,
            user_id: self.user_id,
            started_at: at,
            ended_at: None,
            remote_address: remote,
            rx_bytes: 0,
            tx_bytes: 0,
            counter_rx: 0,
            counter_tx: 0,
            counter_at: None,
            connect_seen,
        }
    }

    /// Applies one event; the bytes it adds (rx, tx).
    pub fn apply(&mut self, event: &NodeEvent) -> (i64, i64) {
        let at = event.at;
        match &event.kind {
            EventKind::Connect { remote } => {
                // A connection the node never closed (it restarted) ends at its last reading.
                if let Some(i) = self.session_at(at).filter(|&i| self.sessions[i].ended_at.is_none()) {
                    let s = &mut self.sessions[i];
                    s.ended_at = Some(s.counter_at.unwrap_or(s.started_at).min(at).max(s.started_at));
                    self.dirty[i] = true;
                }
                let session = self.blank(at, remote.clone(), true);
                self.insert(session);
                (0, 0)
            }
            EventKind::Usage { rx, tx } | EventKind::Disconnect { rx, tx } => {
                let i = match self.session_at(at) {
                    Some(i) => i,
                    // Usage before its connect was seen: a session starts here.
                    None => {
                        let session = self.blank(at, None, false);
                        self.insert(session)
                    }
                };
                self.dirty[i] = true;
                let s = &mut self.sessions[i];
                let added = read_counters(s, at, *rx, *tx);
                if matches!(event.kind, EventKind::Disconnect { .. }) {
                    s.ended_at = Some(s.ended_at.map_or(at, |end| end.max(at)));
                }
                added
            }
        }
    }

    /// The sessions to write: new ones (id 0) and changed ones.
    pub fn changed(self) -> impl Iterator<Item = SessionRow> {
        self.sessions.into_iter().zip(self.dirty).filter(|(_, dirty)| *dirty).map(|(s, _)| s)
    }
}

/// Takes a cumulative reading into the session; the bytes it adds.
pub fn read_counters(s: &mut SessionRow, at: OffsetDateTime, rx: i64, tx: i64) -> (i64, i64) {
    if s.counter_at.is_some_and(|last| at < last) {
        return (0, 0);
    }
    let grew = |now: i64, before: i64| if now >= before { now - before } else { now };
    let added = (grew(rx, s.counter_rx), grew(tx, s.counter_tx));
    s.counter_rx = rx;
    s.counter_tx = tx;
    s.counter_at = Some(at);
    s.rx_bytes = s.rx_bytes.saturating_add(added.0);
    s.tx_bytes = s.tx_bytes.saturating_add(added.1);
    added
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn event(seq: i64, at: OffsetDateTime, kind: EventKind) -> NodeEvent {
        NodeEvent { seq, client: Uuid::nil(), at, kind }
    }

    fn usage(rx: i64, tx: i64) -> EventKind {
        EventKind::Usage { rx, tx }
    }

    fn total(t: Timeline) -> (usize, i64, i64) {
        let rows: Vec<_> = t.changed().collect();
        (rows.len(), rows.iter().map(|r| r.rx_bytes).sum(), rows.iter().map(|r| r.tx_bytes).sum())
    }

    #[test]
    fn readings_count_their_growth_once_and_late_ones_add_nothing() {
        let mut t = Timeline::new(Uuid::nil(), 1, vec![]);
        let t0 = datetime!(2026-11-01 10:00 UTC);
        t.apply(&event(1, t0, EventKind::Connect { remote: Some("198.51.100.7:5000".into()) }));
        assert_eq!(t.apply(&event(2, t0 + time::Duration::minutes(1), usage(100, 10))), (100, 10));
        assert_eq!(t.apply(&event(4, t0 + time::Duration::minutes(3), usage(300, 30))), (200, 20));
        // seq 3 arrives after seq 4: its bytes are inside seq 4's reading.
        assert_eq!(t.apply(&event(3, t0 + time::Duration::minutes(2), usage(200, 20))), (0, 0));
        assert_eq!(total(t), (1, 300, 30));
    }

    #[test]
    fn a_counter_that_restarts_counts_from_zero_and_never_goes_back() {
        let mut t = Timeline::new(Uuid::nil(), 1, vec![]);
        let t0 = datetime!(2026-11-01 10:00 UTC);
        t.apply(&event(1, t0, usage(1000, 1000)));
        // The node restarted: its counter starts again from zero.
        assert_eq!(t.apply(&event(2, t0 + time::Duration::minutes(1), usage(50, 5))), (50, 5));
        assert_eq!(
            t.apply(&event(3, t0 + time::Duration::minutes(2), EventKind::Disconnect { rx: 80, tx: 8 })),
            (30, 3)
        );
        let rows: Vec<_> = t.changed().collect();
        assert_eq!(rows.len(), 1);
        assert!(!rows[0].connect_seen, "usage without a connect starts a session");
        assert_eq!((rows[0].rx_bytes, rows[0].tx_bytes), (1080, 1008));
        assert_eq!(rows[0].ended_at, Some(t0 + time::Duration::minutes(2)));
    }

    #[test]
    fn a_new_connect_closes_the_open_session_at_its_last_reading() {
        let t0 = datetime!(2026-11-01 10:00 UTC);
        let mut t = Timeline::new(Uuid::nil(), 1, vec![]);
        t.apply(&event(1, t0, EventKind::Connect { remote: None }));
        t.apply(&event(2, t0 + time::Duration::minutes(5), usage(10, 10)));
        t.apply(&event(3, t0 + time::Duration::hours(1), EventKind::Connect { remote: None }));
        // A late disconnect of the first connection lands on the first session.
        t.apply(&event(4, t0 + time::Duration::minutes(6), EventKind::Disconnect { rx: 20, tx: 20 }));
        let rows: Vec<_> = t.changed().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].ended_at, Some(t0 + time::Duration::minutes(6)));
        assert_eq!((rows[0].rx_bytes, rows[1].rx_bytes), (20, 0));
        assert_eq!(rows[1].ended_at, None);
    }
}
