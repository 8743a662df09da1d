//! The processes under test: the mock upstream (this binary, `mock` subcommand), the
//! release `switchyard serve` with logging to SQLite on, and optionally LiteLLM's proxy.
//! Also resident memory from `/proc` and the start-up probe.

use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The upstream key the gateway's providers send to the mock (read from its environment).
const UPSTREAM_KEY_VAR: &str = "SWITCHYARD_BENCH_UPSTREAM_KEY";
/// The benchmark's pid, given to the helpers it starts.
const PARENT_VAR: &str = "SWITCHYARD_BENCH_PARENT";

/// The children still running, for [`stop_children_on_signal`].
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());
/// Set once a signal is stopping the run.
static STOPPING: AtomicBool = AtomicBool::new(false);
/// The benchmark's scratch folder, removed when a signal stops the run.
static SCRATCH: Mutex<Option<PathBuf>> = Mutex::new(None);

/// A child process that is terminated (SIGTERM, then SIGKILL) when dropped.
pub struct Proc {
    child: Child,
    pub name: &'static str,
}

impl Proc {
    /// Takes charge of `child`, which should have been started with [`detached`].
    pub fn new(child: Child, name: &'static str) -> Proc {
        if let Ok(mut running) = RUNNING.lock() {
            running.push(child.id());
            // Started while a signal stops the run: stop it with the others.
            if STOPPING.load(Ordering::SeqCst) {
                send_signal("-TERM", child.id());
            }
        }
        Proc { child, name }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, in bytes.
    pub fn rss(&self) -> Result<u64> {
        rss_of(self.pid())
    }

    /// Asks the process to stop (SIGTERM) and waits up to `grace` before killing it.
    pub fn stop(mut self, grace: Duration) {
        self.terminate(grace);
    }

    fn terminate(&mut self, grace: Duration) {
        let pid = self.pid();
        if let Ok(mut running) = RUNNING.lock() {
            running.retain(|&p| p != pid);
        }
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        send_signal("-TERM", pid);
        let until = Instant::now() + grace;
        while Instant::now() < until {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        crate::say(format!(
            "{} did not stop within {grace:?}; killing it",
            self.name
        ));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate(Duration::from_secs(5));
    }
}

fn send_signal(signal: &str, pid: u32) {
    let _ = Command::new("kill")
        .arg(signal)
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// `command` in a process group of its own, so that Ctrl-C reaches only the
/// benchmark, which then stops its children in order (see [`stop_children_on_signal`]);
/// and told the benchmark's pid, for [`exit_with_parent`].
pub fn detached(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    command
        .process_group(0)
        .env(PARENT_VAR, std::process::id().to_string())
}

/// Whether `pid` is still running (a zombie waiting to be collected is not).
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Stops the children and removes `scratch` when the benchmark itself is stopped by
/// Ctrl-C, `SIGTERM` or `SIGHUP`, which would otherwise leave the gateway and the
/// helpers running (and holding their ports) and the request log on disk. The
/// helpers also end on their own when the benchmark is killed outright (see
/// [`exit_with_parent`]).
pub fn stop_children_on_signal(scratch: &Path) {
    if let Ok(mut dir) = SCRATCH.lock() {
        *dir = Some(scratch.to_path_buf());
    }
    std::thread::spawn(|| {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut hangup), Ok(mut interrupt)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            let code = tokio::select! {
                _ = term.recv() => 143,
                _ = hangup.recv() => 129,
                _ = interrupt.recv() => 130,
            };
            // Set under the lock, so a child started from now on is stopped as it
            // registers (see `Proc::new`).
            let running = RUNNING
                .lock()
                .map(|r| {
                    STOPPING.store(true, Ordering::SeqCst);
                    r.clone()
                })
                .unwrap_or_default();
            for &pid in &running {
                send_signal("-TERM", pid);
            }
            // The gateway writes its queued records before it exits; then its folder goes.
            let until = Instant::now() + Duration::from_secs(5);
            let left = || {
                let all = RUNNING.lock().map(|r| r.clone()).unwrap_or_default();
                all.into_iter()
                    .filter(|&pid| is_running(pid))
                    .collect::<Vec<_>>()
            };
            while Instant::now() < until && !left().is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            for pid in left() {
                send_signal("-KILL", pid);
            }
            if let Some(dir) = SCRATCH.lock().ok().and_then(|d| d.clone()) {
                let _ = std::fs::remove_dir_all(dir);
            }
            crate::say("stopped; the processes it started were stopped too");
            std::process::exit(code);
        });
    });
}

