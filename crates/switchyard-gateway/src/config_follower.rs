//! Follows configuration changes made outside the running gateway (the CLI writes the
//! store from another process, so its changes apply without a restart): a thread of
//! its own reads the store's configuration version once a second and, when it moved,
//! has the runtime reload.
//!
//! A thread rather than a task on the runtime: each check of a task woke the runtime
//! for its timer, handed the read to a blocking thread (SQLite blocks) and woke the
//! runtime again for the answer, about six thread wake-ups a second on an idle
//! gateway. This thread sleeps, reads and sleeps again.

use crate::state::AppState;
use std::io;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use switchyard_store::{ConfigWatch, Store, StoreError};
use tokio::runtime::Handle;

/// How often the store is checked: the README promises changes apply within a second.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The following thread; it stops when told to or when this is dropped.
pub(crate) struct ConfigFollower {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl ConfigFollower {
    /// Starts following; a reload runs on `runtime`.
    pub(crate) fn start(state: Arc<AppState>, runtime: Handle) -> io::Result<ConfigFollower> {
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("switchyard-config".into())
            .spawn(move || follow(&state, &runtime, &stopped))?;
        Ok(ConfigFollower { stop, thread })
    }

    /// Stops the thread, once a reload it is running has finished. Blocks: call it off
    /// the runtime's threads.
    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            tracing::error!("the thread following configuration changes had panicked");
        }
    }
}

fn follow(state: &AppState, runtime: &Handle, stopped: &mpsc::Receiver<()>) {
    // Opened at the first check, and again at the check after one that failed.
    let mut watch: Option<ConfigWatch> = None;
    loop {
        match stopped.recv_timeout(CHECK_EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            // Told to stop, or the gateway that started it is gone.
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        match read_version(&state.store, &mut watch) {
            Ok(version) if version != state.snapshot().version => {
                if let Err(e) = runtime.block_on(state.reload()) {
                    tracing::warn!(error = %e, "reloading the changed configuration failed");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "checking for configuration changes failed"),
        }
    }
}

/// The store's configuration version, read over `watch`: opened if there is none, and
/// dropped when a read over it fails, so that the next check opens a new one.
fn read_version(store: &Store, watch: &mut Option<ConfigWatch>) -> Result<i64, StoreError> {
    let kept = match watch.take() {
        Some(kept) => kept,
        None => store.config_watch()?,
    };
    let version = kept.version()?;
    *watch = Some(kept);
    Ok(version)
}

#[cfg(test)]
mod tests {
    use crate::secrets::MemorySecretStore;
    use crate::server::{launch, GatewayOptions};
    use crate::workers::ServeThreads;
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use switchyard_store::Store;

    /// Waits (up to 5 s: the check runs every second) for the gateway's configuration
    /// to reach `version`.
    async fn reaches(gateway: &crate::server::RunningGateway, version: i64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if gateway.state().snapshot().version == version {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_made_by_another_process_are_followed_until_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let gateway = launch(GatewayOptions {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            secrets: Arc::new(MemorySecretStore::default()),
            threads: ServeThreads::PerCore,
        })
        .await
        .unwrap();
        // The CLI's handle on the same database.
        let other_process = Store::open(dir.path()).unwrap();
        let first = other_process.bump_config_version().unwrap();
        assert!(reaches(&gateway, first).await, "the first change is loaded");
        // The next change is read over the connection the first check kept.
        let second = other_process.bump_config_version().unwrap();
        assert!(reaches(&gateway, second).await, "a later change is loaded");
        // Stops the following thread and returns; a thread that did not stop would
        // hold the shutdown.
        tokio::time::timeout(Duration::from_secs(10), gateway.shutdown())
            .await
            .expect("shutdown returns");
    }
}
