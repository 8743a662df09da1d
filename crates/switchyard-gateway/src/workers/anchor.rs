//! Keeps one timer armed on a worker's runtime while the worker serves requests, so
//! that each request's own timers do not wake the runtime up again.
//!
//! Every proxied request sets a deadline timer (and a stream, an idle timer). When
//! tokio registers a timer due sooner than the earliest one its driver knew of when
//! it last went to sleep, it wakes the driver so that the sleep is re-computed: a
//! write to the runtime's eventfd, then a turn of the runtime's loop that finds
//! nothing to do. A worker between requests sleeps with no timer at all, so every
//! request paid for that: at 1,000 requests a second, about one extra system call
//! per request, and another epoll wait for some of them. With a timer at most
//! [`TICK`] ahead, deadlines further out than that need no wake-up.
//!
//! The anchor stops after a tick in which no request started, so an idle gateway is
//! not woken every second.

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Poll, Waker};
use std::time::Duration;

/// How far ahead the anchor's timer is, at most. Shorter than the deadlines a
/// request sets (provider timeouts and stream silences are seconds to minutes); a
/// shorter one (a retry's back-off, a provider timeout under a second) wakes the
/// driver as before.
const TICK: Duration = Duration::from_secs(1);

struct Anchor {
    /// A request started on this thread since the anchor's last tick.
    busy: Cell<bool>,
    /// The anchor, waiting with no timer for the next request.
    parked: Cell<Option<Waker>>,
    /// The anchor's timer is set.
    armed: Cell<bool>,
}

thread_local! {
    static ANCHOR: Anchor = const {
        Anchor {
            busy: Cell::new(false),
            parked: Cell::new(None),
            armed: Cell::new(false),
        }
    };
}

/// Notes that a request started on this thread; re-arms this worker's anchor if it
/// had stopped. Costs a thread-local flag on threads without one.
pub(crate) fn request_started() {
    ANCHOR.with(|anchor| {
        anchor.busy.set(true);
        if let Some(waker) = anchor.parked.take() {
            waker.wake();
        }
    });
}

/// The anchor of the worker whose runtime runs this (one per worker thread); runs
/// until dropped.
pub(crate) async fn keep_armed() {
    loop {
        poll_fn(|cx| {
            ANCHOR.with(|anchor| {
                if anchor.busy.get() {
                    Poll::Ready(())
                } else {
                    anchor.parked.set(Some(cx.waker().clone()));
                    Poll::Pending
                }
            })
        })
        .await;
        ANCHOR.with(|anchor| anchor.armed.set(true));
        loop {
            ANCHOR.with(|anchor| anchor.busy.set(false));
            tokio::time::sleep(TICK).await;
            if !ANCHOR.with(|anchor| anchor.busy.get()) {
                break;
            }
        }
        ANCHOR.with(|anchor| anchor.armed.set(false));
    }
}

/// Whether this thread's anchor has its timer set.
#[cfg(test)]
fn is_armed() -> bool {
    ANCHOR.with(|anchor| anchor.armed.get())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Lets the anchor task run what is ready.
    async fn settle() {
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn the_anchor_ticks_while_requests_come_and_stops_when_they_do_not() {
        let anchor = tokio::spawn(keep_armed());
        settle().await;
        assert!(!is_armed(), "no request yet: no timer");

        request_started();
        settle().await;
        assert!(is_armed());
        for _ in 0..10 {
            tokio::time::sleep(TICK / 2).await;
            request_started();
            settle().await;
            assert!(is_armed(), "requests keep coming");
        }

        // One tick may still see the last request; the next one stops.
        tokio::time::sleep(TICK * 2 + TICK / 2).await;
        settle().await;
        assert!(!is_armed(), "a tick without requests stops the anchor");

        request_started();
        settle().await;
        assert!(is_armed(), "the next request re-arms it");
        anchor.abort();
    }

    /// Write system calls made by the calling thread so far (its eventfd writes
    /// among them).
    #[cfg(target_os = "linux")]
    fn writes_by_this_thread() -> u64 {
        let io = std::fs::read_to_string("/proc/thread-self/io").unwrap();
        io.lines()
            .find_map(|line| line.strip_prefix("syscw:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// What the anchor is for, measured on a runtime built like a worker's: a
    /// request's deadline timer, set after the runtime slept with no timer, makes
    /// the runtime write to its eventfd; with the anchor armed it does not. Also
    /// catches a tokio that no longer behaves so, which would make the anchor moot.
    #[cfg(target_os = "linux")]
    #[test]
    fn with_the_anchor_a_request_deadline_does_not_wake_the_runtime() {
        const ROUNDS: u64 = 100;
        let writes = |anchored: bool| {
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    if anchored {
                        tokio::spawn(keep_armed());
                    }
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                    // Requests and answers arrive from another thread, so the
                    // runtime sleeps in between, as a worker waits for a client,
                    // then for a provider.
                    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
                    let sender = std::thread::spawn(move || {
                        while go_rx.recv().is_ok() {
                            std::thread::sleep(Duration::from_millis(1));
                            if tx.send(()).is_err() {
                                break;
                            }
                        }
                    });
                    let before = writes_by_this_thread();
                    for _ in 0..ROUNDS {
                        // The next request, awaited with no timer set.
                        go_tx.send(()).unwrap();
                        rx.recv().await.unwrap();
                        request_started();
                        // Its answer, awaited with a deadline.
                        go_tx.send(()).unwrap();
                        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                        tokio::time::timeout_at(deadline, rx.recv())
                            .await
                            .unwrap()
                            .unwrap();
                    }
                    let after = writes_by_this_thread();
                    drop(go_tx);
                    sender.join().unwrap();
                    after - before
                })
            })
            .join()
            .unwrap()
        };
        let plain = writes(false);
        let anchored = writes(true);
        assert!(
            plain >= ROUNDS / 2,
            "without the anchor each deadline should wake the runtime: {plain} writes"
        );
        assert!(
            anchored <= ROUNDS / 10,
            "with the anchor, deadlines should not wake the runtime: {anchored} writes"
        );
    }
}
