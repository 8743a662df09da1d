//! The embedded gateway: started at launch on Tauri's async runtime, kept in managed
//! state, and shut down (writing every queued request record) on Quit or a signal.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use switchyard_gateway::secrets::KeyringSecretStore;
use switchyard_gateway::{GatewayOptions, RunningGateway};
use tauri::{AppHandle, Manager};

/// What the tray and the window show about the gateway.
#[derive(Clone, Debug)]
pub enum Status {
    Running {
        base_url: String,
        dashboard_url: String,
    },
    Failed(String),
}

/// The running gateway, taken out once at shutdown.
#[derive(Default)]
pub struct GatewayState(pub Mutex<Option<RunningGateway>>);

fn listen_addr() -> Result<SocketAddr, String> {
    match std::env::var("SWITCHYARD_LISTEN") {
        Ok(text) if !text.is_empty() => text
            .parse()
            .map_err(|e| format!("SWITCHYARD_LISTEN '{text}' is not an address: {e}")),
        _ => Ok(switchyard_gateway::default_listen_addr()),
    }
}

/// Starts the gateway; a failure (say, the port is taken) is shown, not fatal.
pub fn start(app: &AppHandle) -> Status {
    app.manage(GatewayState::default());
    let options = match (listen_addr(), switchyard_gateway::default_data_dir()) {
        (Ok(listen), Some(data_dir)) => GatewayOptions {
            data_dir,
            listen,
            secrets: Arc::new(KeyringSecretStore),
            threads: switchyard_gateway::ServeThreads::PerCore,
        },
        (Err(e), _) => return Status::Failed(e),
        (_, None) => {
            return Status::Failed("no data directory: set SWITCHYARD_DATA_DIR or HOME".into())
        }
    };
    match tauri::async_runtime::block_on(switchyard_gateway::launch(options)) {
        Ok(gateway) => {
            let status = Status::Running {
                base_url: gateway.base_url(),
                dashboard_url: gateway.dashboard_url(),
            };
            tracing::info!(url = %gateway.base_url(), "gateway listening");
            if let Ok(mut slot) = app.state::<GatewayState>().0.lock() {
                *slot = Some(gateway);
            }
            status
        }
        Err(e) => {
            tracing::error!(error = %e, "gateway failed to start");
            Status::Failed(e.to_string())
        }
    }
}

/// Set by the first Quit or signal. A second one must not exit the app while the first is
/// still writing queued records, so it does nothing; the first exits when done.
static QUITTING: AtomicBool = AtomicBool::new(false);

/// Stops the gateway (writing queued records), then exits the app.
pub fn quit(app: &AppHandle) {
    if QUITTING.swap(true, Ordering::SeqCst) {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let gateway = app
            .state::<GatewayState>()
            .0
            .lock()
            .ok()
            .and_then(|mut slot| slot.take());
        if let Some(gateway) = gateway {
            gateway.shutdown().await;
        }
        app.exit(0);
    });
}

/// SIGTERM and Ctrl-C quit as the menu's Quit does.
pub fn stop_on_signals(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received: shutting down");
        quit(&app);
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
