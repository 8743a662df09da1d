//! The single writer thread of the request log.
//!
//! The request path hands a record to a bounded channel and moves on; this thread
//! drains the channel and writes records in batched transactions, updating the
//! analytics rollups in the same transaction. Between batches, about hourly, it
//! deletes raw rows past the retention age, a few thousand at a time. Shutting the
//! writer down writes everything queued before returning.

use crate::analytics::rollup::RollupWriter;
use crate::analytics::Obs;
use crate::{retention, RequestRecord, Result, Store};
use jiff::tz::TimeZone;
use rusqlite::{Connection, TransactionBehavior};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most records written in one transaction.
const MAX_BATCH: usize = 1024;
/// How long records gather after the first one of a batch arrives, unless the batch
/// fills or a flush or stop asks for it sooner. A transaction costs much the same CPU
/// (one round of rollup updates, one WAL commit) whether it holds one record or a
/// thousand: at 1,000 requests a second the writer spent about 40 µs of CPU per record
/// with a 20 ms window, and 13 µs with this one. Records reach the database about
/// this much later (later only while a backlog drains); the request path never waits
/// for them.
const BATCH_WINDOW: Duration = Duration::from_millis(100);
/// How often a gathering batch looks at the queue: a busy gateway fills a batch well
/// within the window, and a full batch, a flush or a stop should not wait for its end.
/// Senders never wake the writer: the request path pays for no wake-up per record.
const GATHER_POLL: Duration = Duration::from_millis(20);

/// Records inserted between offers of the core to other threads. The writer sleeps
/// most of the time, so the scheduler lets it run its whole batch once it wakes: at
/// 5,000 requests a second, 500 records, about 2 ms, during which a request waiting
/// for that core waits too. That was the gateway's p99 at that rate (1.1-1.3 ms of
/// overhead; 0.3-0.55 ms with these yields, the same throughput).
const YIELD_EVERY: usize = 64;

enum Message {
    Record(Box<RequestRecord>),
    /// Answered once everything queued before it is on disk.
    Flush(mpsc::Sender<()>),
    /// Write what is queued, then stop.
    Stop,
}

/// What happened to a record handed to [`LogSender::send`].
#[derive(Debug, PartialEq, Eq)]
pub enum SendOutcome {
    Queued,
    /// The queue was full or the writer stopped; the record was counted as dropped.
    Dropped,
}

/// The request path's end of the log: cheap to clone, never blocks.
#[derive(Clone)]
pub struct LogSender {
    tx: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
}

impl LogSender {
    /// Queues a record without waiting. A full queue drops the record (counted and
    /// reported by [`LogSender::dropped`]) rather than stall a user's request.
    pub fn send(&self, record: RequestRecord) -> SendOutcome {
        match self.tx.try_send(Message::Record(Box::new(record))) {
            Ok(()) => SendOutcome::Queued,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    dropped_total = total,
                    "request log queue full; record dropped"
                );
                SendOutcome::Dropped
            }
        }
    }

    /// Queues a record, waiting for room if the queue is full. For bulk loads
    /// (imports, benchmarks), never for the request path.
    pub fn send_wait(&self, record: RequestRecord) -> SendOutcome {
        match self.tx.send(Message::Record(Box::new(record))) {
            Ok(()) => SendOutcome::Queued,
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                SendOutcome::Dropped
            }
        }
    }

    /// Records dropped since start because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Blocks until every record queued so far is written. For shutdown paths and tests.
    pub fn flush(&self) {
        let (reply_tx, reply_rx) = mpsc::channel();
        if self.tx.send(Message::Flush(reply_tx)).is_ok() {
            let _ = reply_rx.recv();
        }
    }
}

