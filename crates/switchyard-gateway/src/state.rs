//! Shared state of a running gateway and how it follows configuration changes.

use crate::secrets::SecretStore;
use crate::snapshot::Snapshot;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_store::{LogSender, Store, StoreError};

/// How often a running gateway checks the store for changes made elsewhere (the CLI).
pub const RELOAD_POLL: Duration = Duration::from_secs(1);

pub struct AppState {
    pub store: Store,
    pub secrets: Arc<dyn SecretStore>,
    pub log: LogSender,
    pub http: reqwest::Client,
    pub admin_token: String,
    pub local_addr: SocketAddr,
    pub started: Instant,
    snapshot: ArcSwap<Snapshot>,
    reload_lock: tokio::sync::Mutex<()>,
}

impl AppState {
    pub fn new(
        store: Store,
        secrets: Arc<dyn SecretStore>,
        log: LogSender,
        http: reqwest::Client,
        admin_token: String,
        local_addr: SocketAddr,
        snapshot: Snapshot,
    ) -> AppState {
        AppState {
            store,
            secrets,
            log,
            http,
            admin_token,
            local_addr,
            started: Instant::now(),
            snapshot: ArcSwap::from_pointee(snapshot),
            reload_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The configuration as of now; requests hold on to the one they started with.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Rebuilds the snapshot from the store (off the async threads: SQLite and the
    /// keychain block) and swaps it in.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _guard = self.reload_lock.lock().await;
        let store = self.store.clone();
        let secrets = self.secrets.clone();
        let snapshot = tokio::task::spawn_blocking(move || Snapshot::load(&store, &*secrets))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        tracing::info!(version = snapshot.version, "configuration loaded");
        self.snapshot.store(Arc::new(snapshot));
        Ok(())
    }

    /// Reloads if the store's config version moved since the current snapshot.
    pub async fn reload_if_changed(&self) -> Result<(), StoreError> {
        let store = self.store.clone();
        let version = tokio::task::spawn_blocking(move || store.config_version())
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        if version != self.snapshot().version {
            self.reload().await?;
        }
        Ok(())
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }
}
