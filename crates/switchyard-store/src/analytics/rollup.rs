//! Rollups: per UTC hour and per local day, one row per dimension value, kept up to
//! date by the writer thread in the same transaction as the records they count.
//!
//! A batch is first summed in memory per (level, dimension, bucket, value), so a busy
//! batch of a thousand records touches a few hundred rows, each merged and written back
//! once. The writer remembers the rows it wrote, so the next batch merges into them
//! without reading them back, unless another connection wrote to the database since.

use super::agg::{encode_hist, Agg, Dist, Obs};
use super::hist::Hist;
use super::raw::{RawRow, RAW_COLUMNS};
use super::timeq::{day_span, floor_hour_utc};
use super::Dimension;
use jiff::tz::TimeZone;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

/// The dimensions with rollups, by code; code 0 counts every request.
pub(crate) fn rolled_up_dimensions() -> [(u8, Option<Dimension>); 11] {
    [
        (0, None),
        (1, Some(Dimension::Model)),
        (2, Some(Dimension::Provider)),
        (3, Some(Dimension::Key)),
        (4, Some(Dimension::Policy)),
        (5, Some(Dimension::User)),
        (6, Some(Dimension::Branch)),
        (7, Some(Dimension::Repo)),
        (8, Some(Dimension::Agent)),
        (9, Some(Dimension::Status)),
        (10, Some(Dimension::Tag)),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Level {
    Hour,
    Day,
}

impl Level {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Level::Hour => "rollup_hour",
            Level::Day => "rollup_day",
        }
    }

    /// The level's place in per-level arrays.
    fn index(self) -> usize {
        match self {
            Level::Hour => 0,
            Level::Day => 1,
        }
    }
}

/// The stored columns of an [`Agg`], in the order [`read_agg`] reads them.
pub(crate) const AGG_COLUMNS: &str = "requests, errors, input_tokens, cache_read_tokens,
    cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, cost_usd,
    unpriced, savings_usd, latency_sum, latency_min, latency_max, latency_hist, ttft_count,
    ttft_sum, ttft_min, ttft_max, ttft_hist, tps_tokens, tps_ms, tools";

/// Reads an [`Agg`] from `AGG_COLUMNS` starting at column `at`.
pub(crate) fn read_agg(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Agg> {
    let count = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(at + i)?.max(0) as u64) };
    let hist = |i: usize| -> rusqlite::Result<Hist> {
        Ok(r.get::<_, Option<Vec<u8>>>(at + i)?
            .map(|b| Hist::decode(&b))
            .unwrap_or_default())
    };
    let requests = count(0)?;
    let tools: Option<String> = r.get(at + 22)?;
    Ok(Agg {
        requests,
        errors: count(1)?,
        tokens: crate::TokenCounts {
            input: count(2)?,
            cache_read: count(3)?,
            cache_write_5m: count(4)?,
            cache_write_1h: count(5)?,
            output: count(6)?,
            reasoning: count(7)?,
        },
        cost_usd: r.get(at + 8)?,
        unpriced: count(9)?,
        savings_usd: r.get(at + 10)?,
        latency: Dist {
            count: requests,
            sum: r.get(at + 11)?,
            min: r.get(at + 12)?,
            max: r.get(at + 13)?,
            hist: hist(14)?,
        },
        ttft: Dist {
            count: count(15)?,
            sum: r.get(at + 16)?,
            min: r.get(at + 17)?,
            max: r.get(at + 18)?,
            hist: hist(19)?,
        },
        tps_tokens: count(20)?,
        tps_ms: r.get(at + 21)?,
        tools: tools
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
    })
}

/// The statements that read and write one level's rows, built once rather than
/// formatted for every row.
struct LevelSql {
    load: String,
    write: String,
}

impl LevelSql {
    fn of(level: Level) -> LevelSql {
        let table = level.table();
        LevelSql {
            load: format!(
                "SELECT {AGG_COLUMNS} FROM {table} WHERE dim = ?1 AND bucket_ms = ?2 AND value = ?3"
            ),
            write: format!(
                "INSERT OR REPLACE INTO {table} (dim, bucket_ms, value, {AGG_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)"
            ),
        }
    }
}

