//! The JSON the customer API reads and writes, documented by its types (utoipa).
use crate::domain::usage::{DayUsage, UsageOverview};
use crate::store::clients::{Client, ClientSummary};
use crate::store::connections::HistoryRow;
use crate::store::users::AccountSummary;
use crate::vpn::Protocol;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Problem details (RFC 9457), the body of every error.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[schema(example = "about:blank")]
    pub r#type: String,
    #[schema(example = "Unprocessable Entity")]
    pub title: String,
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong, for a person to read.
    pub detail: String,
    /// On 422: each field that is not valid, with its message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldProblem {
    #[schema(example = "name")]
    pub field: String,
    #[schema(example = "Use 3 to 50 letters, digits, '_' or '-'.")]
    pub message: String,
}

/// The server a client connects to.
#[derive(Serialize, ToSchema)]
pub struct NodeRef {
    #[schema(example = "fra-1")]
    pub name: String,
    #[schema(example = "Frankfurt")]
    pub region: String,
}

/// A VPN client (a device's config).
#[derive(Serialize, ToSchema)]
pub struct ClientV2 {
    pub id: Uuid,
    #[schema(example = "laptop")]
    pub name: String,
    #[schema(example = "wireguard")]
    pub protocol: Protocol,
    pub status: ClientStatus,
    /// The client's address in the tunnel (OpenVPN clients get theirs from the server).
    #[schema(example = "10.8.0.2")]
    pub address: Option<String>,
    pub node: NodeRef,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientStatus {
    Active,
    Revoked,
}

fn status_of(s: &str) -> ClientStatus {
    if s == "active" {
        ClientStatus::Active
    } else {
        ClientStatus::Revoked
    }
}

impl From<&ClientSummary> for ClientV2 {
    fn from(c: &ClientSummary) -> Self {
        ClientV2 {
            id: c.id,
            name: c.name.clone(),
            protocol: Protocol::parse(&c.protocol).unwrap_or(Protocol::Wireguard),
            status: status_of(&c.status),
            address: c.address.clone(),
            node: NodeRef { name: c.node_name.clone(), region: c.node_region.clone() },
            created_at: c.created_at,
            revoked_at: c.revoked_at,
        }
    }
}

impl From<&Client> for ClientV2 {
    fn from(c: &Client) -> Self {
        ClientV2::from(&c.summary())
    }
}

/// A page of clients, in the order they were made.
#[derive(Serialize, ToSchema)]
pub struct ClientPage {
    pub data: Vec<ClientV2>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A new client. The same rules as the web form: 3 to 50 letters, digits, `_` or `-`, unique
/// among the account's active clients.
#[derive(Deserialize, ToSchema)]
pub struct NewClientV2 {
    #[serde(default)]
    #[schema(example = "laptop", min_length = 3, max_length = 50, pattern = "^[A-Za-z0-9_-]{3,50}$")]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Protocol, example = "wireguard")]
    pub protocol: String,
    /// A server by id; omitted: the first that offers the protocol.
    #[serde(default)]
    pub node_id: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
pub struct RenameV2 {
    #[serde(default)]
    #[schema(example = "work-laptop", min_length = 3, max_length = 50, pattern = "^[A-Za-z0-9_-]{3,50}$")]
    pub name: String,
}

/// The account behind the token.
#[derive(Serialize, ToSchema)]
pub struct AccountV2 {
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "alice@example.com")]
    pub email: String,
    pub email_verified: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The plan in force now (a current subscription or the free plan); null: none.
    pub plan: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub paid_until: Option<OffsetDateTime>,
    /// Past the data limit this period: clients are off the servers until it resets.
    pub over_limit: bool,
}

impl From<&AccountSummary> for AccountV2 {
    fn from(a: &AccountSummary) -> Self {
        AccountV2 {
            username: a.username.clone(),
            email: a.email.clone(),
            email_verified: a.email_verified,
            created_at: a.created_at,
            plan: a.plan_name.clone(),
            paid_until: a.paid_until,
            over_limit: a.over_limit,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Day {
    /// `YYYY-MM-DD` (UTC).
    #[schema(example = "2026-12-07")]
    pub day: String,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
}

/// Traffic in the current usage period against the limit, and the last 30 days.
#[derive(Serialize, ToSchema)]
pub struct Usage {
    #[schema(example = "2026-12-01")]
    pub period_start: String,
    #[schema(example = "2027-01-01")]
    pub period_end: String,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    /// Bytes allowed per period; null: no limit.
    pub limit_bytes: Option<i64>,
    pub over_limit: bool,
    pub days: Vec<Day>,
}

impl From<&UsageOverview> for Usage {
    fn from(u: &UsageOverview) -> Self {
        let day = |d: &DayUsage| Day { day: d.day.to_string(), rx_bytes: d.rx, tx_bytes: d.tx };
        Usage {
            period_start: u.period_start.to_string(),
            period_end: u.period_end.to_string(),
            rx_bytes: u.rx,
            tx_bytes: u.tx,
            limit_bytes: u.limit,
            over_limit: u.over_limit(),
            days: u.days.iter().map(day).collect(),
        }
    }
}

/// One connection of a client to a server.
#[derive(Serialize, ToSchema)]
pub struct Connection {
    pub id: i64,
    pub client_id: Uuid,
    pub client_name: String,
    pub node: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Null while connected.
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    pub remote_address: Option<String>,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
}

impl From<&HistoryRow> for Connection {
    fn from(r: &HistoryRow) -> Self {
        Connection {
            id: r.id,
            client_id: r.client_id,
            client_name: r.client_name.clone(),
            node: r.node_name.clone(),
            started_at: r.started_at,
            ended_at: r.ended_at,
            remote_address: r.remote_address.clone(),
            rx_bytes: r.rx_bytes,
            tx_bytes: r.tx_bytes,
        }
    }
}

/// A page of connections, newest first.
#[derive(Serialize, ToSchema)]
pub struct ConnectionPage {
    pub data: Vec<Connection>,
    pub next_cursor: Option<String>,
}

/// A client as the old portal's API showed it.
#[derive(Serialize, ToSchema)]
pub struct ClientV1 {
    pub id: Uuid,
    #[schema(example = "laptop")]
    pub client_name: String,
    pub protocol: Protocol,
    pub status: ClientStatus,
    pub address: Option<String>,
    /// The server's name.
    pub server: String,
    pub region: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<ClientV2> for ClientV1 {
    fn from(c: ClientV2) -> Self {
        ClientV1 {
            id: c.id,
            client_name: c.name,
            protocol: c.protocol,
            status: c.status,
            address: c.address,
            server: c.node.name,
            region: c.node.region,
            created_at: c.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ClientListV1 {
    pub clients: Vec<ClientV1>,
}

#[derive(Deserialize, ToSchema)]
pub struct NewClientV1 {
    #[serde(default)]
    #[schema(example = "laptop", min_length = 3, max_length = 50, pattern = "^[A-Za-z0-9_-]{3,50}$")]
    pub client_name: String,
    #[serde(default)]
    #[schema(value_type = Protocol, example = "wireguard")]
    pub protocol: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountV1 {
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub plan: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&AccountSummary> for AccountV1 {
    fn from(a: &AccountSummary) -> Self {
        AccountV1 {
            username: a.username.clone(),
            email: a.email.clone(),
            email_verified: a.email_verified,
            plan: a.plan_name.clone(),
            created_at: a.created_at,
        }
    }
}

/// One event of a node's batch.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NodeEvent {
    /// The node's own sequence number, from 1 up, increasing.
    pub seq: i64,
    pub r#type: NodeEventType,
    /// The client's id.
    pub client: Uuid,
    /// When it happened (RFC 3339).
    #[schema(example = "2026-12-07T10:00:00Z")]
    pub at: String,
    /// `connect` only: the client's address, with or without a port.
    pub remote: Option<String>,
    /// `usage` and `disconnect`: counters since the connection began.
    pub rx_bytes: Option<u64>,
    pub tx_bytes: Option<u64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum NodeEventType {
    Connect,
    Usage,
    Disconnect,
}

/// A node's batch: at most 1,000 events.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NodeEventBatch {
    pub events: Vec<NodeEvent>,
}
