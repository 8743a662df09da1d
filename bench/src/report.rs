//! Turning phase statistics into figures: percentiles in milliseconds, overhead as the
//! difference from the direct baseline of the same run, a printed table and JSON.

use crate::load::Stats;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::fmt::Write;

pub const PERCENTILES: [f64; 3] = [50.0, 90.0, 99.0];

/// The load level of a closed-loop run at full speed (the others are fixed rates).
pub const SATURATION: &str = "saturation";

fn ms(h: &Histogram<u64>, p: f64) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile(p / 100.0) as f64 / 1_000_000.0)
}

/// p50/p90/p99 of a histogram in ms, as JSON (`null` when it has no samples).
fn percentiles(h: &Histogram<u64>) -> Value {
    json!({
        "p50": ms(h, 50.0),
        "p90": ms(h, 90.0),
        "p99": ms(h, 99.0),
        "max": ms(h, 100.0),
    })
}

/// Which latency of a phase a row is about.
#[derive(Clone, Copy)]
pub enum Measure {
    /// Time to the last byte.
    Total,
    /// Time to the first byte of the body.
    FirstByte,
}

impl Measure {
    fn of(self, s: &Stats) -> &Histogram<u64> {
        match self {
            Measure::Total => &s.total,
            Measure::FirstByte => &s.ttfb,
        }
    }

    pub fn label(self, stream: bool) -> &'static str {
        match (self, stream) {
            (Measure::Total, false) => "latency",
            (Measure::Total, true) => "time to last byte",
            (Measure::FirstByte, _) => "time to first byte",
        }
    }
}

/// One load level of one route: the direct run and the run through the gateway.
pub struct Pair {
    pub load: String,
    pub direct: Stats,
    pub gateway: Stats,
}

/// Overhead at each percentile: gateway minus direct, in ms.
pub fn overhead(pair: &Pair, measure: Measure) -> [Option<f64>; 3] {
    PERCENTILES.map(|p| Some(ms(measure.of(&pair.gateway), p)? - ms(measure.of(&pair.direct), p)?))
}

pub fn pair_json(pair: &Pair, stream: bool) -> Value {
    let mut measures = vec![Measure::Total];
    if stream {
        measures.push(Measure::FirstByte);
    }
    let mut out = json!({
        "load": pair.load,
        "direct": stats_json(&pair.direct, stream),
        "gateway": stats_json(&pair.gateway, stream),
    });
    for m in measures {
        let [p50, p90, p99] = overhead(pair, m);
        let key = match m {
            Measure::Total if stream => "overhead_ttlb_ms",
            Measure::Total => "overhead_ms",
            Measure::FirstByte => "overhead_ttfb_ms",
        };
        out[key] = json!({ "p50": p50, "p90": p90, "p99": p99 });
    }
    let direct = pair.direct.throughput();
    if direct > 0.0 {
        out["throughput_ratio"] = json!(pair.gateway.throughput() / direct);
    }
    out
}

pub fn stats_json(s: &Stats, stream: bool) -> Value {
    let mut out = json!({
        "ok": s.ok,
        "errors": s.errors,
        "rps": s.throughput(),
        "server_cpu_us_per_request": s.server_cpu_us(),
        "latency_ms": percentiles(&s.total),
    });
    if stream {
        out["ttfb_ms"] = percentiles(&s.ttfb);
    }
    if !s.reported_overhead.is_empty() {
        out["reported_overhead_ms"] = percentiles(&s.reported_overhead);
    }
    if let Some(e) = &s.first_error {
        out["first_error"] = json!(e);
    }
    out
}

fn cell(v: Option<f64>) -> String {
    match v {
        Some(v) => format!("{v:.3}"),
        None => "-".into(),
    }
}

fn triple(h: &Histogram<u64>) -> String {
    PERCENTILES
        .iter()
        .map(|&p| cell(ms(h, p)))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn row(out: &mut String, c: [&str; 11]) {
    let _ = writeln!(
        out,
        "  {:<11} {:<19} {:>9} {:>9} {:>7} {:>13}  {:<26} {:<26} {:<26} {:<17} {}",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]
    );
}