fn write_agg(
    conn: &Connection,
    sql: &LevelSql,
    (dim, bucket_ms, value): (u8, i64, &str),
    a: &Agg,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(&sql.write)?;
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let tools = if a.tools.is_empty() {
        None
    } else {
        serde_json::to_string(&a.tools).ok()
    };
    stmt.execute(params![
        dim,
        bucket_ms,
        value,
        int(a.requests),
        int(a.errors),
        int(a.tokens.input),
        int(a.tokens.cache_read),
        int(a.tokens.cache_write_5m),
        int(a.tokens.cache_write_1h),
        int(a.tokens.output),
        int(a.tokens.reasoning),
        a.cost_usd,
        int(a.unpriced),
        a.savings_usd,
        a.latency.sum,
        a.latency.min,
        a.latency.max,
        encode_hist(&a.latency),
        int(a.ttft.count),
        a.ttft.sum,
        a.ttft.min,
        a.ttft.max,
        encode_hist(&a.ttft),
        int(a.tps_tokens),
        a.tps_ms,
        tools,
    ])?;
    Ok(())
}

fn load_agg(
    conn: &Connection,
    sql: &LevelSql,
    (dim, bucket_ms, value): (u8, i64, &str),
) -> rusqlite::Result<Option<Agg>> {
    let mut stmt = conn.prepare_cached(&sql.load)?;
    stmt.query_row(params![dim, bucket_ms, value], |r| read_agg(r, 0))
        .optional()
}

type CellKey = (Level, u8, i64, String);

/// Everything that decides which cells a request is added to: its UTC hour, its
/// local day, and its value of every dimension in [`rolled_up_dimensions`] (a field
/// read by a dimension added there must be added here too).
#[derive(PartialEq, Eq, Hash)]
struct Signature<'a> {
    hour: i64,
    day: Option<i64>,
    key_id: Option<i64>,
    model: Option<&'a str>,
    provider: Option<&'a str>,
    policy: Option<&'a str>,
    user: Option<&'a str>,
    branch: Option<&'a str>,
    repo: Option<&'a str>,
    agent: Option<&'a str>,
    status: u16,
    tags: &'a [String],
}

impl<'a> Signature<'a> {
    fn of(obs: &Obs<'a>, day: Option<i64>) -> Signature<'a> {
        Signature {
            hour: floor_hour_utc(obs.ts_ms),
            day,
            key_id: obs.key_id,
            model: obs.model,
            provider: obs.provider,
            policy: obs.policy,
            user: obs.user,
            branch: obs.branch,
            repo: obs.repo,
            agent: obs.agent,
            status: obs.status,
            tags: obs.tags,
        }
    }
}

/// Most rows [`RollupWriter`] remembers between batches (about 3.6 KB each). A gateway
/// sees a few dozen per hour; past this many the writer forgets them all and reads
/// rows back again.
const MAX_REMEMBERED_ROWS: usize = 256;

/// The writer's side of the rollups: which zone local days follow, the days it
/// already registered, and the rows it last wrote.
pub(crate) struct RollupWriter {
    zone: TimeZone,
    last_day: Option<(i64, i64)>,
    known_days: HashSet<i64>,
    /// Rows as this writer last wrote them; valid while no other connection writes.
    written: HashMap<CellKey, Agg>,
    /// `PRAGMA data_version` when `written` was last known valid: it changes when
    /// another connection (or process) commits to the database.
    data_version: Option<i64>,
    sql: [LevelSql; 2],
}

impl RollupWriter {
    pub(crate) fn new(zone: TimeZone) -> RollupWriter {
        RollupWriter {
            zone,
            last_day: None,
            known_days: HashSet::new(),
            written: HashMap::new(),
            data_version: None,
            sql: [LevelSql::of(Level::Hour), LevelSql::of(Level::Day)],
        }
    }

    /// Starts a batch inside a transaction that already holds the write lock (so no
    /// other connection can commit until it ends): rows remembered are dropped if
    /// another connection committed since the last batch, as they may be stale.
    pub(crate) fn begin(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let version: i64 = conn.pragma_query_value(None, "data_version", |r| r.get(0))?;
        if self.data_version != Some(version) {
            self.written.clear();
            self.data_version = Some(version);
        }
        Ok(())
    }

    fn day_of(&mut self, ts_ms: i64) -> Option<(i64, i64)> {
        if let Some((start, end)) = self.last_day {
            if (start..end).contains(&ts_ms) {
                return Some((start, end));
            }
        }
        match day_span(ts_ms, &self.zone) {
            Ok(span) => {
                self.last_day = Some(span);
                Some(span)
            }
            Err(e) => {
                tracing::warn!(ts_ms, error = %e, "request time outside the calendar; no day rollup");
                None
            }
        }
    }

