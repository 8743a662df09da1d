//! The `switchyard-desktop` binary: the tray app. Everything lives in the library.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// The same allocator as the headless gateway (see the `switchyard` command).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    match switchyard_desktop::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard-desktop: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
