//! What each node must serve (DESIGN §7), with a strong ETag. The list is cached per node under a
//! generation that every change bumps after it commits (a client made or revoked, a user
//! suspended, a data limit passed or changed) and per usage period, so a poll that finds nothing
//! new costs one Redis round trip and no query.
use super::{nodes, usage};
use crate::auth::node::{spawn_heartbeat, NodeCaller, NodeHints};
use crate::auth::tokens;
use crate::cache::FragmentCache;
use crate::store::{self, nodes::PeerRow};
use crate::vpn::{openvpn, pool::Pool};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::net::Ipv4Addr;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct WireguardPeer {
    pub client_id: Uuid,
    pub public_key: String,
    pub address: String,
}

#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct OpenvpnPeer {
    pub client_id: Uuid,
    /// The certificate's CN: the client id.
    pub common_name: String,
    pub address: String,
    /// What the node writes to `ccd/COMMON_NAME` (`ifconfig-push ADDRESS NETMASK`).
    pub ccd: String,
}

#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PeerList {
    pub node: String,
    /// How often the node should poll; it counts as offline after two missed polls.
    pub poll_interval_secs: u32,
    pub wireguard: Vec<WireguardPeer>,
    pub openvpn: Vec<OpenvpnPeer>,
    pub phazevpn: Vec<WireguardPeer>,
}

/// The answer to a poll.
pub enum Peers {
    NotModified { etag: String },
    List { etag: String, body: String },
}

/// The fragment cache's owner of a node's peer lists.
pub fn owner(node_id: i64) -> String {
    format!("node:{node_id}")
}

/// The node's peer lists changed: every instance stops serving the cached ones. Call after commit.
pub async fn changed(cache: &FragmentCache, node_ids: &[i64]) {
    let owners: Vec<String> = node_ids.iter().map(|id| owner(*id)).collect();
    cache.invalidate_all(&owners).await;
}

/// The nodes serving any of these users changed (a user suspended, a limit passed or raised).
pub async fn users_changed(pool: &PgPool, cache: &FragmentCache, user_ids: &[i64]) -> sqlx::Result<()> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let nodes = store::nodes::serving_users(pool, user_ids).await?;
    changed(cache, &nodes).await;
    Ok(())
}

pub fn build(node: &str, poll_interval_secs: u32, rows: Vec<PeerRow>, openvpn_netmask: Ipv4Addr) -> PeerList {
    let mut list =
        PeerList { node: node.to_owned(), poll_interval_secs, wireguard: vec![], openvpn: vec![], phazevpn: vec![] };
    for row in rows {
        match row.protocol.as_str() {
            "openvpn" => list.openvpn.push(OpenvpnPeer {
                client_id: row.client_id,
                common_name: row.client_id.to_string(),
                ccd: row.address.parse().map(|a| openvpn::ccd_entry(a, openvpn_netmask)).unwrap_or_default(),
                address: row.address,
            }),
            protocol => {
                let peer = WireguardPeer {
                    client_id: row.client_id,
                    public_key: row.public_key.unwrap_or_default(),
                    address: row.address,
                };
                if protocol == "phazevpn" {
                    list.phazevpn.push(peer)
                } else {
                    list.wireguard.push(peer)
                }
            }
        }
    }
    list
}

/// A strong ETag: the body's SHA-256 (truncated to 128 bits).
pub fn etag_of(body: &str) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(body.as_bytes())[..16]))
}

/// Whether an `If-None-Match` value names `etag` (weak comparison, as RFC 9110 asks for it).
pub fn matches(if_none_match: &str, etag: &str) -> bool {
    let etag = etag.trim_start_matches("W/");
    if_none_match.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

pub struct PeerRequest<'a> {
    pub node_id: i64,
    pub node_name: &'a str,
    pub poll_interval_secs: u32,
    pub if_none_match: Option<&'a str>,
}

/// What became of a poll that authenticates itself.
pub enum Poll {
    /// The token is no node's (or not any more).
    Refused,
    Answered(Peers),
}