/// How the writer thread runs.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// The zone whose calendar days the day rollups follow.
    pub zone: TimeZone,
    /// How long after start the first retention pass runs.
    pub first_maintenance: Duration,
    /// How often retention runs after that.
    pub maintenance_every: Duration,
    /// How long a batch gathers records (see [`BATCH_WINDOW`]).
    pub batch_window: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            zone: TimeZone::system(),
            // Not at once: a starting gateway has better things to do with the disk.
            first_maintenance: Duration::from_secs(60),
            maintenance_every: Duration::from_secs(3600),
            batch_window: BATCH_WINDOW,
        }
    }
}

/// Owns the writer thread.
pub struct LogWriter {
    sender: LogSender,
    thread: Option<JoinHandle<()>>,
}

impl LogWriter {
    /// Starts the writer thread with a queue of `capacity` records, day rollups in
    /// the machine's local time zone and hourly retention.
    pub fn start(store: &Store, capacity: usize) -> Result<LogWriter> {
        Self::start_with(store, capacity, WriterOptions::default())
    }

    pub fn start_with(store: &Store, capacity: usize, options: WriterOptions) -> Result<LogWriter> {
        let conn = store.connect()?;
        let (tx, rx) = mpsc::sync_channel(capacity);
        let thread = std::thread::Builder::new()
            .name("switchyard-log-writer".into())
            .spawn(move || write_loop(conn, rx, options))
            .map_err(|e| crate::StoreError::DataDir {
                path: store.path().to_path_buf(),
                source: e,
            })?;
        Ok(LogWriter {
            sender: LogSender {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            thread: Some(thread),
        })
    }

    pub fn sender(&self) -> LogSender {
        self.sender.clone()
    }

    /// Writes every queued record, then stops the thread. Blocks until done.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            // A blocking send: at shutdown, waiting for room is right.
            let _ = self.sender.tx.send(Message::Stop);
            let _ = thread.join();
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Retention work the writer does between batches, one small step at a time.
enum Maintenance {
    Idle { due: Instant },
    Deleting { cutoff: i64 },
    Vacuuming,
}

impl Maintenance {
    fn busy(&self) -> bool {
        !matches!(self, Maintenance::Idle { .. })
    }

    /// Does one step; returns the next state.
    fn step(self, conn: &Connection, every: Duration) -> Maintenance {
        let idle = || Maintenance::Idle {
            due: Instant::now() + every,
        };
        let result = match self {
            Maintenance::Idle { .. } => {
                retention::begin(conn, crate::now_ms()).map(|cutoff| match cutoff {
                    Some(cutoff) => Maintenance::Deleting { cutoff },
                    None => idle(),
                })
            }
            Maintenance::Deleting { cutoff } => retention::delete_step(conn, cutoff).map(|n| {
                if n > 0 {
                    tracing::debug!(deleted = n, "retention: deleted old request rows");
                }
                if n < retention::DELETE_CHUNK as u64 {
                    Maintenance::Vacuuming
                } else {
                    Maintenance::Deleting { cutoff }
                }
            }),
            Maintenance::Vacuuming => retention::vacuum_step(conn).map(|freed| {
                if freed > 0 {
                    Maintenance::Vacuuming
                } else {
                    idle()
                }
            }),
        };
        result.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "retention step failed; trying again later");
            idle()
        })
    }
}

fn write_loop(mut conn: Connection, rx: Receiver<Message>, options: WriterOptions) {
    let mut rollups = RollupWriter::new(options.zone.clone());
    let mut maintenance = Maintenance::Idle {
        due: Instant::now() + options.first_maintenance,
    };
    let mut batch: Vec<Box<RequestRecord>> = Vec::with_capacity(MAX_BATCH);
    let mut replies: Vec<mpsc::Sender<()>> = Vec::new();
    loop {
        // Records first; retention only runs when nothing is waiting.
        let first = if maintenance.busy() {
            match rx.try_recv() {
                Ok(m) => m,
                Err(TryRecvError::Empty) => {
                    maintenance = maintenance.step(&conn, options.maintenance_every);
                    continue;
                }
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            let due = match &maintenance {
                Maintenance::Idle { due } => *due,
                _ => Instant::now(),
            };
            match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    maintenance = maintenance.step(&conn, options.maintenance_every);
                    continue;
                }
                // every sender is gone and nothing is queued
                Err(RecvTimeoutError::Disconnected) => return,
            }
        };
        let stop = gather(&rx, first, options.batch_window, &mut batch, &mut replies);
        if !batch.is_empty() {
            write_batch_with_retry(&mut conn, &mut rollups, &batch);
            batch.clear();
        }
        for reply in replies.drain(..) {
            let _ = reply.send(());
        }
        if stop {
            return;
        }
    }
}