/// Whether a signal is stopping the run (errors from its children are expected then).
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Ends this helper process once the benchmark that started it is gone, even when
/// it was killed with no chance to stop its children.
pub fn exit_with_parent() {
    // The benchmark says who it is: by the time this runs it may be gone already.
    let parent = std::env::var(PARENT_VAR)
        .ok()
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(std::os::unix::process::parent_id);
    std::thread::spawn(move || loop {
        if std::os::unix::process::parent_id() != parent {
            std::process::exit(0);
        }
        std::thread::sleep(Duration::from_millis(250));
    });
}

/// `VmRSS` of a process, in bytes.
pub fn rss_of(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow!("no VmRSS for process {pid}"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("VmRSS line '{line}'"))?;
    Ok(kb * 1024)
}

/// CPU time (user + system) a process has used so far; `None` if it cannot be read.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100)
    });
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / ticks as f64,
    ))
}

/// Each thread's time on a CPU and times scheduled onto one, by thread id, from
/// `/proc/PID/task/*/schedstat` (nanoseconds, unlike `stat`'s clock ticks: an idle
/// process uses well under a tick a second). `None` where the kernel does not keep them.
pub fn scheduled(pid: u32) -> Option<Scheduled> {
    let mut threads = HashMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let task = task.ok()?;
        // A thread that ended since the listing is skipped.
        let Ok(line) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        let mut fields = line.split_whitespace();
        let on_cpu = fields.next()?.parse::<u64>().ok()?;
        let slices = fields.nth(1)?.parse::<u64>().ok()?;
        threads.insert(task.file_name(), (on_cpu, slices));
    }
    // A kernel that keeps no such figures may still write the file, with zeros.
    if threads.values().all(|&(on_cpu, _)| on_cpu == 0) {
        return None;
    }
    Some(Scheduled { threads })
}

/// A process's threads' scheduling figures at one moment (see [`scheduled`]).
pub struct Scheduled {
    threads: HashMap<OsString, (u64, u64)>,
}

impl Scheduled {
    /// CPU time and times scheduled since `earlier`, over the threads alive now (a
    /// thread started since counts whole). A thread that ended in between is left out
    /// rather than subtracted: its figures went with it, and summing the threads at
    /// each end would take its whole life off the difference.
    pub fn since(&self, earlier: &Scheduled) -> (Duration, u64) {
        let (mut on_cpu, mut slices) = (0u64, 0u64);
        for (thread, (cpu_now, slices_now)) in &self.threads {
            let (cpu_then, slices_then) = earlier.threads.get(thread).copied().unwrap_or_default();
            on_cpu += cpu_now.saturating_sub(cpu_then);
            slices += slices_now.saturating_sub(slices_then);
        }
        (Duration::from_nanos(on_cpu), slices)
    }
}

/// Resident memory of a process and all its descendants (LiteLLM runs workers), in bytes.
pub fn rss_tree(pid: u32) -> Result<u64> {
    let mut total = rss_of(pid)?;
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for child in children.split_whitespace() {
        if let Ok(child) = child.parse::<u32>() {
            total += rss_tree(child).unwrap_or(0);
        }
    }
    Ok(total)
}

/// A port that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Starts this binary's mock upstream and returns it with its address.
pub fn start_mock() -> Result<(Proc, SocketAddr)> {
    start_helper(&["mock", "--listen", "127.0.0.1:0"], "mock")
}

