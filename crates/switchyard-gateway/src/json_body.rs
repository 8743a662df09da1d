//! Targeted editing of a JSON request body.
//!
//! Only the top-level object is parsed; every value is kept as its original text, so
//! a pass-through request reaches the provider byte-for-byte except for the fields the
//! gateway changes (the model id, its own metadata, stream options), and fields it does
//! not know survive untouched.
//!
//! Nested values are skipped by their structure alone (strings, brackets), not parsed
//! or checked for UTF-8: an agent's request is hundreds of kilobytes of conversation the
//! gateway never reads, and checking every string of it cost more than everything else
//! the gateway does per request. For valid JSON the top-level fields found are exactly
//! the ones any parser finds; a value malformed inside (a bad escape, a stray word in an
//! array, invalid UTF-8) goes to the provider, which rejects it in its own words. The
//! fields the gateway reads are parsed in full when it reads them.

use crate::swar::bytes_equal_to;
use crate::upstream::RequestBody;
use bytes::Bytes;
use serde::de::IgnoredAny;
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// A top-level JSON object whose values are raw JSON text.
#[derive(Debug)]
pub struct JsonObject<'a> {
    /// The bytes parsed, which unchanged fields are slices of.
    source: &'a [u8],
    fields: Vec<Field<'a>>,
}

#[derive(Debug)]
struct Field<'a> {
    key: Cow<'a, str>,
    value: Cow<'a, [u8]>,
    /// While the field is as parsed: its place among the parsed fields and where it
    /// sits in the source, key to value.
    origin: Option<(usize, Range<usize>)>,
}

/// Why a body is not a JSON object, and where.
#[derive(Debug, PartialEq, Eq)]
pub struct ObjectError {
    problem: &'static str,
    line: usize,
    column: usize,
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.problem, self.line, self.column
        )
    }
}

impl std::error::Error for ObjectError {}

impl<'a> JsonObject<'a> {
    /// Parses `bytes`, which must hold a JSON object.
    pub fn parse(bytes: &'a [u8]) -> Result<JsonObject<'a>, ObjectError> {
        let mut scan = Scanner::new(bytes);
        let mut fields = Vec::with_capacity(16);
        scan.skip_whitespace();
        scan.expect(b'{', "expected `{` (the body must be a JSON object)")?;
        scan.skip_whitespace();
        if scan.peek() == Some(b'}') {
            scan.pos += 1;
        } else {
            loop {
                scan.skip_whitespace();
                let key_start = scan.pos;
                scan.expect(b'"', "expected a key in double quotes")?;
                scan.skip_string_body()?;
                let key = decode_key(&bytes[key_start..scan.pos])
                    .ok_or_else(|| scan.error_at(key_start, "invalid key"))?;
                scan.skip_whitespace();
                scan.expect(b':', "expected `:` after the key")?;
                scan.skip_whitespace();
                let value_start = scan.pos;
                scan.skip_value()?;
                fields.push(Field {
                    key,
                    value: Cow::Borrowed(&bytes[value_start..scan.pos]),
                    origin: Some((fields.len(), key_start..scan.pos)),
                });
                scan.skip_whitespace();
                match scan.next() {
                    Some(b',') => continue,
                    Some(b'}') => break,
                    Some(_) => return Err(scan.error_at(scan.pos - 1, "expected `,` or `}`")),
                    None => return Err(scan.error_at(scan.pos, "expected `,` or `}`")),
                }
            }
        }
        scan.skip_whitespace();
        if scan.pos != bytes.len() {
            return Err(scan.error_at(scan.pos, "trailing characters"));
        }
        Ok(JsonObject {
            source: bytes,
            fields,
        })
    }

    /// The raw JSON text of `key` (the last one, if a client sent it twice), unchecked.
    pub fn get_raw(&self, key: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .rev()
            .find(|f| f.key == key)
            .map(|f| f.value.as_ref())
    }

    /// Parses the value of `key` as `T`; `None` when absent or `null`.
    pub fn get<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Option<Result<T, serde_json::Error>> {
        let raw = self.get_raw(key)?;
        if raw == b"null" {
            return None;
        }
        Some(parse_json(raw))
    }

    /// Removes every occurrence of `key`, returning the last value's text.
    pub fn remove(&mut self, key: &str) -> Option<Cow<'a, [u8]>> {
        let mut removed = None;
        self.fields.retain_mut(|f| {
            if f.key == key {
                removed = Some(std::mem::take(&mut f.value));
                false
            } else {
                true
            }
        });
        removed
    }

    /// Sets `key` to the given raw JSON text, in place if present, else at the end.
    pub fn set_raw(&mut self, key: &str, raw_json: String) {
        self.keep_last(key);
        let value = Cow::Owned(raw_json.into_bytes());
        match self.fields.iter_mut().find(|f| f.key == key) {
            Some(field) => {
                field.value = value;
                field.origin = None;
            }
            None => self.fields.push(Field {
                key: Cow::Owned(key.to_string()),
                value,
                origin: None,
            }),
        }
    }

