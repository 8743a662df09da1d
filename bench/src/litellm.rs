//! The optional side-by-side run against LiteLLM's proxy (`--compare-litellm`).
//!
//! LiteLLM is installed from PyPI into a virtualenv under `target/switchyard-bench/`
//! (`litellm[proxy]==1.100.5`: newer releases pin a `certifi` the registry may lack),
//! started with `LITELLM_LOCAL_MODEL_COST_MAP=True` against the same mock upstream, and
//! measured like the gateway: start-up, idle memory, latency at the fixed rates up to
//! 1,000 rps (beyond that its queue only grows), saturation, memory under streams.
//! It runs without a database, so it keeps no request log (Switchyard's runs log).

use crate::load::Target;
use crate::procs::{self, Proc};
use crate::report::{self, mib, Pair};
use crate::{levels, Level, Pids, RouteTargets, RunArgs, Timing, UPSTREAM_KEY};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LITELLM_SPEC: &str = "litellm[proxy]==1.100.5";
const MASTER_KEY: &str = "sk-bench-master";
/// LiteLLM at an open-loop rate it cannot serve only builds a queue: stop at this rate.
const MAX_RATE: f64 = 1000.0;

fn venv_dir() -> PathBuf {
    PathBuf::from("target/switchyard-bench/litellm-venv")
}

/// Creates the virtualenv and installs LiteLLM unless already there.
fn install() -> Result<PathBuf> {
    let venv = venv_dir();
    let bin = venv.join("bin/litellm");
    if bin.exists() {
        return Ok(bin);
    }
    crate::say(format!("installing {LITELLM_SPEC} into {}", venv.display()));
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context("running python3 -m venv")?;
    if !status.success() {
        bail!("python3 -m venv failed");
    }
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", LITELLM_SPEC])
        .status()
        .context("running pip")?;
    if !status.success() {
        bail!("pip install {LITELLM_SPEC} failed");
    }
    if !bin.exists() {
        bail!("pip installed LiteLLM but {} is missing", bin.display());
    }
    Ok(bin)
}

fn config(mock: SocketAddr) -> String {
    let mut text = String::from("model_list:\n");
    for model in ["bench-model", "bench-slow"] {
        text.push_str(&format!(
            "  - model_name: {model}\n    litellm_params:\n      model: openai/{model}\n      api_base: http://{mock}/v1\n      api_key: {UPSTREAM_KEY}\n"
        ));
    }
    text.push_str(&format!(
        "general_settings:\n  master_key: {MASTER_KEY}\nlitellm_settings:\n  telemetry: false\n"
    ));
    text
}

