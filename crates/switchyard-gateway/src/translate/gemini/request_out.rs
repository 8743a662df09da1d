//! A Gemini `generateContent` request as it is sent, borrowing the pivot's text.
//!
//! Building the request as a `Value` tree copied every text of the conversation, every
//! tool call's arguments and every key into it only to serialize it right after (most
//! of an Anthropic→Gemini request's allocations); these types serialize straight from
//! the pivot. Only schemas (the tools', a response format's) are still trees: they
//! are rewritten into the subset Gemini accepts. The request is assembled by
//! [`render_request`](super::render_request); keys are written in the order the
//! tree had them.

use crate::translate::raw_json::RawJson;
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestOut<'a> {
    pub contents: Vec<ContentOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<SystemOut<'a>>,
    /// Gemini's tools are a list of groups; all functions go in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<[ToolGroup<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig<'a>>,
    #[serde(skip_serializing_if = "GenerationConfig::is_empty")]
    pub generation_config: GenerationConfig<'a>,
}

/// A turn of the conversation: `user` or `model`.
#[derive(Serialize)]
pub struct ContentOut<'a> {
    pub role: &'static str,
    pub parts: Vec<PartOut<'a>>,
}

#[derive(Serialize)]
pub struct SystemOut<'a> {
    pub parts: Vec<PartOut<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum PartOut<'a> {
    Text {
        text: Cow<'a, str>,
    },
    #[serde(rename_all = "camelCase")]
    InlineData {
        inline_data: InlineData<'a>,
    },
    #[serde(rename_all = "camelCase")]
    FileData {
        file_data: FileData<'a>,
    },
    #[serde(rename_all = "camelCase")]
    FunctionCall {
        function_call: FunctionCall<'a>,
        /// Set on a Gemini 3 turn's first call (see `SKIP_SIGNATURE`).
        #[serde(skip_serializing_if = "Option::is_none")]
        thought_signature: Option<&'static str>,
    },
    #[serde(rename_all = "camelCase")]
    FunctionResponse {
        function_response: FunctionResponse<'a>,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineData<'a> {
    pub mime_type: &'a str,
    pub data: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData<'a> {
    pub file_uri: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<&'static str>,
}

#[derive(Serialize)]
pub struct FunctionCall<'a> {
    pub name: &'a str,
    pub args: CallArgs<'a>,
}

/// A call's arguments: the client's object as it was written, or `{}` for anything
/// that is not an object (Gemini takes only objects).
pub enum CallArgs<'a> {
    Object(&'a RawJson),
    Empty,
}

impl Serialize for CallArgs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CallArgs::Object(raw) => raw.serialize(s),
            CallArgs::Empty => serde_json::Map::new().serialize(s),
        }
    }
}

#[derive(Serialize)]
pub struct FunctionResponse<'a> {
    pub name: &'a str,
    pub response: ResponseOut<'a>,
}

/// Gemini wants a function's response as an object: its output, or its failure.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseOut<'a> {
    Output(Cow<'a, str>),
    Error(Cow<'a, str>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolGroup<'a> {
    pub function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Serialize)]
pub struct FunctionDeclaration<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    /// The tool's schema cleaned for Gemini; none for a function without parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig<'a> {
    pub function_calling_config: FunctionCallingConfig<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig<'a> {
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_function_names: Option<[&'a str; 1]>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_config: Option<ThinkingConfig>,
}

impl GenerationConfig<'_> {
    fn is_empty(&self) -> bool {
        self.max_output_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.stop_sequences.is_empty()
            && self.response_mime_type.is_none()
            && self.response_schema.is_none()
            && self.thinking_config.is_none()
    }
}

/// `generationConfig.thinkingConfig`: a level for Gemini 3, a budget for 2.5.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_level: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_budget: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub include_thoughts: bool,
}
