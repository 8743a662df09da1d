//! Splitting a server-sent-events byte stream into whole events, as they arrive.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem;
use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

/// Longest event terminator (`\r\n\r\n`) less one: how far back a scan resumes,
/// since a terminator can straddle two chunks.
const TERMINATOR_OVERLAP: usize = 3;

/// One event to send: `event: NAME` when named, then `data: JSON`. Serialized
/// straight into the event's buffer (going through `Display` costs a formatter pass
/// per field, which showed in translated streams).
pub fn encode_event(name: Option<&str>, data: &impl serde::Serialize) -> Bytes {
    let mut out = Vec::with_capacity(128);
    if let Some(name) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    // Writing JSON values into a Vec cannot fail: keys are strings, there is no I/O.
    if serde_json::to_writer(&mut out, data).is_err() {
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// Buffers bytes until an event's blank-line terminator, then hands events out whole
/// (terminator included), so events can be inspected, forwarded or dropped one by one.
#[derive(Default)]
pub struct SseSplitter {
    buf: BytesMut,
    /// `buf` holds no terminator before this offset.
    scanned: usize,
}

impl SseSplitter {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete event, if one is buffered.
    pub fn next_event(&mut self) -> Option<Bytes> {
        let end = find_event_end(&self.buf)?;
        self.scanned = 0;
        Some(self.buf.split_to(end).freeze())
    }

    /// Takes the next chunk and returns every event it completes, as one run of whole
    /// events ([`event_ranges`] tells them apart). A chunk that starts and ends on
    /// event boundaries, the usual case, is returned as it is, without a copy; only an
    /// unterminated tail is held back for the next chunk.
    pub fn push_run(&mut self, chunk: Bytes) -> Option<Bytes> {
        if self.buf.is_empty() {
            let end = last_event_end(&chunk, 0);
            if end < chunk.len() {
                self.buf.extend_from_slice(&chunk[end..]);
                self.scanned = self.buf.len().saturating_sub(TERMINATOR_OVERLAP);
            }
            return (end > 0).then(|| chunk.slice(..end));
        }
        self.buf.extend_from_slice(&chunk);
        let end = last_event_end(&self.buf, self.scanned);
        if end == 0 {
            self.scanned = self.buf.len().saturating_sub(TERMINATOR_OVERLAP);
            return None;
        }
        self.scanned = 0;
        Some(self.buf.split_to(end).freeze())
    }

    /// Whatever is left when the stream ends (an unterminated last event).
    pub fn take_rest(&mut self) -> Option<Bytes> {
        self.scanned = 0;
        if self.buf.has_remaining() {
            Some(self.buf.split().freeze())
        } else {
            None
        }
    }
}

/// Index just past the first blank line (`\n\n`, `\r\n\r\n` or `\r\r`).
fn find_event_end(buf: &[u8]) -> Option<usize> {
    // From line break to line break: an event is mostly one long `data:` line, and a
    // byte-by-byte walk cost more than everything else a pass-through stream does.
    let mut from = 0;
    while let Some(found) = memchr::memchr2(b'\n', b'\r', &buf[from..]) {
        let i = from + found;
        let after = &buf[i + 1..];
        match buf[i] {
            b'\n' if after.first() == Some(&b'\n') => return Some(i + 2),
            b'\r' if after.starts_with(b"\n\r\n") => return Some(i + 4),
            b'\r' if after.first() == Some(&b'\r') => return Some(i + 2),
            _ => {}
        }
        from = i + 1;
    }
    None
}

/// Index just past the last whole event in `buf` (0 when there is none), given that no
/// terminator starts before `from`.
fn last_event_end(buf: &[u8], from: usize) -> usize {
    let mut end = 0;
    let mut at = from.min(buf.len());
    while let Some(next) = find_event_end(&buf[at..]) {
        at += next;
        end = at;
    }
    end
}

/// The byte ranges of the whole events in a run from [`SseSplitter::push_run`].
pub fn event_ranges(run: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= run.len() {
            return None;
        }
        let start = at;
        at += find_event_end(&run[at..]).unwrap_or(run.len() - at);
        Some(start..at)
    })
}

