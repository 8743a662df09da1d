//! Writing JSON by hand where `serde_json` costs most: text as JSON strings, for the
//! events a translated stream writes around their few strings (see
//! `translate::stream::anthropic_event`) and the bodies of translated requests, which
//! carry a conversation's worth of them.
//!
//! A word of eight bytes is checked for quotes, backslashes and control characters at
//! once, and runs of plain bytes are copied whole. The output is byte for byte what
//! `serde_json` writes (a test holds the two together), so an event reads the same
//! either way.

use crate::swar::{bytes_below, bytes_equal_to};
use serde::Serialize;

/// Appends `text` as the contents of a JSON string (no quotes), escaped as
/// `serde_json` escapes it: `"`, `\` and the control characters below 0x20.
fn write_escaped(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len());
    let mut run_start = 0;
    let mut at = 0;
    while let Some(word) = bytes.get(at..at + 8) {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let found = needs_escape(u64::from_le_bytes(eight));
        if found == 0 {
            at += 8;
            continue;
        }
        // The lowest flagged byte is exact; flags above it may be borrows.
        let special = at + (found.trailing_zeros() / 8) as usize;
        out.extend_from_slice(&bytes[run_start..special]);
        write_escape(out, bytes[special]);
        at = special + 1;
        run_start = at;
    }
    for (offset, &byte) in bytes[at..].iter().enumerate() {
        if byte < 0x20 || byte == b'"' || byte == b'\\' {
            out.extend_from_slice(&bytes[run_start..at + offset]);
            write_escape(out, byte);
            run_start = at + offset + 1;
        }
    }
    out.extend_from_slice(&bytes[run_start..]);
}

/// The high bit of each byte of `word` that is a control character, `"` or `\`
/// (bytes from 0x80 up, parts of longer UTF-8 characters, are never flagged); above
/// the lowest flagged byte, a flag may be a false one.
fn needs_escape(word: u64) -> u64 {
    bytes_below(word, 0x20) | bytes_equal_to(word, b'"') | bytes_equal_to(word, b'\\')
}

fn write_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0a => b'n',
        0x0c => b'f',
        0x0d => b'r',
        _ => {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

/// Appends `text` as a JSON string, quotes included.
pub fn write_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    write_escaped(out, text);
    out.push(b'"');
}

/// Appends `items` as a JSON array, each written by `write`.
pub fn write_array<T>(
    out: &mut Vec<u8>,
    items: &[T],
    mut write: impl FnMut(&mut Vec<u8>, &T) -> serde_json::Result<()>,
) -> serde_json::Result<()> {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item)?;
    }
    out.push(b']');
    Ok(())
}

/// Serializes `fields` (a struct of optional fields) and joins them to the object being
/// written in `out`, which already holds at least one field; then closes that object.
/// For bodies written partly by hand: the conversation by hand, the options by `serde`.
pub fn close_with_fields(out: &mut Vec<u8>, fields: &impl Serialize) -> serde_json::Result<()> {
    let start = out.len();
    serde_json::to_writer(&mut *out, fields)?;
    if out.len() - start == 2 {
        // `{}`: no fields to join.
        out.truncate(start);
        out.push(b'}');
    } else {
        out[start] = b',';
    }
    Ok(())
}

/// Appends `key`, a literal with its quotes and colon and any comma before it (such as
/// `,"id":`), and `text` as a JSON string.
pub fn write_field(out: &mut Vec<u8>, key: &[u8], text: &str) {
    out.extend_from_slice(key);
    write_string(out, text);
}

/// [`write_field`] for text that may be absent, written `null` then.
pub fn write_optional_field(out: &mut Vec<u8>, key: &[u8], text: Option<&str>) {
    match text {
        Some(text) => write_field(out, key, text),
        None => {
            out.extend_from_slice(key);
            out.extend_from_slice(b"null");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<String> {
        let mut texts: Vec<String> = [
            "",
            "plain",
            "exactly8",
            "quote \" backslash \\ slash / tab \t newline \n cr \r ff \u{c} bs \u{8}",
            "nul \u{0} bell \u{7} esc \u{1b} unit \u{1f} space \u{20} del \u{7f}",
            "caf\u{e9} \u{1f600} \u{2028}\u{2029} </script> \u{ff}\u{100}",
            "\"\"\"\"\"\"\"\"\\\\\\\\\\\\\\\\\n\n\n\n\n\n\n\n",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every byte value that can stand alone, at every offset within a word.
        for c in (0u8..0x80)
            .map(char::from)
            .chain(['\u{80}', '\u{7ff}', '\u{ffff}'])
        {
            for offset in 0..9 {
                let mut text = "a".repeat(offset);
                text.push(c);
                text.push_str("tail of a longer plain text");
                texts.push(text);
            }
        }
        // A long text of code, as agents send it: an escape every few bytes.
        texts.push("fn main() {\n\tprintln!(\"{}\", \"a\\\\b\");\r\n}\n".repeat(40));
        texts
    }

    #[test]
    fn escaping_matches_serde_json_byte_for_byte() {
        for text in samples() {
            let mut ours = Vec::new();
            write_string(&mut ours, &text);
            let theirs = serde_json::to_vec(&text).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "{text:?}"
            );
        }
    }
}
