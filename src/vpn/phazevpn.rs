//! PhazeVPN profiles: a versioned JSON document (schema in docs/phazevpn-profile.schema.json)
//! and its `phazevpn://` URI (base64url of the JSON, no padding).
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub const VERSION: u32 = 1;
pub const URI_SCHEME: &str = "phazevpn://";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub version: u32,
    pub client_id: String,
    pub name: String,
    pub endpoints: Vec<Endpoint>,
    /// base64 x25519 keys, as WireGuard writes them.
    pub client_private_key: String,
    pub client_public_key: String,
    pub server_public_key: String,
    /// The client's tunnel address, `a.b.c.d/32`.
    pub address: String,
    pub dns: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl Profile {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a profile serialises")
    }

    pub fn to_uri(&self) -> String {
        format!("{URI_SCHEME}{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a profile serialises")))
    }

    pub fn from_uri(uri: &str) -> Option<Profile> {
        let payload = uri.strip_prefix(URI_SCHEME)?;
        let profile: Profile = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (profile.version == VERSION).then_some(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_round_trips() {
        let profile = Profile {
            version: VERSION,
            client_id: "c0ffee00-0000-4000-8000-000000000000".into(),
            name: "laptop".into(),
            endpoints: vec![Endpoint { host: "vpn.example.com".into(), port: 443 }],
            client_private_key: "a".repeat(43) + "=",
            client_public_key: "b".repeat(43) + "=",
            server_public_key: "c".repeat(43) + "=",
            address: "10.66.0.2/32".into(),
            dns: vec!["1.1.1.1".into()],
            expires_at: time::macros::datetime!(2027-01-01 0:00 UTC),
        };
        let uri = profile.to_uri();
        assert!(uri.starts_with("phazevpn://") && !uri.contains('='));
        assert_eq!(Profile::from_uri(&uri), Some(profile));
        assert_eq!(Profile::from_uri("phazevpn://bm9wZQ"), None);
    }
}
