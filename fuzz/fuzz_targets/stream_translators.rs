//! Every stream translator takes any bytes from a provider without panicking, and
//! always closes the client's stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;
use switchyard_gateway::providers::WireFormat;
use switchyard_gateway::sse::SseSplitter;
use switchyard_gateway::stream::EventHandler;
use switchyard_gateway::translate::{convert, ToolNames};

const PAIRS: [(WireFormat, WireFormat); 6] = [
    (WireFormat::OpenAiChat, WireFormat::AnthropicMessages),
    (WireFormat::AnthropicMessages, WireFormat::OpenAiChat),
    (WireFormat::Gemini, WireFormat::AnthropicMessages),
    (WireFormat::Gemini, WireFormat::OpenAiChat),
    (WireFormat::OpenAiChat, WireFormat::OpenAiResponses),
    (WireFormat::AnthropicMessages, WireFormat::OpenAiResponses),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (from, to) = PAIRS[usize::from(selector) % PAIRS.len()];
    let Ok(mut translator) = convert::stream(from, to, ToolNames::default(), "m", selector % 2 == 0) else {
        return;
    };
    let mut splitter = SseSplitter::default();
    let mut out = VecDeque::new();
    for chunk in rest.chunks(usize::from(selector % 13) + 1) {
        splitter.push(chunk);
        while let Some(e) = splitter.next_event() {
            translator.event(e, &mut out);
        }
    }
    translator.end(None, &mut out);
    if !out.is_empty() {
        let last = String::from_utf8_lossy(out.back().map(|b| b.as_ref()).unwrap_or_default()).into_owned();
        assert!(!last.is_empty());
    }
});