    /// Sets `key` to a JSON string.
    pub fn set_string(&mut self, key: &str, value: &str) {
        // Serializing a `&str` cannot fail; the fallback only keeps this panic-free.
        let quoted = serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_string());
        self.set_raw(key, quoted);
    }

    /// Drops every occurrence of `key` but the last (the one the gateway reads), so a
    /// provider that reads the first one sees the same.
    pub fn keep_last(&mut self, key: &str) {
        let count = self.fields.iter().filter(|f| f.key == key).count();
        if count > 1 {
            let mut skip = count - 1;
            self.fields.retain(|f| {
                if f.key == key && skip > 0 {
                    skip -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }

    /// A key other than `key` that equals it ignoring ASCII case (some providers' JSON
    /// readers match field names that way).
    pub fn case_variant_of(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .map(|f| f.key.as_ref())
            .find(|k| *k != key && k.eq_ignore_ascii_case(key))
    }

    /// Writes the object back out as compact JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let capacity = self
            .fields
            .iter()
            .map(|f| f.key.len() + f.value.len() + 4)
            .sum::<usize>()
            + 2;
        let mut out = Vec::with_capacity(capacity);
        out.push(b'{');
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            field.write_to(&mut out);
        }
        out.push(b'}');
        out
    }

    /// The object as a request body, without copying what did not change: unchanged
    /// fields go out as slices of `source` (the bytes this object was parsed from),
    /// neighbours together, with what changed written between them. Given other bytes
    /// than it was parsed from, it writes the whole object out instead.
    pub fn to_body(&self, source: &Bytes) -> RequestBody {
        if source.as_ptr() != self.source.as_ptr() || source.len() != self.source.len() {
            return RequestBody::from(self.to_bytes());
        }
        let mut out = Pieces::new(source);
        out.small(b"{");
        // The stretch of unchanged neighbours being gathered: the last one's place
        // among the parsed fields, and the span they cover.
        let mut run: Option<(usize, Range<usize>)> = None;
        for (i, field) in self.fields.iter().enumerate() {
            match (&mut run, &field.origin) {
                (Some((last, span)), Some((place, next))) if *place == *last + 1 => {
                    // The next parsed field: the separator between them comes along.
                    *last = *place;
                    span.end = next.end;
                    continue;
                }
                _ => {}
            }
            if let Some((_, span)) = run.take() {
                out.slice(span);
            }
            if i > 0 {
                out.small(b",");
            }
            match &field.origin {
                Some((place, span)) => run = Some((*place, span.clone())),
                None => field.write_to(out.pending()),
            }
        }
        if let Some((_, span)) = run {
            out.slice(span);
        }
        out.small(b"}");
        out.finish()
    }
}

impl Field<'_> {
    /// `"key":value`, the key escaped as JSON.
    fn write_to(&self, out: &mut Vec<u8>) {
        // A string always serializes; the fallback keeps the key rather than panic.
        if serde_json::to_writer(&mut *out, self.key.as_ref()).is_err() {
            out.extend_from_slice(b"\"\"");
        }
        out.push(b':');
        out.extend_from_slice(&self.value);
    }
}

/// Below this, an unchanged stretch is copied rather than sent as its own piece.
const SMALLEST_PIECE: usize = 512;

/// A request body being put together from slices of the source and written bytes.
struct Pieces<'s> {
    source: &'s Bytes,
    pieces: Vec<Bytes>,
    pending: Vec<u8>,
}

