//! Integration tests: the real portal against real PostgreSQL and Redis. Each test gets its own
//! database and its own redis-server process, so tests run in parallel and never share state.
mod helpers;

mod account;
mod admin_panels;
mod api;
mod audit;
mod bad_input;
mod billing;
mod browser;
mod cli;
mod clients;
mod db_restart;
mod edge;
mod email;
mod fragment_cache;
mod health;
mod logs;
mod metrics;
mod near_cache;
mod node_agent;
mod node_api;
mod nodes;
mod notices;
mod rate_limits;
mod redis_trust;
mod security;
mod sessions;
mod signup_login;
mod static_assets;
mod tickets;
mod tunnels;
mod two_factor;