/// Starts the minimal forwarding proxy in front of the mock (see `floor.rs`).
pub fn start_floor_proxy(upstream: SocketAddr) -> Result<(Proc, SocketAddr)> {
    let upstream = upstream.to_string();
    start_helper(
        &[
            "floor-proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
        ],
        "minimal proxy",
    )
}

/// Runs this binary with `args` and reads the address from its first line.
fn start_helper(args: &[&str], name: &'static str) -> Result<(Proc, SocketAddr)> {
    let exe = std::env::current_exe().context("locating the benchmark binary")?;
    let mut child = detached(&mut Command::new(exe))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting the {name}"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("the {name}'s stdout is not piped"))?;
    let proc = Proc::new(child, name);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| anyhow!("unexpected first line from the {name}: {line:?}"))?
        .parse()?;
    Ok((proc, addr))
}

/// A data directory with the benchmark's configuration and a gateway key.
pub struct GatewaySetup {
    pub binary: PathBuf,
    pub data_dir: PathBuf,
    pub key: String,
}

/// The configuration: `mock` (OpenAI-compatible, priced so cost is computed per
/// request) and `mockant` (Anthropic), both pointing at the mock upstream.
fn bench_config(mock: SocketAddr) -> String {
    format!(
        r#"
[[providers]]
name = "mock"
kind = "openai-compatible"
base_url = "http://{mock}/v1"
api_key = {{ env = "{UPSTREAM_KEY_VAR}" }}
models = ["bench-model", "bench-slow", "bench-paced"]

[[providers]]
name = "mockant"
kind = "anthropic"
base_url = "http://{mock}"
api_key = {{ env = "{UPSTREAM_KEY_VAR}" }}

[prices."mock/bench-model"]
input_cost_per_token = 0.000001
output_cost_per_token = 0.000002

[prices."mock/bench-paced"]
input_cost_per_token = 0.000001
output_cost_per_token = 0.000002

[prices."mockant/bench-model"]
input_cost_per_token = 0.000001
output_cost_per_token = 0.000002
"#
    )
}

fn run_cli(binary: &Path, data_dir: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new(binary)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env(UPSTREAM_KEY_VAR, "bench-upstream-key")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    if !output.status.success() {
        bail!(
            "`switchyard {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl GatewaySetup {
    /// Applies the configuration and creates a key in a fresh `data_dir`.
    pub fn prepare(binary: &Path, data_dir: &Path, mock: SocketAddr) -> Result<GatewaySetup> {
        std::fs::create_dir_all(data_dir)?;
        let config = data_dir.join("bench.toml");
        std::fs::write(&config, bench_config(mock))?;
        let config = config
            .to_str()
            .ok_or_else(|| anyhow!("data directory path is not UTF-8"))?
            .to_string();
        run_cli(binary, data_dir, &["apply", &config])?;
        let key = run_cli(binary, data_dir, &["key", "create", "bench"])?
            .trim()
            .to_string();
        if !key.starts_with("sy-") {
            bail!("unexpected output from `switchyard key create`: {key}");
        }
        Ok(GatewaySetup {
            binary: binary.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            key,
        })
    }

    /// Starts `switchyard serve` on `port`, through `launcher` (a program and its
    /// arguments, which runs the gateway's command line) unless it is empty; the
    /// gateway's log goes to `serve.log` in the data dir.
    fn spawn(&self, port: u16, launcher: &[OsString]) -> Result<Proc> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.join("serve.log"))?;
        let mut command = match launcher.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&self.binary);
                command
            }
            None => Command::new(&self.binary),
        };
        let child = detached(&mut command)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env(UPSTREAM_KEY_VAR, "bench-upstream-key")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        Ok(Proc::new(child, "switchyard"))
    }

    /// Starts the gateway and polls it (every 250 µs) with a real chat completion until
    /// one is answered with 200. Returns the process and the time from spawn to answer.
    pub fn start_and_wait(&self, port: u16, timeout: Duration) -> Result<(Proc, Duration)> {
        self.start_and_wait_with(port, timeout, &[])
    }

    /// [`GatewaySetup::start_and_wait`] through a launcher (see [`GatewaySetup::spawn`]).
    pub fn start_and_wait_with(
        &self,
        port: u16,
        timeout: Duration,
        launcher: &[OsString],
    ) -> Result<(Proc, Duration)> {
        let started = Instant::now();
        let proc = self.spawn(port, launcher)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let request = raw_request(
            addr,
            "/v1/chat/completions",
            &[("authorization", format!("Bearer {}", self.key))],
            crate::openai_body("mock/bench-model", false),
        );
        loop {
            if started.elapsed() > timeout {
                bail!("the gateway did not answer within {timeout:?}");
            }
            if let Ok(Some(status)) = try_raw(addr, &request) {
                if status == 200 {
                    return Ok((proc, started.elapsed()));
                }
                bail!("the gateway answered its first request with HTTP {status}");
            }
            std::thread::sleep(Duration::from_micros(250));
        }
    }

    pub fn admin_token(&self) -> Result<String> {
        Ok(std::fs::read_to_string(self.data_dir.join("admin-token"))?
            .trim()
            .to_string())
    }
}

