//! Gemini `generateContent` ⟷ the pivot: requests (tool schemas cleaned down to the
//! OpenAPI subset Gemini accepts), answers, usage, and the `streamGenerateContent`
//! stream (`?alt=sse`), whose chunks are whole `GenerateContentResponse`s.
//!
//! Gemini has no tool-call ids. Answers get generated ones (`call_<hash>`), and a tool
//! result finds its function's name (which Gemini wants instead of an id) through the
//! earlier assistant turn that made the call.

mod chunk;
mod request_out;

use super::stream::{error_event, Event, Parser};
use super::*;
use chunk::{Chunk, Counts, Part};
pub use request_out::RequestOut;
use request_out::{
    CallArgs, ContentOut, FileData, FunctionCall, FunctionCallingConfig, FunctionDeclaration,
    FunctionResponse, GenerationConfig, InlineData, PartOut, ResponseOut, SystemOut,
    ThinkingConfig, ToolConfig, ToolGroup,
};
use serde_json::{json, Map};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Schema keywords Gemini's `parameters` and `responseSchema` take (its OpenAPI 3.0
/// subset); any other keyword fails the request with "Unknown name ... Cannot find field".
/// `title`, `default` and `example` are in the subset but dropped: they guide nothing
/// and some SDK versions reject them.
const SCHEMA_KEYWORDS: [&str; 18] = [
    "type",
    "format",
    "description",
    "nullable",
    "enum",
    "properties",
    "required",
    "propertyOrdering",
    "items",
    "anyOf",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
    "minimum",
    "maximum",
];
/// How many `$ref`s deep a schema is inlined; recursive schemas are cut off there.
const MAX_REF_DEPTH: usize = 6;
/// Gemini takes at most five stop sequences.
const MAX_STOP_SEQUENCES: usize = 5;
/// Google's documented placeholder for function calls whose thought signature is
/// unknown (calls from another model, or from a client that dropped it). Gemini 3
/// refuses a conversation whose function calls carry no signature at all.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// A JSON schema reduced to what Gemini accepts: `$ref`s inlined, `allOf` merged,
/// `oneOf` as `anyOf`, `const` as a one-value `enum`, `["string", "null"]` types as
/// `nullable`, unsupported formats and non-string enums moved into the description,
/// and every other keyword dropped, recursively.
pub fn clean_schema(schema: &Value) -> Value {
    clean(schema, schema, 0)
}

/// Resolves a local `$ref` (`#/$defs/X`, `#/definitions/X`, ...) against the root.
fn deref<'a>(schema: &'a Value, root: &'a Value) -> Option<&'a Value> {
    let reference = schema.get("$ref")?.as_str()?;
    root.pointer(reference.strip_prefix('#')?)
}

