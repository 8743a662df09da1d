//! The main window: the gateway's dashboard (served at /ui/ with the admin token in
//! the fragment), or a page explaining why the gateway did not start.

use crate::gateway::Status;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

const LABEL: &str = "main";

pub fn create(app: &AppHandle, status: &Status) -> tauri::Result<()> {
    let url = match status {
        Status::Running { dashboard_url, .. } => dashboard_url.clone(),
        Status::Failed(why) => failure_page(why),
    };
    let url = url
        .parse()
        .map_err(|e| tauri::Error::Io(std::io::Error::other(format!("bad dashboard URL: {e}"))))?;
    WebviewWindowBuilder::new(app, LABEL, WebviewUrl::External(url))
        .title("Switchyard")
        .inner_size(1100.0, 760.0)
        .min_inner_size(640.0, 480.0)
        .build()?;
    Ok(())
}

/// Shows and focuses the window (it is hidden, not closed, when the user closes it).
pub fn show(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(LABEL) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

fn failure_page(why: &str) -> String {
    let escaped: String = why
        .chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            c => c.to_string(),
        })
        .collect();
    let html = format!(
        "<!doctype html><meta charset=utf-8><title>Switchyard</title>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>Switchyard</h1>\
         <p>The gateway did not start:</p><pre>{escaped}</pre>\
         <p>Fix the problem and start Switchyard again (for a busy port, set SWITCHYARD_LISTEN).</p></body>"
    );
    let encoded: String = html
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("data:text/html;charset=utf-8,{encoded}")
}