/// A complete HTTP/1.1 request with `Connection: close`.
pub fn raw_request(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, String)],
    body: String,
) -> Vec<u8> {
    let mut text = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(&body);
    text.into_bytes()
}

/// Sends a raw request; `Ok(None)` when nothing listens yet.
fn try_raw(addr: SocketAddr, request: &[u8]) -> Result<Option<u16>> {
    let stream = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    Ok(Some(exchange_raw(stream, request)?.0))
}

/// Sends a raw request and reads the whole answer: status and body text.
pub fn post_raw(addr: SocketAddr, request: &[u8]) -> Result<(u16, String)> {
    exchange_raw(TcpStream::connect(addr)?, request)
}

fn exchange_raw(mut stream: TcpStream, request: &[u8]) -> Result<(u16, String)> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| anyhow!("no HTTP status in the answer"))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, body.to_string()))
}

/// A GET with a bearer token; the answer's body. For the admin API.
pub fn get_json(addr: SocketAddr, path: &str, token: &str) -> Result<serde_json::Value> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("malformed answer from {path}"))?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("{path}: {}", head.lines().next().unwrap_or(""));
    }
    // The admin API may answer chunked; the JSON is the first chunk's payload.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body.split_once("\r\n")
            .map(|(_, rest)| rest)
            .unwrap_or(body)
    } else {
        body
    };
    let end = body.rfind('}').map(|i| i + 1).unwrap_or(body.len());
    Ok(serde_json::from_str(&body[..end])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This thread's own time on a CPU.
    fn thread_cpu() -> Duration {
        let line = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
        Duration::from_nanos(line.split_whitespace().next().unwrap().parse().unwrap())
    }

    /// Works until this thread has had `time` on a CPU (not on the clock: a busy
    /// machine may give it less than the time that passes).
    fn spin(time: Duration) {
        let started = thread_cpu();
        while thread_cpu() < started + time {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn scheduled_counts_the_cpu_time_of_every_thread() {
        let pid = std::process::id();
        let before = scheduled(pid).expect("per-thread scheduling figures");
        // Work on another thread, which must be counted too: read while it lives.
        let (worked, done) = std::sync::mpsc::channel::<()>();
        let (read, reading_taken) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            spin(Duration::from_millis(30));
            worked.send(()).unwrap();
            reading_taken.recv().unwrap();
        });
        done.recv().unwrap();
        let during = scheduled(pid).unwrap();
        read.send(()).unwrap();
        worker.join().unwrap();
        let (on_cpu, slices) = during.since(&before);
        assert!(on_cpu >= Duration::from_millis(25), "{on_cpu:?}");
        assert!(slices > 0);
        // The worker has ended and its figures are gone from later readings: the work
        // done since on this thread counts in full, not less what the worker had used.
        spin(Duration::from_millis(30));
        let after = scheduled(pid).unwrap();
        assert!(after.since(&during).0 >= Duration::from_millis(25));
    }
}
