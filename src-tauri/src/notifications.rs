//! Spend alerts from the gateway, shown as desktop notifications.

use crate::gateway::GatewayState;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt as _;

pub fn forward_alerts(app: &AppHandle) {
    let receiver = app
        .state::<GatewayState>()
        .0
        .lock()
        .ok()
        .and_then(|slot| slot.as_ref().map(|g| g.subscribe_alerts()));
    let Some(mut alerts) = receiver else {
        return;
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match alerts.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            let shown = app
                .notification()
                .builder()
                .title("Switchyard spend alert")
                .body(switchyard_gateway::alerts::describe(&event))
                .show();
            if let Err(e) = shown {
                tracing::warn!(error = %e, "could not show a notification");
            }
        }
    });
}
