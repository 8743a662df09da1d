//! Answering an [`AnalyticsQuery`]: plan which parts of the range the rollups cover,
//! read those, read raw rows for the rest, and shape the answer.
//!
//! The plan covers each bucket of the answer with the coarsest units that fit inside
//! it: whole local days (day rollups), then whole UTC hours (hour rollups), then raw
//! rows for the ragged edges (a range that ends now, a zone at a :30 offset). Every
//! request is counted exactly once whichever way it is read.

use super::agg::{Agg, Obs};
use super::raw::{RawRow, RAW_COLUMNS};
use super::rollup::{read_agg, Level, AGG_COLUMNS};
use super::timeq::{ceil_hour_utc, floor_hour_utc, segments, Segment, HOUR_MS};
use super::{
    AnalyticsQuery, Bucket, BucketInfo, Dimension, Filter, Report, ReportRow, OTHER_GROUP,
};
use crate::{Result, Store, StoreError};
use rusqlite::types::Value;
use rusqlite::Connection;
use std::collections::HashMap;

impl Store {
    /// Answers an analytics question (see the module docs of `analytics`).
    pub fn analytics(&self, q: &AnalyticsQuery) -> Result<Report> {
        let conn = self.connect()?;
        answer(&conn, q)
    }
}

/// Gateway key names by id.
struct KeyNames(HashMap<i64, String>);

impl KeyNames {
    fn load(conn: &Connection) -> rusqlite::Result<KeyNames> {
        let mut stmt = conn.prepare("SELECT id, name FROM gateway_keys")?;
        let names = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(KeyNames(names))
    }
}

/// How a stored value is shown (and matched by filters).
fn display(dim: Option<&Dimension>, stored: &str, keys: &KeyNames) -> String {
    let Some(dim) = dim else {
        return String::new();
    };
    if stored.is_empty() {
        return dim.none_label().to_string();
    }
    if *dim == Dimension::Key {
        return match stored.parse::<i64>().ok().and_then(|id| keys.0.get(&id)) {
            Some(name) => name.clone(),
            None => format!("(key #{stored})"),
        };
    }
    stored.to_string()
}

/// Which rollup dimension can answer `q`, and whether the total needs the
/// all-requests rollup (grouping by tag counts a request once per tag).
fn rollup_dimension(q: &AnalyticsQuery) -> Option<(u8, Option<Dimension>)> {
    if q.bucket == Bucket::Minute {
        return None;
    }
    let mut fields: Vec<&Dimension> = q.filters.iter().map(|f| &f.field).collect();
    fields.dedup();
    let dim = match (&q.group_by, fields.as_slice()) {
        (None, []) => return Some((0, None)),
        (Some(g), []) => g,
        (Some(g), [f]) if *f == g && !g.multi_valued() => g,
        (None, [f]) if !f.multi_valued() => *f,
        _ => return None,
    };
    dim.rollup_code().map(|code| (code, Some(dim.clone())))
}

/// What to read for each part of the range.
#[derive(Debug, Default, PartialEq)]
struct Plan {
    /// Day rollups: (day start, segment).
    days: Vec<(i64, usize)>,
    /// Runs of whole hours, `[start, end)`; rows go to the segment holding their start.
    hours: Vec<(i64, i64)>,
    /// Raw rows, `[start, end)`.
    raw: Vec<(i64, i64)>,
}

fn push_run(runs: &mut Vec<(i64, i64)>, start: i64, end: i64) {
    if start >= end {
        return;
    }
    match runs.last_mut() {
        Some(last) if last.1 == start => last.1 = end,
        _ => runs.push((start, end)),
    }
}

impl Plan {
    /// A part of a segment shorter than an hour, or not aligned to hours.
    fn fragment(&mut self, start: i64, end: i64, horizon: i64) {
        if start >= end {
            return;
        }
        if end <= horizon {
            // Raw rows are gone here: count the hour that starts in this part, so an
            // hour is counted once, in the bucket where it starts.
            let hour = ceil_hour_utc(start);
            if hour < end {
                push_run(&mut self.hours, hour, hour + HOUR_MS);
            }
        } else {
            push_run(&mut self.raw, start, end);
        }
    }

    fn gap(&mut self, start: i64, end: i64, horizon: i64) {
        let (h0, h1) = (ceil_hour_utc(start), floor_hour_utc(end));
        if h0 >= h1 {
            self.fragment(start, end, horizon);
        } else {
            self.fragment(start, h0, horizon);
            push_run(&mut self.hours, h0, h1);
            self.fragment(h1, end, horizon);
        }
    }

