//! JSON APIs over the same domain calls as the pages: `node` for VPN nodes (DESIGN §7).
pub mod node;
