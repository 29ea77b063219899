//! Phaze Portal: the customer and admin portal of a VPN provider.
pub mod app;
pub mod assets;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod store;
pub mod telemetry;
pub mod vault;
pub mod views;
pub mod vpn;
pub mod web;
