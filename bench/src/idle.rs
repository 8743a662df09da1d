//! The gateway's CPU use while nobody calls it: what a tray app costs a laptop between
//! an agent's requests. Read from the kernel's per-thread scheduling figures, which
//! count nanoseconds, where `/proc/PID/stat` counts 10 ms ticks. A thread that ends
//! within the watch (the blocking pool lets a thread go after 10 s unused) takes its
//! figures with it; what it did in the watch is then missed, not what it did before.

use crate::procs::{scheduled, Proc};
use serde_json::{json, Value};
use std::time::Duration;

/// How long the idle gateway's CPU use is watched (a tray app's cost when nobody calls it).
const WATCHED: Duration = Duration::from_secs(10);
const WATCHED_QUICK: Duration = Duration::from_secs(3);

/// What the gateway spends while nobody calls it: its periodic work (the configuration
/// check every second) and its threads' wake-ups.
pub struct IdleCpu {
    watched: Duration,
    on_cpu: Duration,
    slices: u64,
}

impl IdleCpu {
    fn ms_per_s(&self) -> f64 {
        self.on_cpu.as_secs_f64() * 1000.0 / self.watched.as_secs_f64()
    }

    fn scheduled_per_s(&self) -> f64 {
        self.slices as f64 / self.watched.as_secs_f64()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "watched_s": self.watched.as_secs_f64(),
            "cpu_ms_per_s": self.ms_per_s(),
            "scheduled_per_s": self.scheduled_per_s(),
        })
    }

    pub fn line(&self) -> String {
        format!(
            "Idle: {:.3} ms of CPU a second, its threads scheduled {:.1} times a second (over {} s)\n",
            self.ms_per_s(),
            self.scheduled_per_s(),
            self.watched.as_secs()
        )
    }
}

/// Watches the idle gateway (for less time in a quick run); `None` where the kernel
/// keeps no per-thread scheduling figures.
pub fn watch(gateway: &Proc, quick: bool) -> Option<IdleCpu> {
    let watched = if quick { WATCHED_QUICK } else { WATCHED };
    let before = scheduled(gateway.pid())?;
    std::thread::sleep(watched);
    let (on_cpu, slices) = scheduled(gateway.pid())?.since(&before);
    Some(IdleCpu {
        watched,
        on_cpu,
        slices,
    })
}
