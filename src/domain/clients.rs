//! VPN clients: create (within the user's limit, with a unique address), configs, rename, revoke.
use super::pki::Pki;
use super::{peers, FieldErrors};
use crate::cache::{Decision, FragmentCache, RateLimiter, Rule};
use crate::store::clients::{Client, ClientConflict, ClientSummary, NewClient};
use crate::store::nodes::Node;
use crate::store::{self};
use crate::vault::{Vault, VaultError};
use crate::vpn::{keys::KeyPair, openvpn, phazevpn, pool::Pool, qr, wireguard, Protocol};
use sqlx::PgPool;
use std::net::Ipv4Addr;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub const NAME_MAX: usize = 50;

#[derive(Debug, Clone, Default)]
pub struct ClientForm {
    pub name: String,
    pub protocol: String,
    /// None: the first node that serves the protocol.
    pub node_id: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid client")]
    Invalid(FieldErrors),
    #[error("client limit reached")]
    LimitReached { max: i32 },
    /// Clients need a confirmed email address.
    #[error("Confirm your email address first: follow the link we sent you.")]
    EmailUnverified,
    /// Neither a current subscription nor a free plan.
    #[error("Choose a plan to create clients.")]
    NoPlan,
    /// Too many addresses held by recently revoked clients (they return after the grace period).
    #[error("address quota reached")]
    AddressesHeld { hours: i64 },
    #[error("too many client changes")]
    RateLimited { retry_after_secs: u64 },
    #[error("no such client")]
    NotFound,
    #[error("the client is revoked")]
    Revoked,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("client keys: {0}")]
    Keys(String),
}

impl ClientError {
    /// What the user is told when the quota of held addresses is reached.
    pub fn user_message(&self) -> String {
        match self {
            ClientError::AddressesHeld { hours } => format!(
                "Clients you revoked recently still hold their addresses (for {hours} hours after revoking). \
                 Try again later."
            ),
            other => other.to_string(),
        }
    }
}

impl From<VaultError> for ClientError {
    fn from(e: VaultError) -> Self {
        ClientError::Keys(e.to_string())
    }
}

impl From<openvpn::PkiError> for ClientError {
    fn from(e: openvpn::PkiError) -> Self {
        ClientError::Keys(e.to_string())
    }
}

/// `^[A-Za-z0-9_-]{3,50}$`
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (3..=NAME_MAX).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err("Use 3 to 50 letters, digits, '_' or '-'.".into())
    }
}

fn key_owner(id: Uuid) -> String {
    format!("client:{id}")
}

/// A downloadable config.
pub struct ConfigFile {
    pub file_name: String,
    /// (top, sub) media type.
    pub media_type: (&'static str, &'static str),
    pub body: String,
}

/// What the client page shows.
pub struct ClientDetails {
    pub client: Client,
    /// QR code (SVG) of the WireGuard config or the PhazeVPN URI.
    pub qr_svg: Option<String>,
    pub uri: Option<String>,
}

pub struct Clients<'a> {
    pub pool: &'a PgPool,
    pub fragments: &'a FragmentCache,
    pub limiter: &'a RateLimiter,
    /// Creations and revocations per user.
    pub changes: Rule,
    pub vault: &'a Vault,
    pub pki: &'a std::sync::Arc<Pki>,
    /// One change at a time per user on this instance (see `turns`).
    pub turns: &'a super::turns::Turns,
    pub address_grace_hours: i64,
    pub profile_days: i64,
}

type Keys = (Option<String>, Vec<u8>, Option<(String, String)>);

/// Addresses a user may hold per client their plan allows: revoked clients keep their address
/// for the grace period, and without a quota create and revoke in a loop would fill a node's
/// pool for everyone.
const HELD_PER_ACTIVE: i64 = 2;

