//! Shared state of a running gateway and how it follows configuration changes.

use crate::routing::health::RouteHealth;
use crate::secrets::SecretStore;
use crate::snapshot::Snapshot;
use crate::spend::SpendTracker;
use crate::upstream::UpstreamClient;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use switchyard_store::{AlertEvent, LogSender, Store, StoreError};
use tokio::sync::broadcast;

/// What a gateway is made of, handed to [`AppState::new`].
pub struct Parts {
    pub store: Store,
    pub secrets: Arc<dyn SecretStore>,
    pub log: LogSender,
    pub spend: Arc<SpendTracker>,
    pub http: UpstreamClient,
    pub admin_token: String,
    pub local_addr: SocketAddr,
    pub snapshot: Snapshot,
}

pub struct AppState {
    pub store: Store,
    pub secrets: Arc<dyn SecretStore>,
    pub log: LogSender,
    pub spend: Arc<SpendTracker>,
    pub health: RouteHealth,
    pub http: UpstreamClient,
    pub admin_token: String,
    pub local_addr: SocketAddr,
    pub started: Instant,
    /// Spend alerts as they fire, for the desktop shell and other listeners.
    pub alert_events: broadcast::Sender<AlertEvent>,
    snapshot: ArcSwap<Snapshot>,
    reload_lock: tokio::sync::Mutex<()>,
}

impl AppState {
    pub fn new(parts: Parts) -> AppState {
        parts.spend.configure(&parts.snapshot);
        AppState {
            store: parts.store,
            secrets: parts.secrets,
            log: parts.log,
            spend: parts.spend,
            health: RouteHealth::default(),
            http: parts.http,
            admin_token: parts.admin_token,
            local_addr: parts.local_addr,
            started: Instant::now(),
            alert_events: broadcast::channel(64).0,
            snapshot: ArcSwap::from_pointee(parts.snapshot),
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
        self.spend.configure(&snapshot);
        self.snapshot.store(Arc::new(snapshot));
        Ok(())
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }
}
