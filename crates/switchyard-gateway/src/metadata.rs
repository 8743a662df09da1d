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

/// Metadata header fields, named after the `x-switchyard-` or `x-requesty-` prefix.
#[derive(Clone, Copy)]
enum Field {
    User,
    TraceId,
    SessionId,
    Branch,
    Repo,
    Agent,
    Tags,
}

impl Field {
    fn named(suffix: &str) -> Option<Field> {
        Some(match suffix {
            "user" => Field::User,
            "trace-id" => Field::TraceId,
            "session-id" => Field::SessionId,
            "branch" => Field::Branch,
            "repo" => Field::Repo,
            "agent" => Field::Agent,
            "tags" => Field::Tags,
            _ => return None,
        })
    }
}

/// Rank of a header among those that can set a field: lower wins.
const CLAUDE_CODE_SESSION: u8 = 0;
const SWITCHYARD: u8 = 1;
const REQUESTY: u8 = 2;

impl RequestMeta {
    /// Metadata from the request headers. One pass over the headers: most requests
    /// carry none of these, and looking each name up costs more than looking at each
    /// header once. `x-switchyard-*` wins over `x-requesty-*`, Claude Code's own
    /// session header over both, the first of repeated headers over the rest.
    pub fn from_headers(headers: &HeaderMap) -> RequestMeta {
        let mut found: [Option<(u8, &str)>; 7] = [None; 7];
        for (name, value) in headers {
            let name = name.as_str();
            let (rank, field) = if let Some(suffix) = name.strip_prefix("x-switchyard-") {
                (SWITCHYARD, Field::named(suffix))
            } else if let Some(suffix) = name.strip_prefix("x-requesty-") {
                (REQUESTY, Field::named(suffix))
            } else if name == "x-claude-code-session-id" {
                (CLAUDE_CODE_SESSION, Some(Field::SessionId))
            } else {
                continue;
            };
            let (Some(field), Ok(value)) = (field, value.to_str()) else {
                continue;
            };
            if value.trim().is_empty() {
                continue;
            }
            let slot = &mut found[field as usize];
            match slot {
                Some((held, _)) if *held <= rank => {}
                _ => *slot = Some((rank, value)),
            }
        }
        let take = |field: Field| found[field as usize].map(|(_, v)| v);
        RequestMeta {
            user_id: take(Field::User).and_then(clean),
            trace_id: take(Field::TraceId).and_then(clean),
            session_id: take(Field::SessionId).and_then(clean),
            branch: take(Field::Branch).and_then(clean),
            repo: take(Field::Repo).and_then(clean),
            agent: take(Field::Agent).and_then(clean),
            tags: take(Field::Tags)
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

    #[test]
    fn switchyard_headers_win_over_requesty_ones_in_any_order() {
        let mut h = HeaderMap::new();
        h.insert("x-requesty-user", HeaderValue::from_static("from-requesty"));
        h.insert(
            "x-switchyard-user",
            HeaderValue::from_static("from-switchyard"),
        );
        h.insert("x-switchyard-trace-id", HeaderValue::from_static("t-sy"));
        h.insert("x-requesty-trace-id", HeaderValue::from_static("t-rq"));
        h.insert("x-requesty-session-id", HeaderValue::from_static("s-rq"));
        h.insert("x-switchyard-session-id", HeaderValue::from_static("s-sy"));
        h.insert("x-claude-code-session-id", HeaderValue::from_static("s-cc"));
        h.insert("x-switchyard-agent", HeaderValue::from_static("  "));
        h.insert("x-requesty-agent", HeaderValue::from_static("cline"));
        h.insert("x-switchyard-unknown", HeaderValue::from_static("ignored"));
        let meta = RequestMeta::from_headers(&h);
        assert_eq!(meta.user_id.as_deref(), Some("from-switchyard"));
        assert_eq!(meta.trace_id.as_deref(), Some("t-sy"));
        assert_eq!(meta.session_id.as_deref(), Some("s-cc"));
        // A blank header does not hide the other spelling.
        assert_eq!(meta.agent.as_deref(), Some("cline"));
        assert_eq!(meta.branch, None);
        assert!(meta.tags.is_empty());
    }
}
