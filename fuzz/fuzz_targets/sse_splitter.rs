//! The SSE splitter never panics, and splitting is the same whatever the chunking,
//! event by event (`next_event`) or in runs as the proxy reads them (`push_run`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use bytes::Bytes;
use switchyard_gateway::sse::{event_data, event_ranges, SseSplitter};

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(1, |b| usize::from(*b % 17) + 1);
    let mut whole = SseSplitter::default();
    whole.push(data);
    let mut expected = Vec::new();
    while let Some(e) = whole.next_event() {
        let _ = event_data(&e);
        expected.push(e);
    }
    let mut pieces = SseSplitter::default();
    let mut got = Vec::new();
    for chunk in data.chunks(cut) {
        pieces.push(chunk);
        while let Some(e) = pieces.next_event() {
            got.push(e);
        }
    }
    // A "\r" at a chunk's end can only be judged with the next byte, so compare the
    // joined bytes rather than the event boundaries.
    let join = |v: &[bytes::Bytes]| v.iter().flat_map(|b| b.to_vec()).collect::<Vec<u8>>();
    let rest_whole = whole.take_rest().map(|b| b.to_vec()).unwrap_or_default();
    let rest_pieces = pieces.take_rest().map(|b| b.to_vec()).unwrap_or_default();
    let whole_bytes = [join(&expected), rest_whole].concat();
    assert_eq!(whole_bytes, [join(&got), rest_pieces].concat());

    let mut runs = SseSplitter::default();
    let mut from_runs: Vec<Bytes> = Vec::new();
    for chunk in data.chunks(cut) {
        if let Some(run) = runs.push_run(Bytes::copy_from_slice(chunk)) {
            assert!(!run.is_empty());
            from_runs.extend(event_ranges(&run).map(|r| run.slice(r)));
        }
    }
    let rest_runs = runs.take_rest().map(|b| b.to_vec()).unwrap_or_default();
    assert_eq!(whole_bytes, [join(&from_runs), rest_runs].concat());
});
