//! WireGuard configs in wg-quick format.
use std::fmt::Write;

pub const KEEPALIVE_SECS: u16 = 25;

pub struct ClientConfig<'a> {
    pub private_key: &'a str,
    pub address: std::net::Ipv4Addr,
    pub dns: &'a str,
    pub server_public_key: &'a str,
    pub endpoint: &'a str,
}

/// A client's `NAME.conf`.
pub fn client_config(c: &ClientConfig) -> String {
    format!(
        "[Interface]\nPrivateKey = {}\nAddress = {}/32\nDNS = {}\n\n[Peer]\nPublicKey = {}\nEndpoint = {}\nAllowedIPs = 0.0.0.0/0, ::/0\nPersistentKeepalive = {KEEPALIVE_SECS}\n",
        c.private_key, c.address, c.dns, c.server_public_key, c.endpoint
    )
}

pub struct Peer {
    pub public_key: String,
    pub address: std::net::Ipv4Addr,
}

/// A node's `wg0.conf`: its key, tunnel address and port, and one peer per active client.
pub fn node_config(
    private_key: &str,
    address: std::net::Ipv4Addr,
    prefix: u8,
    listen_port: u16,
    peers: &[Peer],
) -> String {
    let mut out =
        format!("[Interface]\nPrivateKey = {private_key}\nAddress = {address}/{prefix}\nListenPort = {listen_port}\n");
    for peer in peers {
        let _ = write!(out, "\n[Peer]\nPublicKey = {}\nAllowedIPs = {}/32\n", peer.public_key, peer.address);
    }
    out
}

/// What `wg setconf` accepts: the config without wg-quick's own keys (like `wg-quick strip`).
pub fn strip_wg_quick_keys(config: &str) -> String {
    config
        .lines()
        .filter(|l| {
            let key = l.split('=').next().unwrap_or_default().trim();
            !matches!(
                key,
                "Address" | "DNS" | "MTU" | "Table" | "PreUp" | "PostUp" | "PreDown" | "PostDown" | "SaveConfig"
            )
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_config_has_every_field() {
        let conf = client_config(&ClientConfig {
            private_key: "cHJpdmF0ZQ==",
            address: "10.66.0.2".parse().unwrap(),
            dns: "1.1.1.1",
            server_public_key: "cHVibGlj",
            endpoint: "vpn.example.com:51820",
        });
        for line in [
            "PrivateKey = cHJpdmF0ZQ==",
            "Address = 10.66.0.2/32",
            "DNS = 1.1.1.1",
            "PublicKey = cHVibGlj",
            "Endpoint = vpn.example.com:51820",
            "AllowedIPs = 0.0.0.0/0, ::/0",
            "PersistentKeepalive = 25",
        ] {
            assert!(conf.lines().any(|l| l == line), "{line}");
        }
        let stripped = strip_wg_quick_keys(&conf);
        assert!(!stripped.contains("Address") && !stripped.contains("DNS") && stripped.contains("Endpoint"));
    }
}