/// A poll by token: the hot path of the node API. A node that polled here before is known by
/// its token's hash; one Redis round trip then fetches both the current ETag and the signed
/// word that this token is still the node's (kept under the node's token generation, which a
/// rotation moves on), so an unchanged list costs no query. Otherwise PostgreSQL decides, after
/// the generation was read, and its answer is kept for the next poll.
pub async fn poll(
    pool: &PgPool,
    cache: &FragmentCache,
    hints: &NodeHints,
    token: &str,
    if_none_match: Option<&str>,
    poll_interval_secs: u32,
) -> Result<Poll, sqlx::Error> {
    if !tokens::looks_like_token(token) {
        return Ok(Poll::Refused);
    }
    let token_hash = tokens::hash_token(token);
    let vouch = hex::encode(&token_hash);
    let period = usage::period_start(OffsetDateTime::now_utc());
    let etag_name = format!("peers_etag:{period}");
    let caller = match hints.get(&token_hash) {
        Some(hinted) => {
            let (owner, token_owner) = (owner(hinted.id), nodes::token_owner(hinted.id));
            let cached = cache.lookup(&[(&etag_name, &owner), (TOKEN_FRAGMENT, &token_owner)]).await;
            if cached.cached(TOKEN_FRAGMENT, &token_owner) == Some(vouch.as_str()) {
                if hints.heartbeat_due(&token_hash) {
                    spawn_heartbeat(pool, hinted.id);
                }
                if let (Some(inm), Some(etag)) = (if_none_match, cached.cached(&etag_name, &owner)) {
                    if matches(inm, etag) {
                        return Ok(Poll::Answered(Peers::NotModified { etag: etag.to_owned() }));
                    }
                }
                hinted
            } else {
                // No word for this token under the current generation: PostgreSQL decides. The
                // generation was read first, so a rotation racing this poll leaves no stale word.
                match nodes::authenticate(pool, token).await? {
                    Some(holder) if holder.id == hinted.id => {
                        cached
                            .get_or_render(TOKEN_FRAGMENT, &token_owner, || async {
                                Ok::<_, sqlx::Error>(vouch.clone())
                            })
                            .await?;
                        hinted
                    }
                    _ => {
                        hints.forget(&token_hash);
                        return Ok(Poll::Refused);
                    }
                }
            }
        }
        None => match nodes::authenticate(pool, token).await? {
            Some(holder) => {
                if holder.heartbeat_due {
                    spawn_heartbeat(pool, holder.id);
                }
                let caller = NodeCaller { id: holder.id, name: holder.name };
                hints.remember(&token_hash, &caller);
                caller
            }
            None => return Ok(Poll::Refused),
        },
    };
    let request = PeerRequest { node_id: caller.id, node_name: &caller.name, poll_interval_secs, if_none_match };
    Ok(Poll::Answered(for_node(pool, cache, &request).await?))
}

/// Fragment name of the cache's word that a token is its node's.
const TOKEN_FRAGMENT: &str = "token";

/// The node's peers, or NotModified when `If-None-Match` names the current list. (`poll` has
/// already tried the cheap check of the ETag alone.)
pub async fn for_node(pool: &PgPool, cache: &FragmentCache, req: &PeerRequest<'_>) -> Result<Peers, sqlx::Error> {
    let owner = owner(req.node_id);
    let period = usage::period_start(OffsetDateTime::now_utc());
    let (etag_name, body_name) = (format!("peers_etag:{period}"), format!("peers:{period}"));
    let cached = cache.lookup(&[(&body_name, &owner), (&etag_name, &owner)]).await;
    let body = cached
        .get_or_render(&body_name, &owner, || async {
            let node = store::nodes::find(pool, req.node_id).await?.ok_or(sqlx::Error::RowNotFound)?;
            let netmask = Pool::parse(&node.address_pool).map_or(Ipv4Addr::BROADCAST, |p| p.openvpn_subnet().1);
            let rows = store::nodes::peers(pool, req.node_id).await?;
            let list = build(req.node_name, req.poll_interval_secs, rows, netmask);
            Ok::<_, sqlx::Error>(serde_json::to_string(&list).expect("peers serialise"))
        })
        .await?;
    let etag = cached.get_or_render(&etag_name, &owner, || async { Ok::<_, sqlx::Error>(etag_of(&body)) }).await?;
    if req.if_none_match.is_some_and(|inm| matches(inm, &etag)) {
        return Ok(Peers::NotModified { etag });
    }
    Ok(Peers::List { etag, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_takes_lists_weak_tags_and_star() {
        let etag = etag_of("[]");
        assert!(matches(&etag, &etag));
        assert!(matches(&format!("\"x\", W/{etag}"), &etag));
        assert!(matches("*", &etag));
        assert!(!matches("\"other\"", &etag));
        assert_ne!(etag_of("[]"), etag_of("[1]"));
    }

    #[test]
    fn peers_are_split_by_protocol_with_ccd_lines_for_openvpn() {
        let row = |protocol: &str, address: &str| PeerRow {
            client_id: Uuid::nil(),
            protocol: protocol.into(),
            public_key: (protocol != "openvpn").then(|| "key".into()),
            address: address.into(),
        };
        let list = build(
            "n1",
            30,
            vec![row("openvpn", "10.0.0.130"), row("phazevpn", "10.0.0.3"), row("wireguard", "10.0.0.2")],
            Ipv4Addr::new(255, 255, 255, 128),
        );
        assert_eq!(list.openvpn[0].ccd, "ifconfig-push 10.0.0.130 255.255.255.128\n");
        assert_eq!(list.openvpn[0].common_name, Uuid::nil().to_string());
        assert_eq!((list.wireguard.len(), list.phazevpn.len()), (1, 1));
        assert_eq!(list.phazevpn[0].address, "10.0.0.3");
    }
}
