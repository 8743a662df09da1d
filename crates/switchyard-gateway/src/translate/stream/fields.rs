//! Field types the typed stream readers share: strings borrowed from the event's bytes,
//! told apart from `null` and from a missing field as a reader of `Value` trees would.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// A string field as JSON has it: missing, `null`, or a string. (The general reader
/// tells a missing tool-call `id` from a `null` one, so this must too.)
#[derive(Debug, Default)]
pub(super) enum Text<'a> {
    #[default]
    Absent,
    Null,
    Str(Cow<'a, str>),
}

impl<'a> Text<'a> {
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Text::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn is_present(&self) -> bool {
        !matches!(self, Text::Absent)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text::Null)
            }
        }
        d.deserialize_any(TextVisitor)
    }
}

/// The same reading of a field of an object already parsed into a `Value`, for what the
/// typed readings refuse: a field of another type counts as present but not a string,
/// as the general readers always treated it.
pub(super) fn text(value: Option<&Value>) -> Text<'_> {
    match value {
        None => Text::Absent,
        Some(Value::String(s)) => Text::Str(Cow::Borrowed(s)),
        Some(_) => Text::Null,
    }
}