fn clean(schema: &Value, root: &Value, depth: usize) -> Value {
    let Some(obj) = schema.as_object() else {
        // `true` (anything) and `false` have no Gemini form: say nothing about them.
        return json!({});
    };
    if obj.contains_key("$ref") {
        let mut resolved = match deref(schema, root) {
            Some(target) if depth < MAX_REF_DEPTH => clean(target, root, depth + 1),
            // Unresolvable or recursive beyond the limit: an object of any shape.
            _ => json!({"type": "object"}),
        };
        if let (Some(d), Some(map)) = (obj.get("description"), resolved.as_object_mut()) {
            map.insert("description".into(), d.clone());
        }
        return resolved;
    }
    if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
        return clean(&merge_all_of(obj, all, root), root, depth + 1);
    }

    let mut out = Map::new();
    let mut nullable = obj.get("nullable") == Some(&Value::Bool(true));
    let mut notes: Vec<String> = Vec::new();
    match obj.get("type") {
        Some(Value::String(t)) if t == "null" => nullable = true,
        Some(Value::String(t)) => {
            out.insert("type".into(), json!(t));
        }
        Some(Value::Array(types)) => {
            let mut kinds: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            if kinds.contains(&"null") {
                nullable = true;
                kinds.retain(|k| *k != "null");
            }
            match kinds.as_slice() {
                [] => {}
                [one] => {
                    out.insert("type".into(), json!(one));
                }
                many => {
                    let variants: Vec<Value> = many.iter().map(|k| json!({"type": k})).collect();
                    out.insert("anyOf".into(), Value::Array(variants));
                }
            }
        }
        _ => {}
    }
    if let Some(variants) = obj
        .get("anyOf")
        .or_else(|| obj.get("oneOf"))
        .and_then(Value::as_array)
    {
        let mut cleaned = Vec::new();
        for v in variants {
            if v.get("type").and_then(Value::as_str) == Some("null") {
                nullable = true;
            } else {
                cleaned.push(clean(v, root, depth + 1));
            }
        }
        match cleaned.len() {
            0 => {}
            // `anyOf: [X, null]` is just a nullable X.
            1 => {
                if let Some(Value::Object(only)) = cleaned.pop() {
                    for (k, v) in only {
                        out.entry(k).or_insert(v);
                    }
                }
            }
            _ => {
                out.insert("anyOf".into(), Value::Array(cleaned));
            }
        }
    }
    let values = match (obj.get("enum"), obj.get("const")) {
        (Some(Value::Array(values)), _) => Some(values.clone()),
        (None, Some(c)) => Some(vec![c.clone()]),
        _ => None,
    };
    if let Some(mut values) = values {
        if values.iter().any(Value::is_null) {
            nullable = true;
            values.retain(|v| !v.is_null());
        }
        if !values.is_empty() && values.iter().all(Value::is_string) {
            // Gemini takes enums on strings only.
            out.insert("enum".into(), Value::Array(values));
            out.entry("type").or_insert(json!("string"));
        } else if !values.is_empty() {
            let listed: Vec<String> = values.iter().map(Value::to_string).collect();
            notes.push(format!("one of: {}", listed.join(", ")));
        }
    }
    if let Some(format) = obj.get("format").and_then(Value::as_str) {
        let supported = match out.get("type").and_then(Value::as_str) {
            Some("string") => matches!(format, "enum" | "date-time"),
            Some("number") => matches!(format, "float" | "double"),
            Some("integer") => matches!(format, "int32" | "int64"),
            _ => false,
        };
        if supported {
            out.insert("format".into(), json!(format));
        } else {
            notes.push(format!("format: {format}"));
        }
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        let cleaned: Map<String, Value> = props
            .iter()
            .map(|(name, s)| (name.clone(), clean(s, root, depth)))
            .collect();
        if !cleaned.is_empty() {
            // Only names that exist may be required.
            let required: Vec<Value> = obj
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|r| r.as_str().is_some_and(|n| cleaned.contains_key(n)))
                .cloned()
                .collect();
            out.insert("properties".into(), Value::Object(cleaned));
            if !required.is_empty() {
                out.insert("required".into(), Value::Array(required));
            }
            out.entry("type").or_insert(json!("object"));
        }
    }
    let items = match (obj.get("items"), obj.get("prefixItems")) {
        (Some(items @ Value::Object(_)), _) => Some(clean(items, root, depth)),
        // Tuples: Gemini has none; any of the positions' schemas.
        (Some(Value::Array(tuple)), _) | (None, Some(Value::Array(tuple))) => match tuple.len() {
            0 => None,
            1 => Some(clean(&tuple[0], root, depth)),
            _ => Some(
                json!({"anyOf": tuple.iter().map(|s| clean(s, root, depth)).collect::<Vec<_>>()}),
            ),
        },
        _ => None,
    };
    if let Some(items) = items {
        out.insert("items".into(), items);
        out.entry("type").or_insert(json!("array"));
    }
    for key in [
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
        "minimum",
        "maximum",
    ] {
        if let Some(n) = obj.get(key).filter(|v| v.is_number()) {
            out.insert(key.into(), n.clone());
        }
    }
    // Draft 6+ exclusive bounds (numbers) become inclusive ones: slightly looser, but kept.
    for (exclusive, inclusive) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(n) = obj.get(exclusive).filter(|v| v.is_number()) {
            out.entry(inclusive).or_insert(n.clone());
        }
    }
    if let Some(order) = obj.get("propertyOrdering").filter(|v| v.is_array()) {
        out.insert("propertyOrdering".into(), order.clone());
    }
    if nullable {
        out.insert("nullable".into(), json!(true));
    }
    let description = str_field(schema, "description")
        .or_else(|| str_field(schema, "title"))
        .map(str::to_string);
    let description = match (description, notes.is_empty()) {
        (d, true) => d,
        (Some(d), false) => Some(format!("{d} ({})", notes.join("; "))),
        (None, false) => Some(format!("({})", notes.join("; "))),
    };
    if let Some(d) = description {
        out.insert("description".into(), json!(d));
    }
    debug_assert!(out.keys().all(|k| SCHEMA_KEYWORDS.contains(&k.as_str())));
    Value::Object(out)
}

