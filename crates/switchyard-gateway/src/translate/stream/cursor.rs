//! A cursor over an event's JSON text, for the stream readers' fast paths: the shapes
//! nearly every event of a stream has are read token by token here, and values are
//! read by `serde_json` with the types the whole reading uses, so they are checked as
//! strictly. A fast path gives up (`None`) on anything else and the whole reading
//! takes the event.

use super::fields::Text;
use serde::Deserialize;
use std::borrow::Cow;

/// A position in an event's text, read token by token with `serde_json` for values.
pub(super) struct Cursor<'a> {
    pub(super) text: &'a str,
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn skip_whitespace(&mut self) {
        let rest = &self.text.as_bytes()[self.pos..];
        self.pos += rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
    }

    /// Steps over `byte`, after any whitespace, if it is next.
    pub(super) fn take(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.text.as_bytes().get(self.pos) == Some(&byte)).then(|| self.pos += 1)
    }

    /// One value of type `T` from here, read as it would be inside the whole event.
    pub(super) fn value<T: Deserialize<'a>>(&mut self) -> Option<T> {
        let mut values = serde_json::Deserializer::from_str(&self.text[self.pos..]).into_iter();
        let value = values.next()?.ok()?;
        self.pos += values.byte_offset();
        Some(value)
    }

    /// A key and its colon; `None` for a key with an escape (left to the whole reading).
    pub(super) fn key(&mut self) -> Option<&'a str> {
        let key = self.plain_string()?;
        self.take(b':')?;
        Some(key)
    }

    /// A string with no escape in it, read as `serde_json` reads a borrowed string:
    /// plain text up to the closing quote, no control characters. `None`, and nothing
    /// stepped over, for anything else.
    pub(super) fn plain_string(&mut self) -> Option<&'a str> {
        self.skip_whitespace();
        let body = self.text[self.pos..].strip_prefix('"')?;
        // Keys and a token's text are short: one pass, byte by byte, finds the end and
        // stops at an escape or a control character, where a vector search for the
        // quote and a second pass for control characters cost more.
        let len = body
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        if body.as_bytes()[len] != b'"' {
            return None;
        }
        self.pos += len + 2;
        Some(&body[..len])
    }

    /// A string field's value, as [`Text`] reads it. Plain strings and `null` are read
    /// here; anything else (an escape, another type) goes through `serde_json`.
    pub(super) fn text(&mut self) -> Option<Text<'a>> {
        if let Some(text) = self.plain_string() {
            return Some(Text::Str(Cow::Borrowed(text)));
        }
        self.skip_whitespace();
        if let Some(after) = self.text[self.pos..].strip_prefix("null") {
            // A literal ends where a delimiter starts; `nullx` is for serde to refuse.
            if !after.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                self.pos += "null".len();
                return Some(Text::Null);
            }
        }
        self.value::<Text>()
    }

    /// From just inside an object, steps over its fields up to the value of `wanted`;
    /// `None` when a key in `refused` (or the object's end) comes first.
    pub(super) fn skip_to_key(&mut self, wanted: &str, refused: &[&str]) -> Option<()> {
        let mut first = true;
        loop {
            if !std::mem::take(&mut first) {
                self.take(b',')?;
            }
            let key = self.key()?;
            if key == wanted {
                return Some(());
            }
            if refused.contains(&key) {
                return None;
            }
            self.skip_value()?;
        }
    }

    /// Steps over a value by its structure alone, for text already read whole.
    pub(super) fn skip_value(&mut self) -> Option<()> {
        self.skip_whitespace();
        self.pos = crate::json_body::value_end(self.text.as_bytes(), self.pos)?;
        Some(())
    }

    /// After a value in an object: `true` when a `,` says another field follows,
    /// `false` at the object's `}`.
    pub(super) fn next_field(&mut self) -> Option<bool> {
        self.separator(b'}')
    }

    /// After a value in an array: `true` when a `,` says another item follows, `false`
    /// at the array's `]`.
    pub(super) fn next_item(&mut self) -> Option<bool> {
        self.separator(b']')
    }

    pub(super) fn separator(&mut self, close: u8) -> Option<bool> {
        if self.take(b',').is_some() {
            return Some(true);
        }
        self.take(close).map(|()| false)
    }

    pub(super) fn at_end(&mut self) -> bool {
        self.skip_whitespace();
        self.pos == self.text.len()
    }
}
