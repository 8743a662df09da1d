//! The Switchyard gateway: a local OpenAI- and Anthropic-compatible endpoint that
//! forwards requests to the user's providers with the user's keys, records every
//! request with its cost, and serves the admin API and dashboard.
//!
//! No Tauri and no SQL here: the desktop shell and the CLI both host this crate, and
//! the store crate owns the database.

pub mod admin;
pub mod alerts;
pub mod analytics_api;
pub mod auth;
pub mod config;
mod config_follower;
pub mod count_tokens;
pub mod dispatch;
pub mod errors;
pub mod json_body;
pub mod json_text;
pub mod manage;
pub mod metadata;
pub mod models;
pub mod pricing;
pub mod providers;
pub mod proxy;
pub mod recorder;
pub mod routing;
pub mod secrets;
pub mod server;
pub mod snapshot;
pub mod spend;
pub mod sse;
pub mod state;
pub mod stream;
mod swar;
pub mod tool_names;
pub mod translate;
pub mod ui;
pub mod upstream;
pub mod usage;
pub mod workers;

pub use server::{
    dashboard_url, default_listen_addr, launch, GatewayOptions, LaunchError, RunningGateway,
    DEFAULT_PORT,
};
pub use workers::ServeThreads;

/// Where Switchyard keeps its data unless `--data-dir` or `SWITCHYARD_DATA_DIR` says
/// otherwise: the OS's per-user data directory (`~/.local/share/switchyard` on Linux).
pub fn default_data_dir() -> Option<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os("SWITCHYARD_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(dir.into());
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/share"))
        })?;
    Some(base.join("switchyard"))
}
