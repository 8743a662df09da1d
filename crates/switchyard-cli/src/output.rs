//! Plain-text tables for the terminal.

use switchyard_store::analytics::{Report, ReportRow, Summary};
use switchyard_store::{GatewayKeyRow, Retention};

fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            // First column left-aligned (names), the rest right-aligned (numbers).
            if i == 0 {
                out.push_str(&format!("{cell:<w$}"));
            } else {
                out.push_str(&format!("{cell:>w$}"));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0} ms"))
        .unwrap_or_else(|| "-".into())
}

fn usage_cells(row: &ReportRow, with_bucket: bool) -> Vec<String> {
    let m = &row.metrics;
    let cost = if m.unpriced_requests > 0 {
        format!("${:.4} (+{} unpriced)", m.cost_usd, m.unpriced_requests)
    } else {
        format!("${:.4}", m.cost_usd)
    };
    let mut cells = Vec::new();
    if with_bucket {
        cells.push(row.bucket.clone().unwrap_or_default());
    }
    cells.extend([
        row.group.clone(),
        m.requests.to_string(),
        m.errors.to_string(),
        m.input_tokens.to_string(),
        m.cache_read_tokens.to_string(),
        m.cache_write_tokens.to_string(),
        m.output_tokens.to_string(),
        cost,
        format!("${:.4}", m.cache_savings_usd),
        ms(m.avg_latency_ms),
        ms(m.latency_p50_ms),
        ms(m.latency_p95_ms),
    ]);
    cells
}

pub fn usage_table(report: &Report) -> String {
    if report.total.metrics.requests == 0 {
        return "No requests in this window.\n".into();
    }
    let with_bucket = report.group_by.is_some() && !report.buckets.is_empty();
    let mut rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| usage_cells(r, with_bucket))
        .collect();
    rows.push(usage_cells(&report.total, with_bucket));
    let mut headers = Vec::new();
    if with_bucket {
        headers.push("BUCKET");
    }
    headers.extend([
        "GROUP",
        "REQUESTS",
        "ERRORS",
        "INPUT",
        "CACHE READ",
        "CACHE WRITE",
        "OUTPUT",
        "COST",
        "SAVED",
        "AVG LATENCY",
        "P50",
        "P95",
    ]);
    render(&headers, &rows)
}

pub fn summary_table(s: &Summary) -> String {
    let mut out = format!(
        "Today            ${:.2} ({} requests)\n\
         Yesterday        ${:.2}\n\
         This month       ${:.2} ({} requests, ${:.2} saved by cache reads)\n\
         Projected month  ${:.2} at the rate of the last 7 days\n\
         Last 30 days     ${:.2}\n",
        s.today_usd,
        s.today_requests,
        s.yesterday_usd,
        s.this_month_usd,
        s.this_month_requests,
        s.this_month_cache_savings_usd,
        s.projected_month_usd,
        s.last_30_days_usd,
    );
    if s.this_month_unpriced_requests > 0 {
        out.push_str(&format!(
            "                 (+{} requests this month with no known price)\n",
            s.this_month_unpriced_requests
        ));
    }
    if !s.top_models.is_empty() {
        out.push_str("\nTop models this month\n");
        let rows: Vec<Vec<String>> = s
            .top_models
            .iter()
            .map(|m| {
                vec![
                    m.model.clone(),
                    m.requests.to_string(),
                    format!("${:.4}", m.cost_usd),
                ]
            })
            .collect();
        out.push_str(&render(&["MODEL", "REQUESTS", "COST"], &rows));
    }
    out
}

pub fn retention_text(r: &Retention) -> String {
    let keep = if r.days == 0 {
        "Raw request rows are kept for good.".to_string()
    } else {
        format!(
            "Raw request rows are kept {} days; hourly and daily rollups for good.",
            r.days
        )
    };
    let oldest = r
        .oldest_raw_ms
        .map(|t| format!(", the oldest from {}", format_ms(t)))
        .unwrap_or_default();
    format!("{keep}\n{} raw rows{oldest}.\n", r.raw_rows)
}

fn format_ms(ms: i64) -> String {
    let secs = ms / 1000;
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => ms.to_string(),
    }
}

pub fn keys_table(keys: &[GatewayKeyRow]) -> String {
    if keys.is_empty() {
        return "No gateway keys yet: create one with `switchyard key create NAME`.\n".into();
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.name.clone(),
                format!("{}...", k.prefix),
                format_ms(k.created_ms),
                k.revoked_ms
                    .map(|r| format!("revoked {}", format_ms(r)))
                    .unwrap_or_else(|| "active".into()),
            ]
        })
        .collect();
    render(&["NAME", "KEY", "CREATED", "STATUS"], &rows)
}
