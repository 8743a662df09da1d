//! Points tauri-build at the config in the repository root (the client's layout); the
//! same path is given to `tauri::generate_context!` in `src/lib.rs`. Both are needed.

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
        .unwrap_or_else(|e| panic!("tauri-build failed: {e:#}"));
}