    /// `horizon` is hour-aligned: before it, raw rows may have been deleted.
    fn build(segments: &[Segment], day_spans: &[(i64, i64)], use_days: bool, horizon: i64) -> Plan {
        let mut plan = Plan::default();
        let mut days = day_spans.iter().peekable();
        for (index, seg) in segments.iter().enumerate() {
            let mut cursor = seg.start_ms;
            if use_days {
                while let Some(&&(start, end)) = days.peek() {
                    if start < seg.start_ms {
                        days.next();
                        continue;
                    }
                    if end > seg.end_ms {
                        break;
                    }
                    plan.gap(cursor, start, horizon);
                    plan.days.push((start, index));
                    cursor = end;
                    days.next();
                }
            }
            plan.gap(cursor, seg.end_ms, horizon);
        }
        plan
    }
}

/// Local days with day rollups near the range, without any that overlap another
/// (written in different zones): those are not whole days of anything.
fn usable_days(conn: &Connection, from: i64, to: i64) -> rusqlite::Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT start_ms, end_ms FROM rollup_days WHERE end_ms > ?1 AND start_ms < ?2
         ORDER BY start_ms",
    )?;
    let spans: Vec<(i64, i64)> = stmt
        .query_map([from, to], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(spans
        .iter()
        .enumerate()
        .filter(|(i, (start, end))| {
            let before = i.checked_sub(1).map(|p| spans[p]);
            let after = spans.get(i + 1);
            before.is_none_or(|b| b.1 <= *start) && after.is_none_or(|a| a.0 >= *end)
        })
        .map(|(_, s)| *s)
        .collect())
}

pub(crate) fn raw_horizon(conn: &Connection) -> rusqlite::Result<i64> {
    let text: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT value FROM meta WHERE key = 'raw_horizon_ms'",
        [],
        |r| r.get(0),
    ))?;
    Ok(text.and_then(|t| t.parse().ok()).unwrap_or(0))
}

fn segment_of(segments: &[Segment], t: i64) -> Option<usize> {
    let index = segments
        .partition_point(|s| s.start_ms <= t)
        .checked_sub(1)?;
    (t < segments[index].end_ms).then_some(index)
}

/// What a part of the range contributes: a rollup row's aggregate, or one raw request
/// (added directly: building a one-request aggregate and merging it costs more).
enum Part<'p, 'o> {
    Rollup(&'p Agg),
    Request(&'p Obs<'o>),
}

impl Part<'_, '_> {
    fn add_to(&self, agg: &mut Agg) {
        match self {
            Part::Rollup(a) => agg.merge(a),
            Part::Request(o) => agg.add(o),
        }
    }
}

/// The cells of an answer as they fill.
struct Cells {
    cells: HashMap<(usize, String), Agg>,
    total: Agg,
}

impl Cells {
    fn add(&mut self, seg: usize, group: String, part: &Part<'_, '_>) {
        part.add_to(self.cells.entry((seg, group)).or_default());
    }
}

/// Reads rollup rows of dimension `code` (and raw rows for the rest) per the plan,
/// handing each (segment, stored value, aggregate) to `sink`.
fn read_plan(
    conn: &Connection,
    plan: &Plan,
    segments: &[Segment],
    code: u8,
    dim: Option<&Dimension>,
    sink: &mut dyn FnMut(usize, &str, &Part<'_, '_>),
) -> rusqlite::Result<()> {
    if let (Some(first), Some(last)) = (plan.days.first(), plan.days.last()) {
        let day_segment: HashMap<i64, usize> = plan.days.iter().copied().collect();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT bucket_ms, value, {AGG_COLUMNS} FROM {} WHERE dim = ?1 AND bucket_ms >= ?2 AND bucket_ms <= ?3",
            Level::Day.table()
        ))?;
        let mut rows = stmt.query(rusqlite::params![code, first.0, last.0])?;
        while let Some(row) = rows.next()? {
            if let Some(&seg) = day_segment.get(&row.get::<_, i64>(0)?) {
                sink(
                    seg,
                    &row.get::<_, String>(1)?,
                    &Part::Rollup(&read_agg(row, 2)?),
                );
            }
        }
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT bucket_ms, value, {AGG_COLUMNS} FROM {} WHERE dim = ?1 AND bucket_ms >= ?2 AND bucket_ms < ?3",
        Level::Hour.table()
    ))?;
    for &(start, end) in &plan.hours {
        let mut rows = stmt.query(rusqlite::params![code, start, end])?;
        while let Some(row) = rows.next()? {
            if let Some(seg) = segment_of(segments, row.get(0)?) {
                sink(
                    seg,
                    &row.get::<_, String>(1)?,
                    &Part::Rollup(&read_agg(row, 2)?),
                );
            }
        }
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RAW_COLUMNS} FROM requests r WHERE r.ts_ms >= ?1 AND r.ts_ms < ?2"
    ))?;
    for &(start, end) in &plan.raw {
        let mut rows = stmt.query([start, end])?;
        while let Some(row) = rows.next()? {
            let raw = RawRow::from_row(row)?;
            let obs = raw.obs();
            let Some(seg) = segment_of(segments, obs.ts_ms) else {
                continue;
            };
            let part = Part::Request(&obs);
            match dim {
                None => sink(seg, "", &part),
                Some(d) => {
                    for value in obs.values(d) {
                        sink(seg, &value, &part);
                    }
                }
            }
        }
    }
    Ok(())
}

