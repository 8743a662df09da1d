//! Forgiving scalar fields for the typed readers of request and answer bodies: a field
//! of the wrong type reads as absent, as a reader walking a `Value` would treat it.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A field that reads as absent when it holds another type than `T`.
pub struct Lenient<T>(pub Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

/// How a scalar is read from any JSON value.
pub trait FromJson: Sized {
    fn from_json(value: Value) -> Option<Self>;
}

impl FromJson for String {
    fn from_json(value: Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl FromJson for u64 {
    fn from_json(value: Value) -> Option<u64> {
        value.as_u64()
    }
}

impl FromJson for f64 {
    fn from_json(value: Value) -> Option<f64> {
        value.as_f64()
    }
}

impl FromJson for bool {
    fn from_json(value: Value) -> Option<bool> {
        value.as_bool()
    }
}

impl<'de, T: FromJson> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A string moves into the `Value` and out again: no copy of the text.
        Ok(Lenient(T::from_json(Value::deserialize(deserializer)?)))
    }
}