/// One schema from an `allOf`: properties and `required` united, other keywords taken
/// from the first member that has them.
fn merge_all_of(obj: &Map<String, Value>, all: &[Value], root: &Value) -> Value {
    let mut merged: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| *k != "allOf")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for member in all {
        let member = deref(member, root).unwrap_or(member);
        let Some(member) = member.as_object() else {
            continue;
        };
        for (k, v) in member {
            match (k.as_str(), merged.get_mut(k), v) {
                ("properties", Some(Value::Object(props)), Value::Object(more)) => {
                    for (name, s) in more {
                        props.entry(name.clone()).or_insert(s.clone());
                    }
                }
                ("required", Some(Value::Array(req)), Value::Array(more)) => {
                    req.extend(
                        more.iter()
                            .filter(|r| !req.contains(r))
                            .cloned()
                            .collect::<Vec<_>>(),
                    );
                }
                (_, None, _) => {
                    merged.insert(k.clone(), v.clone());
                }
                _ => {}
            }
        }
    }
    Value::Object(merged)
}

/// The Gemini generation a model name belongs to, for the settings it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Generation {
    /// 1.x and 2.0: no thinking settings.
    Old,
    /// 2.5 (and versionless aliases such as `gemini-flash-latest`): `thinkingBudget`.
    Budget,
    /// 3 and later: `thinkingLevel`, and function calls must carry thought signatures.
    Level,
    /// Not a Gemini model (Gemma, tuned models): nothing model-specific is sent.
    Other,
}

fn generation(model: &str) -> Generation {
    let name = model.rsplit('/').next().unwrap_or(model);
    let Some(rest) = name.strip_prefix("gemini-") else {
        return Generation::Other;
    };
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut numbers = version.split('.').map(|n| n.parse::<u32>().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (None, _) => Generation::Budget,
        (Some(major), _) if major >= 3 => Generation::Level,
        (Some(2), Some(minor)) if minor >= 5 => Generation::Budget,
        _ => Generation::Old,
    }
}

/// `generationConfig.thinkingConfig` for the requested reasoning, in the form the model
/// takes: a level for Gemini 3, a budget within the model's documented range for 2.5
/// (Pro 128–32768 and always on; Flash 0–24576; Flash-Lite 512–24576 or 0).
fn thinking_config(
    reasoning: Reasoning,
    model: &str,
    max_tokens: Option<u64>,
) -> Option<ThinkingConfig> {
    let effort = match reasoning {
        Reasoning::Effort(e) => e,
        Reasoning::Budget(b) => budget_effort(b),
    };
    let include_thoughts = effort != Effort::None;
    match generation(model) {
        Generation::Old | Generation::Other => None,
        Generation::Level => {
            let flash = model.contains("flash");
            let level = match effort {
                Effort::None if flash => "minimal",
                Effort::None | Effort::Low => "low",
                // The first Gemini 3 Pro knows only low and high.
                Effort::Medium if model.contains("gemini-3-pro") => "high",
                Effort::Medium => "medium",
                Effort::High | Effort::Max => "high",
            };
            Some(ThinkingConfig {
                thinking_level: Some(level),
                thinking_budget: None,
                include_thoughts,
            })
        }
        Generation::Budget => {
            let (min, max, can_disable) = if model.contains("flash-lite") {
                (512, 24_576, true)
            } else if model.contains("flash") {
                (1, 24_576, true)
            } else {
                (128, 32_768, false)
            };
            let budget = match (reasoning, effort) {
                (_, Effort::None) if can_disable => 0,
                (_, Effort::None) => min,
                (Reasoning::Budget(b), _) => {
                    b.min(max_tokens.map_or(u64::MAX, |m| m.saturating_sub(1)))
                }
                (_, Effort::Max) => max_tokens.map_or(max, |m| m.saturating_sub(1)),
                (_, e) => effort_budget(e, max_tokens).unwrap_or(min),
            };
            let budget = if budget == 0 {
                0
            } else {
                budget.clamp(min, max)
            };
            Some(ThinkingConfig {
                thinking_level: None,
                thinking_budget: Some(budget),
                include_thoughts,
            })
        }
    }
}

