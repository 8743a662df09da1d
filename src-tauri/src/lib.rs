//! The Switchyard desktop shell: hosts the same gateway as `switchyard serve` on Tauri's
//! runtime and puts it in the tray. `run()` reads as the list of setup steps.

mod gateway;
mod notifications;
mod tray;
mod window;

use tauri::{RunEvent, WindowEvent};

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    #[error("cannot start the desktop app: {0}")]
    Tauri(#[from] tauri::Error),
}

pub fn run() -> Result<(), DesktopError> {
    init_logging();
    let app = tauri::Builder::default()
        // A second launch shows the running app's window instead of starting again.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            window::show(app);
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            let status = gateway::start(app.handle());
            tray::build(app.handle(), &status)?;
            window::create(app.handle(), &status)?;
            notifications::forward_alerts(app.handle());
            gateway::stop_on_signals(app.handle());
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window hides it; the app lives in the tray until Quit.
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .build(tauri::generate_context!("../tauri.conf.json"))?;
    app.run(|_app, event| {
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            // No window left is no reason to stop serving; only Quit (or a signal) exits.
            api.prevent_exit();
        }
    });
    Ok(())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