/// A new client's key pair (and certificate, for OpenVPN), its private key sealed for storage.
fn make_keys(protocol: Protocol, id: Uuid, vault: &Vault, pki: &Pki) -> Result<Keys, ClientError> {
    Ok(match protocol {
        Protocol::Wireguard | Protocol::Phazevpn => {
            let pair = KeyPair::generate();
            (Some(pair.public_b64()), vault.seal(pair.private_b64().as_bytes(), &key_owner(id)), None)
        }
        Protocol::Openvpn => {
            let issued = pki.ca.issue_client(&id.to_string())?;
            (None, vault.seal(issued.key_pem.as_bytes(), &key_owner(id)), Some((issued.cert_pem, issued.serial)))
        }
    })
}

impl Clients<'_> {
    /// After a commit that changed the user's clients: their pages and the node's peer list.
    async fn changed(&self, user_id: i64, node_id: i64) {
        self.fragments.invalidate_all(&[user_id.to_string(), peers::owner(node_id)]).await;
    }

    async fn choose_node(&self, protocol: Protocol, node_id: Option<i64>) -> Result<Node, ClientError> {
        let nodes = store::nodes::list(self.pool).await?;
        let chosen = match node_id {
            Some(id) => nodes.into_iter().find(|n| n.id == id),
            None => nodes.into_iter().find(|n| n.serves(protocol.as_str())),
        };
        match chosen {
            Some(node) if node.serves(protocol.as_str()) => Ok(node),
            Some(_) => Err(ClientError::Invalid(FieldErrors::single(
                "node",
                format!("That server does not offer {}.", protocol.label()),
            ))),
            None if node_id.is_some() => {
                Err(ClientError::Invalid(FieldErrors::single("node", "Choose a server from the list.")))
            }
            None => Err(ClientError::Invalid(FieldErrors::single(
                "protocol",
                format!("No server offers {} yet.", protocol.label()),
            ))),
        }
    }

    /// Counts a creation or revocation against the user's limit.
    async fn count_change(&self, user_id: i64) -> Result<(), ClientError> {
        match self.limiter.take(&[(self.changes, &user_id.to_string())]).await {
            Decision::Allowed => Ok(()),
            Decision::Limited { retry_after_secs } => Err(ClientError::RateLimited { retry_after_secs }),
        }
    }

    pub async fn create(&self, user_id: i64, form: &ClientForm) -> Result<Uuid, ClientError> {
        let mut errors = FieldErrors::default();
        if let Err(m) = check_name(&form.name) {
            errors.add("name", m);
        }
        let protocol = Protocol::parse(&form.protocol);
        if protocol.is_none() {
            errors.add("protocol", "Choose WireGuard, OpenVPN or PhazeVPN.");
        }
        let Some(protocol) = protocol.filter(|_| errors.is_empty()) else {
            return Err(ClientError::Invalid(errors));
        };
        // Whether the user may have one more client (a confirmed address, a plan, its limits) is
        // asked in the insert itself; only a refused insert reads why (`insert_slow`).
        let node = self.choose_node(protocol, form.node_id).await?;
        self.count_change(user_id).await?;
        let id = Uuid::new_v4();
        // Keys and certificates are made before the transaction (so it holds the user's lock only
        // briefly) and on the blocking pool, not on the async workers that serve requests.
        let (vault, pki) = (self.vault.clone(), std::sync::Arc::clone(self.pki));
        let (public_key, sealed, cert) = tokio::task::spawn_blocking(move || make_keys(protocol, id, &vault, &pki))
            .await
            .map_err(|e| ClientError::Keys(format!("key generation stopped: {e}")))??;
        let address_pool = Pool::parse(&node.address_pool).ok_or_else(|| ClientError::Keys("node pool".into()))?;
        let range = match protocol {
            Protocol::Openvpn => address_pool.openvpn_client_range(),
            Protocol::Wireguard | Protocol::Phazevpn => address_pool.client_range(),
        };
        let (first, last) = (range.0.to_string(), range.1.to_string());
        let bounds = (first.as_str(), last.as_str());
        let new = NewClient {
            id,
            user_id,
            node_id: node.id,
            name: &form.name,
            protocol: protocol.as_str(),
            public_key: public_key.as_deref(),
            private_key_sealed: &sealed,
            cert_pem: cert.as_ref().map(|c| c.0.as_str()),
            cert_serial: cert.as_ref().map(|c| c.1.as_str()),
            address: None,
        };
        let turn = self.turns.take(user_id).await;
        // Two users may pick the same free address at once: the unique constraint decides, the loser retries.
        for _ in 0..16 {
            // Every client has its own address, so one address always means one client in the
            // history: WireGuard and PhazeVPN from the lower half, OpenVPN from the upper. Addresses
            // are handed out upwards, in one statement committed on its own; a released one is used
            // again once the top is reached.
            let inserted =
                match store::clients::insert_next(self.pool, &new, bounds, HELD_PER_ACTIVE, self.address_grace_hours)
                    .await
                {
                    Ok(Some(_)) => Ok(()),
                    Ok(None) => match self.insert_slow(&new, &address_pool, protocol).await {
                        Err(refused @ (ClientError::EmailUnverified | ClientError::NoPlan)) => {
                            // Not a change the user made: it does not count against their hourly limit.
                            self.limiter.give_back(&[(self.changes, &user_id.to_string())]).await;
                            return Err(refused);
                        }
                        other => other?,
                    },
                    Err(conflict) => Err(conflict),
                };
            match inserted {
                Ok(()) => {
                    drop(turn);
                    self.changed(user_id, node.id).await;
                    log::info!(event = "client_created", user_id = user_id, protocol = protocol.as_str(); "client_created");
                    return Ok(id);
                }
                Err(ClientConflict::Name) => {
                    return Err(ClientError::Invalid(FieldErrors::single(
                        "name",
                        "You already have a client with this name.",
                    )))
                }
                Err(ClientConflict::Address) => continue,
                Err(ClientConflict::Db(e)) => return Err(e.into()),
            }
        }
        Err(ClientError::Db(sqlx::Error::PoolTimedOut))
    }

    /// Why the one-statement insert inserted nothing (no confirmed address, no plan, a limit), or
    /// else the client in a free gap of the node's range.
    async fn insert_slow(
        &self,
        new: &NewClient<'_>,
        address_pool: &Pool,
        protocol: Protocol,
    ) -> Result<Result<(), ClientConflict>, ClientError> {
        let entitled = store::billing::entitlement(self.pool, new.user_id).await?.ok_or(ClientError::NotFound)?;
        if !entitled.email_verified {
            return Err(ClientError::EmailUnverified);
        }
        if entitled.plan_id.is_none() {
            return Err(ClientError::NoPlan);
        }
        let limits = store::clients::Limits {
            max_active: i64::from(entitled.max_clients),
            max_held: HELD_PER_ACTIVE * i64::from(entitled.max_clients),
            grace_hours: self.address_grace_hours,
        };
        self.insert_in_gap(new, &limits, address_pool, protocol).await
    }

    /// Over a limit (which one?), or the range is used up and the client goes into the lowest
    /// gap, under the user's lock. Ok(Err(_)): a conflict to retry or report.
    async fn insert_in_gap(
        &self,
        new: &NewClient<'_>,
        limits: &store::clients::Limits,
        address_pool: &Pool,
        protocol: Protocol,
    ) -> Result<Result<(), ClientConflict>, ClientError> {
        let mut tx = store::clients::begin_locked(self.pool, new.user_id).await?;
        let (active, held) = store::clients::room(&mut tx, new.user_id, self.address_grace_hours).await?;
        if active >= limits.max_active {
            return Err(ClientError::LimitReached { max: limits.max_active as i32 });
        }
        if held >= limits.max_held {
            return Err(ClientError::AddressesHeld { hours: self.address_grace_hours });
        }
        store::clients::release_addresses(&mut tx, new.node_id, self.address_grace_hours).await?;
        let taken: std::collections::HashSet<Ipv4Addr> = store::clients::taken_addresses(&mut tx, new.node_id)
            .await?
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        let free = match protocol {
            Protocol::Openvpn => address_pool.first_free_openvpn(&taken),
            Protocol::Wireguard | Protocol::Phazevpn => address_pool.first_free(&taken),
        };
        let Some(free) = free else {
            return Err(ClientError::Invalid(FieldErrors::single("node", "This server is full; choose another.")));
        };
        let address = free.to_string();
        match store::clients::insert(&mut tx, &NewClient { address: Some(&address), ..*new }).await {
            Ok(()) => {
                tx.commit().await?;
                Ok(Ok(()))
            }
            Err(conflict) => Ok(Err(conflict)),
        }
    }

    pub async fn list(&self, user_id: i64) -> Result<Vec<ClientSummary>, ClientError> {
        Ok(store::clients::list_for_user(self.pool, user_id).await?)
    }

    /// Up to `limit` of the user's clients in the order they were made, after `after`, and
    /// whether more follow.
    pub async fn page(
        &self,
        user_id: i64,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: i64,
    ) -> Result<(Vec<ClientSummary>, bool), ClientError> {
        let mut rows = store::clients::page_for_user(self.pool, user_id, after, limit + 1).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        Ok((rows, more))
    }

    async fn find(&self, user_id: i64, id: Uuid) -> Result<(Client, Node), ClientError> {
        let client = store::clients::find_for_user(self.pool, user_id, id).await?.ok_or(ClientError::NotFound)?;
        let node = store::nodes::find(self.pool, client.node_id).await?.ok_or(ClientError::NotFound)?;
        Ok((client, node))
    }

    /// The client's config file; only its owner gets it, and only while it is active.
    pub async fn config(&self, user_id: i64, id: Uuid) -> Result<ConfigFile, ClientError> {
        let (client, node) = self.find(user_id, id).await?;
        if client.status != "active" {
            return Err(ClientError::Revoked);
        }
        self.render_config(&client, &node)
    }

    fn render_config(&self, client: &Client, node: &Node) -> Result<ConfigFile, ClientError> {
        let private = self.vault.open_string(&client.private_key_sealed, &key_owner(client.id))?;
        let address =
            || client.address.as_deref().and_then(|a| a.parse::<Ipv4Addr>().ok()).ok_or(ClientError::NotFound);
        match Protocol::parse(&client.protocol) {
            Some(Protocol::Wireguard) => Ok(ConfigFile {
                file_name: format!("{}.conf", client.name),
                media_type: ("text", "plain"),
                body: wireguard::client_config(&wireguard::ClientConfig {
                    private_key: &private,
                    address: address()?,
                    dns: &node.dns,
                    server_public_key: &node.wg_public_key,
                    endpoint: &format!("{}:{}", node.host, node.wireguard_port),
                }),
            }),
            Some(Protocol::Openvpn) => Ok(ConfigFile {
                file_name: format!("{}.ovpn", client.name),
                media_type: ("application", "x-openvpn-profile"),
                body: openvpn::client_profile(&openvpn::ClientProfile {
                    remote_host: &node.host,
                    remote_port: node.openvpn_port as u16,
                    ca_pem: &self.pki.ca_cert_pem,
                    cert_pem: client.cert_pem.as_deref().unwrap_or_default(),
                    key_pem: &private,
                    tls_crypt_key: &self.pki.tls_crypt_key,
                }),
            }),
            Some(Protocol::Phazevpn) => Ok(ConfigFile {
                file_name: format!("{}.phazevpn.json", client.name),
                media_type: ("application", "json"),
                body: self.profile(client, node, &private, address()?).to_json(),
            }),
            None => Err(ClientError::NotFound),
        }
    }

    fn profile(&self, client: &Client, node: &Node, private: &str, address: Ipv4Addr) -> phazevpn::Profile {
        phazevpn::Profile {
            version: phazevpn::VERSION,
            client_id: client.id.to_string(),
            name: client.name.clone(),
            endpoints: vec![phazevpn::Endpoint { host: node.host.clone(), port: node.phazevpn_port as u16 }],
            client_private_key: private.to_owned(),
            client_public_key: client.public_key.clone().unwrap_or_default(),
            server_public_key: node.wg_public_key.clone(),
            address: format!("{address}/32"),
            dns: node.dns.split(',').map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()).collect(),
            expires_at: (OffsetDateTime::now_utc() + Duration::days(self.profile_days))
                .replace_nanosecond(0)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        }
    }

    /// The client page's data; `with_codes` adds the QR code and profile link (which open its key).
    pub async fn details(&self, user_id: i64, id: Uuid, with_codes: bool) -> Result<ClientDetails, ClientError> {
        if !with_codes {
            // The client row carries its node's name and region: no node read needed.
            let client = store::clients::find_for_user(self.pool, user_id, id).await?.ok_or(ClientError::NotFound)?;
            return Ok(ClientDetails { client, qr_svg: None, uri: None });
        }
        let (client, node) = self.find(user_id, id).await?;
        if client.status != "active" {
            return Ok(ClientDetails { client, qr_svg: None, uri: None });
        }
        let (qr_svg, uri) = match Protocol::parse(&client.protocol) {
            Some(Protocol::Wireguard) => (qr::svg(&self.render_config(&client, &node)?.body), None),
            Some(Protocol::Phazevpn) => {
                let private = self.vault.open_string(&client.private_key_sealed, &key_owner(client.id))?;
                let address = client.address.as_deref().and_then(|a| a.parse().ok()).ok_or(ClientError::NotFound)?;
                let uri = self.profile(&client, &node, &private, address).to_uri();
                (qr::svg(&uri), Some(uri))
            }
            _ => (None, None),
        };
        Ok(ClientDetails { client, qr_svg, uri })
    }

    pub async fn rename(&self, user_id: i64, id: Uuid, name: &str) -> Result<(), ClientError> {
        check_name(name).map_err(|m| ClientError::Invalid(FieldErrors::single("name", m)))?;
        match store::clients::rename(self.pool, user_id, id, name).await {
            Ok(true) => {
                self.fragments.invalidate(&user_id.to_string()).await;
                Ok(())
            }
            Ok(false) => match store::clients::find_for_user(self.pool, user_id, id).await? {
                Some(_) => Err(ClientError::Revoked),
                None => Err(ClientError::NotFound),
            },
            Err(ClientConflict::Name) => {
                Err(ClientError::Invalid(FieldErrors::single("name", "You already have a client with this name.")))
            }
            Err(ClientConflict::Address) => Err(ClientError::NotFound),
            Err(ClientConflict::Db(e)) => Err(e.into()),
        }
    }

    /// A state change, never a delete: the client stays listed as revoked, its certificate goes
    /// on the CRL and its address is released after the grace period.
    pub async fn revoke(&self, user_id: i64, id: Uuid) -> Result<(), ClientError> {
        self.count_change(user_id).await?;
        self.revoke_for_admin(user_id, id).await
    }

    /// Revokes without counting against the owner's change limit (an admin's action).
    pub async fn revoke_for_admin(&self, user_id: i64, id: Uuid) -> Result<(), ClientError> {
        if let Some(node_id) = store::clients::revoke(self.pool, user_id, id).await? {
            self.changed(user_id, node_id).await;
            log::info!(event = "client_revoked", user_id = user_id; "client_revoked");
            return Ok(());
        }
        match store::clients::find_for_user(self.pool, user_id, id).await? {
            Some(_) => Err(ClientError::Revoked),
            None => Err(ClientError::NotFound),
        }
    }
}
