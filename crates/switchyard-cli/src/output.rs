//! Plain-text tables for the terminal.

use switchyard_store::{GatewayKeyRow, UsageRow, UsageTotals};

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

fn usage_cells(row: &UsageRow) -> Vec<String> {
    let cost = if row.unpriced_requests > 0 {
        format!("${:.4} (+{} unpriced)", row.cost_usd, row.unpriced_requests)
    } else {
        format!("${:.4}", row.cost_usd)
    };
    vec![
        row.group.clone(),
        row.requests.to_string(),
        row.errors.to_string(),
        row.input_tokens.to_string(),
        row.cache_read_tokens.to_string(),
        row.cache_write_tokens.to_string(),
        row.output_tokens.to_string(),
        cost,
        row.avg_latency_ms
            .map(|v| format!("{v:.0} ms"))
            .unwrap_or_else(|| "-".into()),
    ]
}

pub fn usage_table(usage: &UsageTotals) -> String {
    if usage.total.requests == 0 {
        return "No requests in this window.\n".into();
    }
    let mut rows: Vec<Vec<String>> = usage.rows.iter().map(usage_cells).collect();
    rows.push(usage_cells(&usage.total));
    render(
        &[
            "GROUP",
            "REQUESTS",
            "ERRORS",
            "INPUT",
            "CACHE READ",
            "CACHE WRITE",
            "OUTPUT",
            "COST",
            "AVG LATENCY",
        ],
        &rows,
    )
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
