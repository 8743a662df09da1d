//! Instructions per proxied request, counted by callgrind (valgrind's tool) in the
//! gateway's threads: the request workers, the log writer and the rest. Also the
//! allocations each makes per request: the calls into the allocator callgrind saw.
//!
//! Time on a shared machine moves by more than a few percent between runs, so a change
//! that saves a few percent of the gateway's work cannot be told from noise by timing
//! it. The count of instructions the gateway executes for the same requests barely
//! moves (well under 1% between runs for the workers), so it can. It is not time: a
//! cache miss or a system call costs far more than its instructions, and callgrind
//! counts each byte of a `rep movsb` copy as one. Read it beside the timings.
//!
//! Not part of a full run: it needs valgrind, and the gateway runs some fifty times
//! slower under it. `--only instructions` runs it.

use crate::load::{self, Target};
use crate::procs::{free_port, GatewaySetup};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// Requests per second, on one connection: slow enough for the gateway under valgrind.
/// The log writer's work per record depends on how many records share a batch, so
/// the rate is fixed and printed with the figures.
pub const RATE: f64 = 200.0;
/// The rate for paced streams, which last about 12 ms each: one connection carries
/// one at a time, and at [`RATE`] they would queue.
pub const PACED_RATE: f64 = 50.0;
/// The rate for agent-sized requests (~260 KB): each costs the gateway about a
/// millisecond of CPU natively, tens of milliseconds under valgrind.
pub const AGENT_RATE: f64 = 5.0;
/// Requests before counting starts: connections, pools and caches settle.
const WARMUP: Duration = Duration::from_secs(2);
const MEASURE: Duration = Duration::from_secs(10);
/// Time for the log writer to write the last records (it gathers them for 100 ms).
const SETTLE: Duration = Duration::from_millis(1500);
/// Start-up under valgrind takes seconds, not milliseconds.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// What a thread of the gateway is, told by the functions its counts name.
const ROLES: [(&str, &str); 2] = [
    ("log_writer", "write_loop"),
    ("request_workers", "proxy::proxy"),
];

/// The allocator's entry points that make a new block: jemalloc's (as the gateway
/// links it, with its prefix) and the C library's, which SQLite calls.
const ALLOCATORS: [&str; 5] = [
    "_rjem_malloc",
    "_rjem_mallocx",
    "_rjem_calloc",
    "malloc",
    "calloc",
];

/// The requests whose instructions are counted.
pub struct Counted {
    /// How the report names them, e.g. "OpenAI pass-through, non-streaming".
    pub label: &'static str,
    pub path: &'static str,
    /// Headers besides the gateway key, which `key_header` carries.
    pub headers: Vec<(&'static str, String)>,
    pub key_header: &'static str,
    /// The body (1 KB, or agent-sized); it must ask for a stream when `stream` is set.
    pub body: String,
    pub stream: bool,
    /// Requests per second ([`RATE`] unless they cannot keep it on one connection).
    pub rate: f64,
}

/// Counts the instructions of `counted`'s requests and returns the JSON figures and the
/// report's text.
pub fn measure(
    setup: &GatewaySetup,
    runtime: &Runtime,
    work: &Path,
    counted: Counted,
) -> Result<(Value, String)> {
    check_valgrind()?;
    let out_dir = work.join("callgrind");
    std::fs::create_dir_all(&out_dir)?;
    let mut out_file = OsString::from("--callgrind-out-file=");
    out_file.push(out_dir.join("callgrind.out.%p"));
    let launcher = [
        OsString::from("valgrind"),
        OsString::from("--tool=callgrind"),
        OsString::from("--separate-threads=yes"),
        out_file,
    ];
    let port = free_port()?;
    let (gateway, _) = setup.start_and_wait_with(port, START_TIMEOUT, &launcher)?;
    let pid = gateway.pid();
    let key = if counted.key_header == "authorization" {
        format!("Bearer {}", setup.key)
    } else {
        setup.key.clone()
    };
    let mut headers = counted.headers;
    headers.push((counted.key_header, key));
    let target = Arc::new(Target::new(
        SocketAddr::from(([127, 0, 0, 1], port)),
        counted.path,
        &headers,
        counted.body,
        counted.stream,
    )?);
    let warm = runtime.block_on(load::fixed_rate(
        target.clone(),
        counted.rate,
        Duration::ZERO,
        WARMUP,
        1,
    ))?;
    if warm.errors > 0 {
        bail!("{} of the warm-up requests failed", warm.errors);
    }
    callgrind_control("-z", pid)?;
    let done = runtime.block_on(load::fixed_rate(
        target,
        counted.rate,
        Duration::ZERO,
        MEASURE,
        1,
    ))?;
    std::thread::sleep(SETTLE);
    callgrind_control("-d", pid)?;
    gateway.stop(Duration::from_secs(30));
    if done.errors > 0 || done.ok == 0 {
        bail!(
            "{} of {} counted requests failed",
            done.errors,
            done.ok + done.errors
        );
    }
    let threads = read_dump(&out_dir, pid)?;
    Ok(report(&threads, done.ok, counted.rate, counted.label))
}

fn check_valgrind() -> Result<()> {
    let found = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        bail!(
            "counting instructions needs valgrind (on Debian or Ubuntu: apt-get install valgrind)"
        );
    }
    Ok(())
}

