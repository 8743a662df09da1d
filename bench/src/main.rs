//! `switchyard-bench`: measures what the gateway costs on top of a provider.
//!
//! It starts a minimal mock upstream (this binary's `mock` subcommand) and the release
//! `switchyard serve` with request logging to SQLite on, then, on this machine:
//!
//! - latency through the gateway and directly to the mock at fixed rates (open loop) and
//!   at saturation (closed loop), non-streaming (p50/p90/p99) and streaming (time to
//!   first and to last byte); overhead is the gateway's percentile minus the direct one
//!   measured in the same run, the two taking turns in slices; throughput at saturation
//!   as a ratio to direct;
//! - the same for Anthropic clients through a translated route (Anthropic messages in,
//!   an OpenAI-compatible provider upstream), against direct Anthropic calls to the mock,
//!   and for OpenAI clients the other way (OpenAI chat in, an Anthropic provider
//!   upstream), against direct OpenAI calls;
//! - Anthropic clients passed through to an Anthropic provider (Claude Code on Claude),
//!   against the same direct Anthropic calls;
//! - streams paced as providers send them (one event a millisecond), pass-through and
//!   translated, at the fixed rates up to 1,000 rps;
//! - resident memory idle, after 100,000 and 1,000,000 requests, and under 256
//!   concurrent streams; start-up time to the first answered request; CPU while idle;
//! - optionally the same latency and memory figures for LiteLLM's proxy.
//!
//! Prints a table and writes JSON with the machine's core count. Run it with
//! `scripts/bench` (which builds the release binaries first).

mod agent;
mod floor;
mod idle;
mod instructions;
mod litellm;
mod load;
mod mock;
mod pacer;
mod procs;
mod report;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use load::{Stats, Target};
use procs::{GatewaySetup, Proc};
use report::{mib, overhead, Measure, Pair};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "switchyard-bench",
    about = "Gateway overhead, throughput, memory and start-up against a fast mock upstream"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the mock upstream (used by the benchmark itself)
    Mock {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Serve the minimal forwarding proxy (used by the benchmark itself)
    FloorProxy {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long)]
        upstream: SocketAddr,
    },
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// The `switchyard` binary [default: next to this one]
    #[arg(long, value_name = "PATH")]
    switchyard: Option<PathBuf>,
    /// Where to write the JSON results
    #[arg(long, default_value = "target/switchyard-bench/results.json")]
    out: PathBuf,
    /// Fixed request rates, requests per second
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    rates: Vec<f64>,
    /// Measured seconds per load level (after one second of warm-up), in 4 slices
    /// taken in turn with the direct calls (and the minimal proxy's)
    #[arg(long, default_value_t = 8.0)]
    secs: f64,
    /// Connections for the fixed-rate runs (the most requests in flight)
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Connections for the saturation runs
    #[arg(long, default_value_t = 64)]
    saturation_connections: usize,
    /// Requests in the memory-growth run (memory is also sampled at 100,000)
    #[arg(long, default_value_t = 1_000_000)]
    requests: u64,
    /// Concurrent streams held open for the memory figure
    #[arg(long, default_value_t = 256)]
    streams: usize,
    /// Gateway starts timed (the median is reported)
    #[arg(long, default_value_t = 5)]
    startups: usize,
    /// A short run for development: 2 s per level, 200,000 requests for memory
    #[arg(long)]
    quick: bool,
    /// Only these parts: startup, openai, floor, translated, reverse, anthropic, paced, agent,
    /// streams, memory (comma-separated); also instructions, which a full run leaves out
    /// (it needs valgrind): instructions per request, counted by callgrind
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Also measure LiteLLM's proxy (installed into target/switchyard-bench/litellm-venv)
    #[arg(long)]
    compare_litellm: bool,
}

impl RunArgs {
    fn wants(&self, part: &str) -> bool {
        self.only.is_empty() || self.names(part)
    }

    /// Whether `--only` names `part`: for the parts a full run leaves out.
    fn names(&self, part: &str) -> bool {
        self.only.iter().any(|p| p == part)
    }
}

const UPSTREAM_KEY: &str = "bench-upstream-key";
/// How long the gateway idles after the agent-sized runs before its memory is read again.
const AGENT_SETTLE: Duration = Duration::from_secs(15);
/// Memory is sampled when this many requests of the memory run are done.
const MEMORY_CHECKPOINT: u64 = 100_000;

/// A system prompt of a realistic size, so bodies are not trivially small (~1 KB).
const SYSTEM_PROMPT: &str = "You are a careful assistant working inside a code editor. Answer \
concisely, prefer small diffs over rewrites, explain the reason for each change in one sentence, \
and never invent APIs: when unsure, say so and suggest how to check. Keep identifiers as they are \
in the user's code, follow the project's formatting, and mention tests that should be run. When \
the user pastes an error, find its first cause before proposing a fix. Do not repeat the question \
back. Use the metric system and ISO dates.";

/// An OpenAI chat completion request of about 1 KB.
pub fn openai_body(model: &str, stream: bool) -> String {
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "Why does my Rust build fail with E0502 when I push to a vector while iterating over it?"}
        ],
        "temperature": 0.2,
        "max_tokens": 256,
        "stream": stream,
    })
    .to_string()
}

/// An Anthropic messages request of about 1 KB.
pub fn anthropic_body(model: &str, stream: bool) -> String {
    json!({
        "model": model,
        "system": SYSTEM_PROMPT,
        "messages": [
            {"role": "user", "content": "Why does my Rust build fail with E0502 when I push to a vector while iterating over it?"}
        ],
        "temperature": 0.2,
        "max_tokens": 256,
        "stream": stream,
    })
    .to_string()
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Mock { listen }) => mock::run(listen),
        Some(Command::FloorProxy { listen, upstream }) => floor::run(listen, upstream),
        None => run(cli.run),
    };
    if procs::stopping() {
        // A signal is stopping the run (and with it the gateway any error is about);
        // the signal's thread finishes stopping the children and exits.
        loop {
            std::thread::park();
        }
    }
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn say(text: impl AsRef<str>) {
    eprintln!("[bench] {}", text.as_ref());
}

