//! End-to-end checks of the analytics in the store: what the writer rolls up answers
//! every question exactly as the raw rows do, in any zone, across retention and after
//! an upgrade from a database without rollups.

use super::*;
use crate::{LogWriter, RequestRecord, Store, TokenCounts, WriterOptions};
use jiff::tz::{Offset, TimeZone};
use std::time::Duration;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// 2026-03-01T00:00:00Z: the range below crosses the US change to summer time.
const BASE: i64 = 1_772_323_200_000;

fn eastern() -> TimeZone {
    TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap()
}

fn india() -> TimeZone {
    TimeZone::fixed(Offset::from_seconds(5 * 3600 + 1800).unwrap())
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn random_record(rng: &mut Rng, ts_ms: i64) -> RequestRecord {
    let model = rng.pick(&[
        "anthropic/claude-sonnet-4-5",
        "openai/gpt-4.1",
        "local/llama",
    ]);
    let provider = model.split('/').next().unwrap_or("").to_string();
    let status = match rng.below(20) {
        0 => 429,
        1 => 500,
        _ => 200,
    };
    let stream = rng.below(2) == 0;
    let latency = 20.0 + rng.below(20_000) as f64 / 3.0;
    let output = if status == 200 { rng.below(2000) } else { 0 };
    let priced = provider != "local";
    let mut tags = Vec::new();
    for tag in ["a", "b", "c"] {
        if rng.below(3) == 0 {
            tags.push(tag.to_string());
        }
    }
    RequestRecord {
        request_id: format!("req-{ts_ms}"),
        ts_ms,
        key_id: match rng.below(3) {
            0 => None,
            k => Some(k as i64),
        },
        client_api: "openai-chat",
        requested_model: Some(model.to_string()),
        provider: Some(provider),
        upstream_model: Some(model.to_string()),
        stream,
        status,
        error_kind: (status != 200).then(|| "upstream".to_string()),
        tokens: TokenCounts {
            input: rng.below(5000),
            cache_read: rng.below(20_000),
            cache_write_5m: rng.below(100),
            cache_write_1h: rng.below(10),
            output,
            reasoning: output / 3,
        },
        cost_usd: priced.then(|| rng.below(10_000) as f64 / 1e5),
        cache_savings_usd: priced.then(|| rng.below(1000) as f64 / 1e5),
        latency_ms: latency,
        ttft_ms: stream.then(|| latency / 4.0),
        repo: [None, Some("switchyard"), Some("dotfiles")][rng.below(3) as usize].map(String::from),
        branch: Some(rng.pick(&["main", "feat/x"]).to_string()),
        agent: Some(rng.pick(&["claude-code", "codex"]).to_string()),
        user_id: (rng.below(4) == 0).then(|| "ana".to_string()),
        trace_id: Some(format!("t{}", rng.below(50))),
        policy: (rng.below(5) == 0).then(|| "fast".to_string()),
        tags,
        extra: (rng.below(2) == 0).then(|| format!(r#"{{"team":"t{}"}}"#, rng.below(2))),
        tool_calls: (0..rng.below(3))
            .map(|_| rng.pick(&["Read", "Bash"]).to_string())
            .collect(),
        ..Default::default()
    }
}

/// An empty store with gateway keys 1 ("laptop") and 2 ("ci").
fn store_with_two_keys() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .insert_gateway_key("laptop", "sy-1", &[1; 32])
        .unwrap();
    store.insert_gateway_key("ci", "sy-2", &[2; 32]).unwrap();
    (dir, store)
}

/// A store with two keys and `count` random records over `days` from `BASE`, written
/// by a writer whose days follow `zone`.
fn filled_store(count: usize, days: i64, zone: TimeZone) -> (tempfile::TempDir, Store) {
    let (dir, store) = store_with_two_keys();
    write(&store, zone, |rng| {
        (0..count)
            .map(|_| {
                let ts = BASE + rng.below((days * DAY) as u64) as i64;
                random_record(rng, ts)
            })
            .collect()
    });
    (dir, store)
}

fn write(store: &Store, zone: TimeZone, make: impl FnOnce(&mut Rng) -> Vec<RequestRecord>) {
    let options = WriterOptions {
        zone,
        first_maintenance: Duration::from_secs(3600),
        ..WriterOptions::default()
    };
    let writer = LogWriter::start_with(store, 64, options).unwrap();
    let sender = writer.sender();
    for r in make(&mut Rng(0x9e37_79b9_7f4a_7c15)) {
        assert_eq!(sender.send_wait(r), crate::SendOutcome::Queued);
    }
    writer.shutdown();
}

fn query(
    from: i64,
    to: i64,
    bucket: Bucket,
    group_by: Option<Dimension>,
    zone: TimeZone,
) -> AnalyticsQuery {
    AnalyticsQuery {
        range: TimeRange {
            from_ms: from,
            to_ms: to,
        },
        bucket,
        group_by,
        filters: Vec::new(),
        top: None,
        zone,
        force_raw: false,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn assert_same_metrics(a: &Metrics, b: &Metrics, context: &str) {
    let ints = |m: &Metrics| {
        [
            m.requests,
            m.errors,
            m.input_tokens,
            m.cache_read_tokens,
            m.cache_write_5m_tokens,
            m.cache_write_1h_tokens,
            m.output_tokens,
            m.reasoning_tokens,
            m.unpriced_requests,
        ]
    };
    assert_eq!(ints(a), ints(b), "{context}");
    assert!(close(a.cost_usd, b.cost_usd), "{context}: cost");
    assert!(
        close(a.cache_savings_usd, b.cache_savings_usd),
        "{context}: savings"
    );
    let opts = |m: &Metrics| {
        [
            m.avg_latency_ms,
            m.latency_p50_ms,
            m.latency_p90_ms,
            m.latency_p95_ms,
            m.latency_p99_ms,
            m.max_latency_ms,
            m.avg_ttft_ms,
            m.ttft_p50_ms,
            m.ttft_p99_ms,
            m.output_tokens_per_s,
        ]
    };
    for (x, y) in opts(a).iter().zip(opts(b)) {
        match (x, y) {
            (Some(x), Some(y)) => assert!(close(*x, y), "{context}: {x} vs {y}"),
            (x, y) => assert_eq!(*x, y, "{context}"),
        }
    }
    assert_eq!(a.tool_calls, b.tool_calls, "{context}");
}

fn assert_same_report(a: &Report, b: &Report, context: &str) {
    assert_eq!(a.buckets, b.buckets, "{context}");
    let cells = |r: &Report| -> Vec<(Option<String>, String)> {
        r.rows
            .iter()
            .map(|x| (x.bucket.clone(), x.group.clone()))
            .collect()
    };
    assert_eq!(cells(a), cells(b), "{context}");
    for (x, y) in a.rows.iter().zip(&b.rows) {
        assert_same_metrics(
            &x.metrics,
            &y.metrics,
            &format!("{context} {:?} {}", x.bucket, x.group),
        );
    }
    assert_eq!(a.groups.len(), b.groups.len(), "{context}");
    for (x, y) in a.groups.iter().zip(&b.groups) {
        assert_eq!(x.group, y.group, "{context}");
        assert_same_metrics(&x.metrics, &y.metrics, context);
    }
    assert_same_metrics(
        &a.total.metrics,
        &b.total.metrics,
        &format!("{context} total"),
    );
}

/// Answers `q` from the rollups and again from raw rows, asserts both agree, and
/// returns the rollups' answer.
fn assert_rollups_match_raw_rows(store: &Store, q: &AnalyticsQuery, context: &str) -> Report {
    let fast = store.analytics(q).unwrap();
    assert_ne!(fast.source, "raw", "{context}");
    let slow = store
        .analytics(&AnalyticsQuery {
            force_raw: true,
            ..q.clone()
        })
        .unwrap();
    assert_same_report(&fast, &slow, context);
    fast
}

#[test]
fn rollups_answer_exactly_as_raw_rows_in_any_zone() {
    let (_dir, store) = filled_store(3000, 12, eastern());
    // Ragged edges: start mid-hour on day 1, end mid-hour on day 11.
    let (from, to) = (
        BASE + DAY + 7 * HOUR + 1234,
        BASE + 11 * DAY + 5 * HOUR + 99,
    );
    // Every rolled-up dimension: the writer sums a batch per combination of them.
    let groups = rollup::rolled_up_dimensions().map(|(_, dim)| dim);
    // In a zone at a :30 offset, local hours straddle UTC hours: read raw rows.
    for (zone, hours_align) in [(eastern(), true), (TimeZone::UTC, true), (india(), false)] {
        for bucket in [
            Bucket::None,
            Bucket::Hour,
            Bucket::Day,
            Bucket::Week,
            Bucket::Month,
        ] {
            for group in &groups {
                let q = query(from, to, bucket, group.clone(), zone.clone());
                let fast = store.analytics(&q).unwrap();
                let slow = store
                    .analytics(&AnalyticsQuery {
                        force_raw: true,
                        ..q.clone()
                    })
                    .unwrap();
                assert_eq!(slow.source, "raw");
                if hours_align || bucket != Bucket::Hour {
                    assert_ne!(fast.source, "raw", "{bucket:?} {group:?}");
                }
                let context = format!("{zone:?} {bucket:?} {group:?}");
                assert_same_report(&fast, &slow, &context);
            }
        }
    }
}

#[test]
fn requests_of_one_batch_that_differ_in_one_rolled_up_dimension_stay_apart() {
    let (_dir, store) = store_with_two_keys();
    let mut base = random_record(&mut Rng(7), BASE + 5 * HOUR);
    base.status = 200;
    base.error_kind = None;
    base.key_id = Some(1);
    base.user_id = Some("ana".into());
    base.policy = Some("fast".into());
    base.repo = Some("switchyard".into());
    base.tags = vec!["a".into()];
    let mut records = vec![base.clone()];
    for (_, dim) in rollup::rolled_up_dimensions() {
        let Some(dim) = dim else { continue };
        let mut r = base.clone();
        r.request_id = format!("req-{dim:?}");
        let other = Some("other".to_string());
        match dim {
            Dimension::Model => r.requested_model = other,
            Dimension::Provider => r.provider = other,
            Dimension::Key => r.key_id = Some(2),
            Dimension::Policy => r.policy = other,
            Dimension::User => r.user_id = other,
            Dimension::Tag => r.tags = vec!["other".into()],
            Dimension::Branch => r.branch = other,
            Dimension::Repo => r.repo = other,
            Dimension::Agent => r.agent = other,
            Dimension::Status => r.status = 201,
            Dimension::Trace | Dimension::Session | Dimension::Extra(_) => {
                panic!("{dim:?} is rolled up now: vary it here")
            }
        }
        records.push(r);
    }
    // Sent back to back, they are written as one batch.
    write(&store, TimeZone::UTC, |_| records);
    for (_, group) in rollup::rolled_up_dimensions() {
        let q = query(BASE, BASE + DAY, Bucket::Hour, group.clone(), TimeZone::UTC);
        let fast = store.analytics(&q).unwrap();
        assert_ne!(fast.source, "raw");
        let slow = store
            .analytics(&AnalyticsQuery {
                force_raw: true,
                ..q
            })
            .unwrap();
        assert_same_report(&fast, &slow, &format!("{group:?}"));
    }
}

#[test]
fn day_rollups_are_read_for_whole_days_of_the_writers_zone() {
    let (_dir, store) = filled_store(500, 5, eastern());
    let days = |zone: TimeZone| {
        let segs = timeq::segments(
            TimeRange {
                from_ms: BASE,
                to_ms: BASE + 5 * DAY,
            },
            Bucket::Day,
            &zone,
        )
        .unwrap();
        let conn = store.connect().unwrap();
        let spans = query::tests_support::usable_days(&conn, BASE, BASE + 5 * DAY);
        let plan = query::tests_support::plan(&segs, &spans);
        plan.0
    };
    assert!(
        days(eastern()) >= 3,
        "whole eastern days come from day rollups"
    );
    assert_eq!(
        days(TimeZone::UTC),
        0,
        "other zones' days are built from hours"
    );
}

#[test]
fn groups_filters_top_and_keys_by_name() {
    let (_dir, store) = filled_store(2000, 3, TimeZone::UTC);
    let (from, to) = (BASE, BASE + 3 * DAY);
    let all = store
        .analytics(&query(
            from,
            to,
            Bucket::None,
            Some(Dimension::Key),
            TimeZone::UTC,
        ))
        .unwrap();
    let names: Vec<&str> = all.groups.iter().map(|g| g.group.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["(no key)", "ci", "laptop"]);
    assert_eq!(all.total.metrics.requests, 2000);
    let costs: Vec<f64> = all.groups.iter().map(|g| g.metrics.cost_usd).collect();
    assert!(
        costs.windows(2).all(|w| w[0] >= w[1]),
        "most expensive first"
    );

    // A filter on the grouped dimension still reads rollups; wildcards and several values.
    let mut q = query(from, to, Bucket::Day, Some(Dimension::Model), TimeZone::UTC);
    q.filters = vec![Filter {
        field: Dimension::Model,
        patterns: vec![Pattern::new("anthropic/*"), Pattern::new("local/llama")],
    }];
    let filtered = store.analytics(&q).unwrap();
    assert_eq!(filtered.source, "rollups");
    let models: Vec<&str> = filtered.groups.iter().map(|g| g.group.as_str()).collect();
    assert!(models.contains(&"anthropic/claude-sonnet-4-5") && models.contains(&"local/llama"));
    assert_eq!(models.len(), 2);

    // A filter on another dimension reads raw rows, and agrees with grouping by it.
    let mut q = query(
        from,
        to,
        Bucket::None,
        Some(Dimension::Model),
        TimeZone::UTC,
    );
    q.filters = vec![Filter {
        field: Dimension::Key,
        patterns: vec![Pattern::new("lap*")],
    }];
    let by_key = store.analytics(&q).unwrap();
    assert_eq!(by_key.source, "raw");
    let laptop = all.groups.iter().find(|g| g.group == "laptop").unwrap();
    assert_same_metrics(&by_key.total.metrics, &laptop.metrics, "key filter");

    // Tags: a request counts in each of its tags' groups, once in the total.
    let tags = store
        .analytics(&query(
            from,
            to,
            Bucket::None,
            Some(Dimension::Tag),
            TimeZone::UTC,
        ))
        .unwrap();
    let tagged: u64 = tags.groups.iter().map(|g| g.metrics.requests).sum();
    assert!(tagged > 2000);
    assert_eq!(tags.total.metrics.requests, 2000);

    // Extra fields and traces are answered from raw rows.
    let mut q = query(
        from,
        to,
        Bucket::None,
        Some(Dimension::Extra("team".into())),
        TimeZone::UTC,
    );
    q.top = Some(1);
    let teams = store.analytics(&q).unwrap();
    assert_eq!(teams.source, "raw");
    assert_eq!(teams.groups.len(), 2);
    assert_eq!(teams.groups[1].group, OTHER_GROUP);
    let sum: u64 = teams.groups.iter().map(|g| g.metrics.requests).sum();
    assert_eq!(sum, 2000);

    // Tool calls per name.
    let tools = &all.total.metrics.tool_calls;
    assert!(tools["Read"] > 0 && tools["Bash"] > 0);
}

#[test]
fn all_starts_at_the_first_request() {
    let (_dir, store) = filled_store(200, 3, TimeZone::UTC);
    let range = parse_range("all", BASE + 400 * DAY, &TimeZone::UTC).unwrap();
    let mut q = query(range.from_ms, range.to_ms, Bucket::Day, None, TimeZone::UTC);
    let r = store.analytics(&q).unwrap();
    assert_eq!(r.total.metrics.requests, 200);
    assert_eq!(r.buckets[0].label, "2026-03-01");
    assert!(r.from_ms >= BASE);
    // An empty store answers with nothing rather than 20,000 empty days.
    let empty_dir = tempfile::tempdir().unwrap();
    let empty = Store::open(empty_dir.path()).unwrap();
    let nothing = empty.analytics(&q).unwrap();
    assert_eq!(nothing.total.metrics.requests, 0);
    assert_eq!(nothing.buckets.len(), 1);
    q.bucket = Bucket::Month;
    assert_eq!(empty.analytics(&q).unwrap().total.metrics.requests, 0);
}

#[test]
fn minute_buckets_and_empty_ranges() {
    let (_dir, store) = filled_store(300, 1, TimeZone::UTC);
    let q = query(
        BASE,
        BASE + 2 * HOUR,
        Bucket::Minute,
        Some(Dimension::Model),
        TimeZone::UTC,
    );
    let r = store.analytics(&q).unwrap();
    assert_eq!(r.source, "raw");
    assert_eq!(r.buckets.len(), 120);
    let q = query(
        BASE - 10 * DAY,
        BASE - 9 * DAY,
        Bucket::Day,
        None,
        TimeZone::UTC,
    );
    let empty = store.analytics(&q).unwrap();
    assert!(empty.rows.is_empty());
    assert_eq!(empty.total.metrics.requests, 0);
    assert_eq!(empty.buckets.len(), 1);
}

#[test]
fn retention_deletes_raw_rows_and_keeps_the_figures() {
    let (_dir, store) = filled_store(3000, 10, TimeZone::UTC);
    let q = query(
        BASE,
        BASE + 10 * DAY,
        Bucket::Day,
        Some(Dimension::Model),
        TimeZone::UTC,
    );
    let before = store.analytics(&q).unwrap();
    let hourly = query(
        BASE,
        BASE + 10 * DAY,
        Bucket::Hour,
        Some(Dimension::Repo),
        TimeZone::UTC,
    );
    let hourly_before = store.analytics(&hourly).unwrap();

    // Keep 4 days as of day 10 + 1 h: days 0-5 and the first hour of day 6 go.
    store.set_retention_days(4).unwrap();
    let now = BASE + 10 * DAY + HOUR + 5;
    let outcome = store.prune(now).unwrap();
    assert_eq!(outcome.cutoff_ms, Some(BASE + 6 * DAY + HOUR));
    assert!(outcome.deleted > 1000);
    // A new database is in incremental-vacuum mode, so the space comes back.
    let mode: i64 = store
        .connect()
        .unwrap()
        .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, 2);
    assert!(outcome.freed_pages > 0);
    let retention = store.retention().unwrap();
    assert_eq!(retention.days, 4);
    assert!(retention.oldest_raw_ms.unwrap() >= BASE + 6 * DAY + HOUR);
    assert_eq!(retention.raw_rows + outcome.deleted, 3000);

    assert_same_report(
        &store.analytics(&q).unwrap(),
        &before,
        "days after retention",
    );
    assert_same_report(
        &store.analytics(&hourly).unwrap(),
        &hourly_before,
        "hours after retention",
    );
    // A range starting mid-hour in the deleted part counts that hour where it starts.
    let ragged = query(
        BASE + 30 * 60_000,
        BASE + 10 * DAY,
        Bucket::None,
        None,
        TimeZone::UTC,
    );
    let after = store.analytics(&ragged).unwrap();
    let whole = query(
        BASE + HOUR,
        BASE + 10 * DAY,
        Bucket::None,
        None,
        TimeZone::UTC,
    );
    assert_eq!(
        after.total.metrics.requests,
        store.analytics(&whole).unwrap().total.metrics.requests
    );
    // Nothing left to delete the second time; 0 days keeps everything.
    assert_eq!(store.prune(now).unwrap().deleted, 0);
    store.set_retention_days(0).unwrap();
    assert_eq!(store.prune(now + 100 * DAY).unwrap().cutoff_ms, None);
    assert!(store.set_retention_days(100_000).is_err());
}

#[test]
fn the_writer_applies_retention_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.set_retention_days(30).unwrap();
    let now = crate::now_ms();
    let options = WriterOptions {
        zone: TimeZone::UTC,
        first_maintenance: Duration::from_millis(50),
        maintenance_every: Duration::from_secs(3600),
        ..WriterOptions::default()
    };
    let writer = LogWriter::start_with(&store, 64, options).unwrap();
    let sender = writer.sender();
    let mut rng = Rng(7);
    for i in 0..200 {
        let age = if i % 2 == 0 { 40 * DAY } else { DAY };
        sender.send_wait(random_record(&mut rng, now - age + i));
    }
    sender.flush();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.retention().unwrap().raw_rows > 100 {
        assert!(
            std::time::Instant::now() < deadline,
            "retention did not run"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.shutdown();
    let q = query(now - 50 * DAY, now, Bucket::Day, None, TimeZone::UTC);
    assert_eq!(store.analytics(&q).unwrap().total.metrics.requests, 200);
}

#[test]
fn two_writers_on_one_database_both_count() {
    // Two gateways on one data directory: each writer remembers the rollup rows it
    // wrote, which go stale as soon as the other one writes.
    let (_dir, store) = store_with_two_keys();
    let start = || {
        let options = WriterOptions {
            zone: TimeZone::UTC,
            first_maintenance: Duration::from_secs(3600),
            ..WriterOptions::default()
        };
        LogWriter::start_with(&store, 64, options).unwrap()
    };
    let writers = [start(), start()];
    let mut rng = Rng(11);
    for round in 0..6i64 {
        let sender = writers[round as usize % 2].sender();
        for i in 0..10 {
            let mut r = random_record(&mut rng, BASE + HOUR + round * 1000 + i);
            r.requested_model = Some("openai/gpt-4.1".into());
            r.tags = Vec::new();
            sender.send_wait(r);
        }
        // One batch per round, written before the other writer's.
        sender.flush();
    }
    for writer in writers {
        writer.shutdown();
    }
    let q = query(
        BASE,
        BASE + DAY,
        Bucket::Hour,
        Some(Dimension::Model),
        TimeZone::UTC,
    );
    let fast = assert_rollups_match_raw_rows(&store, &q, "two writers");
    assert_eq!(fast.total.metrics.requests, 60);
}

#[test]
fn upgrading_builds_rollups_from_existing_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(crate::DB_FILE);
    {
        // A database as version 3 left it, with a few rows.
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../../migrations/0001_init.sql"),
            include_str!("../../migrations/0002_routing.sql"),
            include_str!("../../migrations/0003_alerts.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        for i in 0..100i64 {
            conn.execute(
                "INSERT INTO requests (request_id, ts_ms, client_api, requested_model, stream,
                    status, output_tokens, cost_usd, latency_ms, tags)
                 VALUES (?1, ?2, 'openai-chat', ?3, 0, 200, 10, 0.5, ?4, '[\"x\"]')",
                rusqlite::params![
                    format!("r{i}"),
                    BASE + i * HOUR,
                    if i % 2 == 0 { "m/a" } else { "m/b" },
                    100.0 + i as f64
                ],
            )
            .unwrap();
        }
    }
    let store = Store::open(dir.path()).unwrap();
    let conn = store.connect().unwrap();
    let mode: i64 = conn
        .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, 2, "switched to incremental vacuum");
    let q = query(
        BASE,
        BASE + 100 * HOUR,
        Bucket::Day,
        Some(Dimension::Model),
        TimeZone::UTC,
    );
    let fast = assert_rollups_match_raw_rows(&store, &q, "backfilled");
    assert_eq!(fast.total.metrics.requests, 100);
    assert!((fast.total.metrics.cost_usd - 50.0).abs() < 1e-9);
}

#[test]
fn summary_projects_the_month_at_the_recent_rate() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // $1 per hour for the first 10 days of March (UTC); now is March 10, 24:00.
    write(&store, TimeZone::UTC, |_| {
        (0..240)
            .map(|h| RequestRecord {
                ts_ms: BASE + h * HOUR,
                requested_model: Some(if h % 4 == 0 { "a/cheap" } else { "b/dear" }.into()),
                status: 200,
                cost_usd: Some(if h % 4 == 0 { 0.4 } else { 1.2 }),
                latency_ms: 100.0,
                ..Default::default()
            })
            .collect()
    });
    let now = BASE + 10 * DAY - 1;
    let s = store.summary(now, &TimeZone::UTC).unwrap();
    assert!((s.this_month_usd - 240.0).abs() < 1e-6, "{s:?}");
    assert!((s.today_usd - 24.0).abs() < 1e-6);
    assert!((s.yesterday_usd - 24.0).abs() < 1e-6);
    // 21 more days at $24 a day.
    assert!(
        (s.projected_month_usd - (240.0 + 21.0 * 24.0)).abs() < 0.01,
        "{s:?}"
    );
    assert_eq!(s.top_models[0].model, "b/dear");
    assert_eq!(s.top_models.len(), 2);
    assert_eq!(s.this_month_requests, 240);

    let empty_dir = tempfile::tempdir().unwrap();
    let empty = Store::open(empty_dir.path()).unwrap();
    let s = empty.summary(now, &TimeZone::UTC).unwrap();
    assert_eq!(s.projected_month_usd, 0.0);
    assert!(s.top_models.is_empty());
}
