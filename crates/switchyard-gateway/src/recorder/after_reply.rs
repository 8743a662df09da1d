//! Records finished while a client connection is being polled are sent when that poll
//! is over, after the HTTP server has written the answer to the socket in it: reading
//! an answer's usage, pricing it and adding it to the key's spend then never delays
//! the answer the record describes.
//!
//! A connection's task polls its connection inside [`hold_records`]; a record finished
//! anywhere else (a request served on a task of its own, as an HTTP/2 stream is, or a
//! test calling a handler directly) is sent at once, so none waits for a poll that
//! never ends. The guard sends what it holds when dropped, a panic's unwinding
//! included.

use super::PendingRecord;
use std::cell::RefCell;

thread_local! {
    static HELD: RefCell<Held> = const {
        RefCell::new(Held {
            holding: false,
            records: Vec::new(),
        })
    };
}

struct Held {
    /// Whether a [`HeldRecords`] guard is open on this thread.
    holding: bool,
    /// Finished records and their statuses, in the order they finished.
    records: Vec<(PendingRecord, u16)>,
}

/// Holds records finished on this thread until the guard is dropped. Inside another
/// guard it holds nothing of its own: the outer one sends.
pub(crate) fn hold_records() -> HeldRecords {
    let outermost = HELD.with(|held| {
        let mut held = held.borrow_mut();
        !std::mem::replace(&mut held.holding, true)
    });
    HeldRecords { outermost }
}

/// See [`hold_records`].
pub(crate) struct HeldRecords {
    outermost: bool,
}

impl Drop for HeldRecords {
    fn drop(&mut self) {
        if !self.outermost {
            return;
        }
        // Taken out before sending: sending never finishes another record, but the
        // cell is not borrowed while it runs all the same.
        let mut records = HELD.with(|held| {
            let mut held = held.borrow_mut();
            held.holding = false;
            std::mem::take(&mut held.records)
        });
        for (mut record, status) in records.drain(..) {
            record.send(status);
        }
        // The emptied vector goes back, so holding a record allocates nothing. (Nothing
        // is held while the guard is closed, so the one in the cell is empty.)
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            if held.records.is_empty() {
                held.records = records;
            }
        });
    }
}

/// Sends `record` with `status` now, or when the open guard closes.
pub(super) fn send_after_reply(record: PendingRecord, status: u16) {
    let not_held = HELD.with(|held| {
        let mut held = held.borrow_mut();
        if held.holding {
            held.records.push((record, status));
            None
        } else {
            Some(record)
        }
    });
    if let Some(mut record) = not_held {
        record.send(status);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::providers::WireFormat;
    use crate::spend::SpendTracker;
    use bytes::Bytes;
    use std::sync::Arc;
    use std::time::Instant;
    use switchyard_store::{LogWriter, Store};

    const ANSWER: &[u8] = br#"{"choices":[{"message":{"content":"hi","tool_calls":[{"function":{"name":"grep"}}]}}],"usage":{"prompt_tokens":7,"completion_tokens":3}}"#;

    struct Log {
        store: Store,
        writer: LogWriter,
        spend: Arc<SpendTracker>,
        _dir: tempfile::TempDir,
    }

    impl Log {
        fn new() -> Log {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            let writer = LogWriter::start(&store, 16).unwrap();
            let (alerts, _) = tokio::sync::mpsc::unbounded_channel();
            let spend = Arc::new(SpendTracker::load(&store, alerts).unwrap());
            Log {
                store,
                writer,
                spend,
                _dir: dir,
            }
        }

        fn record(&self) -> PendingRecord {
            let mut record = PendingRecord::new(
                self.writer.sender(),
                self.spend.clone(),
                WireFormat::OpenAiChat,
                Instant::now(),
            );
            record.read_answer_later(WireFormat::OpenAiChat, Bytes::from_static(ANSWER));
            record
        }

        /// The rows written so far, once everything sent so far is written.
        fn rows(&self) -> Vec<switchyard_store::RecentRequest> {
            self.writer.sender().flush();
            self.store.recent_requests(10).unwrap()
        }
    }

    #[test]
    fn a_record_finished_while_records_are_held_is_sent_when_the_guard_closes() {
        let log = Log::new();
        let held = hold_records();
        log.record().finish(200);
        assert!(log.rows().is_empty(), "sent before the guard closed");
        drop(held);
        let rows = log.rows();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row["status"], 200);
        // The answer was read when the record was sent.
        assert_eq!(row["input_tokens"], 7);
        assert_eq!(row["output_tokens"], 3);
        assert_eq!(row["tool_calls"], serde_json::json!(["grep"]));
    }

    #[test]
    fn a_record_finished_with_no_guard_open_is_sent_at_once() {
        let log = Log::new();
        log.record().finish(201);
        let rows = log.rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["status"], 201);
        assert_eq!(rows[0]["input_tokens"], 7);
    }

    #[test]
    fn an_inner_guard_leaves_the_sending_to_the_outer_one() {
        let log = Log::new();
        let outer = hold_records();
        {
            let _inner = hold_records();
            log.record().finish(200);
        }
        assert!(log.rows().is_empty(), "the inner guard sent it");
        log.record().finish(200);
        drop(outer);
        assert_eq!(log.rows().len(), 2);
        // Closed for good: the next record goes at once.
        log.record().finish(200);
        assert_eq!(log.rows().len(), 3);
    }

    #[test]
    fn records_held_when_a_poll_panics_are_still_sent() {
        let log = Log::new();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _held = hold_records();
            log.record().finish(200);
            panic!("the connection's poll failed");
        }));
        assert!(outcome.is_err());
        let rows = log.rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["status"], 200);
    }
}
