//! The tray icon and its menu. On Linux a tray icon's click does nothing, so every
//! action is in the menu: status, Open dashboard, Copy base URL, Start at login, Quit.

use crate::gateway::{self, Status};
use crate::window;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::AppHandle;
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_clipboard_manager::ClipboardExt as _;

pub fn build(app: &AppHandle, status: &Status) -> tauri::Result<()> {
    let status_text = match status {
        Status::Running { base_url, .. } => format!("Gateway running at {base_url}"),
        Status::Failed(why) => format!("Gateway failed: {why}"),
    };
    let base_url = match status {
        Status::Running { base_url, .. } => Some(base_url.clone()),
        Status::Failed(_) => None,
    };
    let autostart_on = app.autolaunch().is_enabled().unwrap_or(false);
    let status_item = MenuItem::with_id(app, "status", status_text, false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open dashboard", true, None::<&str>)?;
    let copy = MenuItem::with_id(
        app,
        "copy",
        "Copy base URL",
        base_url.is_some(),
        None::<&str>,
    )?;
    let autostart = CheckMenuItem::with_id(
        app,
        "autostart",
        "Start at login",
        true,
        autostart_on,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status_item,
            &PredefinedMenuItem::separator(app)?,
            &open,
            &copy,
            &autostart,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let mut tray = TrayIconBuilder::with_id("switchyard")
        .tooltip("Switchyard")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(move |app, event| match event.id().as_ref() {
            "open" => window::show(app),
            "copy" => {
                if let Some(url) = &base_url {
                    if let Err(e) = app.clipboard().write_text(url.clone()) {
                        tracing::warn!(error = %e, "could not copy the base URL");
                    }
                }
            }
            "autostart" => {
                let launcher = app.autolaunch();
                let result = if launcher.is_enabled().unwrap_or(false) {
                    launcher.disable()
                } else {
                    launcher.enable()
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "could not change start at login");
                }
                let _ = autostart.set_checked(launcher.is_enabled().unwrap_or(false));
            }
            "quit" => gateway::quit(app),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}
