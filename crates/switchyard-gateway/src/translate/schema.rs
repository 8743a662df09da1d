//! A tool's JSON schema in the pivot, kept as the JSON text the client sent.
//!
//! Chat, Anthropic and Responses requests carry their tools' schemas as they are, so
//! between those formats a schema is copied, never rebuilt. As a `Value` tree every
//! schema of every request was built (an ordered map per object, every key and string
//! copied), written out again and dropped: for a coding agent's dozen and a half tools,
//! hundreds of allocations a request. Only Gemini's subset of JSON schema needs the
//! tree, and gets it from [`Schema::to_value`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

#[derive(Clone)]
pub struct Schema(Box<RawValue>);

impl Schema {
    /// `{"type": "object"}` and the like: a schema given as a tree.
    pub fn from_value(value: &Value) -> Schema {
        // Writing a `Value` cannot fail: its keys are strings.
        Schema(serde_json::value::to_raw_value(value).unwrap_or_else(|_| null()))
    }

    /// The schema's JSON text, as the client wrote it.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The schema as a tree, for the formats that rewrite it.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_string()).expect("`null` is JSON")
}

impl From<Value> for Schema {
    fn from(value: Value) -> Schema {
        Schema::from_value(&value)
    }
}

/// Two schemas are equal when their JSON is: the spacing the client wrote does not count.
impl PartialEq for Schema {
    fn eq(&self, other: &Schema) -> bool {
        self.0.get() == other.0.get() || self.to_value() == other.to_value()
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As the tree reads, so that spacing does not tell equal schemas apart.
        write!(f, "Schema({})", self.to_value())
    }
}

impl Serialize for Schema {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Schema {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Schema, D::Error> {
        Box::<RawValue>::deserialize(d).map(Schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_schema_is_written_as_the_client_sent_it_and_compared_as_json() {
        #[derive(Deserialize)]
        struct Tool {
            parameters: Schema,
        }
        let sent = r#"{"parameters": {"type": "object", "properties": {"path": {"type": "string", "description": "é \"x\""}}}}"#;
        let tool: Tool = serde_json::from_str(sent).unwrap();
        assert_eq!(
            serde_json::to_string(&tool.parameters).unwrap(),
            r#"{"type": "object", "properties": {"path": {"type": "string", "description": "é \"x\""}}}"#
        );
        let tree = json!({"type": "object", "properties": {"path": {"type": "string", "description": "é \"x\""}}});
        assert_eq!(tool.parameters.to_value(), tree);
        assert_eq!(tool.parameters, Schema::from(tree.clone()));
        assert_eq!(
            format!("{:?}", tool.parameters),
            format!("{:?}", Schema::from(tree))
        );
        assert_ne!(tool.parameters, Schema::from(json!({"type": "object"})));
        assert_eq!(Schema::from(Value::Null).to_value(), Value::Null);
    }
}