/// A media type guessed from a URL's extension, for `fileData`.
fn guess_mime(url: &str) -> Option<&'static str> {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let ext = path.rsplit('.').next()?;
    Some(match ext {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        _ => return None,
    })
}

fn media_part(source: &MediaSource) -> PartOut<'_> {
    match source {
        MediaSource::Base64 { media_type, data } => PartOut::InlineData {
            inline_data: InlineData {
                mime_type: media_type,
                data,
            },
        },
        MediaSource::Url(url) => PartOut::FileData {
            file_data: FileData {
                file_uri: url,
                mime_type: guess_mime(url),
            },
        },
    }
}

/// A plain content part (text, image, document), or nothing for empty text, which
/// Gemini refuses.
fn content_part(b: &Block) -> Option<PartOut<'_>> {
    match b {
        Block::Text { text, .. } if !text.is_empty() => Some(PartOut::Text {
            text: Cow::Borrowed(text),
        }),
        Block::Image { source, .. } | Block::Document { source, .. } => Some(media_part(source)),
        _ => None,
    }
}

/// A `functionResponse` part for a tool result: Gemini wants an object, with the
/// function's output under `output` or its failure under `error`.
fn function_response<'a>(name: &'a str, content: &'a [Block], is_error: bool) -> PartOut<'a> {
    let text = text_content(content);
    let response = if is_error {
        ResponseOut::Error(text)
    } else {
        ResponseOut::Output(text)
    };
    PartOut::FunctionResponse {
        function_response: FunctionResponse { name, response },
    }
}

fn missing_result(name: &str) -> PartOut<'_> {
    PartOut::FunctionResponse {
        function_response: FunctionResponse {
            name,
            response: ResponseOut::Error(Cow::Borrowed("(no result)")),
        },
    }
}

/// Appends a turn, merged into the previous one when the role is the same: Gemini
/// expects user and model turns to alternate.
fn push_merged<'a>(
    contents: &mut Vec<ContentOut<'a>>,
    role: &'static str,
    parts: Vec<PartOut<'a>>,
) {
    if parts.is_empty() {
        return;
    }
    match contents.last_mut() {
        Some(last) if last.role == role => last.parts.extend(parts),
        _ => contents.push(ContentOut { role, parts }),
    }
}