/// Gathers a batch starting with `first`: records until the batch is full, `window`
/// has passed, or a flush or stop arrives. Returns whether the writer should stop.
// Records stay in the boxes they crossed the channel in: unboxing would copy each.
#[allow(clippy::vec_box)]
fn gather(
    rx: &Receiver<Message>,
    first: Message,
    window: Duration,
    batch: &mut Vec<Box<RequestRecord>>,
    replies: &mut Vec<mpsc::Sender<()>>,
) -> bool {
    let deadline = Instant::now() + window;
    let mut next = Some(first);
    loop {
        let mut answer_now = false;
        while let Some(message) = next.take() {
            match message {
                Message::Record(r) => batch.push(r),
                Message::Flush(reply) => {
                    replies.push(reply);
                    answer_now = true;
                }
                Message::Stop => return true,
            }
            if batch.len() >= MAX_BATCH {
                return false;
            }
            next = rx.try_recv().ok();
        }
        let now = Instant::now();
        // With a backlog the batch fills without waiting; a flush is answered at once.
        if answer_now || batch.is_empty() || now >= deadline {
            return false;
        }
        std::thread::sleep((deadline - now).min(GATHER_POLL));
        next = rx.try_recv().ok();
    }
}

fn write_batch_with_retry(
    conn: &mut Connection,
    rollups: &mut RollupWriter,
    batch: &[Box<RequestRecord>],
) {
    for attempt in 1..=3 {
        match write_batch(conn, rollups, batch) {
            Ok(()) => return,
            Err(e) => {
                // The transaction rolled back, days registered in it included.
                rollups.forget_uncommitted();
                tracing::error!(attempt, error = %e, records = batch.len(), "writing request log failed");
                std::thread::sleep(Duration::from_millis(100 * attempt));
            }
        }
    }
    tracing::error!(
        records = batch.len(),
        "request log records lost after 3 attempts"
    );
}