fn from_rollups(
    conn: &Connection,
    q: &AnalyticsQuery,
    segments: &[Segment],
    code: u8,
    dim: Option<Dimension>,
    keys: &KeyNames,
    out: &mut Cells,
) -> rusqlite::Result<&'static str> {
    let use_days = matches!(
        q.bucket,
        Bucket::None | Bucket::Day | Bucket::Week | Bucket::Month
    );
    let days = if use_days {
        usable_days(conn, q.range.from_ms, q.range.to_ms)?
    } else {
        Vec::new()
    };
    let horizon = floor_hour_utc(raw_horizon(conn)?);
    let plan = Plan::build(segments, &days, use_days, horizon);
    let grouped = q.group_by.is_some();
    let total_separately = grouped && dim.as_ref().is_some_and(Dimension::multi_valued);
    let mut sum_total = Agg::default();
    read_plan(
        conn,
        &plan,
        segments,
        code,
        dim.as_ref(),
        &mut |seg, stored, agg| {
            let shown = display(dim.as_ref(), stored, keys);
            if !q.filters.iter().all(|f| f.matches(&shown)) {
                return;
            }
            if !total_separately {
                agg.add_to(&mut sum_total);
            }
            out.add(seg, if grouped { shown } else { String::new() }, agg);
        },
    )?;
    if total_separately {
        read_plan(conn, &plan, segments, 0, None, &mut |_, _, agg| {
            agg.add_to(&mut out.total)
        })?;
    } else {
        out.total = sum_total;
    }
    let rollups = !plan.days.is_empty() || !plan.hours.is_empty();
    Ok(match (rollups, plan.raw.is_empty()) {
        (true, true) => "rollups",
        (true, false) => "rollups+raw",
        (false, _) => "raw",
    })
}

/// A SQL condition that keeps at least the rows `f` matches (Rust then checks
/// exactly), or `None` when SQL cannot narrow it.
fn prefilter(f: &Filter, keys: &KeyNames, params: &mut Vec<Value>) -> Option<String> {
    if f.patterns.iter().any(|p| p.matches(f.field.none_label())) {
        return None; // may match requests without a value: NULLs
    }
    let column = match &f.field {
        Dimension::Model => "r.requested_model",
        Dimension::Provider => "r.provider",
        Dimension::Policy => "r.policy",
        Dimension::User => "r.user_id",
        Dimension::Trace => "r.trace_id",
        Dimension::Session => "r.session_id",
        Dimension::Branch => "r.branch",
        Dimension::Repo => "r.repo",
        Dimension::Agent => "r.agent",
        Dimension::Status => "CAST(r.status AS TEXT)",
        Dimension::Key => {
            let ids: Vec<String> = keys
                .0
                .iter()
                .filter(|(_, name)| f.matches(name))
                .map(|(id, _)| id.to_string())
                .collect();
            return Some(format!("r.key_id IN ({})", ids.join(",")));
        }
        Dimension::Tag => "(SELECT value FROM json_each(r.tags))",
        Dimension::Extra(_) => return None,
    };
    let mut alternatives = Vec::new();
    for p in &f.patterns {
        params.push(Value::Text(p.to_glob()));
        alternatives.push(if f.field == Dimension::Tag {
            format!(
                "EXISTS (SELECT 1 FROM json_each(r.tags) WHERE json_each.value GLOB ?{})",
                params.len()
            )
        } else {
            format!("{column} GLOB ?{}", params.len())
        });
    }
    Some(format!("({})", alternatives.join(" OR ")))
}

