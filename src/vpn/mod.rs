//! VPN keys and config files: pure functions, no I/O.
pub mod keys;
pub mod openvpn;
pub mod phazevpn;
pub mod pool;
pub mod qr;
pub mod wireguard;

/// The protocols a client can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Wireguard,
    Openvpn,
    Phazevpn,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Wireguard, Protocol::Openvpn, Protocol::Phazevpn];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Wireguard => "wireguard",
            Protocol::Openvpn => "openvpn",
            Protocol::Phazevpn => "phazevpn",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Protocol::Wireguard => "WireGuard",
            Protocol::Openvpn => "OpenVPN",
            Protocol::Phazevpn => "PhazeVPN",
        }
    }

    pub fn parse(s: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str() == s)
    }
}