/// The pivot as a Gemini `generateContent` body for `model` (which goes in the URL,
/// as does streaming).
pub fn render_request<'a>(
    request: &'a Request,
    model: &str,
    target: &Target,
    names: &'a ToolNames,
) -> RequestOut<'a> {
    let generation = generation(model);
    let mut system: Vec<PartOut> = request.system.iter().filter_map(content_part).collect();
    let mut contents: Vec<ContentOut> = Vec::new();
    // Calls of the latest model turn still waiting for their results: (id, name).
    let mut open_calls: Vec<(&str, &str)> = Vec::new();
    for m in &request.messages {
        match m.role {
            // Gemini has no mid-conversation system turns: they join the instruction.
            Role::System => system.extend(m.content.iter().filter_map(content_part)),
            Role::Assistant => {
                // Calls nobody answered still need answers before the next model turn.
                let missing: Vec<PartOut> = open_calls
                    .drain(..)
                    .map(|(_, name)| missing_result(names.outbound(name)))
                    .collect();
                push_merged(&mut contents, "user", missing);
                let mut parts = Vec::new();
                for b in &m.content {
                    match b {
                        Block::ToolUse {
                            id, name, input, ..
                        } => {
                            // The first call of a turn carries the turn's signature.
                            let first_call = open_calls.is_empty();
                            let signed = generation == Generation::Level && first_call;
                            parts.push(PartOut::FunctionCall {
                                function_call: FunctionCall {
                                    name: names.outbound(name),
                                    args: if input.is_object() {
                                        CallArgs::Object(input)
                                    } else {
                                        CallArgs::Empty
                                    },
                                },
                                thought_signature: signed.then_some(SKIP_SIGNATURE),
                            });
                            open_calls.push((id, name));
                        }
                        // Reasoning, Gemini's own included, does not go back to Gemini.
                        Block::Thinking { .. } | Block::RedactedThinking { .. } => {}
                        other => parts.extend(content_part(other)),
                    }
                }
                push_merged(&mut contents, "model", parts);
            }
            Role::User => {
                let results: HashMap<&str, &Block> = m
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        Block::ToolResult { id, .. } => Some((id.as_str(), b)),
                        _ => None,
                    })
                    .collect();
                let open_ids: Vec<&str> = open_calls.iter().map(|(id, _)| *id).collect();
                // One response per call of the model turn before, in the calls' order.
                let mut parts = Vec::new();
                let mut media = Vec::new();
                for (id, name) in open_calls.drain(..) {
                    let name = names.outbound(name);
                    match results.get(id) {
                        Some(Block::ToolResult {
                            content, is_error, ..
                        }) => {
                            parts.push(function_response(name, content, *is_error));
                            media.extend(
                                content
                                    .iter()
                                    .filter(|c| !matches!(c, Block::Text { .. }))
                                    .filter_map(content_part),
                            );
                        }
                        _ => parts.push(missing_result(name)),
                    }
                }
                // Images a tool returned follow its response, in the same turn.
                parts.extend(media);
                for b in &m.content {
                    match b {
                        // A result whose call is not in the turn before: keep what it says.
                        Block::ToolResult { id, content, .. }
                            if !open_ids.contains(&id.as_str()) =>
                        {
                            parts.push(PartOut::Text {
                                text: Cow::Owned(format!(
                                    "[result of tool call {id}]\n{}",
                                    text_content(content)
                                )),
                            });
                        }
                        Block::ToolResult { .. } => {}
                        other => parts.extend(content_part(other)),
                    }
                }
                push_merged(&mut contents, "user", parts);
            }
        }
    }
    if !open_calls.is_empty() {
        let missing = open_calls
            .drain(..)
            .map(|(_, name)| missing_result(names.outbound(name)))
            .collect();
        push_merged(&mut contents, "user", missing);
    }
    if contents.first().is_some_and(|c| c.role == "model") {
        let opening = PartOut::Text {
            text: Cow::Borrowed("(conversation continues)"),
        };
        contents.insert(
            0,
            ContentOut {
                role: "user",
                parts: vec![opening],
            },
        );
    }

    let tools = (!request.tools.is_empty()).then(|| {
        let function_declarations = request
            .tools
            .iter()
            .map(|t| {
                let parameters = clean_schema(&t.schema.to_value());
                // Gemini refuses an object without properties: a function without
                // parameters simply has none.
                let has_parameters = parameters.get("properties").is_some()
                    || parameters.get("type").is_some_and(|t| t != "object");
                FunctionDeclaration {
                    name: names.outbound(&t.name),
                    description: t.description.as_deref(),
                    parameters: has_parameters.then_some(parameters),
                }
            })
            .collect();
        [ToolGroup {
            function_declarations,
        }]
    });
    let tool_config = match (&tools, &request.tool_choice) {
        (Some(_), Some(choice)) => {
            let (mode, allowed) = match choice {
                ToolChoice::Auto => ("AUTO", None),
                ToolChoice::None => ("NONE", None),
                ToolChoice::Required => ("ANY", None),
                ToolChoice::Named(n) => ("ANY", Some([names.outbound(n)])),
            };
            Some(ToolConfig {
                function_calling_config: FunctionCallingConfig {
                    mode,
                    allowed_function_names: allowed,
                },
            })
        }
        _ => None,
    };

    let max_output_tokens = request
        .max_tokens
        .map(|m| target.max_output_tokens.map_or(m, |limit| m.min(limit)));
    let mut generation_config = GenerationConfig {
        max_output_tokens,
        temperature: request.temperature,
        top_p: request.top_p,
        stop_sequences: &request.stop[..request.stop.len().min(MAX_STOP_SEQUENCES)],
        thinking_config: request.reasoning.and_then(|r| {
            thinking_config(r, model, max_output_tokens.or(target.max_output_tokens))
        }),
        ..GenerationConfig::default()
    };
    if let Some(format) = &request.response_format {
        match str_field(format, "type") {
            Some("json_object") => {
                generation_config.response_mime_type = Some("application/json");
            }
            Some("json_schema") => {
                generation_config.response_mime_type = Some("application/json");
                generation_config.response_schema =
                    format.pointer("/json_schema/schema").map(clean_schema);
            }
            _ => {}
        }
    }

    RequestOut {
        contents,
        system_instruction: (!system.is_empty()).then_some(SystemOut { parts: system }),
        tools,
        tool_config,
        generation_config,
    }
}

