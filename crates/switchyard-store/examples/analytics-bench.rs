//! The analytics benchmark: fills a fresh store with synthetic requests (default
//! 1,000,000 over the last 90 days) through the real writer thread, then times the
//! dashboard's queries and retention. Run it with
//!
//! ```sh
//! cargo run --release -p switchyard-store --example analytics-bench
//! cargo run --release -p switchyard-store --example analytics-bench -- --records 200000 --days 30 --keep /tmp/sy-bench
//! ```
//!
//! It prints writer throughput (records per second, rollups included), the database
//! size per million requests, and the median and worst time of each query.
#![allow(clippy::unwrap_used)]

use jiff::tz::TimeZone;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use switchyard_store::analytics::{AnalyticsQuery, Bucket, Dimension, Filter, Pattern, Report};
use switchyard_store::{LogWriter, RequestRecord, Store, TokenCounts, WriterOptions};

/// Deterministic numbers, so every run writes the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Skewed towards the first items, like real usage.
    fn skewed(&mut self, n: usize) -> usize {
        ((self.unit().powi(2)) * n as f64) as usize
    }
    /// A log-normal value with the given median.
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        median * (sigma * normal).exp()
    }
}

/// (model, input $/token, output $/token, median latency ms)
const MODELS: &[(&str, f64, f64, f64)] = &[
    ("anthropic/claude-sonnet-4-5", 3e-6, 15e-6, 9000.0),
    ("anthropic/claude-haiku-4-5", 1e-6, 5e-6, 2500.0),
    ("openai/gpt-4.1", 2e-6, 8e-6, 6000.0),
    ("openai/gpt-4.1-mini", 0.4e-6, 1.6e-6, 2000.0),
    ("anthropic/claude-opus-4-1", 15e-6, 75e-6, 15000.0),
    ("deepseek/deepseek-chat", 0.27e-6, 1.1e-6, 7000.0),
    ("groq/llama-3.3-70b-versatile", 0.59e-6, 0.79e-6, 800.0),
    ("ollama/llama3.2", 0.0, 0.0, 4000.0),
];
const REPOS: usize = 15;
const BRANCHES: usize = 40;
const TOOLS: &[&str] = &["Read", "Bash", "Edit", "Grep", "exec_command", "Write"];

