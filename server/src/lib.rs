//! The Auditrail server: REST API, web app host, exports, demo data and benchmarks. The
//! `auditrail` binary (main.rs) is the command line over these.

pub mod api;
pub mod bench;
pub mod client_addr;
pub mod copy;
pub mod debug_log;
pub mod delivery;
pub mod demo;
pub mod error;
pub mod export;
pub mod first_admin;
pub mod import;
pub mod lease;
pub mod messages;
pub mod routes;
pub mod security;
pub mod sessions;
pub mod state;
pub mod web;