/// The processes whose CPU time is measured: the mock, and the gateway (or LiteLLM).
#[derive(Clone, Copy)]
struct Pids {
    mock: u32,
    server: u32,
}

/// The targets of one route and mode: direct, through the gateway and, when measured
/// with it, through the minimal proxy.
struct RouteTargets {
    direct: Arc<Target>,
    gateway: Arc<Target>,
    /// The minimal proxy in front of the same mock. It takes its turns in the same
    /// levels as the gateway, so the two share their direct figures and the machine's
    /// spells of load, and are compared on the same footing.
    reference: Option<Arc<Target>>,
}

impl RouteTargets {
    /// The same direct requests through the minimal proxy `floor`, as the reference.
    fn with_reference(mut self, floor: Option<&(Proc, SocketAddr)>) -> Result<RouteTargets> {
        if let Some(floor) = floor {
            self.reference = Some(through_floor(&self.direct, floor)?);
        }
        Ok(self)
    }
}

/// `direct`'s requests sent through the minimal proxy `floor` instead.
fn through_floor(direct: &Target, (proc, addr): &(Proc, SocketAddr)) -> Result<Arc<Target>> {
    Ok(Arc::new(direct.at(*addr)?.with_server_pid(proc.pid())))
}

/// How a route's request body is written: for a model, streaming or not.
type BodyFor = fn(&str, bool) -> String;

/// A route's targets, streaming or not.
type TargetsFor<'a> = dyn Fn(bool) -> Result<RouteTargets> + 'a;

/// OpenAI clients: direct to the mock's `/v1/chat/completions`, and through the gateway
/// to `gateway_model` (the OpenAI-compatible provider `mock`, or the Anthropic provider
/// `mockant`, translated both ways).
fn openai_targets(
    mock: SocketAddr,
    gateway: SocketAddr,
    key: &str,
    stream: bool,
    pids: Pids,
    body: BodyFor,
    gateway_model: &str,
) -> Result<RouteTargets> {
    Ok(RouteTargets {
        direct: Arc::new(
            Target::new(
                mock,
                "/v1/chat/completions",
                &[("authorization", format!("Bearer {UPSTREAM_KEY}"))],
                body("bench-model", stream),
                stream,
            )?
            .with_server_pid(pids.mock),
        ),
        gateway: Arc::new(
            Target::new(
                gateway,
                "/v1/chat/completions",
                &[("authorization", format!("Bearer {key}"))],
                body(gateway_model, stream),
                stream,
            )?
            .with_server_pid(pids.server),
        ),
        reference: None,
    })
}

/// Anthropic clients: direct to the mock's `/v1/messages`, and through the gateway to
/// `gateway_model` (the OpenAI-compatible provider `mock`, translated both ways, or the
/// Anthropic provider `mockant`, passed through).
fn anthropic_targets(
    mock: SocketAddr,
    gateway: SocketAddr,
    key: &str,
    stream: bool,
    pids: Pids,
    body: BodyFor,
    gateway_model: &str,
) -> Result<RouteTargets> {
    let version = ("anthropic-version", "2023-06-01".to_string());
    Ok(RouteTargets {
        direct: Arc::new(
            Target::new(
                mock,
                "/v1/messages",
                &[("x-api-key", UPSTREAM_KEY.to_string()), version.clone()],
                body("bench-model", stream),
                stream,
            )?
            .with_server_pid(pids.mock),
        ),
        gateway: Arc::new(
            Target::new(
                gateway,
                "/v1/messages",
                &[("x-api-key", key.to_string()), version],
                body(gateway_model, stream),
                stream,
            )?
            .with_server_pid(pids.server),
        ),
        reference: None,
    })
}

struct Timing {
    warmup: Duration,
    measure: Duration,
}

/// Slices each level's measured time is cut into, direct, gateway and (when measured
/// with it) the minimal proxy taking turns. A shared machine's background load drifts
/// over seconds: measured back to back, one side could get a quiet spell and the other
/// a busy one, and the difference would read as the gateway's overhead. Taking turns
/// spreads the drift over all of them.
const SLICES: u32 = 4;
/// Warm-up before every slice but the first, which gets the level's full warm-up:
/// enough for new connections and the rate to settle; the processes are warm by then.
const SLICE_WARMUP: Duration = Duration::from_millis(250);

/// A load level.
#[derive(Clone, Copy)]
enum Level {
    FixedRate(f64),
    Saturation,
}

impl Level {
    /// `rates`, then saturation.
    fn rates_then_saturation(rates: &[f64]) -> Vec<Level> {
        let mut levels: Vec<Level> = rates.iter().map(|&rate| Level::FixedRate(rate)).collect();
        levels.push(Level::Saturation);
        levels
    }

    /// As the tables and the JSON name it.
    fn label(&self) -> String {
        match self {
            Level::FixedRate(rate) => format!("{rate} rps"),
            Level::Saturation => report::SATURATION.into(),
        }
    }
}

/// Every load level for one route and mode: the gateway's pairs, and the reference
/// proxy's (empty without one).
async fn levels(
    args: &RunArgs,
    levels: &[Level],
    timing: &Timing,
    targets: &RouteTargets,
    what: &str,
) -> Result<(Vec<Pair>, Vec<Pair>)> {
    let what = match targets.reference {
        Some(_) => format!("{what} (and the minimal proxy)"),
        None => what.to_string(),
    };
    let (mut pairs, mut references) = (Vec::new(), Vec::new());
    for &level in levels {
        say(format!("{what}: {}", level.label()));
        let (pair, reference) = pair(args, timing, targets, level).await?;
        pairs.push(pair);
        references.extend(reference);
    }
    Ok((pairs, references))
}

