//! An Anthropic messages request as it arrives on the wire, read straight from the
//! body's bytes.
//!
//! Reading into these types instead of a `Value` tree skips building a map for every
//! message and content block of an agent's conversation. Scalars are forgiving (a field
//! of the wrong type reads as absent); the containers must have their documented shape,
//! and a body that does not is refused with the reason.

use crate::translate::lenient::Lenient;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireRequest {
    pub system: WireContent,
    pub messages: Vec<WireMessage>,
    pub tools: Vec<WireTool>,
    pub stream: Lenient<bool>,
    pub max_tokens: Lenient<u64>,
    pub temperature: Lenient<f64>,
    pub top_p: Lenient<f64>,
    // Small objects, read field by field where they are used.
    pub metadata: Option<Value>,
    pub stop_sequences: Option<Value>,
    pub tool_choice: Option<Value>,
    pub output_config: Option<Value>,
    pub thinking: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireMessage {
    pub role: Lenient<String>,
    pub content: WireContent,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireTool {
    #[serde(rename = "type")]
    pub kind: Lenient<String>,
    pub name: Lenient<String>,
    pub description: Lenient<String>,
    pub input_schema: Option<crate::translate::RawJson>,
    pub cache_control: Option<Value>,
}

/// One content block, every type's fields together; which apply depends on `kind`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireBlock {
    #[serde(rename = "type")]
    pub kind: Lenient<String>,
    pub text: Lenient<String>,
    pub source: WireSource,
    pub id: Lenient<String>,
    pub name: Lenient<String>,
    pub input: Option<crate::translate::RawJson>,
    pub tool_use_id: Lenient<String>,
    pub content: WireContent,
    pub is_error: Lenient<bool>,
    pub cache_control: Option<Value>,
    pub thinking: Lenient<String>,
    pub signature: Lenient<String>,
    pub data: Lenient<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WireSource {
    #[serde(rename = "type")]
    pub kind: Lenient<String>,
    pub media_type: Lenient<String>,
    pub data: Lenient<String>,
    pub url: Lenient<String>,
}

/// `content` (and `system`): a string, an array of blocks, or nothing.
pub type WireContent = crate::translate::wire_content::WireContent<WireBlock>;
