//! JSON the pivot carries without reading it, kept as the text the client or the
//! provider sent: tools' schemas and tool calls' inputs.
//!
//! Chat, Anthropic and Responses carry both as they are (a call's input as an object,
//! or as that object's text in chat's and Responses' `arguments`), so between those
//! formats they are copied, never rebuilt. As `Value` trees every schema and every
//! call in a conversation's history was built (an ordered map per object, each key and
//! string copied), written out again and dropped: for a coding agent's request,
//! hundreds to thousands of allocations. Only Gemini, whose schemas are rewritten to
//! the subset it accepts, reads them as trees, from [`RawJson::to_value`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

#[derive(Clone)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// JSON given as a tree.
    pub fn from_value(value: &Value) -> RawJson {
        // Writing a `Value` cannot fail: its keys are strings.
        RawJson(serde_json::value::to_raw_value(value).unwrap_or_else(|_| null()))
    }

    /// `{}`.
    pub fn empty_object() -> RawJson {
        RawJson::from_value(&Value::Object(Default::default()))
    }

    /// A call's input from its `arguments` text (chat and Responses send the input
    /// object as a string): nothing reads as `{}`, text that is not JSON is kept as
    /// `{"arguments": text}`, anything else is taken as it is.
    pub fn from_arguments(arguments: &str) -> RawJson {
        if arguments.trim().is_empty() {
            return RawJson::empty_object();
        }
        RawJson::parse(arguments.to_string())
            .unwrap_or_else(|| RawJson::from_value(&serde_json::json!({ "arguments": arguments })))
    }

    /// `text` if it is JSON that a tree would take (checked, not built into one).
    pub fn parse(text: String) -> Option<RawJson> {
        RawValue::from_string(text)
            .ok()
            .filter(|raw| tree_takes(raw.get()))
            .map(RawJson)
    }

    /// Whether the JSON is an object.
    pub fn is_object(&self) -> bool {
        // The text starts at the value: the readers and `from_string` leave no space.
        self.0.get().starts_with('{')
    }

    /// The JSON text, as it was sent.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The JSON as a tree, for the formats that rewrite it.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

/// Whether `serde_json` would build a tree of `json`, which a raw value has only been
/// checked to be JSON: a tree also refuses an unpaired surrogate escape (`"\ud800"`)
/// and a number out of range (`1e400`). Both need a `\u` escape, an exponent or a
/// very long number, so most JSON is taken without building the tree; the rest is
/// built once, as it was before raw values.
fn tree_takes(json: &str) -> bool {
    !might_be_refused(json.as_bytes()) || serde_json::from_str::<Value>(json).is_ok()
}

/// A `\u` escape, a digit followed by an exponent mark, or a run of over 300 digits:
/// one pass over the text, which every schema and call input takes.
fn might_be_refused(bytes: &[u8]) -> bool {
    let mut digits = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_digit() {
            digits += 1;
            if digits > 300 {
                return true;
            }
            continue;
        }
        if (digits > 0 && matches!(b, b'e' | b'E'))
            || (b == b'\\' && bytes.get(i + 1) == Some(&b'u'))
        {
            return true;
        }
        digits = 0;
    }
    false
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_string()).expect("`null` is JSON")
}

impl From<Value> for RawJson {
    fn from(value: Value) -> RawJson {
        RawJson::from_value(&value)
    }
}

/// Equal when the JSON is: the spacing it was sent with does not count.
impl PartialEq for RawJson {
    fn eq(&self, other: &RawJson) -> bool {
        self.0.get() == other.0.get() || self.to_value() == other.to_value()
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As the tree reads, so that spacing does not tell equal JSON apart.
        write!(f, "{}", self.to_value())
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawJson, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        if !tree_takes(raw.get()) {
            // The typed reading refuses the request; the `Value` reading behind it then
            // says what is wrong, as it always has.
            return Err(serde::de::Error::custom(
                "an unpaired surrogate or a number out of range",
            ));
        }
        Ok(RawJson(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_is_written_as_it_was_sent_and_compared_as_json() {
        #[derive(Deserialize)]
        struct Tool {
            parameters: RawJson,
        }
        let sent = r#"{"parameters": {"type": "object", "properties": {"path": {"type": "string", "description": "é \"x\""}}}}"#;
        let tool: Tool = serde_json::from_str(sent).unwrap();
        assert_eq!(
            serde_json::to_string(&tool.parameters).unwrap(),
            r#"{"type": "object", "properties": {"path": {"type": "string", "description": "é \"x\""}}}"#
        );
        let tree = json!({"type": "object", "properties": {"path": {"type": "string", "description": "é \"x\""}}});
        assert_eq!(tool.parameters.to_value(), tree);
        assert_eq!(tool.parameters, RawJson::from(tree.clone()));
        assert_eq!(
            format!("{:?}", tool.parameters),
            format!("{:?}", RawJson::from(tree))
        );
        assert_ne!(tool.parameters, RawJson::from(json!({"type": "object"})));
        assert_eq!(RawJson::from(Value::Null).to_value(), Value::Null);
    }

    #[test]
    fn json_a_tree_would_refuse_is_refused_as_the_tree_refused_it() {
        for refused in [
            r#"{"x":"\ud800"}"#,
            r#"{"x":1e400}"#,
            r#"{"x":"\udc00 lone"}"#,
        ] {
            assert!(RawJson::parse(refused.to_string()).is_none(), "{refused}");
            assert_eq!(
                RawJson::from_arguments(refused).to_value(),
                json!({ "arguments": refused })
            );
            let field = format!(r#"{{"parameters":{refused}}}"#);
            assert!(serde_json::from_str::<Holder>(&field).is_err(), "{field}");
        }
        for taken in [
            r#"{"x":"\u00e9 \ud83d\ude00"}"#,
            r#"{"x":1e5,"y":2E-3,"z":12345678901234567890}"#,
            r#"{"sha3e":"abc3e"}"#,
        ] {
            let raw = RawJson::parse(taken.to_string()).expect(taken);
            assert_eq!(raw.json(), taken);
            let field = format!(r#"{{"parameters":{taken}}}"#);
            assert!(serde_json::from_str::<Holder>(&field).is_ok(), "{field}");
        }
    }

    #[derive(Deserialize)]
    struct Holder {
        #[allow(dead_code)]
        parameters: RawJson,
    }
}