/// Gemini's `finishReason` as the pivot's stop reason.
pub fn parse_stop(reason: &str) -> StopReason {
    match reason {
        "MAX_TOKENS" => StopReason::MaxTokens,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION"
        | "LANGUAGE" => StopReason::ContentFilter,
        // STOP (a stop sequence included: Gemini does not say which), and the
        // malformed-call and other endings that leave nothing better to say.
        _ => StopReason::EndTurn,
    }
}

/// `usageMetadata` in the log's disjoint buckets: `promptTokenCount` includes the
/// cached tokens (`cachedContentTokenCount`), and the output is the answer
/// (`candidatesTokenCount`) plus the thinking (`thoughtsTokenCount`), billed alike.
fn token_counts(c: &Counts) -> TokenCounts {
    let prompt = c.prompt_token_count + c.tool_use_prompt_token_count;
    let cached = c.cached_content_token_count.min(prompt);
    let thoughts = c.thoughts_token_count;
    TokenCounts {
        input: prompt - cached,
        cache_read: cached,
        output: c.candidates_token_count + thoughts,
        reasoning: thoughts,
        ..Default::default()
    }
}

/// Something unique to one answer, to derive its tool-call ids from: Gemini's
/// `responseId`, or a fresh value when it sent none.
fn answer_seed(response_id: Option<&str>) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    match response_id {
        Some(id) => id.to_string(),
        None => format!(
            "{}-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ),
    }
}

/// The id of an answer's `index`-th function call: the call's own id when Gemini gave
/// one, else derived from the answer, so that it is the same however often the answer
/// is read and short enough for every client (OpenAI allows 40 characters).
fn call_id(own: Option<&str>, seed: &str, index: u64) -> String {
    match own.filter(|id| !id.is_empty()) {
        Some(id) => id.to_string(),
        None => format!(
            "call_{:016x}",
            xxhash_rust::xxh3::xxh3_64(format!("{seed}/{index}").as_bytes())
        ),
    }
}

/// A Gemini answer as the pivot: read typed from its bytes when it has the documented
/// shape, through a `Value` tree otherwise.
pub fn parse_response_body(body: &[u8], names: &ToolNames) -> Result<Response, ApiError> {
    match Chunk::read(body) {
        Some(answer) => response_from(answer, names),
        None => {
            let value = crate::json_body::parse_json::<Value>(body)
                .map_err(|e| invalid(format!("the provider's answer is not valid JSON: {e}")))?;
            parse_response(&value, names)
        }
    }
}

/// A Gemini answer, already parsed, as the pivot.
pub fn parse_response(body: &Value, names: &ToolNames) -> Result<Response, ApiError> {
    response_from(Chunk::from_value(body), names)
}