impl<'s> Pieces<'s> {
    fn new(source: &'s Bytes) -> Pieces<'s> {
        Pieces {
            source,
            pieces: Vec::with_capacity(4),
            pending: Vec::with_capacity(128),
        }
    }

    fn pending(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    fn small(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    fn slice(&mut self, span: Range<usize>) {
        if span.len() < SMALLEST_PIECE {
            self.pending.extend_from_slice(&self.source[span]);
        } else {
            self.flush();
            self.pieces.push(self.source.slice(span));
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.pieces
                .push(Bytes::from(std::mem::take(&mut self.pending)));
        }
    }

    fn finish(mut self) -> RequestBody {
        self.flush();
        RequestBody::from_pieces(self.pieces)
    }
}

/// Reads `T` from JSON bytes, checking UTF-8 once for the whole text: `from_slice`
/// checks every string on its own, keys included, which for the small objects of a
/// stream (a few dozen keys and short values each) cost more than the parsing. Bytes
/// that are not UTF-8 throughout get `from_slice`'s verdict, which skips (and so
/// accepts) stray bytes in a value that `T` does not read.
pub fn parse_json<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// A key's text as a string, from its quoted JSON: borrowed unless it holds escapes.
fn decode_key(quoted: &[u8]) -> Option<Cow<'_, str>> {
    let inner = &quoted[1..quoted.len() - 1];
    if inner.contains(&b'\\') {
        serde_json::from_slice::<String>(quoted)
            .ok()
            .map(Cow::Owned)
    } else {
        std::str::from_utf8(inner).ok().map(Cow::Borrowed)
    }
}

/// Whether the quoted key `quoted` is `key`; `None` when it cannot be decoded (invalid
/// UTF-8, a bad escape). Keys of plain ASCII, nearly all of them, are compared as they
/// are rather than decoded.
fn key_is(quoted: &[u8], key: &str) -> Option<bool> {
    let inner = &quoted[1..quoted.len() - 1];
    if inner.iter().all(|&b| b.is_ascii() && b != b'\\') {
        return Some(inner == key.as_bytes());
    }
    decode_key(quoted).map(|decoded| decoded == key)
}

/// A cursor over the body's bytes that knows JSON's structure and nothing more.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// Arrays and objects nested deeper than this inside a field are refused (about where
/// `serde_json` stops too).
const MAX_DEPTH: u32 = u128::BITS;

/// The arrays and objects open around a cursor stepping over a value, one bit each
/// (set for an object), innermost in the lowest bit: stepping over nested values
/// allocates nothing.
#[derive(Default)]
struct OpenBrackets {
    kinds: u128,
    depth: u32,
}

impl OpenBrackets {
    /// Opens an object or an array; `false` when [`MAX_DEPTH`] are open already.
    fn open(&mut self, object: bool) -> bool {
        if self.depth == MAX_DEPTH {
            return false;
        }
        self.kinds = (self.kinds << 1) | u128::from(object);
        self.depth += 1;
        true
    }

    /// Closes the innermost; `false` when nothing is open or it is of the other kind.
    fn close(&mut self, object: bool) -> bool {
        if self.depth == 0 || (self.kinds & 1 == 1) != object {
            return false;
        }
        self.kinds >>= 1;
        self.depth -= 1;
        true
    }

    fn is_empty(&self) -> bool {
        self.depth == 0
    }
}

/// The bytes JSON allows outside strings: structure, whitespace, numbers and the letters
/// of `true`, `false` and `null`. Anything else (a comment's `/`, a single quote, `#`)
/// is refused rather than skipped: a lenient parser at the provider could read it as
/// text and pair the quotes after it differently, seeing other fields than the gateway.
const OUTSIDE_STRINGS: [bool; 256] = {
    let mut allowed = [false; 256];
    let bytes = b" \t\n\r{}[],:0123456789+-.eEtrufalsn";
    let mut i = 0;
    while i < bytes.len() {
        allowed[bytes[i] as usize] = true;
        i += 1;
    }
    allowed
};

impl<'a> Scanner<'a> {
    fn new(bytes: &'a [u8]) -> Scanner<'a> {
        Scanner { bytes, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Steps over `byte` if it is next; for readers that give up rather than explain.
    fn take(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    fn expect(&mut self, byte: u8, problem: &'static str) -> Result<(), ObjectError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error_at(self.pos, problem))
        }
    }

    /// From just after an opening quote to just after its closing quote.
    // The hottest loop of a large request, inlined into every caller whatever their
    // number: called, it costs an agent's request 0.5% more instructions.
    #[inline(always)]
    fn skip_string_body(&mut self) -> Result<(), ObjectError> {
        // Searching for quotes alone and then looking back is twice as fast as stopping
        // at every backslash: code in a conversation is dense with `\n` and `\t`.
        while let Some(i) = find_quote(&self.bytes[self.pos..]) {
            let quote = self.pos + i;
            // The backslashes right before it; a run cannot reach back past `pos`,
            // which follows the opening quote or an escaped one.
            let run = self.bytes[self.pos..quote]
                .iter()
                .rev()
                .take_while(|&&b| b == b'\\')
                .count();
            self.pos = quote + 1;
            if run % 2 == 0 {
                return Ok(());
            }
        }
        self.pos = self.bytes.len();
        Err(self.error_at(self.pos, "unterminated string"))
    }

    /// Skips one value: a string, an array or object with everything inside it, or a
    /// number or literal (checked in full, being short).
    fn skip_value(&mut self) -> Result<(), ObjectError> {
        let start = self.pos;
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.skip_string_body()
            }
            Some(b'{' | b'[') => self.skip_nested(),
            _ => {
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.pos += 1;
                }
                match serde_json::from_slice::<IgnoredAny>(&self.bytes[start..self.pos]) {
                    Ok(_) if self.pos > start => Ok(()),
                    _ => Err(self.error_at(start, "expected a value")),
                }
            }
        }
    }

    /// Skips an array or object, checking that its brackets pair up.
    fn skip_nested(&mut self) -> Result<(), ObjectError> {
        let mut open = OpenBrackets::default();
        while let Some(byte) = self.next() {
            match byte {
                b'"' => self.skip_string_body()?,
                b'{' | b'[' => {
                    if !open.open(byte == b'{') {
                        return Err(self.error_at(self.pos - 1, "nesting too deep"));
                    }
                }
                b'}' | b']' => {
                    if !open.close(byte == b'}') {
                        return Err(self.error_at(self.pos - 1, "mismatched bracket"));
                    }
                    if open.is_empty() {
                        return Ok(());
                    }
                }
                _ if OUTSIDE_STRINGS[usize::from(byte)] => {}
                _ => return Err(self.error_at(self.pos - 1, "unexpected character")),
            }
        }
        Err(self.error_at(self.pos, "unclosed array or object"))
    }

    /// A JSON integer of plain digits that fits a `u64` (`0`, `212`; not `-1`, `012`,
    /// `1.0` or `1e3`); `None` for anything else, which is left where it was.
    fn plain_integer(&mut self) -> Option<u64> {
        let digits = self.bytes[self.pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let text = &self.bytes[self.pos..self.pos + digits];
        if digits == 0 || (digits > 1 && text[0] == b'0') {
            return None;
        }
        // A fraction or an exponent makes it another kind of number.
        if matches!(self.bytes.get(self.pos + digits), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let value = text.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?;
        self.pos += digits;
        Some(value)
    }

    /// An error at byte `offset`, with the line and column a person can find it by.
    fn error_at(&self, offset: usize, problem: &'static str) -> ObjectError {
        let before = &self.bytes[..offset.min(self.bytes.len())];
        let line = memchr::memchr_iter(b'\n', before).count() + 1;
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
        ObjectError {
            problem,
            line,
            column: before.len() - line_start + 1,
        }
    }
}

/// Where the JSON value that starts at `start` in `bytes` ends, found by its structure
/// (strings closed, brackets paired, scalars checked), for text already known to be JSON;
/// `None` when it is not.
pub fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut scan = Scanner { bytes, pos: start };
    scan.skip_value().ok()?;
    Some(scan.pos)
}

/// The raw JSON text of the last top-level `key` of the object in `bytes`, read from
/// the object's end.
///
/// Providers put an answer's `usage` at or near its end, after the text the gateway
/// never reads; scanning the whole top level to reach it cost the gateway about 7% of
/// its instructions per proxied request. For a valid object this finds what
/// [`JsonObject::get_raw`] finds. Only the fields after `key` are read: an answer
/// malformed before them still gives the value, one malformed after them gives `None`.
pub fn last_field<'b>(bytes: &'b [u8], key: &str) -> Option<&'b [u8]> {
    let mut scan = TailScanner {
        bytes,
        end: bytes.len(),
    };
    scan.skip_whitespace();
    scan.take(b'}')?;
    scan.skip_whitespace();
    if scan.peek() == Some(b'{') {
        return None;
    }
    loop {
        scan.skip_whitespace();
        let value_end = scan.end;
        scan.skip_value()?;
        let value = &bytes[scan.end..value_end];
        scan.skip_whitespace();
        scan.take(b':')?;
        scan.skip_whitespace();
        let key_end = scan.end;
        if scan.peek() != Some(b'"') {
            return None;
        }
        scan.skip_string()?;
        if key_is(&bytes[scan.end..key_end], key)? {
            return Some(value);
        }
        scan.skip_whitespace();
        match scan.peek() {
            Some(b',') => scan.end -= 1,
            // The object's start (`{`) without the key, or not an object at all.
            _ => return None,
        }
    }
}

/// The raw JSON text of the first field of the object in `bytes`, if its key is `key`.
///
/// For a field writers put first (an event's `type`), whatever else the object holds:
/// nothing after the field is read.
pub fn first_field<'b>(bytes: &'b [u8], key: &str) -> Option<&'b [u8]> {
    let mut scan = Scanner::new(bytes);
    scan.skip_whitespace();
    scan.take(b'{')?;
    scan.skip_whitespace();
    let key_start = scan.pos;
    scan.take(b'"')?;
    scan.skip_string_body().ok()?;
    if !key_is(&bytes[key_start..scan.pos], key)? {
        return None;
    }
    scan.skip_whitespace();
    scan.take(b':')?;
    scan.skip_whitespace();
    let value_start = scan.pos;
    scan.skip_value().ok()?;
    Some(&bytes[value_start..scan.pos])
}