    /// Adds `batch` to the rollups, inside the caller's transaction (after [`begin`]).
    ///
    /// [`begin`]: RollupWriter::begin
    pub(crate) fn apply<'a>(
        &mut self,
        conn: &Connection,
        batch: impl Iterator<Item = Obs<'a>>,
    ) -> rusqlite::Result<()> {
        // Requests of one batch mostly share their hour and dimension values: sum
        // them per signature first, then spread each sum over its cells once. Spread
        // per request instead, the 22 cell lookups (and key strings) per record cost
        // more than everything else the writer does.
        let mut groups: HashMap<Signature<'a>, (Obs<'a>, Agg)> = HashMap::new();
        let mut new_days: Vec<(i64, i64)> = Vec::new();
        for obs in batch {
            let day = self.day_of(obs.ts_ms);
            if let Some((start, end)) = day {
                if self.known_days.insert(start) {
                    new_days.push((start, end));
                }
            }
            match groups.entry(Signature::of(&obs, day.map(|(start, _)| start))) {
                Entry::Occupied(group) => group.into_mut().1.add(&obs),
                Entry::Vacant(slot) => {
                    let mut agg = Agg::default();
                    agg.add(&obs);
                    slot.insert((obs, agg));
                }
            }
        }
        let dims = rolled_up_dimensions();
        let mut cells: HashMap<CellKey, Agg> = HashMap::new();
        for (signature, (first, sum)) in &groups {
            for (code, dim) in &dims {
                let values = match dim {
                    None => vec![std::borrow::Cow::Borrowed("")],
                    Some(d) => first.values(d),
                };
                for value in values {
                    cells
                        .entry((Level::Hour, *code, signature.hour, value.to_string()))
                        .or_default()
                        .merge(sum);
                    if let Some(start) = signature.day {
                        cells
                            .entry((Level::Day, *code, start, value.into_owned()))
                            .or_default()
                            .merge(sum);
                    }
                }
            }
        }
        {
            let mut stmt = conn.prepare_cached(
                "INSERT OR IGNORE INTO rollup_days (start_ms, end_ms) VALUES (?1, ?2)",
            )?;
            for (start, end) in new_days {
                stmt.execute([start, end])?;
            }
        }
        if self.written.len() + cells.len() > MAX_REMEMBERED_ROWS {
            self.written.clear();
        }
        for (key, delta) in cells {
            let (level, dim, bucket) = (key.0, key.1, key.2);
            let sql = &self.sql[level.index()];
            let row = match self.written.entry(key) {
                Entry::Occupied(mut row) => {
                    row.get_mut().merge(&delta);
                    row
                }
                Entry::Vacant(slot) => {
                    let merged = match load_agg(conn, sql, (dim, bucket, &slot.key().3))? {
                        Some(mut stored) => {
                            stored.merge(&delta);
                            stored
                        }
                        None => delta,
                    };
                    slot.insert_entry(merged)
                }
            };
            write_agg(conn, sql, (dim, bucket, &row.key().3), row.get())?;
        }
        // A batch of more rows than that is not kept past its own transaction.
        if self.written.len() > MAX_REMEMBERED_ROWS {
            self.written.clear();
        }
        Ok(())
    }

    /// Forgets the days registered and the rows written (after a failed transaction
    /// rolled back).
    pub(crate) fn forget_uncommitted(&mut self) {
        self.known_days.clear();
        self.written.clear();
        self.data_version = None;
    }
}

/// Builds the rollups of every raw row already in the database (when upgrading a
/// database written before rollups existed). Runs inside the migration's transaction.
pub(crate) fn backfill(conn: &Connection, zone: TimeZone) -> rusqlite::Result<u64> {
    let mut writer = RollupWriter::new(zone);
    writer.begin(conn)?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {RAW_COLUMNS}, r.id FROM requests r WHERE r.id > ?1 ORDER BY r.id LIMIT 10000"
    ))?;
    let mut after = 0i64;
    let mut total = 0u64;
    loop {
        let chunk = stmt
            .query_map([after], |r| {
                Ok((RawRow::from_row(r)?, r.get::<_, i64>(27)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let Some(last) = chunk.last().map(|(_, id)| *id) else {
            return Ok(total);
        };
        after = last;
        total += chunk.len() as u64;
        writer.apply(conn, chunk.iter().map(|(row, _)| row.obs()))?;
    }
}