/// `callgrind_control -z` zeroes the counts; `-d` writes them out.
fn callgrind_control(command: &str, pid: u32) -> Result<()> {
    let output = Command::new("callgrind_control")
        .args([command, &pid.to_string()])
        .stdin(Stdio::null())
        .output()
        .context("running callgrind_control (part of valgrind)")?;
    if !output.status.success() {
        bail!(
            "callgrind_control {command} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Instructions counted in one thread of the gateway.
struct ThreadCount {
    role: &'static str,
    instructions: u64,
    allocations: u64,
}

/// The first dump's files, one per thread (`callgrind.out.PID.1-TID`). The dump is
/// written before `callgrind_control -d` returns; the wait covers a slow file system.
fn read_dump(dir: &Path, pid: u32) -> Result<Vec<ThreadCount>> {
    let prefix = format!("callgrind.out.{pid}.1-");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut threads = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                threads.push(read_thread(&entry.path())?);
            }
        }
        if !threads.is_empty() {
            return Ok(threads);
        }
        if Instant::now() > deadline {
            bail!("callgrind wrote no counts to {}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read_thread(path: &Path) -> Result<ThreadCount> {
    let text = std::fs::read_to_string(path)?;
    let instructions = text
        .lines()
        .find_map(|line| {
            line.strip_prefix("summary:")
                .or_else(|| line.strip_prefix("totals:"))
        })
        .and_then(|n| n.trim().parse::<u64>().ok())
        .ok_or_else(|| anyhow!("no total in {}", path.display()))?;
    let role = ROLES
        .iter()
        .find(|(_, function)| text.contains(function))
        .map_or("other", |(role, _)| role);
    Ok(ThreadCount {
        role,
        instructions,
        allocations: allocator_calls(&text),
    })
}

/// Calls into [`ALLOCATORS`] in a callgrind profile. A call is written as a `cfn=`
/// line naming the function called, then a `calls=COUNT ...` line. Names are
/// compressed: the first mention is `(id) name`, later ones `(id)` alone, shared
/// by `fn=` and `cfn=` lines.
fn allocator_calls(profile: &str) -> u64 {
    let mut names: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    let mut called: Option<&str> = None;
    let mut total = 0;
    for line in profile.lines() {
        let (is_call, spec) = if let Some(spec) = line.strip_prefix("cfn=") {
            (true, spec)
        } else if let Some(spec) = line.strip_prefix("fn=") {
            (false, spec)
        } else {
            if let (Some(counts), Some(function)) = (line.strip_prefix("calls="), called) {
                if ALLOCATORS.contains(&function) {
                    let count = counts.split_whitespace().next().unwrap_or("0");
                    total += count.parse::<u64>().unwrap_or(0);
                }
            }
            continue;
        };
        let name = match spec.strip_prefix('(').and_then(|s| s.split_once(')')) {
            Some((id, "")) => names.get(id).copied(),
            Some((id, name)) => {
                let name = name.trim_start();
                names.insert(id, name);
                Some(name)
            }
            None => Some(spec),
        };
        // A `fn=` line starts another function's costs and calls.
        called = if is_call { name } else { None };
    }
    total
}

fn report(threads: &[ThreadCount], requests: u64, rate: f64, label: &str) -> (Value, String) {
    let per_request = |role: Option<&str>, count: fn(&ThreadCount) -> u64| {
        let sum: u64 = threads
            .iter()
            .filter(|t| role.is_none_or(|r| t.role == r))
            .map(count)
            .sum();
        sum as f64 / requests as f64
    };
    let instructions = |t: &ThreadCount| t.instructions;
    let allocations = |t: &ThreadCount| t.allocations;
    let mut figures = serde_json::Map::new();
    let mut allocation_figures = serde_json::Map::new();
    let mut text = format!(
        "\nInstructions per request ({label}; {requests} requests at {rate} rps on one connection):\n"
    );
    text.push_str(&format!(
        "  {:<16} {:>12} {:>12}\n",
        "", "instructions", "allocations"
    ));
    let roles = ROLES
        .iter()
        .map(|(role, _)| Some(*role))
        .chain([Some("other"), None]);
    for role in roles {
        let name = role.unwrap_or("total");
        let (n, a) = (
            per_request(role, instructions),
            per_request(role, allocations),
        );
        figures.insert(name.into(), json!(n.round()));
        allocation_figures.insert(name.into(), json!((a * 10.0).round() / 10.0));
        text.push_str(&format!(
            "  {:<16} {:>12.0} {:>12.1}\n",
            name.replace('_', " "),
            n,
            a
        ));
    }
    let value = json!({
        "requests": requests,
        "rate_rps": rate,
        "per_request": Value::Object(figures),
        "allocations_per_request": Value::Object(allocation_figures),
    });
    (value, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocator_calls_are_summed_through_compressed_names() {
        let profile = "\
fn=(1) switchyard::proxy::proxy
cfn=(2) _rjem_malloc
calls=3 0
12 40
cfn=(3) helper
calls=5 0
13 90
fn=(3)
cfn=(2)
calls=2 0
20 10
cfn=(4) malloc
calls=7 0
21 30
fn=(5) unrelated
calls=100 0
30 1
cfn=(6) _rjem_sdallocx
calls=9 0
31 5
";
        // 3 and 2 into jemalloc, 7 into the C library; frees and other calls not.
        assert_eq!(allocator_calls(profile), 12);
    }
}
