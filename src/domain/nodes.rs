//! VPN nodes: adding one (admin page or CLI) and the files it runs with.
use super::pki::{self, Pki, PkiSetupError};
use super::FieldErrors;
use crate::auth::tokens;
use crate::cache::FragmentCache;
use crate::store::{self, nodes::NewNode, nodes::Node, nodes::NodeConflict, nodes::TokenHolder};
use crate::vault::Vault;
use crate::vpn::{keys, openvpn, pool::Pool, wireguard, Protocol};
use sqlx::PgPool;

#[derive(Debug, Clone, Default)]
pub struct NodeForm {
    pub name: String,
    pub region: String,
    pub host: String,
    pub wireguard_port: u16,
    pub openvpn_port: u16,
    pub phazevpn_port: u16,
    pub protocols: Vec<String>,
    pub address_pool: String,
    pub dns: String,
    /// Empty: the portal makes the node's key pair (and can hand its private key to the node).
    pub wg_public_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("invalid node")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Setup(#[from] PkiSetupError),
}

pub fn node_key_owner(public_key: &str) -> String {
    format!("node:{public_key}")
}

pub fn validate(form: &NodeForm) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let name_ok = (2..=50).contains(&form.name.len())
        && form.name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !name_ok {
        errors.add("name", "Use 2 to 50 letters, digits, '.', '_' or '-'.");
    }
    if form.region.trim().is_empty() || form.region.len() > 50 || form.region.contains('\0') {
        errors.add("region", "Give a region of up to 50 characters.");
    }
    let host_ok = !form.host.is_empty()
        && form.host.len() <= 253
        && form.host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    if !host_ok {
        errors.add("host", "Give the node's public host name or IP address.");
    }
    for (field, port) in [
        ("wireguard_port", form.wireguard_port),
        ("openvpn_port", form.openvpn_port),
        ("phazevpn_port", form.phazevpn_port),
    ] {
        if port == 0 {
            errors.add(field, "Give a port from 1 to 65535.");
        }
    }
    if form.protocols.is_empty() || form.protocols.iter().any(|p| Protocol::parse(p).is_none()) {
        errors.add("protocols", "Choose at least one of wireguard, openvpn, phazevpn.");
    }
    if Pool::parse(&form.address_pool).is_none() {
        errors.add("address_pool", "Give an IPv4 network such as 10.66.0.0/24 (prefix 8 to 28).");
    }
    if form.dns.trim().is_empty() || form.dns.len() > 200 || form.dns.contains(['\n', '\0']) {
        errors.add("dns", "Give one or more DNS servers, separated by commas.");
    }
    if !form.wg_public_key.is_empty() && keys::decode(&form.wg_public_key).is_none() {
        errors.add("wg_public_key", "A WireGuard public key is 44 characters of base64.");
    }
    errors
}

/// A node just added: its id and its API token (shown once, stored only as SHA-256).
pub struct AddedNode {
    pub id: i64,
    pub token: String,
}

pub async fn add(pool: &PgPool, vault: &Vault, form: &NodeForm) -> Result<AddedNode, NodeError> {
    let errors = validate(form);
    if !errors.is_empty() {
        return Err(NodeError::Invalid(errors));
    }
    let (public_key, sealed) = if form.wg_public_key.is_empty() {
        let pair = keys::KeyPair::generate();
        let sealed = vault.seal(pair.private_b64().as_bytes(), &node_key_owner(&pair.public_b64()));
        (pair.public_b64(), Some(sealed))
    } else {
        (form.wg_public_key.trim().to_owned(), None)
    };
    let address_pool = Pool::parse(&form.address_pool).expect("validated").to_string();
    let (token, token_hash) = tokens::new_token();
    let new = NewNode {
        name: &form.name,
        region: form.region.trim(),
        host: &form.host,
        wireguard_port: form.wireguard_port,
        openvpn_port: form.openvpn_port,
        phazevpn_port: form.phazevpn_port,
        protocols: &form.protocols,
        address_pool: &address_pool,
        dns: form.dns.trim(),
        wg_public_key: &public_key,
        wg_private_key_sealed: sealed.as_deref(),
        token_hash: &token_hash,
    };
    match store::nodes::insert(pool, new).await {
        Ok(id) => {
            log::info!(event = "node_added", node_id = id; "node_added");
            Ok(AddedNode { id, token })
        }
        Err(NodeConflict::Name) => Err(NodeError::Invalid(FieldErrors::single("name", "A node has this name."))),
        Err(NodeConflict::Pool) => {
            Err(NodeError::Invalid(FieldErrors::single("address_pool", "This pool overlaps another node's.")))
        }
        Err(NodeConflict::Db(e)) => Err(e.into()),
    }
}