/// Where the first `"` in `bytes` is.
///
/// Most stretches between quotes in a conversation are short: keys, small values, and
/// in code and JSON quoted inside text, an escaped quote every few dozen bytes. On
/// those, setting `memchr`'s vector search up costs more than the search, so the first
/// [`NEAR_QUOTE`] bytes are checked a word of eight at a time, and only a longer
/// stretch is left to `memchr`. On an agent's conversation this skips strings about a
/// quarter faster; on long prose it is as fast as `memchr` alone.
fn find_quote(bytes: &[u8]) -> Option<usize> {
    let near = &bytes[..bytes.len().min(NEAR_QUOTE)];
    let mut words = near.chunks_exact(8);
    for (index, word) in (&mut words).enumerate() {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let quotes = bytes_equal_to(u64::from_le_bytes(eight), b'"');
        if quotes != 0 {
            // Little-endian: the lowest flag is the first quote.
            return Some(index * 8 + (quotes.trailing_zeros() / 8) as usize);
        }
    }
    let checked = near.len() - words.remainder().len();
    memchr::memchr(b'"', &bytes[checked..]).map(|at| checked + at)
}

/// How far [`find_quote`] looks word by word before it hands over to `memchr`.
const NEAR_QUOTE: usize = 64;

/// A cursor that walks a JSON text from its end towards its start: everything from
/// `end` on has been read.
struct TailScanner<'a> {
    bytes: &'a [u8],
    end: usize,
}

impl TailScanner<'_> {
    /// The byte just before the cursor.
    fn peek(&self) -> Option<u8> {
        self.end.checked_sub(1).map(|i| self.bytes[i])
    }

    fn take(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.end -= 1)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.end -= 1;
        }
    }

    /// With a closing quote just before the cursor: moves to its opening quote. Inside
    /// a string every quote follows an odd run of backslashes; the opening one follows
    /// none, being preceded by structure.
    fn skip_string(&mut self) -> Option<()> {
        let mut before = self.end - 1;
        while let Some(quote) = memchr::memrchr(b'"', &self.bytes[..before]) {
            let run = self.bytes[..quote]
                .iter()
                .rev()
                .take_while(|&&b| b == b'\\')
                .count();
            if run % 2 == 0 {
                self.end = quote;
                return Some(());
            }
            before = quote;
        }
        None
    }

    /// Moves to the start of the value that ends at the cursor.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'}' | b']' => self.skip_nested(),
            _ => {
                let end = self.end;
                while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                {
                    self.end -= 1;
                }
                (self.end < end).then_some(())
            }
        }
    }

    /// With a closing bracket just before the cursor: moves to its opening bracket.
    fn skip_nested(&mut self) -> Option<()> {
        let mut open = OpenBrackets::default();
        loop {
            let byte = self.peek()?;
            match byte {
                b'"' => {
                    self.skip_string()?;
                    continue;
                }
                // Read backwards: a closing bracket opens a value.
                b'}' | b']' => {
                    if !open.open(byte == b'}') {
                        return None;
                    }
                }
                b'{' | b'[' => {
                    if !open.close(byte == b'{') {
                        return None;
                    }
                    if open.is_empty() {
                        self.end -= 1;
                        return Some(());
                    }
                }
                _ if OUTSIDE_STRINGS[usize::from(byte)] => {}
                _ => return None,
            }
            self.end -= 1;
        }
    }
}

/// An integer a reader of counts wants from a JSON object: a top-level field, or a field
/// of an object in a top-level field (`("prompt_tokens_details", Some("cached_tokens"))`).
pub type CountPath = (&'static str, Option<&'static str>);

/// The integers at `paths` in the JSON object `raw` (`None` for those absent), read by
/// walking its bytes, or `None` when the object is not plainly one of counts: a wanted
/// field that is not a non-negative integer (or, for nested paths, an object holding
/// at least one of the counts wanted from it), a wanted key repeated or written with
/// escapes, anything malformed.
///
/// A usage object is a handful of integers, and deserializing it cost the gateway
/// about 4% of its instructions per proxied request. Where this reader declines, the
/// caller hands the object to serde, whose verdict stands. Where it answers, serde
/// reading valid JSON answers the same; the fields it does not want are only checked
/// as [`JsonObject::parse`] checks values, so an object malformed inside one of them
/// (an invalid string, say) still gives its counts.
pub fn plain_counts<const N: usize>(
    raw: &[u8],
    paths: &[CountPath; N],
) -> Option<[Option<u64>; N]> {
    let mut counts = [None; N];
    let mut scan = Scanner::new(raw);
    // The wanted top-level keys met so far, by the index of their first path.
    let mut seen = 0u64;
    const { assert!(N <= 64, "one bit per path in `seen`") };
    walk_object(&mut scan, |scan, key| {
        let Some(first) = paths.iter().position(|(name, _)| name.as_bytes() == key) else {
            return skip_unwanted(scan);
        };
        if seen & (1 << first) != 0 {
            return None;
        }
        seen |= 1 << first;
        if paths[first].1.is_none() {
            counts[first] = Some(scan.plain_integer()?);
            return Some(());
        }
        // An object of counts: each child path of this key reads from it once.
        let mut inner_seen = 0u64;
        walk_object(scan, |scan, inner| {
            let wanted = (first..N).find(|&i| {
                paths[i].0.as_bytes() == key && paths[i].1.is_some_and(|c| c.as_bytes() == inner)
            });
            let Some(i) = wanted else {
                return skip_unwanted(scan);
            };
            if inner_seen & (1 << i) != 0 {
                return None;
            }
            inner_seen |= 1 << i;
            counts[i] = Some(scan.plain_integer()?);
            Some(())
        })?;
        // So that a count is present exactly when its object is (`{}` is not plain).
        (inner_seen != 0).then_some(())
    })?;
    scan.skip_whitespace();
    (scan.pos == raw.len()).then_some(counts)
}

/// Steps over a value [`plain_counts`] does not want; most are counts too
/// (`total_tokens`), stepped over without a JSON parser's check.
fn skip_unwanted(scan: &mut Scanner<'_>) -> Option<()> {
    if scan.plain_integer().is_some() {
        return Some(());
    }
    scan.skip_value().ok()
}

