//! Request metadata for the log: the `switchyard` body object and `X-Switchyard-*`
//! headers (with Requesty's `requesty` object and `X-Requesty-*` headers as aliases),
//! plus Claude Code's session header. None of it is forwarded upstream.

use axum::http::HeaderMap;
use serde::Deserialize;

/// Body fields the gateway owns and strips before forwarding.
pub const BODY_METADATA_FIELDS: [&str; 2] = ["switchyard", "requesty"];

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestMeta {
    pub user_id: Option<String>,
    pub trace_id: Option<String>,
    pub session_id: Option<String>,
    pub branch: Option<String>,
    pub repo: Option<String>,
    pub agent: Option<String>,
    pub tags: Vec<String>,
    /// JSON text of the `extra` object.
    pub extra: Option<String>,
}

/// The `switchyard` (or `requesty`) object in a request body.
#[derive(Debug, Default, Deserialize)]
pub struct BodyMetadata {
    #[serde(default)]
    tags: Vec<String>,
    user_id: Option<String>,
    trace_id: Option<String>,
    session_id: Option<String>,
    extra: Option<serde_json::Map<String, serde_json::Value>>,
}

const MAX_FIELD_LEN: usize = 512;

fn clean(value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let mut end = value.len().min(MAX_FIELD_LEN);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Some(value[..end].to_string())
}

/// A metadata header by its Switchyard name, or its Requesty alias.
fn header<'a>(headers: &'a HeaderMap, names: [&str; 2]) -> Option<&'a str> {
    names.iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty())
    })
}

// Spelled out rather than formatted per request: this runs on every request.
const USER: [&str; 2] = ["x-switchyard-user", "x-requesty-user"];
const TRACE_ID: [&str; 2] = ["x-switchyard-trace-id", "x-requesty-trace-id"];
const SESSION_ID: [&str; 2] = ["x-switchyard-session-id", "x-requesty-session-id"];
const BRANCH: [&str; 2] = ["x-switchyard-branch", "x-requesty-branch"];
const REPO: [&str; 2] = ["x-switchyard-repo", "x-requesty-repo"];
const AGENT: [&str; 2] = ["x-switchyard-agent", "x-requesty-agent"];
const TAGS: [&str; 2] = ["x-switchyard-tags", "x-requesty-tags"];

impl RequestMeta {
    /// Metadata from the request headers.
    pub fn from_headers(headers: &HeaderMap) -> RequestMeta {
        RequestMeta {
            user_id: header(headers, USER).and_then(clean),
            trace_id: header(headers, TRACE_ID).and_then(clean),
            session_id: headers
                .get("x-claude-code-session-id")
                .and_then(|v| v.to_str().ok())
                .or_else(|| header(headers, SESSION_ID))
                .and_then(clean),
            branch: header(headers, BRANCH).and_then(clean),
            repo: header(headers, REPO).and_then(clean),
            agent: header(headers, AGENT).and_then(clean),
            tags: header(headers, TAGS)
                .map(|t| t.split(',').filter_map(clean).collect())
                .unwrap_or_default(),
            extra: None,
        }
    }

    /// Adds what the body object says; body values win over headers, tags are merged.
    pub fn merge_body(&mut self, body: BodyMetadata) {
        if let Some(v) = body.user_id.as_deref().and_then(clean) {
            self.user_id = Some(v);
        }
        if let Some(v) = body.trace_id.as_deref().and_then(clean) {
            self.trace_id = Some(v);
        }
        if let Some(v) = body.session_id.as_deref().and_then(clean) {
            self.session_id = Some(v);
        }
        for tag in body.tags.iter().filter_map(|t| clean(t)) {
            if !self.tags.contains(&tag) {
                self.tags.push(tag);
            }
        }
        if let Some(extra) = body.extra.filter(|m| !m.is_empty()) {
            self.extra = serde_json::to_string(&extra).ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn headers_and_body_combine_with_requesty_aliases() {
        let mut h = HeaderMap::new();
        h.insert("x-switchyard-branch", HeaderValue::from_static("main"));
        h.insert("x-requesty-repo", HeaderValue::from_static("acme/app"));
        h.insert("x-switchyard-tags", HeaderValue::from_static("a, b"));
        h.insert("x-claude-code-session-id", HeaderValue::from_static("s-1"));
        let mut meta = RequestMeta::from_headers(&h);
        let body: BodyMetadata = serde_json::from_str(
            r#"{"tags":["b","c"],"user_id":"u1","trace_id":"t1","extra":{"ticket":"X-1"}}"#,
        )
        .unwrap();
        meta.merge_body(body);
        assert_eq!(meta.branch.as_deref(), Some("main"));
        assert_eq!(meta.repo.as_deref(), Some("acme/app"));
        assert_eq!(meta.session_id.as_deref(), Some("s-1"));
        assert_eq!(meta.tags, vec!["a", "b", "c"]);
        assert_eq!(meta.user_id.as_deref(), Some("u1"));
        assert_eq!(meta.extra.as_deref(), Some(r#"{"ticket":"X-1"}"#));
    }
}
