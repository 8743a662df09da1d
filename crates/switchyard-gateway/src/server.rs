//! Starting and stopping a gateway: bind, load config, serve, follow changes, and on
//! shutdown write every queued request record before returning.

use crate::auth::load_or_create_admin_token;
use crate::config_follower::ConfigFollower;
use crate::dispatch::GatewayService;
use crate::secrets::SecretStore;
use crate::snapshot::Snapshot;
use crate::spend::SpendTracker;
use crate::state::{AppState, Parts};
use crate::upstream::{ClientBuildError, UpstreamClient};
use crate::workers::{self, ServeThreads};
use crate::{admin, alerts, count_tokens, models, proxy, ui};
use axum::extract::{Request, State};
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use switchyard_store::{LogWriter, Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The port the gateway listens on unless told otherwise. Chosen away from the ports
/// other local LLM tools use (1234, 3456, 4000, 8000, 11434, 15721).
pub const DEFAULT_PORT: u16 = 7450;
/// Request records the writer queue holds before new ones are dropped.
const LOG_QUEUE: usize = 65_536;
/// How long shutdown waits for open requests (streams) before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub fn default_listen_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))
}

pub struct GatewayOptions {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub secrets: Arc<dyn SecretStore>,
    /// Where connections are served: [`ServeThreads::PerCore`] but in tests that
    /// pause the clock.
    pub threads: ServeThreads,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read or create the admin token in {path}: {source}")]
    AdminToken {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cannot build the provider client: {0}")]
    Upstream(#[from] ClientBuildError),
    #[error("cannot start the threads that serve requests: {source}")]
    Workers { source: std::io::Error },
    #[error("cannot start the thread that follows configuration changes: {source}")]
    ConfigThread { source: std::io::Error },
}

/// A gateway serving in the background of the current tokio runtime.
pub struct RunningGateway {
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    server: workers::Server,
    config: ConfigFollower,
    writer: LogWriter,
}

/// Binds, loads the configuration and starts serving.
pub async fn launch(options: GatewayOptions) -> Result<RunningGateway, LaunchError> {
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|source| LaunchError::Bind {
            addr: options.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| LaunchError::Bind {
        addr: options.listen,
        source,
    })?;

    let data_dir = options.data_dir.clone();
    let secrets = options.secrets.clone();
    let (alerts_tx, alerts_rx) = tokio::sync::mpsc::unbounded_channel();
    let (store, writer, admin_token, snapshot, spend) = tokio::task::spawn_blocking(move || {
        let store = Store::open(&data_dir)?;
        let writer = LogWriter::start(&store, LOG_QUEUE)?;
        let admin_token =
            load_or_create_admin_token(&data_dir).map_err(|source| LaunchError::AdminToken {
                path: data_dir.clone(),
                source,
            })?;
        let snapshot = Snapshot::load(&store, &*secrets)?;
        let spend = SpendTracker::load(&store, alerts_tx)?;
        Ok::<_, LaunchError>((store, writer, admin_token, snapshot, spend))
    })
    .await
    .map_err(|e| StoreError::Task(e.to_string()))??;

    let http = UpstreamClient::from_env()?;
    if http.is_proxied() {
        tracing::info!("a proxy is set in the environment; providers are reached through it");
    }
    // Webhooks are rare and may need redirects; reqwest's defaults suit them.
    let webhooks = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
        .build()?;

    let state = Arc::new(AppState::new(Parts {
        store,
        secrets: options.secrets,
        log: writer.sender(),
        spend: Arc::new(spend),
        http,
        admin_token,
        local_addr,
        snapshot,
    }));
    tokio::spawn(alerts::deliver(
        alerts_rx,
        state.store.clone(),
        webhooks,
        state.alert_events.clone(),
    ));
    // Started before the workers: if it fails, nothing serves yet; if they fail, the
    // follower is dropped, which ends its thread.
    let config = ConfigFollower::start(state.clone(), tokio::runtime::Handle::current())
        .map_err(|source| LaunchError::ConfigThread { source })?;
    let (stop, stop_rx) = watch::channel(false);
    let server = workers::serve(
        listener,
        GatewayService::new(state.clone(), router(state.clone())),
        stop_rx,
        options.threads,
    )
    .map_err(|source| LaunchError::Workers { source })?;
    Ok(RunningGateway {
        state,
        stop,
        server,
        config,
        writer,
    })
}

/// Every route of the gateway.
pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new();
    for (path, api) in proxy::MODEL_ROUTES {
        router = router.route(
            path,
            post(move |State(app): State<Arc<AppState>>, request: Request| {
                proxy::proxy(app, api, request)
            }),
        );
    }
    router
        .route(
            "/v1/messages/count_tokens",
            post(count_tokens::count_tokens),
        )
        .route("/v1/models", get(models::list_models))
        .route("/health", get(models::health))
        .route("/", get(ui::to_index))
        .route("/ui", get(ui::to_index))
        .route("/ui/", get(ui::index))
        .route("/ui/{file}", get(ui::file))
        .merge(admin::router(state.clone()))
        .fallback(unknown_route)
        .with_state(state)
}

/// A JSON 404 for paths the gateway does not serve (clients with a wrong base URL).
async fn unknown_route(uri: axum::http::Uri) -> crate::errors::ApiError {
    crate::errors::ApiError::not_found(format!(
        "Switchyard has no endpoint at {}. Model endpoints: /v1/chat/completions, /v1/messages, \
         /v1/responses, /v1/models; the dashboard is at /ui/.",
        uri.path()
    ))
}

impl RunningGateway {
    pub fn local_addr(&self) -> SocketAddr {
        self.state.local_addr
    }

    /// `http://127.0.0.1:PORT`, what clients use as their base URL.
    pub fn base_url(&self) -> String {
        self.state.base_url()
    }

    /// The dashboard, with the admin token in the fragment (never sent to a server).
    pub fn dashboard_url(&self) -> String {
        dashboard_url(&self.base_url(), &self.state.admin_token)
    }

    pub fn admin_token(&self) -> &str {
        &self.state.admin_token
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Spend alerts as they fire (the desktop shell shows them as notifications).
    pub fn subscribe_alerts(
        &self,
    ) -> tokio::sync::broadcast::Receiver<switchyard_store::AlertEvent> {
        self.state.alert_events.subscribe()
    }

    /// Stops accepting requests, gives open ones a moment, then writes every queued
    /// request record to disk.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut server = self.server;
        if tokio::time::timeout(SHUTDOWN_GRACE, server.finished())
            .await
            .is_err()
        {
            tracing::warn!("open requests did not finish in time; closing them");
            server.force_stop().await;
        }
        let config = self.config;
        let _ = tokio::task::spawn_blocking(move || config.stop()).await;
        let writer = self.writer;
        // Every connection is closed by now, and a request's record is queued when the
        // request ends or is dropped; the writer drains the queue.
        let _ = tokio::task::spawn_blocking(move || writer.shutdown()).await;
    }
}

pub fn dashboard_url(base_url: &str, admin_token: &str) -> String {
    format!("{base_url}/ui/#token={admin_token}")
}
