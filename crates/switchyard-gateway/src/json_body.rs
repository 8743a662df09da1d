//! Targeted editing of a JSON request body.
//!
//! Only the top-level object is parsed; every value is kept as its original text, so
//! a pass-through request reaches the provider byte-for-byte except for the fields the
//! gateway changes (the model id, its own metadata, stream options), and fields it does
//! not know survive untouched.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A top-level JSON object whose values are raw JSON text.
#[derive(Debug)]
pub struct JsonObject<'a> {
    fields: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'a> JsonObject<'a> {
    /// Parses `bytes`, which must hold a JSON object.
    pub fn parse(bytes: &'a [u8]) -> Result<JsonObject<'a>, serde_json::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = JsonObject<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    fields.push((key, Cow::Borrowed(value.get())));
                }
                Ok(JsonObject { fields })
            }
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let object = (&mut de).deserialize_map(ObjectVisitor)?;
        de.end()?;
        Ok(object)
    }

    /// The raw JSON text of `key` (the last one, if a client sent it twice).
    pub fn get_raw(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// Parses the value of `key` as `T`; `None` when absent or `null`.
    pub fn get<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Option<Result<T, serde_json::Error>> {
        let raw = self.get_raw(key)?;
        if raw == "null" {
            return None;
        }
        Some(serde_json::from_str(raw))
    }

    /// Removes every occurrence of `key`, returning the last value's text.
    pub fn remove(&mut self, key: &str) -> Option<Cow<'a, str>> {
        let mut removed = None;
        self.fields.retain_mut(|(k, v)| {
            if k == key {
                removed = Some(std::mem::take(v));
                false
            } else {
                true
            }
        });
        removed
    }

    /// Sets `key` to the given raw JSON text, in place if present, else at the end.
    pub fn set_raw(&mut self, key: &str, raw_json: String) {
        self.remove_all_but_last(key);
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = Cow::Owned(raw_json),
            None => self
                .fields
                .push((Cow::Owned(key.to_string()), Cow::Owned(raw_json))),
        }
    }

    /// Sets `key` to a JSON string.
    pub fn set_string(&mut self, key: &str, value: &str) {
        // Serializing a `&str` cannot fail; the fallback only keeps this panic-free.
        let quoted = serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_string());
        self.set_raw(key, quoted);
    }

    fn remove_all_but_last(&mut self, key: &str) {
        let count = self.fields.iter().filter(|(k, _)| k == key).count();
        if count > 1 {
            let mut skip = count - 1;
            self.fields.retain(|(k, _)| {
                if k == key && skip > 0 {
                    skip -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }

    /// Writes the object back out as compact JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let capacity = self
            .fields
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>()
            + 2;
        let mut out = Vec::with_capacity(capacity);
        out.push(b'{');
        for (i, (key, value)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // A string always serializes; the fallback keeps the key rather than panic.
            match serde_json::to_writer(&mut out, key.as_ref()) {
                Ok(()) => {}
                Err(_) => out.extend_from_slice(b"\"\""),
            }
            out.push(b':');
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn escaped_keys_survive() {
        let obj = JsonObject::parse(br#"{"a\"b":1}"#).unwrap();
        assert_eq!(String::from_utf8(obj.to_bytes()).unwrap(), r#"{"a\"b":1}"#);
    }
}