fn response_from(answer: Chunk<'_>, names: &ToolNames) -> Result<Response, ApiError> {
    let id = answer
        .response_id
        .as_deref()
        .unwrap_or("gemini")
        .to_string();
    let model = answer
        .model_version
        .as_deref()
        .unwrap_or_default()
        .to_string();
    let usage = answer.usage.as_ref().map(token_counts).unwrap_or_default();
    let Some(candidate) = answer.candidate else {
        if answer.blocked {
            // The prompt itself was blocked: an empty, filtered answer.
            return Ok(Response {
                id,
                model,
                content: vec![],
                stop: StopReason::ContentFilter,
                usage,
            });
        }
        return Err(invalid("the provider's answer has no candidates"));
    };
    let seed = answer_seed(answer.response_id.as_deref());
    let mut content: Vec<Block> = Vec::new();
    let mut calls = 0;
    for part in candidate.parts {
        match part {
            // Consecutive text parts are one block to the client.
            Part::Text(t) => match content.last_mut() {
                Some(Block::Text { text, .. }) => text.push_str(&t),
                _ => content.push(Block::Text {
                    text: t.into_owned(),
                    cache: None,
                }),
            },
            Part::Thought(t) => match content.last_mut() {
                Some(Block::Thinking { text, .. }) => text.push_str(&t),
                _ => content.push(Block::Thinking {
                    text: t.into_owned(),
                    signature: None,
                }),
            },
            Part::Call { id, name, args } => {
                content.push(Block::ToolUse {
                    id: call_id(id.as_deref(), &seed, calls),
                    name: names.inbound(name.as_deref().unwrap_or_default()),
                    input: args,
                    cache: None,
                });
                calls += 1;
            }
            Part::Nothing => {}
        }
    }
    Ok(Response {
        id,
        model,
        content,
        stop: parse_stop(candidate.finish_reason.as_deref().unwrap_or("STOP")),
        usage,
    })
}

/// `streamGenerateContent?alt=sse` chunks: each a whole `GenerateContentResponse` with
/// the next parts, function calls complete in one part. Gemini sends no end marker; a
/// chunk with a `finishReason` is the last one that matters.
pub struct GeminiParser {
    names: ToolNames,
    started: bool,
    seed: String,
    calls: u64,
    finished: bool,
}

impl GeminiParser {
    pub fn new(names: ToolNames) -> GeminiParser {
        GeminiParser {
            names,
            started: false,
            seed: String::new(),
            calls: 0,
            finished: false,
        }
    }

    fn chunk_events(&mut self, chunk: Chunk<'_>, out: &mut Vec<Event>) {
        if let Some(error) = &chunk.error {
            out.push(error_event(Some(error)));
            return;
        }
        if !self.started {
            self.started = true;
            self.seed = answer_seed(chunk.response_id.as_deref());
            out.push(Event::Start {
                id: chunk.response_id.as_deref().unwrap_or("gemini").to_string(),
                model: chunk
                    .model_version
                    .as_deref()
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        if let Some(candidate) = chunk.candidate {
            for part in candidate.parts {
                match part {
                    Part::Text(t) => out.push(Event::Text(t.into_owned())),
                    Part::Thought(t) => out.push(Event::Thinking(t.into_owned())),
                    Part::Call { id, name, args } => {
                        let index = self.calls;
                        self.calls += 1;
                        out.push(Event::ToolStart {
                            index,
                            id: call_id(id.as_deref(), &self.seed, index),
                            name: self.names.inbound(name.as_deref().unwrap_or_default()),
                        });
                        out.push(Event::ToolArgs {
                            index,
                            fragment: args.json().to_string(),
                        });
                    }
                    Part::Nothing => {}
                }
            }
            if let Some(reason) = candidate.finish_reason {
                out.push(Event::Stop(parse_stop(&reason)));
                self.finished = true;
            }
        } else if chunk.blocked {
            out.push(Event::Stop(StopReason::ContentFilter));
            self.finished = true;
        }
        if let Some(usage) = &chunk.usage {
            out.push(Event::Usage(token_counts(usage)));
        }
    }
}

impl Parser for GeminiParser {
    fn parse(&mut self, data: &[u8], out: &mut Vec<Event>) {
        if let Some(chunk) = Chunk::read(data) {
            return self.chunk_events(chunk, out);
        }
        let Ok(chunk) = crate::json_body::parse_json::<Value>(data) else {
            return;
        };
        self.chunk_events(Chunk::from_value(&chunk), out);
    }

    fn finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
mod tests;
