//! Splitting a server-sent-events byte stream into whole events, as they arrive.

use bytes::{Buf, Bytes, BytesMut};

/// Buffers bytes until an event's blank-line terminator, then hands the event out whole
/// (terminator included), so events can be inspected, forwarded or dropped one by one.
#[derive(Default)]
pub struct SseSplitter {
    buf: BytesMut,
}

impl SseSplitter {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete event, if one is buffered.
    pub fn next_event(&mut self) -> Option<Bytes> {
        let end = find_event_end(&self.buf)?;
        Some(self.buf.split_to(end).freeze())
    }

    /// Whatever is left when the stream ends (an unterminated last event).
    pub fn take_rest(&mut self) -> Option<Bytes> {
        if self.buf.has_remaining() {
            Some(self.buf.split().freeze())
        } else {
            None
        }
    }
}

/// Index just past the first blank line (`\n\n`, `\r\n\r\n` or `\r\r`).
fn find_event_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        match buf[i] {
            b'\n' if buf.get(i + 1) == Some(&b'\n') => return Some(i + 2),
            b'\r'
                if buf.get(i + 1) == Some(&b'\n')
                    && buf.get(i + 2) == Some(&b'\r')
                    && buf.get(i + 3) == Some(&b'\n') =>
            {
                return Some(i + 4)
            }
            b'\r' if buf.get(i + 1) == Some(&b'\r') => return Some(i + 2),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The `data:` payload of an event (several data lines joined with `\n`).
pub fn event_data(event: &[u8]) -> Option<Vec<u8>> {
    let mut data: Option<Vec<u8>> = None;
    for line in event.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"data:") {
            let rest = rest.strip_prefix(b" ").unwrap_or(rest);
            match &mut data {
                Some(d) => {
                    d.push(b'\n');
                    d.extend_from_slice(rest);
                }
                None => data = Some(rest.to_vec()),
            }
        }
    }
    data
}

/// Whether `haystack` contains `needle`: a cheap test before parsing an event.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(event_data(&events[0]).unwrap(), b"{\"a\":1}");
            assert_eq!(event_data(&events[1]).unwrap(), b"2");
            assert!(s.take_rest().is_none());
        }
    }

    #[test]
    fn joins_multi_line_data() {
        assert_eq!(event_data(b"data: a\ndata: b\n\n").unwrap(), b"a\nb");
        assert_eq!(event_data(b": comment\n\n"), None);
    }
}