fn record(rng: &mut Rng, ts_ms: i64, n: u64) -> RequestRecord {
    let (model, input_price, output_price, median) = MODELS[rng.skewed(MODELS.len())];
    let provider = model.split('/').next().unwrap_or("");
    let status = match rng.below(100) {
        0..=1 => 429,
        2 => 500,
        3 => 499,
        _ => 200,
    };
    let ok = status == 200;
    let stream = rng.below(5) != 0;
    let latency = rng.lognormal(median, 0.6).min(600_000.0);
    let input = rng.below(4000);
    let cache_read = if rng.below(3) == 0 {
        0
    } else {
        rng.below(60_000)
    };
    let cache_write = rng.below(3000);
    let output = if ok { rng.below(3000) } else { 0 };
    let priced = provider != "ollama";
    let cost = (input as f64 + cache_write as f64 * 1.25) * input_price
        + cache_read as f64 * input_price * 0.1
        + output as f64 * output_price;
    let tools = if ok && rng.below(10) < 3 {
        (0..1 + rng.below(3))
            .map(|_| TOOLS[rng.skewed(TOOLS.len())].to_string())
            .collect()
    } else {
        Vec::new()
    };
    let mut tags = Vec::new();
    if rng.below(4) == 0 {
        tags.push(["review", "refactor", "tests", "docs", "ops"][rng.skewed(5)].to_string());
    }
    RequestRecord {
        request_id: format!("req_{ts_ms:x}{n:012x}"),
        ts_ms,
        key_id: Some(1 + rng.skewed(3) as i64),
        client_api: if rng.below(2) == 0 {
            "anthropic-messages"
        } else {
            "openai-chat"
        },
        requested_model: Some(model.to_string()),
        provider: Some(provider.to_string()),
        upstream_model: model.split_once('/').map(|(_, m)| m.to_string()),
        stream,
        status,
        error_kind: (!ok).then(|| "upstream".to_string()),
        error_message: (!ok).then(|| "the provider answered 429".to_string()),
        tokens: TokenCounts {
            input,
            cache_read,
            cache_write_5m: cache_write,
            cache_write_1h: 0,
            output,
            reasoning: output / 4,
        },
        cost_usd: priced.then_some(if ok { cost } else { 0.0 }),
        cache_savings_usd: priced.then_some(cache_read as f64 * input_price * 0.9),
        latency_ms: latency,
        ttft_ms: stream.then(|| latency * (0.1 + 0.3 * rng.unit())),
        upstream_ms: Some(latency - 1.0),
        overhead_ms: Some(0.4),
        user_id: Some(["me", "ana", "bo"][rng.skewed(3)].to_string()),
        trace_id: Some(format!("trace-{}", rng.below(20_000))),
        session_id: Some(format!("session-{}", rng.below(20_000))),
        branch: Some(format!("feature/{}", rng.skewed(BRANCHES))),
        repo: Some(format!("github.com/me/repo-{}", rng.skewed(REPOS))),
        agent: Some(["claude-code", "codex", "opencode"][rng.skewed(3)].to_string()),
        tags,
        extra: (rng.below(2) == 0).then(|| format!(r#"{{"team":"t{}"}}"#, rng.below(4))),
        policy: (rng.below(5) == 0).then(|| "sonnet".to_string()),
        tool_calls: tools,
        ..Default::default()
    }
}

struct Args {
    records: u64,
    days: i64,
    keep: Option<PathBuf>,
    runs: usize,
}

fn args() -> Args {
    let mut out = Args {
        records: 1_000_000,
        days: 90,
        keep: None,
        runs: 21,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--records" => out.records = value().parse().unwrap(),
            "--days" => out.days = value().parse().unwrap(),
            "--keep" => out.keep = Some(PathBuf::from(value())),
            "--runs" => out.runs = value().parse().unwrap(),
            other => panic!("unknown argument {other}: --records N --days D --keep DIR --runs N"),
        }
    }
    out
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn time_query(name: &str, runs: usize, mut f: impl FnMut() -> Report) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs + 2 {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed());
    }
    let mut measured: Vec<Duration> = times.split_off(2);
    measured.sort();
    let report = last.unwrap();
    println!(
        "  {name:<52} median {:>7.2} ms  max {:>7.2} ms  [{} rows, source {}]",
        measured[measured.len() / 2].as_secs_f64() * 1e3,
        measured[measured.len() - 1].as_secs_f64() * 1e3,
        report.rows.len(),
        report.source
    );
}