/// The owner whose generation vouches for the node's current token in the fragment cache:
/// rotating the token moves it on, so no instance accepts the old token from Redis again.
/// Anything else that stops a token (deactivating a node, when admins can) must move it on too.
pub fn token_owner(node_id: i64) -> String {
    format!("nodetoken:{node_id}")
}

/// A new token for the node; the old one stops working at once, on every instance (PostgreSQL
/// holds only the new hash; Redis's word for the old one is dropped with its generation).
/// None: no such node.
pub async fn rotate_token(pool: &PgPool, fragments: &FragmentCache, node_id: i64) -> sqlx::Result<Option<String>> {
    let (token, token_hash) = tokens::new_token();
    if !store::nodes::set_token(pool, node_id, &token_hash).await? {
        return Ok(None);
    }
    fragments.invalidate(&token_owner(node_id)).await;
    log::info!(event = "node_token_rotated", node_id = node_id; "node_token_rotated");
    Ok(Some(token))
}

/// The node a bearer token belongs to (only ever compared as SHA-256, looked up by index).
pub async fn authenticate(pool: &PgPool, token: &str) -> sqlx::Result<Option<TokenHolder>> {
    if !tokens::looks_like_token(token) {
        return Ok(None);
    }
    store::nodes::find_by_token(pool, &tokens::hash_token(token)).await
}

/// `agent.env`: what a node's agent needs to poll the portal.
pub fn agent_settings(portal_url: &str, token: &str, poll_secs: u32) -> String {
    format!(
        "# Phaze node agent settings (keep private: the token is the node's credential)\n\
         PORTAL_URL={}\nNODE_TOKEN={token}\nPOLL_SECS={poll_secs}\n",
        portal_url.trim_end_matches('/')
    )
}

/// Records that the node called (its heartbeat); a failure is only logged.
pub async fn heartbeat(pool: &PgPool, node_id: i64) {
    if let Err(e) = store::nodes::heartbeat(pool, node_id).await {
        log::warn!(event = "node_heartbeat_failed", node_id = node_id; "node heartbeat not recorded: {e}");
    }
}

/// Whether a node that was last seen at `last_seen` is online: it polls every `poll_secs` and
/// counts as offline after missing two polls.
pub fn is_online(last_seen: Option<time::OffsetDateTime>, poll_secs: u32, now: time::OffsetDateTime) -> bool {
    last_seen.is_some_and(|seen| now - seen <= time::Duration::seconds(2 * i64::from(poll_secs)))
}

/// The files a node runs with: WireGuard's `wg0.conf` (with every active peer) and OpenVPN's
/// `server.conf` with a fresh server certificate, the CA, the tls-crypt key and the CRL.
pub async fn bundle(pool: &PgPool, vault: &Vault, pki: &Pki, node: &Node) -> Result<Vec<(String, String)>, NodeError> {
    let address_pool = Pool::parse(&node.address_pool).ok_or(sqlx::Error::RowNotFound)?;
    let private_key = match &node.wg_private_key_sealed {
        Some(sealed) => vault.open_string(sealed, &node_key_owner(&node.wg_public_key)).map_err(PkiSetupError::from)?,
        None => "<the node's own private key>".to_owned(),
    };
    let served = store::nodes::peers(pool, node.id).await?;
    let peers: Vec<_> = served
        .iter()
        .filter(|p| p.protocol != "openvpn")
        .filter_map(|p| Some(wireguard::Peer { public_key: p.public_key.clone()?, address: p.address.parse().ok()? }))
        .collect();
    let wg0 = wireguard::node_config(
        &private_key,
        address_pool.node_address(),
        address_pool.prefix,
        node.wireguard_port as u16,
        &peers,
    );
    let server = pki.ca.issue_server(&node.host).map_err(PkiSetupError::from)?;
    let (ovpn_network, ovpn_netmask) = address_pool.openvpn_subnet();
    let ccd = served.into_iter().filter(|p| p.protocol == "openvpn").filter_map(|p| {
        Some((format!("ccd/{}", p.client_id), openvpn::ccd_entry(p.address.parse().ok()?, ovpn_netmask)))
    });
    let mut files = vec![
        ("wg0.conf".into(), wg0),
        ("server.conf".into(), openvpn::server_config(node.openvpn_port as u16, ovpn_network, ovpn_netmask)),
        ("ca.crt".into(), pki.ca_cert_pem.clone()),
        ("server.crt".into(), server.cert_pem),
        ("server.key".into(), server.key_pem),
        ("tls-crypt.key".into(), pki.tls_crypt_key.clone()),
        ("crl.pem".into(), pki::crl_pem(pool, pki).await?.1),
    ];
    files.extend(ccd);
    Ok(files)
}