fn write_batch(
    conn: &mut Connection,
    rollups: &mut RollupWriter,
    batch: &[Box<RequestRecord>],
) -> rusqlite::Result<()> {
    // The write lock from the start: the rollup rows the writer remembers stay valid
    // only if no other connection commits between its check and its writes.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    rollups.begin(&tx)?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO requests (request_id, ts_ms, key_id, client_api, requested_model, provider,
                upstream_model, stream, status, error_kind, error_message, input_tokens,
                cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens,
                reasoning_tokens, cost_usd, latency_ms, ttft_ms, upstream_ms, overhead_ms, user_id,
                trace_id, session_id, branch, repo, agent, tags, extra, policy, attempts,
                cache_savings_usd, tool_calls)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34)",
        )?;
        let mut attempt_stmt = tx.prepare_cached(
            "INSERT INTO request_attempts (request_row, attempt, provider, model, status,
                error_kind, error_message, latency_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (i, r) in batch.iter().enumerate() {
            if i > 0 && i % YIELD_EVERY == 0 {
                std::thread::yield_now();
            }
            let json_list = |list: &[String]| {
                if list.is_empty() {
                    None
                } else {
                    serde_json::to_string(list).ok()
                }
            };
            let tags = json_list(&r.tags);
            let tool_calls = json_list(&r.tool_calls);
            stmt.execute(rusqlite::params![
                r.request_id,
                r.ts_ms,
                r.key_id,
                r.client_api,
                r.requested_model,
                r.provider,
                r.upstream_model,
                r.stream,
                r.status,
                r.error_kind,
                r.error_message,
                r.tokens.input as i64,
                r.tokens.cache_read as i64,
                r.tokens.cache_write_5m as i64,
                r.tokens.cache_write_1h as i64,
                r.tokens.output as i64,
                r.tokens.reasoning as i64,
                r.cost_usd,
                r.latency_ms,
                r.ttft_ms,
                r.upstream_ms,
                r.overhead_ms,
                r.user_id,
                r.trace_id,
                r.session_id,
                r.branch,
                r.repo,
                r.agent,
                tags,
                r.extra,
                r.policy,
                r.attempts.len().max(1) as i64,
                r.cache_savings_usd,
                tool_calls,
            ])?;
            if r.attempts.len() > 1 {
                let row = tx.last_insert_rowid();
                for (i, a) in r.attempts.iter().enumerate() {
                    attempt_stmt.execute(rusqlite::params![
                        row,
                        i as i64 + 1,
                        a.provider,
                        a.model,
                        a.status,
                        a.error_kind,
                        a.error_message,
                        a.latency_ms,
                    ])?;
                }
            }
        }
    }
    rollups.apply(&tx, batch.iter().map(|r| Obs::from_record(r)))?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(model: &str) -> RequestRecord {
        RequestRecord {
            requested_model: Some(model.into()),
            status: 200,
            ..Default::default()
        }
    }

    fn writer_with_window(store: &Store, batch_window: Duration, capacity: usize) -> LogWriter {
        let options = WriterOptions {
            batch_window,
            first_maintenance: Duration::from_secs(3600),
            ..WriterOptions::default()
        };
        LogWriter::start_with(store, capacity, options).unwrap()
    }

    /// Waits, without flushing, for the writer to write a first row.
    fn wait_for_a_row(store: &Store, failure: &str) {
        let waited = Instant::now();
        while store.recent_requests(1).unwrap().is_empty() {
            assert!(waited.elapsed() < Duration::from_secs(30), "{failure}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_record_reaches_the_database_once_its_batch_window_passes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let writer = writer_with_window(&store, Duration::from_millis(50), 16);
        assert_eq!(writer.sender().send(record("a")), SendOutcome::Queued);
        // No flush: the writer writes on its own when the window closes.
        wait_for_a_row(&store, "the record was never written");
        writer.shutdown();
    }

    #[test]
    fn flush_and_shutdown_do_not_wait_out_a_gathering_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // A window no test would wait for.
        let writer = writer_with_window(&store, Duration::from_secs(3600), 16);
        let sender = writer.sender();
        sender.send(record("a"));
        // Let the writer take the record and start waiting out the window.
        std::thread::sleep(Duration::from_millis(50));
        let flushing = Instant::now();
        sender.flush();
        assert!(flushing.elapsed() < Duration::from_secs(30));
        assert_eq!(store.recent_requests(10).unwrap().len(), 1);

        sender.send(record("b"));
        std::thread::sleep(Duration::from_millis(50));
        let stopping = Instant::now();
        writer.shutdown();
        assert!(stopping.elapsed() < Duration::from_secs(30));
        assert_eq!(store.recent_requests(10).unwrap().len(), 2);
    }

    #[test]
    fn a_full_batch_is_written_without_waiting_for_its_window() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let writer = writer_with_window(&store, Duration::from_secs(3600), MAX_BATCH * 2);
        let sender = writer.sender();
        for _ in 0..MAX_BATCH {
            assert_eq!(sender.send(record("a")), SendOutcome::Queued);
        }
        wait_for_a_row(&store, "a full batch waited for its window");
        writer.shutdown();
    }
}