fn main() {
    let args = args();
    let temp = tempfile::tempdir().unwrap();
    let dir = args
        .keep
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let store = Store::open(&dir).unwrap();
    for (i, name) in ["laptop", "ci", "claude-code"].iter().enumerate() {
        store
            .insert_gateway_key(name, "sy-x", &[i as u8 + 1; 32])
            .unwrap();
    }
    let zone = TimeZone::system();
    let now = switchyard_store::now_ms();
    let span = args.days * 86_400_000;
    let start = now - span;
    println!(
        "Writing {} synthetic requests over {} days into {} (zone {})",
        args.records,
        args.days,
        dir.display(),
        zone.iana_name().unwrap_or("local")
    );

    // Records in time order, as a gateway would write them, through the real writer
    // thread with the gateway's queue size.
    let mut rng = Rng(42);
    let step = span as f64 / args.records as f64;
    let records: Vec<RequestRecord> = (0..args.records)
        .map(|n| record(&mut rng, start + (n as f64 * step) as i64, n))
        .collect();
    let writer = LogWriter::start_with(
        &store,
        65_536,
        WriterOptions {
            zone: zone.clone(),
            ..WriterOptions::default()
        },
    )
    .unwrap();
    let sender = writer.sender();
    let began = Instant::now();
    for r in records {
        sender.send_wait(r);
    }
    writer.shutdown();
    let elapsed = began.elapsed();
    println!(
        "Writer: {} records in {:.2} s = {:.0} records/s (raw rows and rollups, one transaction per batch)",
        args.records,
        elapsed.as_secs_f64(),
        args.records as f64 / elapsed.as_secs_f64()
    );

    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let count = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    let size = file_size(store.path());
    println!(
        "Database: {:.1} MB ({:.1} MB per million requests); {} hour rollup rows, {} day rollup rows",
        size as f64 / 1e6,
        size as f64 / 1e6 / (args.records as f64 / 1e6),
        count("rollup_hour"),
        count("rollup_day")
    );

    let q = |preset: &str, bucket: Bucket, group: Option<Dimension>| AnalyticsQuery {
        range: switchyard_store::analytics::parse_range(preset, now, &zone).unwrap(),
        bucket,
        group_by: group,
        filters: Vec::new(),
        top: None,
        zone: zone.clone(),
        force_raw: false,
    };
    let runs = args.runs;
    println!("Dashboard queries ({runs} runs each after 2 warm-ups):");
    let spend = q("30d", Bucket::Day, Some(Dimension::Model));
    time_query("30-day spend by day and model", runs, || {
        store.analytics(&spend).unwrap()
    });
    let latency = q("30d", Bucket::None, Some(Dimension::Model));
    time_query("30-day latency percentiles by model", runs, || {
        store.analytics(&latency).unwrap()
    });
    let mut repos = q("30d", Bucket::None, Some(Dimension::Repo));
    repos.top = Some(10);
    time_query("30-day top repos", runs, || {
        store.analytics(&repos).unwrap()
    });
    let weekly = q("90d", Bucket::Week, Some(Dimension::Model));
    time_query("90-day spend by week and model", runs, || {
        store.analytics(&weekly).unwrap()
    });
    let hourly = q("24h", Bucket::Hour, Some(Dimension::Provider));
    time_query("24-hour requests by hour and provider", runs, || {
        store.analytics(&hourly).unwrap()
    });
    let month = q("this-month", Bucket::Day, Some(Dimension::Tag));
    time_query("this month by day and tag", runs, || {
        store.analytics(&month).unwrap()
    });
    let mut times = Vec::new();
    for _ in 0..runs {
        let began = Instant::now();
        store.summary(now, &zone).unwrap();
        times.push(began.elapsed());
    }
    times.sort();
    println!(
        "  {:<52} median {:>7.2} ms  max {:>7.2} ms",
        "summary (today, month, projection, top models)",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );

    println!("For comparison, questions the rollups cannot answer (raw rows):");
    let mut filtered = q("30d", Bucket::Day, Some(Dimension::Model));
    filtered.filters = vec![Filter {
        field: Dimension::Repo,
        patterns: vec![Pattern::new("github.com/me/repo-1")],
    }];
    time_query("30-day spend by model, one repo", runs.min(5), || {
        store.analytics(&filtered).unwrap()
    });
    let raw_spend = AnalyticsQuery {
        force_raw: true,
        ..spend.clone()
    };
    time_query(
        "30-day spend by day and model, raw rows",
        runs.min(5),
        || store.analytics(&raw_spend).unwrap(),
    );

    store.set_retention_days(60).unwrap();
    // Whole hours: once raw rows are gone, an hour is counted where it starts, so a
    // range starting mid-hour in the deleted part loses that hour's first minutes.
    let mut weekly = weekly.clone();
    weekly.range.from_ms = (weekly.range.from_ms / 3_600_000 + 1) * 3_600_000;
    let before = store.analytics(&weekly).unwrap();
    let began = Instant::now();
    let pruned = store.prune(now).unwrap();
    println!(
        "Retention to 60 days: deleted {} rows and freed {} pages in {:.2} s; file now {:.1} MB",
        pruned.deleted,
        pruned.freed_pages,
        began.elapsed().as_secs_f64(),
        file_size(store.path()) as f64 / 1e6
    );
    let after = store.analytics(&weekly).unwrap();
    let same = before.total.metrics.requests == after.total.metrics.requests
        && (before.total.metrics.cost_usd - after.total.metrics.cost_usd).abs() < 1e-6;
    println!(
        "90-day totals (whole hours) after retention: {} requests, ${:.2} ({})",
        after.total.metrics.requests,
        after.total.metrics.cost_usd,
        if same { "unchanged" } else { "CHANGED" }
    );
}
