//! The request body's top-level reader never panics, and on every body a full JSON
//! parser reads as an object it finds the same fields: what it writes back out, whole
//! or as the pieces of a request body, reads as the same object. (It may accept bodies a full parser refuses, when the mistake is
//! inside a value: those go to the provider as they came.) The reader that finds a
//! field from the object's end never panics either, and finds what the first finds. The
//! walk over a usage object's plain counts never panics, and the counts it gives are
//! the ones a full parser sees.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_gateway::json_body::{last_field, plain_counts, JsonObject};

fuzz_target!(|data: &[u8]| {
    let source = bytes::Bytes::copy_from_slice(data);
    let ours = JsonObject::parse(&source);
    let from_end = last_field(data, "usage");
    let counts = plain_counts(
        data,
        &[("usage", None), ("details", Some("cached")), ("details", Some("reasoning"))],
    );
    let full = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(data);
    if let (Some([usage, cached, reasoning]), Ok(full)) = (counts, &full) {
        assert_eq!(usage, full.get("usage").and_then(|v| v.as_u64()));
        let details = full.get("details");
        assert_eq!(cached, details.and_then(|d| d.get("cached")).and_then(|v| v.as_u64()));
        assert_eq!(reasoning, details.and_then(|d| d.get("reasoning")).and_then(|v| v.as_u64()));
    }
    if let Ok(full) = full {
        let ours = ours.expect("a body a full parser reads as an object is read");
        let written: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&ours.to_bytes()).expect("written back as JSON");
        assert_eq!(written, full);
        let sent: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&ours.to_body(&source).joined()).expect("sent as JSON");
        assert_eq!(sent, full);
        assert_eq!(from_end, ours.get_raw("usage"));
        for (key, value) in &full {
            assert_eq!(last_field(data, key), ours.get_raw(key));
            let got = ours.get::<serde_json::Value>(key);
            match value {
                serde_json::Value::Null => assert!(got.is_none()),
                _ => assert_eq!(got.map(|r| r.expect("the field reads")).as_ref(), Some(value)),
            }
        }
    }
});