/// The `data:` payload of an event (several data lines joined with `\n`), borrowed
/// from the event when it has a single data line.
pub fn event_data(event: &[u8]) -> Option<Cow<'_, [u8]>> {
    if let Some(data) = single_data_line(event) {
        return Some(Cow::Borrowed(data));
    }
    let mut data: Option<Cow<'_, [u8]>> = None;
    // Lines found with memchr rather than a byte-by-byte split (see `find_event_end`).
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', event).chain(std::iter::once(event.len()));
    for end in ends {
        let line = &event[start..end];
        start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"data:") {
            let rest = rest.strip_prefix(b" ").unwrap_or(rest);
            match &mut data {
                Some(d) => {
                    let d = d.to_mut();
                    d.push(b'\n');
                    d.extend_from_slice(rest);
                }
                None => data = Some(Cow::Borrowed(rest)),
            }
        }
    }
    data
}

/// The data of the event nearly every provider sends, a single `data:` line and the
/// line ends after it, after the `event:` line that names it in Anthropic's streams,
/// read without walking its lines one by one. `None` for any other event: the general
/// reading above takes it.
fn single_data_line(event: &[u8]) -> Option<&[u8]> {
    let event = match event.strip_prefix(b"event:") {
        Some(name) => &name[memchr::memchr(b'\n', name)? + 1..],
        None => event,
    };
    let rest = event.strip_prefix(b"data:")?;
    let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    if !rest[end..].iter().all(|&b| b == b'\n' || b == b'\r') {
        return None;
    }
    let line = &rest[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some(line.strip_prefix(b" ").unwrap_or(line))
}

/// A byte string looked for in every answer or event, a cheap test before parsing
/// one: its search table is built on first use, not on every search (building it
/// cost more than searching a 1 KB answer).
pub struct Marker {
    needle: &'static [u8],
    finder: OnceLock<memmem::Finder<'static>>,
}

impl Marker {
    pub const fn new(needle: &'static [u8]) -> Marker {
        Marker {
            needle,
            finder: OnceLock::new(),
        }
    }

    /// Whether `haystack` contains the marker.
    pub fn is_in(&self, haystack: &[u8]) -> bool {
        self.finder
            .get_or_init(|| memmem::Finder::new(self.needle))
            .find(haystack)
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_finds_its_bytes_anywhere_and_only_them() {
        static USAGE: Marker = Marker::new(b"\"usage\"");
        assert!(USAGE.is_in(b"{\"usage\":{}}"));
        assert!(USAGE.is_in(b"data: {\"id\":1,\"usage\":null}"));
        assert!(!USAGE.is_in(b"{\"usage_x\":1}"));
        assert!(!USAGE.is_in(b""));
        // Searched twice: the table built on first use answers the same.
        assert!(USAGE.is_in(b"\"usage\""));
    }

    #[test]
    fn encoded_events_split_back_into_the_same_json() {
        let data = serde_json::json!({"type": "text_delta", "text": "line\nbreak \"quoted\" ü"});
        let named = encode_event(Some("content_block_delta"), &data);
        assert_eq!(
            &named[..],
            "event: content_block_delta\ndata: {\"type\":\"text_delta\",\"text\":\"line\\nbreak \\\"quoted\\\" ü\"}\n\n".as_bytes()
        );
        let plain = encode_event(None, &data);
        let mut splitter = SseSplitter::default();
        splitter.push(&plain);
        let event = splitter.next_event().expect("one whole event");
        let json: serde_json::Value =
            serde_json::from_slice(&event_data(&event).expect("data")).expect("json");
        assert_eq!(json, data);
    }

    #[test]
    fn splits_events_across_arbitrary_chunk_boundaries() {
        let stream = b"data: {\"a\":1}\n\nevent: x\r\ndata: 2\r\n\r\ndata: [DONE]\n\n";
        for cut in 1..stream.len() {
            let mut s = SseSplitter::default();
            let mut events = Vec::new();
            for part in [&stream[..cut], &stream[cut..]] {
                s.push(part);
                while let Some(e) = s.next_event() {
                    events.push(e);
                }
            }
            assert_eq!(events.len(), 3, "cut at {cut}");
            assert_eq!(&*event_data(&events[0]).unwrap(), b"{\"a\":1}");
            assert_eq!(&*event_data(&events[1]).unwrap(), b"2");
            assert!(s.take_rest().is_none());
        }
    }

    /// Feeds `stream` to `push_run` in pieces cut at `cuts`; returns the runs' events
    /// and what was left over.
    fn runs(stream: &[u8], cuts: &[usize]) -> (Vec<Vec<u8>>, Option<Bytes>) {
        let mut s = SseSplitter::default();
        let mut events = Vec::new();
        let mut from = 0;
        for &to in cuts.iter().chain([&stream.len()]) {
            let to = to.clamp(from, stream.len());
            if let Some(run) = s.push_run(Bytes::copy_from_slice(&stream[from..to])) {
                assert!(!run.is_empty());
                events.extend(event_ranges(&run).map(|r| run[r].to_vec()));
            }
            from = to;
        }
        (events, s.take_rest())
    }

    #[test]
    fn runs_hold_whole_events_wherever_the_chunks_are_cut() {
        let stream = b"data: {\"a\":1}\n\nevent: x\r\ndata: 2\r\n\r\ndata: 3\r\rdata: [DONE]\n\n";
        let expected: Vec<Vec<u8>> = vec![
            b"data: {\"a\":1}\n\n".to_vec(),
            b"event: x\r\ndata: 2\r\n\r\n".to_vec(),
            b"data: 3\r\r".to_vec(),
            b"data: [DONE]\n\n".to_vec(),
        ];
        for a in 0..=stream.len() {
            for b in a..=stream.len() {
                let (events, rest) = runs(stream, &[a, b]);
                assert_eq!(events, expected, "cut at {a} and {b}");
                assert!(rest.is_none(), "cut at {a} and {b}");
            }
        }
        // Byte by byte, too.
        let every: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(runs(stream, &every).0, expected);
    }

    #[test]
    fn a_chunk_of_whole_events_is_returned_without_a_copy() {
        let chunk = Bytes::from_static(b"data: 1\n\ndata: 2\n\n");
        let mut s = SseSplitter::default();
        let run = s.push_run(chunk.clone()).unwrap();
        assert_eq!(run.as_ptr(), chunk.as_ptr());
        assert_eq!(run.len(), chunk.len());
        assert!(s.take_rest().is_none());
    }

    #[test]
    fn an_unterminated_tail_waits_and_is_returned_at_the_end() {
        let (events, rest) = runs(b"data: 1\n\ndata: par", &[3]);
        assert_eq!(events, vec![b"data: 1\n\n".to_vec()]);
        assert_eq!(rest.as_deref(), Some(&b"data: par"[..]));
    }

    #[test]
    fn joins_multi_line_data() {
        assert_eq!(&*event_data(b"data: a\ndata: b\n\n").unwrap(), b"a\nb");
        assert!(matches!(
            event_data(b"data: one\n\n"),
            Some(Cow::Borrowed(b"one"))
        ));
        assert_eq!(event_data(b": comment\n\n"), None);
    }

    /// Where a blank line ends, found byte by byte: the rule, written plainly.
    fn event_end_by_bytes(buf: &[u8]) -> Option<usize> {
        (0..buf.len()).find_map(|i| match &buf[i..] {
            [b'\n', b'\n', ..] | [b'\r', b'\r', ..] => Some(i + 2),
            [b'\r', b'\n', b'\r', b'\n', ..] => Some(i + 4),
            _ => None,
        })
    }

    /// `data:` lines joined, found with a plain split.
    fn data_by_split(event: &[u8]) -> Option<Vec<u8>> {
        let lines = event.split(|&b| b == b'\n');
        let data: Vec<&[u8]> = lines
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .filter_map(|line| line.strip_prefix(b"data:"))
            .map(|rest| rest.strip_prefix(b" ").unwrap_or(rest))
            .collect();
        (!data.is_empty()).then(|| data.join(&b'\n'))
    }

    #[test]
    fn event_ends_and_data_agree_with_the_plain_rules_on_random_bytes() {
        let alphabet = b"\n\r\ra: de";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut text = Vec::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                match alphabet[(seed % alphabet.len() as u64) as usize] {
                    // `data:` lines, more often than chance would make them.
                    b'd' => text.extend_from_slice(b"data:"),
                    b'e' => text.extend_from_slice(b"event:"),
                    byte => text.push(byte),
                }
            }
            seed = seed.wrapping_add(1);
            assert_eq!(find_event_end(&text), event_end_by_bytes(&text), "{text:?}");
            assert_eq!(
                event_data(&text).map(|d| d.into_owned()),
                data_by_split(&text),
                "{text:?}"
            );
        }
    }
}