fn matches_filters(obs: &Obs<'_>, filters: &[Filter], keys: &KeyNames) -> bool {
    filters.iter().all(|f| {
        obs.values(&f.field)
            .iter()
            .any(|v| f.matches(&display(Some(&f.field), v, keys)))
    })
}

fn from_raw(
    conn: &Connection,
    q: &AnalyticsQuery,
    segments: &[Segment],
    keys: &KeyNames,
    out: &mut Cells,
) -> rusqlite::Result<()> {
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        return Ok(());
    };
    let mut params = vec![Value::Integer(first.start_ms), Value::Integer(last.end_ms)];
    let mut sql =
        format!("SELECT {RAW_COLUMNS} FROM requests r WHERE r.ts_ms >= ?1 AND r.ts_ms < ?2");
    for f in &q.filters {
        if let Some(condition) = prefilter(f, keys, &mut params) {
            sql.push_str(" AND ");
            sql.push_str(&condition);
        }
    }
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        let raw = RawRow::from_row(row)?;
        let obs = raw.obs();
        let Some(seg) = segment_of(segments, obs.ts_ms) else {
            continue;
        };
        if !matches_filters(&obs, &q.filters, keys) {
            continue;
        }
        out.total.add(&obs);
        let part = Part::Request(&obs);
        match &q.group_by {
            None => out.add(seg, String::new(), &part),
            Some(g) => {
                for value in obs.values(g) {
                    out.add(seg, display(Some(g), &value, keys), &part);
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn answer(conn: &Connection, q: &AnalyticsQuery) -> Result<Report> {
    // `all` (from the epoch) starts at the first request instead, so that day or week
    // buckets do not run from 1970.
    let mut q = std::borrow::Cow::Borrowed(q);
    if q.range.from_ms <= 0 {
        let first: Option<i64> = conn.query_row(
            "SELECT MIN(m) FROM (SELECT MIN(bucket_ms) AS m FROM rollup_hour WHERE dim = 0
             UNION ALL SELECT MIN(ts_ms) FROM requests)",
            [],
            |r| r.get(0),
        )?;
        // With no requests at all, an empty answer for the last instant.
        let start = first.unwrap_or(q.range.to_ms - 1);
        if start > q.range.from_ms && start < q.range.to_ms {
            q.to_mut().range.from_ms = start;
        }
    }
    let q = q.as_ref();
    let segments = segments(q.range, q.bucket, &q.zone).map_err(StoreError::InvalidQuery)?;
    let keys = KeyNames::load(conn)?;
    let mut cells = Cells {
        cells: HashMap::new(),
        total: Agg::default(),
    };
    let rollup = if q.force_raw {
        None
    } else {
        rollup_dimension(q)
    };
    let source = match rollup {
        Some((code, dim)) => from_rollups(conn, q, &segments, code, dim, &keys, &mut cells)?,
        None => {
            from_raw(conn, q, &segments, &keys, &mut cells)?;
            "raw"
        }
    };
    Ok(shape(q, &segments, cells, source))
}

/// Ranks groups, folds those beyond `top`, and lays out rows.
fn shape(q: &AnalyticsQuery, segments: &[Segment], cells: Cells, source: &'static str) -> Report {
    let bucketed = q.bucket != Bucket::None;
    let mut by_group: HashMap<String, Agg> = HashMap::new();
    for ((_, group), agg) in &cells.cells {
        by_group.entry(group.clone()).or_default().merge(agg);
    }
    let mut ranked: Vec<(String, Agg)> = by_group.into_iter().collect();
    ranked.sort_by(|(an, a), (bn, b)| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then(b.requests.cmp(&a.requests))
            .then(an.cmp(bn))
    });
    let mut cells = cells;
    if let Some(top) = q.top.filter(|&t| q.group_by.is_some() && ranked.len() > t) {
        let kept: std::collections::HashSet<String> =
            ranked.iter().take(top).map(|(g, _)| g.clone()).collect();
        let mut other = Agg::default();
        for (_, agg) in ranked.drain(top..) {
            other.merge(&agg);
        }
        ranked.push((OTHER_GROUP.to_string(), other));
        let mut folded: HashMap<(usize, String), Agg> = HashMap::new();
        for ((seg, group), agg) in cells.cells {
            let group = if kept.contains(&group) {
                group
            } else {
                OTHER_GROUP.to_string()
            };
            folded.entry((seg, group)).or_default().merge(&agg);
        }
        cells.cells = folded;
    }
    let row = |seg: Option<&Segment>, group: String, agg: &Agg| ReportRow {
        bucket: seg.filter(|_| bucketed).map(|s| s.label.clone()),
        bucket_start_ms: seg.filter(|_| bucketed).map(|s| s.bucket_start_ms),
        group,
        metrics: agg.metrics(),
    };
    let mut rows = Vec::new();
    for (index, seg) in segments.iter().enumerate() {
        for (group, _) in &ranked {
            if let Some(agg) = cells.cells.get(&(index, group.clone())) {
                let shown = if q.group_by.is_some() {
                    group.clone()
                } else if bucketed {
                    seg.label.clone()
                } else {
                    "total".to_string()
                };
                rows.push(row(Some(seg), shown, agg));
            }
        }
    }
    let groups = if q.group_by.is_some() {
        ranked
            .iter()
            .map(|(g, agg)| row(None, g.clone(), agg))
            .collect()
    } else {
        Vec::new()
    };
    Report {
        from_ms: q.range.from_ms,
        to_ms: q.range.to_ms,
        bucket: q.bucket,
        group_by: q.group_by.as_ref().map(Dimension::name),
        source,
        buckets: if bucketed {
            segments
                .iter()
                .map(|s| BucketInfo {
                    start_ms: s.bucket_start_ms,
                    label: s.label.clone(),
                })
                .collect()
        } else {
            Vec::new()
        },
        rows,
        groups,
        total: row(None, "total".into(), &cells.total),
    }
}

/// Access to the planner for the crate's analytics tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub(crate) fn usable_days(conn: &Connection, from: i64, to: i64) -> Vec<(i64, i64)> {
        super::usable_days(conn, from, to).unwrap_or_default()
    }

    /// The plan's number of day rollups, hour runs and raw runs.
    pub(crate) fn plan(segments: &[Segment], days: &[(i64, i64)]) -> (usize, usize, usize) {
        let plan = Plan::build(segments, days, true, 0);
        (plan.days.len(), plan.hours.len(), plan.raw.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: i64, end: i64) -> Segment {
        Segment {
            start_ms: start,
            end_ms: end,
            bucket_start_ms: start,
            label: String::new(),
        }
    }

    const H: i64 = HOUR_MS;

    #[test]
    fn plans_use_days_then_hours_then_raw_rows() {
        // One bucket from 00:30 on day 0 to 05:15 on day 2 (days of 24 h from 0).
        let day = 24 * H;
        let segs = [seg(H / 2, 2 * day + 5 * H + H / 4)];
        let days = [(0, day), (day, 2 * day), (2 * day, 3 * day)];
        let plan = Plan::build(&segs, &days, true, 0);
        assert_eq!(plan.days, [(day, 0)]);
        assert_eq!(plan.hours, [(H, day), (2 * day, 2 * day + 5 * H)]);
        assert_eq!(
            plan.raw,
            [(H / 2, H), (2 * day + 5 * H, 2 * day + 5 * H + H / 4)]
        );
        // Without days (hour buckets), whole hours and raw edges only.
        let plan = Plan::build(&segs, &days, false, 0);
        assert!(plan.days.is_empty());
        assert_eq!(plan.hours, [(H, 2 * day + 5 * H)]);
    }

    #[test]
    fn before_the_horizon_an_hour_counts_where_it_starts() {
        // Buckets at :30 (a +05:30 zone): [0:30, 1:30), [1:30, 2:30), raw rows gone.
        let segs = [seg(H / 2, 3 * H / 2), seg(3 * H / 2, 5 * H / 2)];
        let plan = Plan::build(&segs, &[], false, 10 * H);
        assert_eq!(plan.hours, [(H, 3 * H)]);
        assert!(plan.raw.is_empty());
        // After the horizon the same buckets read raw rows.
        let plan = Plan::build(&segs, &[], false, 0);
        assert_eq!(plan.raw, [(H / 2, 5 * H / 2)]);
        assert!(plan.hours.is_empty());
    }
}
