//! Aswan: a self-hostable, multi-tenant task manager with AI time estimates.
//! ARCHITECTURE.md is the picture of the house; each module owns one room.

pub mod accounts;
pub mod ai;
pub mod app;
pub mod auth;
pub mod config;
pub mod domain;
pub mod eval;
pub mod housekeeping;
pub mod http;
pub mod mail;
pub mod monitoring;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod transfer;

pub use app::App;
pub use config::Settings;