/// One level measured directly, through the gateway and through the reference proxy
/// if there is one, in slices taken in turn. The reference's pair shares the direct
/// figures with the gateway's.
async fn pair(
    args: &RunArgs,
    timing: &Timing,
    targets: &RouteTargets,
    level: Level,
) -> Result<(Pair, Option<Pair>)> {
    let length = timing.measure / SLICES;
    let (direct_target, gateway_target) = (&targets.direct, &targets.gateway);
    let mut direct = slice(args, level, direct_target, timing.warmup, length).await?;
    let mut gateway = slice(args, level, gateway_target, timing.warmup, length).await?;
    let mut reference = match &targets.reference {
        Some(target) => Some((
            target,
            slice(args, level, target, timing.warmup, length).await?,
        )),
        None => None,
    };
    for _ in 1..SLICES {
        direct.absorb(slice(args, level, direct_target, SLICE_WARMUP, length).await?)?;
        gateway.absorb(slice(args, level, gateway_target, SLICE_WARMUP, length).await?)?;
        if let Some((target, stats)) = &mut reference {
            stats.absorb(slice(args, level, target, SLICE_WARMUP, length).await?)?;
        }
    }
    let reference = reference.map(|(_, stats)| Pair {
        load: level.label(),
        direct: direct.clone(),
        gateway: stats,
    });
    let pair = Pair {
        load: level.label(),
        direct,
        gateway,
    };
    Ok((pair, reference))
}

/// One slice of a level against one target.
async fn slice(
    args: &RunArgs,
    level: Level,
    target: &Arc<Target>,
    warmup: Duration,
    length: Duration,
) -> Result<Stats> {
    match level {
        Level::FixedRate(rate) => {
            load::fixed_rate(target.clone(), rate, warmup, length, args.connections).await
        }
        Level::Saturation => {
            load::saturate(target.clone(), warmup, length, args.saturation_connections).await
        }
    }
}

/// Whether the gateway translates Anthropic requests for an OpenAI-format provider yet.
fn translation_available(
    gateway: SocketAddr,
    key: &str,
) -> Result<std::result::Result<(), String>> {
    let request = procs::raw_request(
        gateway,
        "/v1/messages",
        &[
            ("x-api-key", key.to_string()),
            ("anthropic-version", "2023-06-01".to_string()),
        ],
        anthropic_body("mock/bench-model", false),
    );
    let (status, body) = procs::post_raw(gateway, &request)?;
    if status == 200 {
        Ok(Ok(()))
    } else {
        let body: String = body.chars().take(300).collect();
        Ok(Err(format!("HTTP {status}: {body}")))
    }
}

struct Results {
    sections: Vec<(String, String, bool, Vec<Pair>)>,
    json: serde_json::Map<String, Value>,
    checks: Vec<(String, bool, String)>,
}

