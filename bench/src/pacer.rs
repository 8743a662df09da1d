//! A timer for the mock's paced streams, finer than the runtime's.
//!
//! The runtime's timer rounds every deadline up to its next millisecond tick. A paced
//! stream's events would then leave on that grid, and how much a stream's last event
//! is rounded would depend on where its request arrived between two ticks: a request
//! the gateway forwarded, tens of microseconds after the generator sent it, could be
//! rounded up a whole tick more or less than the same request sent directly. This
//! thread sleeps until each deadline itself (the kernel's timers are precise to tens of
//! microseconds), so events leave when they are due, whoever asked for the stream.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;
use tokio::sync::oneshot;

/// A deadline and who waits for it; ordered by deadline, then by arrival.
struct Alarm {
    due: Instant,
    order: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Alarm {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}

impl Eq for Alarm {}

impl PartialOrd for Alarm {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Alarm {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.order).cmp(&(other.due, other.order))
    }
}

/// The handle the mock's streams ask for their deadlines through.
#[derive(Clone)]
pub struct Pacer {
    alarms: mpsc::Sender<(Instant, oneshot::Sender<()>)>,
}

impl Pacer {
    /// Starts the timer thread; it ends when every handle is gone.
    pub fn start() -> std::io::Result<Pacer> {
        let (alarms, requests) = mpsc::channel();
        std::thread::Builder::new()
            .name("mock-pacer".into())
            .spawn(move || run(requests))?;
        Ok(Pacer { alarms })
    }

    /// Resolves at `due` (at once if it has passed, or if the timer thread is gone).
    pub async fn until(&self, due: Instant) {
        let (wake, woken) = oneshot::channel();
        if self.alarms.send((due, wake)).is_ok() {
            let _ = woken.await;
        }
    }
}

fn run(requests: mpsc::Receiver<(Instant, oneshot::Sender<()>)>) {
    let mut pending: BinaryHeap<Reverse<Alarm>> = BinaryHeap::new();
    let mut order = 0u64;
    loop {
        let next = pending.peek().map(|Reverse(alarm)| alarm.due);
        let request = match next {
            None => match requests.recv() {
                Ok(request) => Some(request),
                Err(_) => return,
            },
            Some(due) => match requests.recv_timeout(due.saturating_duration_since(Instant::now()))
            {
                Ok(request) => Some(request),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            },
        };
        if let Some((due, wake)) = request {
            order += 1;
            pending.push(Reverse(Alarm { due, order, wake }));
        }
        let now = Instant::now();
        while pending
            .peek()
            .is_some_and(|Reverse(alarm)| alarm.due <= now)
        {
            if let Some(Reverse(alarm)) = pending.pop() {
                // The stream may be gone (its client hung up): nothing to wake then.
                let _ = alarm.wake.send(());
            }
        }
    }
}
