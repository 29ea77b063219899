//! JSON APIs over the same domain calls as the pages: `v1` and `v2` for customers (personal
//! access tokens), `node` for VPN nodes (DESIGN §7), and their OpenAPI documents.
pub mod common;
pub mod docs;
pub mod node;
pub mod shapes;
pub mod v1;
pub mod v2;