/// A section of the printed table: one route, one mode, every load level.
pub fn table(title: &str, pairs: &[Pair], stream: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n{title}");
    row(
        &mut out,
        [
            "load",
            "measure (ms)",
            "rps dir",
            "rps gw",
            "ratio",
            "CPU us/req d/g",
            "direct p50 / p90 / p99",
            "gateway p50 / p90 / p99",
            "overhead p50 / p90 / p99",
            "self-rep p50/p99",
            "errors d/g",
        ],
    );
    for pair in pairs {
        let mut measures = vec![Measure::Total];
        if stream {
            measures.insert(0, Measure::FirstByte);
        }
        for (i, m) in measures.iter().enumerate() {
            let o = overhead(pair, *m);
            let first = i == 0;
            let (rps_d, rps_g, ratio, cpu, reported, errors) = if first {
                (
                    format!("{:.0}", pair.direct.throughput()),
                    format!("{:.0}", pair.gateway.throughput()),
                    if pair.direct.throughput() > 0.0 {
                        format!(
                            "{:.2}",
                            pair.gateway.throughput() / pair.direct.throughput()
                        )
                    } else {
                        "-".into()
                    },
                    format!(
                        "{}/{}",
                        pair.direct
                            .server_cpu_us()
                            .map(|v| format!("{v:.0}"))
                            .unwrap_or_else(|| "-".into()),
                        pair.gateway
                            .server_cpu_us()
                            .map(|v| format!("{v:.0}"))
                            .unwrap_or_else(|| "-".into())
                    ),
                    format!(
                        "{} / {}",
                        cell(ms(&pair.gateway.reported_overhead, 50.0)),
                        cell(ms(&pair.gateway.reported_overhead, 99.0))
                    ),
                    format!("{}/{}", pair.direct.errors, pair.gateway.errors),
                )
            } else {
                Default::default()
            };
            let overheads = o.iter().map(|v| cell(*v)).collect::<Vec<_>>().join(" / ");
            row(
                &mut out,
                [
                    if first { pair.load.as_str() } else { "" },
                    m.label(stream),
                    &rps_d,
                    &rps_g,
                    &ratio,
                    &cpu,
                    &triple(m.of(&pair.direct)),
                    &triple(m.of(&pair.gateway)),
                    &overheads,
                    &reported,
                    &errors,
                ],
            );
        }
    }
    out
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The gateway's figures beside the minimal proxy's for the same requests in the same
/// run, level by level: how much of what any proxy pays on this machine is the
/// gateway's own. Latencies are compared as measured (no direct baseline in between);
/// the throughput share only means something at saturation, where load is not fixed.
/// `None` unless both routes were measured.
pub fn against_floor(
    requests: &str,
    gateway: &[Pair],
    floor: &[Pair],
    stream: bool,
) -> Option<(String, Value)> {
    if gateway.is_empty() || floor.is_empty() {
        return None;
    }
    let latency = |s: &Stats| (ms(&s.total, 50.0), ms(&s.total, 99.0));
    let mut text = format!(
        "\nGateway against the minimal proxy, {requests}, same run, {} (gateway vs minimal proxy):\n",
        if stream {
            "streaming, last byte"
        } else {
            "non-streaming"
        }
    );
    let mut levels = Vec::new();
    for pair in gateway {
        let Some(reference) = floor.iter().find(|f| f.load == pair.load) else {
            continue;
        };
        let load = pair.load.as_str();
        let (g, f) = (&pair.gateway, &reference.gateway);
        let ((g50, g99), (f50, f99)) = (latency(g), latency(f));
        let (g_cpu, f_cpu) = (g.server_cpu_us(), f.server_cpu_us());
        let share =
            (load == SATURATION && f.throughput() > 0.0).then(|| g.throughput() / f.throughput());
        let mut line = format!(
            "  {:<11} latency p50 {} vs {} ms, p99 {} vs {} ms; CPU {} vs {} us/request; errors {} vs {}",
            load,
            cell(g50),
            cell(f50),
            cell(g99),
            cell(f99),
            g_cpu.map_or("-".into(), |c| format!("{c:.0}")),
            f_cpu.map_or("-".into(), |c| format!("{c:.0}")),
            g.errors,
            f.errors,
        );
        if let Some(share) = share {
            let _ = write!(
                line,
                "; {:.0} vs {:.0} rps: {:.0}% of the minimal proxy",
                g.throughput(),
                f.throughput(),
                share * 100.0
            );
        }
        let _ = writeln!(text, "{line}");
        levels.push(json!({
            "load": load,
            "latency_p50_ms": { "gateway": g50, "minimal_proxy": f50 },
            "latency_p99_ms": { "gateway": g99, "minimal_proxy": f99 },
            "server_cpu_us_per_request": { "gateway": g_cpu, "minimal_proxy": f_cpu },
            "errors": { "gateway": g.errors, "minimal_proxy": f.errors },
            "rps": { "gateway": g.throughput(), "minimal_proxy": f.throughput() },
            "gateway_share_of_minimal_proxy_rps": share,
        }));
    }
    Some((text, Value::Array(levels)))
}