/// Walks one JSON object from `scan`'s position (whitespace first), handing `field` each
/// key (its bytes between the quotes) with the cursor at its value, which `field` must
/// step over. `None` when the object is malformed, a key holds an escape, or `field`
/// gives `None`.
fn walk_object<'a>(
    scan: &mut Scanner<'a>,
    mut field: impl FnMut(&mut Scanner<'a>, &'a [u8]) -> Option<()>,
) -> Option<()> {
    scan.skip_whitespace();
    scan.take(b'{')?;
    scan.skip_whitespace();
    if scan.peek() == Some(b'}') {
        scan.pos += 1;
        return Some(());
    }
    loop {
        scan.skip_whitespace();
        scan.take(b'"')?;
        // One search stops at the closing quote or at an escape, which is declined.
        let rest = &scan.bytes[scan.pos..];
        let len = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[len] != b'"' {
            return None;
        }
        let key = &rest[..len];
        scan.pos += len + 1;
        scan.skip_whitespace();
        scan.take(b':')?;
        scan.skip_whitespace();
        field(scan, key)?;
        scan.skip_whitespace();
        match scan.next()? {
            b',' => continue,
            b'}' => return Some(()),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_quote_is_found_wherever_it_is() {
        // Around the word boundaries and the hand-over to `memchr`, among bytes that
        // differ from a quote by one bit (`\xa2` is `"` with its high bit set).
        let fillers: [&[u8]; 3] = [b"a", b"\xa2#!", b"\\\x02\xff\x00"];
        for filler in fillers {
            for len in 0..150 {
                let plain: Vec<u8> = filler.iter().copied().cycle().take(len).collect();
                assert_eq!(find_quote(&plain), None, "{len}");
                for at in 0..len {
                    let mut bytes = plain.clone();
                    bytes[at] = b'"';
                    if at + 3 < len {
                        bytes[at + 3] = b'"';
                    }
                    assert_eq!(find_quote(&bytes), Some(at), "{len} {at}");
                }
            }
        }
    }

    #[test]
    fn the_first_field_is_read_when_it_has_the_key_asked_for() {
        let cases: [(&[u8], Option<&[u8]>); 8] = [
            (
                br#"{"type":"message_start","message":{"type":"x"}}"#,
                Some(br#""message_start""#),
            ),
            (
                br#" { "type" : {"a":[1,"]"]} , oops"#,
                Some(br#"{"a":[1,"]"]}"#),
            ),
            (br#"{"t\u0079pe":7}"#, Some(b"7")),
            (br#"{"kind":"x","type":"y"}"#, None),
            (br#"{}"#, None),
            (br#"["type","x"]"#, None),
            (br#"{"type":"unterminated}"#, None),
            (br#"{"type":tru}"#, None),
        ];
        for (bytes, value) in cases {
            assert_eq!(
                first_field(bytes, "type"),
                value,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        // A key that cannot be decoded, met on the way to the one asked for.
        assert_eq!(last_field(b"{\"a\":1,\"\xff\":2}", "a"), None);
        assert_eq!(last_field(br#"{"a":1,"\q":2}"#, "a"), None);
        assert_eq!(last_field(br#"{"a":1,"\u0062":2}"#, "a"), Some(&b"1"[..]));
    }

    #[test]
    fn a_value_ends_where_its_structure_does() {
        let text = br#"{"a":"x\"}","b":[1,{"c":null}],"d":-1.5e3,"e":true}"#;
        let ends: Vec<_> = [5, 16, 35, 46]
            .iter()
            .map(|&start| value_end(text, start).map(|end| &text[start..end]))
            .collect();
        assert_eq!(
            ends,
            [
                Some(&br#""x\"}""#[..]),
                Some(&br#"[1,{"c":null}]"#[..]),
                Some(&b"-1.5e3"[..]),
                Some(&b"true"[..])
            ]
        );
        assert_eq!(value_end(br#"{"a":[1,2}"#, 5), None);
        assert_eq!(value_end(br#"{"a":tru}"#, 5), None);
    }

    #[test]
    fn json_is_read_as_from_slice_reads_it_whatever_its_bytes() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Chunk<'a> {
            #[serde(borrow)]
            id: Cow<'a, str>,
            n: Option<u64>,
        }
        let cases: [&[u8]; 9] = [
            br#"{"id":"chatcmpl-1","n":3,"extra":{"deep":["\u00e9",1.5]}}"#,
            br#"{"id":"caf\u00e9 \ud83d\ude00","n":null}"#,
            "{\"id\":\"caf\u{e9} \u{1f600}\"}".as_bytes(),
            // Stray bytes in a value the struct skips: from_slice accepts them.
            b"{\"id\":\"a\",\"skipped\":\"\xff\xfe\"}",
            // Stray bytes in a value it reads: refused.
            b"{\"id\":\"\xff\"}",
            br#"{"id":"\ud800"}"#,
            br#"{"id":1}"#,
            br#"{"id":"a""#,
            b"",
        ];
        for bytes in cases {
            let ours = parse_json::<Chunk>(bytes).map_err(|e| e.to_string());
            let theirs = serde_json::from_slice::<Chunk>(bytes).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(bytes));
            let ours = parse_json::<serde_json::Value>(bytes).map_err(|e| e.to_string());
            let theirs =
                serde_json::from_slice::<serde_json::Value>(bytes).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(bytes));
        }
        assert!(parse_json::<Chunk>(b"{\"id\":\"a\",\"skipped\":\"\xff\"}").is_ok());
    }

    #[test]
    fn edits_only_what_it_is_asked_to_and_keeps_unknown_fields_verbatim() {
        let body = br#"{"model":"openai/gpt-4.1","x_future":{"deep":[1,2.50,"\u00e9"]},"switchyard":{"tags":["a"]},"stream":true}"#;
        let mut obj = JsonObject::parse(body).unwrap();
        assert_eq!(
            obj.get::<String>("model").unwrap().unwrap(),
            "openai/gpt-4.1"
        );
        assert!(obj.get::<bool>("stream").unwrap().unwrap());
        assert!(obj.remove("switchyard").is_some());
        obj.set_string("model", "gpt-4.1");
        obj.set_raw("stream_options", r#"{"include_usage":true}"#.into());
        let out = String::from_utf8(obj.to_bytes()).unwrap();
        assert_eq!(
            out,
            r#"{"model":"gpt-4.1","x_future":{"deep":[1,2.50,"\u00e9"]},"stream":true,"stream_options":{"include_usage":true}}"#
        );
    }

    #[test]
    fn strings_set_are_escaped() {
        let mut obj = JsonObject::parse(br#"{"model":"a"}"#).unwrap();
        obj.set_string("model", "say \"hi\"\\\n\u{1}é");
        let out = obj.to_bytes();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#"{"model":"say \"hi\"\\\n\u0001é"}"#
        );
        let back: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(back["model"], "say \"hi\"\\\n\u{1}é");
    }

    #[test]
    fn rejects_what_is_not_an_object() {
        assert!(JsonObject::parse(b"[1,2]").is_err());
        assert!(JsonObject::parse(b"{\"a\":1} trailing").is_err());
        assert!(JsonObject::parse(b"{\"a\":").is_err());
        assert!(JsonObject::parse(b"").is_err());
    }

    /// Top-level fields as `serde_json` sees them, each value re-read from its text.
    fn fields_by_both_readers(body: &str) -> (Vec<(String, serde_json::Value)>, serde_json::Value) {
        let obj = JsonObject::parse(body.as_bytes()).unwrap();
        let ours = obj
            .fields
            .iter()
            .map(|f| (f.key.to_string(), serde_json::from_slice(&f.value).unwrap()))
            .collect();
        (ours, serde_json::from_str(body).unwrap())
    }

    #[test]
    fn finds_the_fields_a_full_parser_finds() {
        let bodies = [
            r#"{}"#,
            r#" { } "#,
            r#"{"model":"a","stream":true,"n":-1.5e3,"x":null,"f":false}"#,
            "{\n\t\"model\" :\r\n \"a\" ,\n \"messages\": [ {\"role\": \"user\"} ] }\n",
            r#"{"s":"quote \" brace } bracket ] comma , colon :","model":"m"}"#,
            r#"{"s":"ends in a backslash \\","model":"m"}"#,
            r#"{"s":"\\\"","t":"\u0022}","model":"m"}"#,
            r#"{"deep":{"a":[{"b":"}]"},[[],{}],"\\"]},"model":"m"}"#,
            r#"{"k\u0065y":1,"model":"é 😀 \ud83d\ude00"}"#,
            r#"{"empty":"","arr":[],"obj":{},"model":"m"}"#,
        ];
        for body in bodies {
            let (ours, full) = fields_by_both_readers(body);
            let full = full.as_object().unwrap();
            assert_eq!(ours.len(), full.len(), "{body}");
            for (key, value) in &ours {
                assert_eq!(Some(value), full.get(key), "{key} in {body}");
            }
        }
    }

    /// A random value built from the pieces that trip structural scanners: escaped
    /// quotes and backslashes, brackets and commas inside strings, deep nesting.
    fn random_value(seed: &mut u64, depth: u32) -> serde_json::Value {
        let mut next = |n: u64| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 33) % n
        };
        let pieces = [
            "\\", "\"", "{", "}", "[", "]", ",", ":", "\\\"", "é", "\n", "a", "\u{1}",
        ];
        match if depth > 4 { next(3) } else { next(6) } {
            0 => serde_json::json!(next(1000) as f64 / 7.0),
            1 => serde_json::Value::String(
                (0..next(8))
                    .map(|_| pieces[next(pieces.len() as u64) as usize])
                    .collect(),
            ),
            2 => serde_json::json!(null),
            3 => serde_json::Value::Array(
                (0..next(4))
                    .map(|_| random_value(seed, depth + 1))
                    .collect(),
            ),
            _ => serde_json::Value::Object(
                (0..next(4))
                    .map(|i| {
                        (
                            format!("k{i}{}", pieces[i as usize]),
                            random_value(seed, depth + 1),
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// 2,000 random objects with the fields `f0\"` to `f3\"`, compact or pretty.
    fn random_bodies(mut seed: u64) -> impl Iterator<Item = String> {
        (0..2000).map(move |_| {
            let mut body = serde_json::Map::new();
            for i in 0..4 {
                body.insert(format!("f{i}\\\""), random_value(&mut seed, 0));
            }
            if seed.is_multiple_of(2) {
                serde_json::to_string_pretty(&body).unwrap()
            } else {
                serde_json::to_string(&body).unwrap()
            }
        })
    }

    #[test]
    fn agrees_with_a_full_parser_on_random_bodies() {
        for text in random_bodies(7) {
            let (ours, full) = fields_by_both_readers(&text);
            assert_eq!(
                serde_json::Value::Object(ours.into_iter().collect()),
                full,
                "{text}"
            );
        }
    }

    #[test]
    fn the_last_field_read_from_the_end_is_the_one_the_forward_reader_finds() {
        for text in random_bodies(11) {
            let forward = JsonObject::parse(text.as_bytes()).unwrap();
            for key in ["f0\\\"", "f1\\\"", "f2\\\"", "f3\\\"", "absent"] {
                assert_eq!(
                    last_field(text.as_bytes(), key),
                    forward.get_raw(key),
                    "{key} in {text}"
                );
            }
            // Cut anywhere, the text is read without a panic.
            for cut in 0..text.len() {
                last_field(&text.as_bytes()[..cut], "f3\\\"");
            }
        }
    }

    #[test]
    fn the_last_field_is_not_fooled_by_text_that_looks_like_it() {
        let body =
            br#"{"usage":{"n":1},"content":"\"usage\":{\"n\":2}, \\","x":["usage",{"usage":3}],
            "usage" : {"n":4} , "tail":"\\\"}" }"#;
        assert_eq!(last_field(body, "usage"), Some(&br#"{"n":4}"#[..]));
        assert_eq!(last_field(body, "tail"), Some(&br#""\\\"}""#[..]));
        assert_eq!(
            last_field(br#"{"k\u0065y":true}"#, "key"),
            Some(&b"true"[..])
        );
        assert_eq!(last_field(br#"{"a":-1.5e3}"#, "a"), Some(&b"-1.5e3"[..]));
        assert_eq!(last_field(b" { } ", "a"), None);
    }

    #[test]
    fn brackets_pair_up_at_every_depth_both_ways() {
        // Objects and arrays alternating, as deep as allowed; each level's closing
        // bracket swapped for the other kind in turn.
        for depth in [1, 2, 63, 64, 65, 127, 128] {
            let opening: Vec<u8> = (0..depth)
                .map(|level| if level % 2 == 0 { b'[' } else { b'{' })
                .collect();
            let closing: Vec<u8> = opening
                .iter()
                .rev()
                .map(|&b| if b == b'[' { b']' } else { b'}' })
                .collect();
            // Each object level holds the next as `"k"`, the innermost holds `0`.
            let value = |closing: &[u8]| {
                let mut value = Vec::new();
                for &b in &opening {
                    value.push(b);
                    if b == b'{' {
                        value.extend_from_slice(b"\"k\":");
                    }
                }
                value.push(b'0');
                value.extend_from_slice(closing);
                value
            };
            let body = |value: &[u8]| [br#"{"a":"#, value, br#","z":1}"#].concat();
            let good = body(&value(&closing));
            assert!(JsonObject::parse(&good).is_ok(), "depth {depth}");
            assert_eq!(last_field(&good, "z"), Some(&b"1"[..]), "depth {depth}");
            assert_eq!(last_field(&good, "a"), Some(&value(&closing)[..]));
            for swapped in 0..depth {
                let mut wrong = closing.clone();
                wrong[swapped] = if wrong[swapped] == b']' { b'}' } else { b']' };
                let bad = body(&value(&wrong));
                let error = JsonObject::parse(&bad).unwrap_err();
                assert!(
                    error.to_string().starts_with("mismatched bracket"),
                    "depth {depth}, swapped {swapped}: {error}"
                );
                assert_eq!(last_field(&bad, "a"), None, "depth {depth} {swapped}");
            }
        }
        // One level past the limit: refused by both readers, whatever the kinds.
        let arrays = [b"[".repeat(129), b"]".repeat(129)].concat();
        let objects = ["{\"k\":".repeat(128), "{}".into(), "}".repeat(128)].concat();
        for value in [arrays, objects.into_bytes()] {
            let body = [br#"{"a":"#, &value[..], br#","z":1}"#].concat();
            let error = JsonObject::parse(&body).unwrap_err();
            assert!(error.to_string().starts_with("nesting too deep"), "{error}");
            assert_eq!(last_field(&body, "a"), None);
            assert_eq!(last_field(&body, "z"), Some(&b"1"[..]));
        }
    }

    #[test]
    fn the_last_field_needs_a_well_formed_tail_only() {
        // Broken before the field: the field is still read.
        assert_eq!(
            last_field(br#"{"a":[1,,"usage":{"n":1}}"#, "usage"),
            Some(&br#"{"n":1}"#[..])
        );
        // Broken after it, or not an object: nothing is.
        for body in [
            &br#"{"usage":{"n":1},"b":[1}"#[..],
            br#"{"usage":{"n":1},"b":"open}"#,
            br#"{"usage":{"n":1}"#,
            br#"[{"usage":{"n":1}}]"#,
            br#"{"usage":{"n":1},"b":#}"#,
            br#"{"usage":{"n":1}, 2}"#,
            b"",
            b"}",
        ] {
            assert_eq!(
                last_field(body, "usage"),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn keeps_values_verbatim_and_reads_escaped_keys() {
        let body = br#"{"k\u0065y" : [1,   2.50] ,"model":"a"}"#;
        let obj = JsonObject::parse(body).unwrap();
        assert_eq!(obj.get_raw("key"), Some(&b"[1,   2.50]"[..]));
        assert_eq!(
            String::from_utf8(obj.to_bytes()).unwrap(),
            r#"{"key":[1,   2.50],"model":"a"}"#
        );
    }

    #[test]
    fn duplicate_keys_read_as_the_last_like_other_parsers() {
        let mut obj = JsonObject::parse(br#"{"model":"a","model":"b"}"#).unwrap();
        assert_eq!(obj.get::<String>("model").unwrap().unwrap(), "b");
        obj.set_string("model", "c");
        assert_eq!(
            String::from_utf8(obj.to_bytes()).unwrap(),
            r#"{"model":"c"}"#
        );
    }

    #[test]
    fn malformed_structure_is_refused_with_where() {
        let cases: [(&[u8], &str); 13] = [
            (
                b"",
                "expected `{` (the body must be a JSON object) at line 1 column 1",
            ),
            (
                b"[1,2]",
                "expected `{` (the body must be a JSON object) at line 1 column 1",
            ),
            (br#"{"a":1} x"#, "trailing characters at line 1 column 9"),
            (br#"{"a":"#, "expected a value at line 1 column 6"),
            (
                br#"{"a" 1}"#,
                "expected `:` after the key at line 1 column 6",
            ),
            (
                br#"{a:1}"#,
                "expected a key in double quotes at line 1 column 2",
            ),
            (
                br#"{"a":1 "b":2}"#,
                "expected `,` or `}` at line 1 column 8",
            ),
            (br#"{"a":"open}"#, "unterminated string at line 1 column 12"),
            (
                br#"{"a":"ends \"#,
                "unterminated string at line 1 column 13",
            ),
            (
                b"{\"a\":[1,\n{\"b\":2]]}",
                "mismatched bracket at line 2 column 7",
            ),
            (br#"{"a":[1,2}"#, "mismatched bracket at line 1 column 10"),
            (br#"{"a":tru}"#, "expected a value at line 1 column 6"),
            (b"{\"a\":1\n", "expected `,` or `}` at line 2 column 1"),
        ];
        for (body, message) in cases {
            let error = JsonObject::parse(body).unwrap_err();
            assert_eq!(
                error.to_string(),
                message,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let error = JsonObject::parse(b"{\"\xff\":1}").unwrap_err();
        assert_eq!(error.to_string(), "invalid key at line 1 column 2");
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        let error = JsonObject::parse(deep.as_bytes()).unwrap_err();
        assert_eq!(error.to_string(), "nesting too deep at line 1 column 134");
    }

    #[test]
    fn what_a_lenient_parser_could_read_differently_is_refused() {
        // A comment or a single-quoted string holding a quote: a lenient reader pairs
        // the quotes after it differently and would see the second `model`.
        for body in [
            br#"{"model":"ok","x":[/*"*/],"model":"bad","y":[/*"*/]}"#.as_slice(),
            br#"{"model":"ok","x":['"'],"model":"bad","y":['"']}"#.as_slice(),
            br#"{"model":"ok","x":{# "
}}"#
            .as_slice(),
        ] {
            let error = JsonObject::parse(body).unwrap_err();
            assert!(
                error.to_string().starts_with("unexpected character"),
                "{error}"
            );
        }
        let obj = JsonObject::parse(br#"{"model":"a","MODEL":"b","Stream":true}"#).unwrap();
        assert_eq!(obj.case_variant_of("model"), Some("MODEL"));
        assert_eq!(obj.case_variant_of("stream"), Some("Stream"));
        assert_eq!(obj.case_variant_of("max_tokens"), None);
    }

    #[test]
    fn keep_last_leaves_one_occurrence() {
        let mut obj = JsonObject::parse(br#"{"stream":false,"a":1,"stream":true}"#).unwrap();
        obj.keep_last("stream");
        assert_eq!(
            String::from_utf8(obj.to_bytes()).unwrap(),
            r#"{"a":1,"stream":true}"#
        );
    }

    #[test]
    fn malformed_content_inside_a_value_is_left_to_the_provider() {
        // Well-formed structure, a stray word inside: forwarded as it came.
        let body = b"{\"model\":\"a\",\"messages\":[tru, {\"x\": \"\\q\", \"y\": \"\xff\"}]}";
        let obj = JsonObject::parse(body).unwrap();
        assert_eq!(
            obj.get_raw("messages"),
            Some(&b"[tru, {\"x\": \"\\q\", \"y\": \"\xff\"}]"[..])
        );
        assert_eq!(obj.to_bytes(), body.to_vec());
    }

    /// `to_body` joined, read back, against `to_bytes` read back.
    fn assert_body_matches(obj: &JsonObject<'_>, source: &Bytes) -> RequestBody {
        let body = obj.to_body(source);
        let sent: serde_json::Value = serde_json::from_slice(&body.joined()).unwrap();
        let written: serde_json::Value = serde_json::from_slice(&obj.to_bytes()).unwrap();
        assert_eq!(sent, written);
        assert_eq!(body.len(), body.joined().len());
        body
    }

    #[test]
    fn the_body_sent_reuses_the_clients_bytes_around_the_edits() {
        let conversation = format!(
            "[{}]",
            vec![r#"{"role":"user","content":"a \"quoted\" line"}"#; 100].join(",")
        );
        let source = Bytes::from(format!(
            r#"{{ "messages": {conversation}, "model" : "openai/gpt-4.1", "switchyard": {{"tags":["x"]}}, "temperature": 0.2, "tools": {conversation} }}"#
        ));
        let mut obj = JsonObject::parse(&source).unwrap();
        obj.remove("switchyard");
        obj.set_string("model", "gpt-4.1");
        obj.set_raw("stream_options", r#"{"include_usage":true}"#.into());
        let body = assert_body_matches(&obj, &source);
        let sent = String::from_utf8(body.joined().to_vec()).unwrap();
        assert!(sent.starts_with(r#"{"messages": [{"role""#), "{sent}");
        assert!(
            sent.contains(r#"}],"model":"gpt-4.1","temperature": 0.2, "tools": [{"#),
            "{sent}"
        );
        assert!(
            sent.ends_with(r#"}],"stream_options":{"include_usage":true}}"#),
            "{sent}"
        );
        // The two long stretches are the client's own bytes, not copies.
        let inside = |piece: &Bytes| {
            let start = source.as_ptr() as usize;
            (start..start + source.len()).contains(&(piece.as_ptr() as usize))
        };
        let shared: Vec<usize> = body
            .pieces()
            .iter()
            .filter(|p| inside(p))
            .map(Bytes::len)
            .collect();
        assert_eq!(shared.len(), 2, "{:?}", body.pieces());
        assert!(shared.iter().sum::<usize>() > source.len() * 9 / 10);
    }

    #[test]
    fn an_untouched_body_is_sent_as_it_came() {
        let source = Bytes::from(format!(
            r#"{{"model":"m","messages":"{}"}}"#,
            "x".repeat(2000)
        ));
        let obj = JsonObject::parse(&source).unwrap();
        let body = assert_body_matches(&obj, &source);
        assert_eq!(body.joined(), source);
        // Other bytes than the object was read from: written out whole instead.
        let copy = Bytes::copy_from_slice(&source);
        assert_eq!(obj.to_body(&copy).joined(), Bytes::from(obj.to_bytes()));
    }

    #[test]
    fn edited_bodies_read_the_same_as_written_ones() {
        let mut seed = 11;
        for round in 0..1000u64 {
            let mut body = serde_json::Map::new();
            for i in 0..6 {
                let size = if i % 2 == 0 { 600 } else { 3 };
                body.insert(format!("f{i}"), serde_json::json!("y".repeat(size)));
                body.insert(format!("g{i}"), random_value(&mut seed, 0));
            }
            let text = if round % 2 == 0 {
                serde_json::to_string_pretty(&body).unwrap()
            } else {
                serde_json::to_string(&body).unwrap()
            };
            let source = Bytes::from(text);
            let mut obj = JsonObject::parse(&source).unwrap();
            let pick = |n: u64| format!("{}{}", ["f", "g"][(n % 2) as usize], n % 6);
            obj.remove(&pick(round));
            obj.set_string(&pick(round / 3), "new");
            if round % 4 == 0 {
                obj.set_raw("added", "[1]".into());
            }
            assert_body_matches(&obj, &source);
        }
    }

    const COUNT_PATHS: [CountPath; 3] = [("n", None), ("d", Some("a")), ("d", Some("b"))];

    #[test]
    fn plain_counts_read_integers_and_objects_of_them() {
        let raw = br#" { "x" : [1, {"n": 2}], "n" : 7 , "d":{"b":0,"z":"}"}, "y":null } "#;
        assert_eq!(
            plain_counts(raw, &COUNT_PATHS),
            Some([Some(7), None, Some(0)])
        );
        assert_eq!(plain_counts(b"{}", &COUNT_PATHS), Some([None, None, None]));
        let max = format!(r#"{{"n":{}}}"#, u64::MAX);
        assert_eq!(
            plain_counts(max.as_bytes(), &COUNT_PATHS),
            Some([Some(u64::MAX), None, None])
        );
    }

    #[test]
    fn plain_counts_decline_what_is_not_plainly_counts() {
        for raw in [
            &br#"{"n":1.5}"#[..],
            br#"{"n":1e2}"#,
            br#"{"n":-1}"#,
            br#"{"n":01}"#,
            br#"{"n":"1"}"#,
            br#"{"n":null}"#,
            br#"{"n":18446744073709551616}"#,
            br#"{"n":1,"n":1}"#,
            br#"{"d":{"a":1,"a":1}}"#,
            br#"{"d":{"a":1},"d":{"b":1}}"#,
            br#"{"d":{}}"#,
            br#"{"d":null}"#,
            br#"{"d":[1]}"#,
            br#"{"\u006e":1}"#,
            br#"{"n":1,}"#,
            br#"{"n":1} x"#,
            br#"{"n":1"#,
            br#"{"x":[1}"#,
            br#"[1]"#,
            b"",
        ] {
            assert_eq!(
                plain_counts(raw, &COUNT_PATHS),
                None,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn escaped_keys_survive() {
        let obj = JsonObject::parse(br#"{"a\"b":1}"#).unwrap();
        assert_eq!(String::from_utf8(obj.to_bytes()).unwrap(), r#"{"a\"b":1}"#);
    }
}