impl Results {
    fn check(&mut self, what: &str, pass: bool, figure: String) {
        self.checks.push((what.to_string(), pass, figure));
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn run(mut args: RunArgs) -> Result<()> {
    if args.quick {
        args.secs = args.secs.min(2.0);
        args.requests = args.requests.min(2 * MEMORY_CHECKPOINT);
        args.startups = args.startups.min(3);
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let binary = match &args.switchyard {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .ok_or_else(|| anyhow!("the benchmark binary has no folder"))?
            .join("switchyard"),
    };
    if !binary.exists() {
        bail!(
            "no switchyard binary at {}: build it with `cargo build --release -p switchyard-cli` or pass --switchyard",
            binary.display()
        );
    }
    let work = std::env::temp_dir().join(format!("switchyard-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    procs::stop_children_on_signal(&work);
    let outcome = run_in(&args, &binary, &work, cores);
    let _ = std::fs::remove_dir_all(&work);
    outcome
}

fn run_in(
    args: &RunArgs,
    binary: &std::path::Path,
    work: &std::path::Path,
    cores: usize,
) -> Result<()> {
    let started = Instant::now();
    let load_before = load_average();
    let timing = Timing {
        warmup: Duration::from_secs(1),
        measure: Duration::from_secs_f64(args.secs),
    };
    say(format!("{cores} cores; gateway {}", binary.display()));
    let (mock, mock_addr) = procs::start_mock()?;
    let setup = GatewaySetup::prepare(binary, &work.join("data"), mock_addr)?;
    let mut results = Results {
        sections: Vec::new(),
        json: serde_json::Map::new(),
        checks: Vec::new(),
    };

    // Start-up: spawn to the first answered chat completion, several times.
    let mut startups = Vec::new();
    if args.wants("startup") {
        say("start-up");
        for _ in 1..args.startups.max(1) {
            let (proc, took) =
                setup.start_and_wait(procs::free_port()?, Duration::from_secs(20))?;
            startups.push(took);
            proc.stop(Duration::from_secs(10));
        }
    }
    let port = procs::free_port()?;
    let (gateway, took) = setup.start_and_wait(port, Duration::from_secs(20))?;
    startups.push(took);
    let gateway_addr = SocketAddr::from(([127, 0, 0, 1], port));
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = gateway.rss()?;
    let idle_cpu = idle::watch(&gateway, args.quick);
    let startup_median = median(startups.clone());
    results.json.insert(
        "startup_ms".into(),
        json!({
            "median": startup_median.as_secs_f64() * 1000.0,
            "all": startups.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
        }),
    );
    results.check(
        "start-up to first answered request < 100 ms (median)",
        startup_median < Duration::from_millis(100),
        format!("{:.1} ms", startup_median.as_secs_f64() * 1000.0),
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(measure_all(
        args,
        &timing,
        &setup,
        &gateway,
        mock.pid(),
        gateway_addr,
        mock_addr,
        &mut results,
    ))?;

    if let Some(idle) = &idle_cpu {
        results.json.insert("idle_cpu".into(), idle.to_json());
    }
    let mut memory = json!({ "idle_mib": mib(idle_rss) });
    if let Some(Value::Object(extra)) = results.json.remove("memory") {
        if let Value::Object(m) = &mut memory {
            m.extend(extra);
        }
    }
    results.json.insert("memory".into(), memory);
    results.check(
        "idle memory < 30 MB",
        idle_rss < 30 * 1_000_000,
        format!("{:.1} MiB", mib(idle_rss)),
    );
    drop(gateway);

    if args.names("instructions") {
        let mut counts = serde_json::Map::new();
        let mut texts = String::new();
        let version = || vec![("anthropic-version", "2023-06-01".to_string())];
        // (name, label, whether the client speaks Anthropic's dialect, model, streaming,
        // requests per second, whether the request is agent-sized)
        let runs = [
            (
                "non_streaming",
                "OpenAI pass-through, non-streaming",
                false,
                "mock/bench-model",
                false,
                instructions::RATE,
                false,
            ),
            (
                "streaming",
                "OpenAI pass-through, streaming",
                false,
                "mock/bench-model",
                true,
                instructions::RATE,
                false,
            ),
            (
                "paced_streaming",
                "OpenAI pass-through, paced streaming",
                false,
                "mock/bench-paced",
                true,
                instructions::PACED_RATE,
                false,
            ),
            (
                "anthropic_non_streaming",
                "Anthropic pass-through, non-streaming",
                true,
                "mockant/bench-model",
                false,
                instructions::RATE,
                false,
            ),
            (
                "anthropic_streaming",
                "Anthropic pass-through, streaming",
                true,
                "mockant/bench-model",
                true,
                instructions::RATE,
                false,
            ),
            (
                "translated_non_streaming",
                "Anthropic to OpenAI, translated, non-streaming",
                true,
                "mock/bench-model",
                false,
                instructions::RATE,
                false,
            ),
            (
                "translated_streaming",
                "Anthropic to OpenAI, translated, streaming",
                true,
                "mock/bench-model",
                true,
                instructions::RATE,
                false,
            ),
            (
                "reverse_non_streaming",
                "OpenAI to Anthropic, translated, non-streaming",
                false,
                "mockant/bench-model",
                false,
                instructions::RATE,
                false,
            ),
            (
                "reverse_streaming",
                "OpenAI to Anthropic, translated, streaming",
                false,
                "mockant/bench-model",
                true,
                instructions::RATE,
                false,
            ),
            (
                "agent_non_streaming",
                "OpenAI pass-through, agent-sized, non-streaming",
                false,
                "mock/bench-model",
                false,
                instructions::AGENT_RATE,
                true,
            ),
            (
                "agent_translated_non_streaming",
                "Anthropic to OpenAI, translated, agent-sized, non-streaming",
                true,
                "mock/bench-model",
                false,
                instructions::AGENT_RATE,
                true,
            ),
        ];
        for (name, label, anthropic_client, model, stream, rate, agent_sized) in runs {
            say(format!("instructions per request, {label}, under valgrind"));
            let counted = if anthropic_client {
                instructions::Counted {
                    label,
                    path: "/v1/messages",
                    headers: version(),
                    key_header: "x-api-key",
                    body: if agent_sized {
                        agent::anthropic_body(model)
                    } else {
                        anthropic_body(model, stream)
                    },
                    stream,
                    rate,
                }
            } else {
                instructions::Counted {
                    label,
                    path: "/v1/chat/completions",
                    headers: Vec::new(),
                    key_header: "authorization",
                    body: if agent_sized {
                        agent::openai_body(model)
                    } else {
                        openai_body(model, stream)
                    },
                    stream,
                    rate,
                }
            };
            let (value, text) = instructions::measure(&setup, &runtime, work, counted)?;
            counts.insert(name.into(), value);
            texts.push_str(&text);
        }
        results
            .json
            .insert("instructions".into(), Value::Object(counts));
        results
            .json
            .insert("instructions_text".into(), Value::String(texts));
    }

    if args.compare_litellm {
        match litellm::compare(args, &timing, mock_addr, mock.pid(), work) {
            Ok(mut v) => {
                if let Some(text) = v.as_object_mut().and_then(|m| m.remove("text")) {
                    results.json.insert("litellm_text".into(), text);
                }
                results.json.insert("litellm".into(), v);
            }
            Err(e) => {
                say(format!("LiteLLM comparison failed: {e:#}"));
                results
                    .json
                    .insert("litellm".into(), json!({ "error": format!("{e:#}") }));
            }
        }
    }
    drop(mock);

    // The report.
    let mut printed = String::new();
    printed.push_str(&format!(
        "\nSwitchyard benchmark: {cores} cores, logging to SQLite on; times in ms; overhead = gateway - direct at the same percentile\n"
    ));
    for (title, _, stream, pairs) in &results.sections {
        printed.push_str(&report::table(title, pairs, *stream));
    }
    let section = |key: &str| {
        results
            .sections
            .iter()
            .find(|(_, k, _, _)| k == key)
            .map(|(_, _, _, pairs)| pairs.as_slice())
            .unwrap_or_default()
    };
    for (prefix, requests) in [("", "1 KB requests"), ("agent_", "agent-sized requests")] {
        let mut against_floor = serde_json::Map::new();
        for (mode, stream) in [("json", false), ("stream", true)] {
            let gateway = section(&format!("{prefix}openai_{mode}"));
            let floor = section(&format!("{prefix}floor_{mode}"));
            if let Some((text, value)) = report::against_floor(requests, gateway, floor, stream) {
                printed.push_str(&text);
                against_floor.insert(mode.into(), value);
            }
        }
        if !against_floor.is_empty() {
            results.json.insert(
                format!("{prefix}openai_against_minimal_proxy"),
                Value::Object(against_floor),
            );
        }
    }
    for extra in [
        "instructions_text",
        "memory_text",
        "agent_text",
        "translated_text",
        "litellm_text",
    ] {
        if let Some(Value::String(t)) = results.json.remove(extra) {
            printed.push_str(&t);
        }
    }
    printed.push_str(&format!(
        "\nMemory (RSS): idle {:.1} MiB; start-up median {:.1} ms ({})\n",
        mib(idle_rss),
        startup_median.as_secs_f64() * 1000.0,
        startups
            .iter()
            .map(|d| format!("{:.1}", d.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some(idle) = &idle_cpu {
        printed.push_str(&idle.line());
    }
    printed.push_str("\nTargets (2-core development machine):\n");
    for (what, pass, figure) in &results.checks {
        printed.push_str(&format!(
            "  [{}] {what}: {figure}\n",
            if *pass { "pass" } else { "FAIL" }
        ));
    }
    let load_after = load_average();
    printed.push_str(&format!(
        "\nLoad average (1 min) before {} / after {}: other work on the machine skews the figures.\n",
        load_before.map(|l| format!("{l:.2}")).unwrap_or_else(|| "?".into()),
        load_after.map(|l| format!("{l:.2}")).unwrap_or_else(|| "?".into()),
    ));
    println!("{printed}");

    let mut sections = serde_json::Map::new();
    for (_, key, stream, pairs) in &results.sections {
        sections.insert(
            key.clone(),
            Value::Array(
                pairs
                    .iter()
                    .map(|p| report::pair_json(p, *stream))
                    .collect(),
            ),
        );
    }
    let doc = json!({
        "benchmark": "switchyard-bench",
        "version": env!("CARGO_PKG_VERSION"),
        "cores": cores,
        "cpu": cpu_model(),
        "git_commit": git_commit(),
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "duration_s": started.elapsed().as_secs_f64(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "settings": {
            "rates": args.rates,
            "measure_s": args.secs,
            "warmup_s": timing.warmup.as_secs_f64(),
            "slices": SLICES,
            "slice_warmup_s": SLICE_WARMUP.as_secs_f64(),
            "connections": args.connections,
            "saturation_connections": args.saturation_connections,
            "memory_requests": args.requests,
            "streams": args.streams,
            "openai_body_bytes": openai_body("mock/bench-model", false).len(),
            "anthropic_body_bytes": anthropic_body("mock/bench-model", false).len(),
            "agent_openai_body_bytes": agent::openai_body("mock/bench-model").len(),
            "agent_anthropic_body_bytes": agent::anthropic_body("mock/bench-model").len(),
        },
        "routes": sections,
        "results": results.json,
        "targets": results.checks.iter().map(|(w, p, f)| json!({"target": w, "pass": p, "figure": f})).collect::<Vec<_>>(),
    });
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("writing {}", args.out.display()))?;
    say(format!(
        "results written to {} ({:.0} s)",
        args.out.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// How one route's sections are named, and whether the targets apply to it.
struct Route {
    /// Shown while measuring, before the mode.
    progress: &'static str,
    /// The section's title; `{mode}` becomes "non-streaming" or "streaming".
    title: &'static str,
    /// The section's key in the JSON, before `_json` or `_stream`.
    key: &'static str,
    /// The route's name in the target checks; `None` for the reference proxy.
    checked_as: Option<&'static str>,
}

/// Measures a route non-streaming then streaming, and adds both sections (and the
/// reference proxy's, when its targets have one).
async fn measure_route(
    args: &RunArgs,
    timing: &Timing,
    results: &mut Results,
    routes: (&Route, Option<&Route>),
    targets_for: impl Fn(bool) -> Result<RouteTargets>,
) -> Result<()> {
    measure_modes(
        args,
        &Level::rates_then_saturation(&args.rates),
        &[false, true],
        timing,
        results,
        routes,
        targets_for,
    )
    .await
}

/// Measures a route at each of `levels` in each of `modes` (streaming or not).
/// `routes` names the gateway's route and the reference proxy's, whose sections follow
/// the gateway's when the targets have a reference.
async fn measure_modes(
    args: &RunArgs,
    levels_to_measure: &[Level],
    modes: &[bool],
    timing: &Timing,
    results: &mut Results,
    (route, reference_route): (&Route, Option<&Route>),
    targets_for: impl Fn(bool) -> Result<RouteTargets>,
) -> Result<()> {
    let mut reference_sections = Vec::new();
    for &stream in modes {
        let targets = targets_for(stream)?;
        let mode = if stream { "streaming" } else { "non-streaming" };
        let progress = format!("{}, {mode}", route.progress);
        let (pairs, references) =
            levels(args, levels_to_measure, timing, &targets, &progress).await?;
        if let Some(name) = route.checked_as {
            route_checks(results, &pairs, stream, name);
        }
        results.sections.push(section_of(route, stream, pairs));
        if let Some(reference_route) = reference_route.filter(|_| !references.is_empty()) {
            reference_sections.push(section_of(reference_route, stream, references));
        }
    }
    results.sections.extend(reference_sections);
    Ok(())
}

/// A measured route and mode as the report lists it: title, JSON key, mode, levels.
fn section_of(route: &Route, stream: bool, pairs: Vec<Pair>) -> (String, String, bool, Vec<Pair>) {
    let mode = if stream { "streaming" } else { "non-streaming" };
    (
        route.title.replace("{mode}", mode),
        format!("{}_{}", route.key, if stream { "stream" } else { "json" }),
        stream,
        pairs,
    )
}

/// The fixed rates up to 1,000 rps: the parts whose requests take longer than the
/// 1 KB ones leave out the rates the generator's connections could not keep up with.
fn rates_up_to_1000(args: &RunArgs) -> Vec<f64> {
    args.rates
        .iter()
        .copied()
        .filter(|r| *r <= 1000.0)
        .collect()
}

/// The same model's paced stream (see `mock::PACED_SPAN`).
fn paced(model: &str) -> String {
    model.replace("bench-model", "bench-paced")
}

/// Streams as providers send them, one event at a time (spread over [`mock::PACED_SPAN`]),
/// at the fixed rates up to 1,000 rps: OpenAI pass-through, and Anthropic clients
/// translated for the OpenAI-compatible provider. The burst streams above reach the
/// gateway in one or two reads, and their frames leave together; these make the
/// gateway read, handle and write every event on its own, as it does for an agent's
/// answer. Time to first byte is then the request's way through, and time to last
/// byte the last event's. No saturation level: the pacing, not the CPU, would set it.
/// Reported, not checked against the targets.
async fn measure_paced_routes(
    args: &RunArgs,
    timing: &Timing,
    results: &mut Results,
    (mock_addr, gateway_addr): (SocketAddr, SocketAddr),
    key: &str,
    pids: Pids,
) -> Result<()> {
    let levels: Vec<Level> = rates_up_to_1000(args)
        .into_iter()
        .map(Level::FixedRate)
        .collect();
    let openai = |stream| {
        openai_targets(
            mock_addr,
            gateway_addr,
            key,
            stream,
            pids,
            |model, stream| openai_body(&paced(model), stream),
            "mock/bench-model",
        )
    };
    let translated = |stream| {
        anthropic_targets(
            mock_addr,
            gateway_addr,
            key,
            stream,
            pids,
            |model, stream| anthropic_body(&paced(model), stream),
            "mock/bench-model",
        )
    };
    let routes: [(Route, &TargetsFor); 2] = [
        (
            Route {
                progress: "OpenAI pass-through, paced",
                title: "OpenAI chat, pass-through, paced stream (an event about every millisecond)",
                key: "paced_openai",
                checked_as: None,
            },
            &openai,
        ),
        (
            Route {
                progress: "Anthropic to OpenAI, paced",
                title: "Anthropic messages -> OpenAI-compatible provider (translated), paced stream (an event about every millisecond); direct = Anthropic call to the mock",
                key: "paced_translated",
                checked_as: None,
            },
            &translated,
        ),
    ];
    for (route, targets_for) in routes {
        measure_modes(
            args,
            &levels,
            &[true],
            timing,
            results,
            (&route, None),
            targets_for,
        )
        .await?;
    }
    Ok(())
}

/// Agent-sized requests (~260 KB, see `agent`), non-streaming, at the fixed rates up to
/// 1,000 rps and at saturation: OpenAI pass-through, the minimal proxy with the same
/// requests, and Anthropic requests translated for the OpenAI-compatible provider.
/// Reported, not checked: the targets are written for the 1 KB requests.
async fn measure_agent_routes(
    args: &RunArgs,
    timing: &Timing,
    results: &mut Results,
    mock_addr: SocketAddr,
    gateway_addr: SocketAddr,
    key: &str,
    pids: Pids,
) -> Result<()> {
    let levels = Level::rates_then_saturation(&rates_up_to_1000(args));
    let floor = procs::start_floor_proxy(mock_addr)?;
    let route = Route {
        progress: "OpenAI pass-through, agent-sized",
        title: "OpenAI chat, pass-through, agent-sized requests (~260 KB), {mode}",
        key: "agent_openai",
        checked_as: None,
    };
    let reference = Route {
        progress: "minimal proxy (reference), agent-sized",
        title: "Reference: minimal hyper proxy, agent-sized requests (~260 KB), {mode}",
        key: "agent_floor",
        checked_as: None,
    };
    measure_modes(
        args,
        &levels,
        &[false],
        timing,
        results,
        (&route, Some(&reference)),
        |_| {
            openai_targets(
                mock_addr,
                gateway_addr,
                key,
                false,
                pids,
                |model, _| agent::openai_body(model),
                "mock/bench-model",
            )?
            .with_reference(Some(&floor))
        },
    )
    .await?;
    drop(floor);

    let route = Route {
        progress: "Anthropic to OpenAI, agent-sized",
        title: "Anthropic messages -> OpenAI-compatible provider (translated), agent-sized requests (~260 KB), {mode}; direct = Anthropic call to the mock",
        key: "agent_translated",
        checked_as: None,
    };
    measure_modes(
        args,
        &levels,
        &[false],
        timing,
        results,
        (&route, None),
        |_| {
            anthropic_targets(
                mock_addr,
                gateway_addr,
                key,
                false,
                pids,
                |model, _| agent::anthropic_body(model),
                "mock/bench-model",
            )
        },
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn measure_all(
    args: &RunArgs,
    timing: &Timing,
    setup: &GatewaySetup,
    gateway: &Proc,
    mock_pid: u32,
    gateway_addr: SocketAddr,
    mock_addr: SocketAddr,
    results: &mut Results,
) -> Result<()> {
    let key = setup.key.as_str();
    let pids = Pids {
        mock: mock_pid,
        server: gateway.pid(),
    };
    // The 1 KB requests of each client format: to the mock directly, and through the
    // gateway to `model`.
    let openai_to = |stream: bool, model: &str| {
        openai_targets(
            mock_addr,
            gateway_addr,
            key,
            stream,
            pids,
            openai_body,
            model,
        )
    };
    let anthropic_to = |stream: bool, model: &str| {
        anthropic_targets(
            mock_addr,
            gateway_addr,
            key,
            stream,
            pids,
            anthropic_body,
            model,
        )
    };
    // The same OpenAI requests through a minimal forwarding proxy: what the extra hop
    // alone costs, so the gateway's figures can be read against it. Measured in the
    // same levels as the gateway when both are wanted.
    let floor = match args.wants("floor") {
        true => Some(procs::start_floor_proxy(mock_addr)?),
        false => None,
    };
    let floor_route = Route {
        progress: "minimal proxy (reference)",
        title: "Reference: minimal hyper proxy (no routing, parsing or logging), {mode}",
        key: "floor",
        checked_as: None,
    };
    if args.wants("openai") {
        let route = Route {
            progress: "OpenAI pass-through",
            title: "OpenAI chat, pass-through, {mode}",
            key: "openai",
            checked_as: Some("OpenAI"),
        };
        measure_route(
            args,
            timing,
            results,
            (&route, Some(&floor_route)),
            |stream| openai_to(stream, "mock/bench-model")?.with_reference(floor.as_ref()),
        )
        .await?;
    } else if let Some(floor) = &floor {
        // The minimal proxy alone: measured in the gateway's place.
        measure_route(args, timing, results, (&floor_route, None), |stream| {
            let direct = openai_to(stream, "mock/bench-model")?.direct;
            Ok(RouteTargets {
                gateway: through_floor(&direct, floor)?,
                direct,
                reference: None,
            })
        })
        .await?;
    }
    drop(floor);

    if args.wants("translated") {
        match translation_available(gateway_addr, key)? {
            Ok(()) => {
                let route = Route {
                    progress: "Anthropic to OpenAI",
                    title: "Anthropic messages -> OpenAI-compatible provider (translated), {mode}; direct = Anthropic call to the mock",
                    key: "translated",
                    checked_as: Some("translated"),
                };
                measure_route(args, timing, results, (&route, None), |stream| {
                    anthropic_to(stream, "mock/bench-model")
                })
                .await?;
            }
            Err(why) => {
                say(format!("translated route pending: {why}"));
                results
                    .json
                    .insert("translated".into(), json!({ "pending": why }));
                results.json.insert(
                    "translated_text".into(),
                    json!(format!(
                        "\nAnthropic -> OpenAI translated route: pending (the gateway answered {why})\n"
                    )),
                );
            }
        }
    }

    // Routes reported beside the targets' routes, not checked against them: OpenAI
    // clients of an Anthropic provider (translated), and Anthropic clients of one
    // (passed through). Each is measured when `--only` names its key, or in a full run.
    let reverse = |stream| openai_to(stream, "mockant/bench-model");
    let anthropic = |stream| anthropic_to(stream, "mockant/bench-model");
    let reported: [(Route, &TargetsFor); 2] = [
        (
            Route {
                progress: "OpenAI to Anthropic",
                title: "OpenAI chat -> Anthropic provider (translated), {mode}; direct = OpenAI call to the mock",
                key: "reverse",
                checked_as: None,
            },
            &reverse,
        ),
        (
            Route {
                progress: "Anthropic pass-through",
                title: "Anthropic messages, pass-through to an Anthropic provider, {mode}; direct = Anthropic call to the mock",
                key: "anthropic",
                checked_as: None,
            },
            &anthropic,
        ),
    ];
    for (route, targets_for) in reported {
        if args.wants(route.key) {
            measure_route(args, timing, results, (&route, None), targets_for).await?;
        }
    }

    if args.wants("paced") {
        measure_paced_routes(args, timing, results, (mock_addr, gateway_addr), key, pids).await?;
    }

    let pid = gateway.pid();
    let mut memory = serde_json::Map::new();
    let mut memory_text = String::new();
    if args.wants("streams") {
        say(format!("{} concurrent streams", args.streams));
        let slow = Arc::new(Target::new(
            gateway_addr,
            "/v1/chat/completions",
            &[("authorization", format!("Bearer {key}"))],
            openai_body("mock/bench-slow", true),
            true,
        )?);
        let (peak, stats) = load::hold_streams(slow, args.streams, async move {
            let mut peak = 0;
            for _ in 0..6 {
                tokio::time::sleep(Duration::from_millis(150)).await;
                peak = peak.max(procs::rss_of(pid).unwrap_or(0));
            }
            peak
        })
        .await?;
        memory.insert("streams".into(), json!(args.streams));
        memory.insert("under_streams_mib".into(), json!(mib(peak)));
        memory.insert("streams_errors".into(), json!(stats.errors));
        memory_text.push_str(&format!(
            "\nMemory under {} concurrent streams: {:.1} MiB ({} streams ok, {} failed{})\n",
            args.streams,
            mib(peak),
            stats.ok,
            stats.errors,
            stats
                .first_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
        results.check(
            &format!("memory under {} concurrent streams < 150 MB", args.streams),
            peak < 150 * 1_000_000 && stats.errors == 0,
            format!("{:.1} MiB, {} failed", mib(peak), stats.errors),
        );
    }

    if args.wants("memory") {
        say(format!(
            "memory growth: {} requests at saturation",
            args.requests
        ));
        let target = openai_to(false, "mock/bench-model")?.gateway;
        let progress = Arc::new(load::Progress::default());
        let task = tokio::spawn(load::count(
            target,
            args.requests,
            args.saturation_connections,
            progress.clone(),
        ));
        let mut at_checkpoint = None;
        let mut peak = 0;
        let mut next_report = Instant::now() + Duration::from_secs(15);
        while !task.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let done = progress.done.load(std::sync::atomic::Ordering::Relaxed);
            let rss = procs::rss_of(pid)?;
            peak = peak.max(rss);
            if at_checkpoint.is_none() && done >= MEMORY_CHECKPOINT {
                at_checkpoint = Some(rss);
            }
            if Instant::now() > next_report {
                say(format!("  {done} requests, {:.1} MiB", mib(rss)));
                next_report += Duration::from_secs(15);
            }
        }
        let stats: Stats = task.await??;
        let at_end = procs::rss_of(pid)?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let settled = procs::rss_of(pid)?;
        let status = procs::get_json(gateway_addr, "/api/status", &setup.admin_token()?)
            .unwrap_or_else(|e| json!({ "error": format!("{e:#}") }));
        let logged = status["today"]["requests"].as_u64();
        let dropped = status["log_dropped"].as_u64();
        let growth = at_checkpoint.map(|c| (at_end as f64 - c as f64) / c as f64);
        memory.insert("memory_run_requests".into(), json!(args.requests));
        memory.insert("memory_run_rps".into(), json!(stats.throughput()));
        memory.insert("memory_run_errors".into(), json!(stats.errors));
        memory.insert("after_100k_mib".into(), json!(at_checkpoint.map(mib)));
        memory.insert("after_run_mib".into(), json!(mib(at_end)));
        memory.insert("after_run_settled_mib".into(), json!(mib(settled)));
        memory.insert("peak_during_run_mib".into(), json!(mib(peak)));
        memory.insert("growth_ratio_100k_to_end".into(), json!(growth));
        memory.insert("requests_logged_today".into(), json!(logged));
        memory.insert("log_dropped".into(), json!(dropped));
        memory_text.push_str(&format!(
            "\nMemory growth run: {} requests at {:.0} rps ({} errors); RSS after {}: {}, after all: {:.1} MiB \
             (2 s later {:.1}), peak {:.1} MiB, growth {}; rows logged today {}, records dropped {}\n",
            args.requests,
            stats.throughput(),
            stats.errors,
            MEMORY_CHECKPOINT,
            at_checkpoint
                .map(|c| format!("{:.1} MiB", mib(c)))
                .unwrap_or_else(|| "-".into()),
            mib(at_end),
            mib(settled),
            mib(peak),
            growth
                .map(|g| format!("{:+.1}%", g * 100.0))
                .unwrap_or_else(|| "-".into()),
            logged.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
            dropped.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
        ));
        if args.requests >= 1_000_000 {
            results.check(
                "no memory growth from 100k to 1M requests (within 10%)",
                growth.is_some_and(|g| g <= 0.10),
                growth
                    .map(|g| format!("{:+.1}%", g * 100.0))
                    .unwrap_or_else(|| "-".into()),
            );
        }
    }
    results.json.insert("memory".into(), Value::Object(memory));
    results
        .json
        .insert("memory_text".into(), Value::String(memory_text));

    // Last, so the memory figures above are not read while the allocator still holds
    // what these large bodies took.
    if args.wants("agent") {
        measure_agent_routes(args, timing, results, mock_addr, gateway_addr, key, pids).await?;
        // The allocator holds freed pages a while before returning them; how much is
        // still held once the gateway has been idle is what a user sees.
        let after = mib(gateway.rss()?);
        tokio::time::sleep(AGENT_SETTLE).await;
        let settled = mib(gateway.rss()?);
        results.json.insert(
            "agent_rss_mib".into(),
            json!({"after": after, "idle_after_s": AGENT_SETTLE.as_secs(), "settled": settled}),
        );
        results.json.insert(
            "agent_text".into(),
            json!(format!(
                "\nResident memory right after the agent-sized runs: {after:.1} MiB; after {} s idle: {settled:.1} MiB\n",
                AGENT_SETTLE.as_secs()
            )),
        );
    }
    Ok(())
}

/// The latency and throughput targets for one route's levels.
fn route_checks(results: &mut Results, pairs: &[Pair], stream: bool, route: &str) {
    let mode = if stream {
        "stream, last byte"
    } else {
        "non-streaming"
    };
    let fmt = |v: Option<f64>| {
        v.map(|v| format!("{v:.3} ms"))
            .unwrap_or_else(|| "-".into())
    };
    for pair in pairs {
        let [p50, _, p99] = overhead(pair, Measure::Total);
        match pair.load.as_str() {
            "1000 rps" => {
                results.check(
                    &format!("{route} {mode}: overhead p50 < 0.1 ms at 1,000 rps"),
                    p50.is_some_and(|v| v < 0.1),
                    fmt(p50),
                );
                results.check(
                    &format!("{route} {mode}: overhead p99 < 1 ms at 1,000 rps"),
                    p99.is_some_and(|v| v < 1.0),
                    fmt(p99),
                );
            }
            "5000 rps" => results.check(
                &format!("{route} {mode}: overhead p99 < 2 ms at 5,000 rps"),
                p99.is_some_and(|v| v < 2.0),
                fmt(p99),
            ),
            report::SATURATION => {
                let d = pair.direct.throughput();
                let ratio = if d > 0.0 {
                    pair.gateway.throughput() / d
                } else {
                    0.0
                };
                results.check(
                    &format!("{route} {mode}: saturation throughput >= 40% of direct"),
                    ratio >= 0.4,
                    format!(
                        "{:.0}% ({:.0} of {:.0} rps)",
                        ratio * 100.0,
                        pair.gateway.throughput(),
                        d
                    ),
                );
            }
            _ => {}
        }
    }
}

/// The 1-minute load average: other work on the machine skews every figure.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