fn start(bin: &Path, work: &Path, mock: SocketAddr) -> Result<(Proc, SocketAddr, Duration)> {
    let config_path = work.join("litellm.yaml");
    std::fs::write(&config_path, config(mock))?;
    let port = procs::free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let log = std::fs::File::create(work.join("litellm.log"))?;
    let started = Instant::now();
    let child = procs::detached(&mut Command::new(bin))
        .arg("--config")
        .arg(&config_path)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("LITELLM_LOG", "ERROR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting litellm")?;
    let proc = Proc::new(child, "litellm");
    let request = procs::raw_request(
        addr,
        "/v1/chat/completions",
        &[("authorization", format!("Bearer {MASTER_KEY}"))],
        crate::openai_body("bench-model", false),
    );
    loop {
        if started.elapsed() > Duration::from_secs(180) {
            bail!(
                "LiteLLM did not answer within 180 s (see {})",
                work.join("litellm.log").display()
            );
        }
        if let Ok((status, body)) = procs::post_raw(addr, &request) {
            if status == 200 {
                return Ok((proc, addr, started.elapsed()));
            }
            if status != 503 {
                bail!("LiteLLM answered its first request with HTTP {status}: {body}");
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn targets(
    mock: SocketAddr,
    litellm: SocketAddr,
    stream: bool,
    pids: Pids,
) -> Result<RouteTargets> {
    Ok(RouteTargets {
        direct: Arc::new(
            Target::new(
                mock,
                "/v1/chat/completions",
                &[("authorization", format!("Bearer {UPSTREAM_KEY}"))],
                crate::openai_body("bench-model", stream),
                stream,
            )?
            .with_server_pid(pids.mock),
        ),
        gateway: Arc::new(
            Target::new(
                litellm,
                "/v1/chat/completions",
                &[("authorization", format!("Bearer {MASTER_KEY}"))],
                crate::openai_body("bench-model", stream),
                stream,
            )?
            .with_server_pid(pids.server),
        ),
        reference: None,
    })
}

/// Runs the LiteLLM measurements; returns their JSON (with a printable `text`).
pub fn compare(
    args: &RunArgs,
    timing: &Timing,
    mock: SocketAddr,
    mock_pid: u32,
    work: &Path,
) -> Result<Value> {
    let bin = install()?;
    crate::say("LiteLLM: start-up");
    let (proc, addr, startup) = start(&bin, work, mock)?;
    std::thread::sleep(Duration::from_secs(2));
    let idle = procs::rss_tree(proc.pid())?;
    let rates: Vec<f64> = args
        .rates
        .iter()
        .copied()
        .filter(|&r| r <= MAX_RATE)
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let pid = proc.pid();
    let (sections, under_streams) = runtime.block_on(async {
        let mut sections: Vec<(bool, Vec<Pair>)> = Vec::new();
        for stream in [false, true] {
            let mode = if stream { "streaming" } else { "non-streaming" };
            // Its targets have no reference proxy, so no reference pairs come back.
            let (pairs, _) = levels(
                args,
                &Level::rates_then_saturation(&rates),
                timing,
                &targets(
                    mock,
                    addr,
                    stream,
                    Pids {
                        mock: mock_pid,
                        server: pid,
                    },
                )?,
                &format!("LiteLLM, {mode}"),
            )
            .await?;
            sections.push((stream, pairs));
        }
        crate::say(format!("LiteLLM: {} concurrent streams", args.streams));
        let slow = Arc::new(Target::new(
            addr,
            "/v1/chat/completions",
            &[("authorization", format!("Bearer {MASTER_KEY}"))],
            crate::openai_body("bench-slow", true),
            true,
        )?);
        let held = crate::load::hold_streams(slow, args.streams, async move {
            let mut peak = 0;
            for _ in 0..6 {
                tokio::time::sleep(Duration::from_millis(150)).await;
                peak = peak.max(procs::rss_tree(pid).unwrap_or(0));
            }
            peak
        })
        .await;
        let under_streams = match held {
            Ok((peak, stats)) => json!({ "mib": mib(peak), "errors": stats.errors }),
            Err(e) => json!({ "error": format!("{e:#}") }),
        };
        Ok::<_, anyhow::Error>((sections, under_streams))
    })?;
    let after = procs::rss_tree(pid).map_err(|e| anyhow!("LiteLLM memory: {e}"))?;
    proc.stop(Duration::from_secs(10));

    let mut text = format!(
        "\nLiteLLM {} (no database, so no request log), same mock, same load generator:\n  start-up to first answered request {:.0} ms; memory idle {:.1} MiB, after the runs {:.1} MiB, under {} streams {}\n",
        LITELLM_SPEC,
        startup.as_secs_f64() * 1000.0,
        mib(idle),
        mib(after),
        args.streams,
        under_streams["mib"]
            .as_f64()
            .map(|m| format!("{m:.1} MiB"))
            .unwrap_or_else(|| under_streams.to_string()),
    );
    let mut json_sections = serde_json::Map::new();
    for (stream, pairs) in &sections {
        let mode = if *stream {
            "streaming"
        } else {
            "non-streaming"
        };
        text.push_str(&report::table(
            &format!("LiteLLM chat, {mode} (\"gateway\" columns are LiteLLM)"),
            pairs,
            *stream,
        ));
        // Behind the queue a load it cannot serve leaves, LiteLLM may finish nothing within
        // a short window (`--quick`): the table then shows 0 rps and no latencies, which
        // needs saying.
        for pair in pairs
            .iter()
            .filter(|p| p.gateway.ok == 0 && p.gateway.errors == 0)
        {
            text.push_str(&format!(
                "  {}: LiteLLM finished none of its requests within the {:.1} s measured (the level before left it a backlog, or each took longer); longer windows, without --quick, give it a figure\n",
                pair.load,
                pair.gateway.elapsed.as_secs_f64(),
            ));
        }
        json_sections.insert(
            if *stream { "stream" } else { "json" }.into(),
            Value::Array(
                pairs
                    .iter()
                    .map(|p| report::pair_json(p, *stream))
                    .collect(),
            ),
        );
    }
    Ok(json!({
        "version": LITELLM_SPEC,
        "startup_ms": startup.as_secs_f64() * 1000.0,
        "idle_mib": mib(idle),
        "after_runs_mib": mib(after),
        "under_streams": under_streams,
        "routes": json_sections,
        "text": text,
    }))
}
