//! The node side of the node API, as a small library: what a node's agent does (and what the
//! `phaze-node-agent` simulator, the tests and the benchmark use). It polls the peers list with
//! its ETag, numbers every event with its own increasing seq, buffers events while the portal
//! cannot be reached and resends from the last acked seq, so nothing is lost or doubled.
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("the portal cannot be reached: {0}")]
    Unreachable(#[from] reqwest::Error),
    #[error("the portal answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("the portal's answer is not JSON: {0}")]
    BadAnswer(#[from] serde_json::Error),
}

/// The peers list, when it changed since the last poll.
pub enum Poll {
    Changed(Value),
    Unchanged,
}

pub struct NodeAgent {
    http: reqwest::Client,
    base: String,
    token: String,
    etag: Option<String>,
    next_seq: i64,
    /// Events not acked yet, oldest first.
    pending: VecDeque<Value>,
    pub batch_size: usize,
}

fn now() -> String {
    OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).expect("formats")
}

impl NodeAgent {
    /// `portal_url` as the node reaches it, e.g. `https://portal.example.com`.
    pub fn new(portal_url: &str, token: &str) -> NodeAgent {
        // HTTPS to a real portal needs a rustls provider; the first one installed stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("HTTP client");
        NodeAgent {
            http,
            base: format!("{}/api/v1/node", portal_url.trim_end_matches('/')),
            token: token.to_owned(),
            etag: None,
            next_seq: 1,
            pending: VecDeque::new(),
            batch_size: 500,
        }
    }

    /// Starts numbering after `acked` (a restarted agent resumes from its saved seq).
    pub fn resume_after(&mut self, acked: i64) {
        self.next_seq = acked + 1;
    }

    async fn check(response: reqwest::Response) -> Result<reqwest::Response, AgentError> {
        let status = response.status().as_u16();
        if status >= 400 {
            let body = response.text().await.unwrap_or_default();
            return Err(AgentError::Refused { status, body });
        }
        Ok(response)
    }

    /// GET peers with the last ETag: the new list, or Unchanged on 304.
    pub async fn poll_peers(&mut self) -> Result<Poll, AgentError> {
        let mut request = self.http.get(format!("{}/peers", self.base)).bearer_auth(&self.token);
        if let Some(etag) = &self.etag {
            request = request.header("If-None-Match", etag);
        }
        let response = Self::check(request.send().await?).await?;
        if response.status().as_u16() == 304 {
            return Ok(Poll::Unchanged);
        }
        self.etag = response.headers().get("ETag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Poll::Changed(serde_json::from_str(&response.text().await?)?))
    }

    /// The CRL (PEM).
    pub async fn crl(&self) -> Result<String, AgentError> {
        let response = self.http.get(format!("{}/crl.pem", self.base)).bearer_auth(&self.token).send().await?;
        Ok(Self::check(response).await?.text().await?)
    }

    fn push(&mut self, mut event: Value) -> i64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        event["seq"] = json!(seq);
        self.pending.push_back(event);
        seq
    }

    pub fn connect(&mut self, client: Uuid, remote: &str) -> i64 {
        self.push(json!({"type": "connect", "client": client, "at": now(), "remote": remote}))
    }

    /// Cumulative bytes of the client's current connection.
    pub fn usage(&mut self, client: Uuid, rx: u64, tx: u64) -> i64 {
        self.push(json!({"type": "usage", "client": client, "at": now(), "rx_bytes": rx, "tx_bytes": tx}))
    }

    pub fn disconnect(&mut self, client: Uuid, rx: u64, tx: u64) -> i64 {
        self.push(json!({"type": "disconnect", "client": client, "at": now(), "rx_bytes": rx, "tx_bytes": tx}))
    }

    /// Events waiting for the portal's ack.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Sends what is pending, a batch at a time, until all is acked or the portal fails; the
    /// last answer. On failure the events stay buffered for the next call.
    pub async fn flush(&mut self) -> Result<Option<Value>, AgentError> {
        let mut last = None;
        while !self.pending.is_empty() {
            let batch: Vec<&Value> = self.pending.iter().take(self.batch_size).collect();
            let response = self
                .http
                .post(format!("{}/events", self.base))
                .bearer_auth(&self.token)
                .header("Content-Type", "application/json")
                .body(json!({ "events": batch }).to_string())
                .send()
                .await?;
            let answer: Value = serde_json::from_str(&Self::check(response).await?.text().await?)?;
            let acked = answer["acked_seq"].as_i64().unwrap_or(0);
            let before = self.pending.len();
            self.pending.retain(|e| e["seq"].as_i64().unwrap_or(0) > acked);
            last = Some(answer);
            if self.pending.len() == before {
                break; // nothing acked (a gap the portal waits for): try again later
            }
        }
        Ok(last)
    }
}
