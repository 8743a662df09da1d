//! Filter patterns: literal text where `*` matches any run of characters
//! (`anthropic/*`, `*-mini`, `*`). Nothing else is special, so a model name with `?`
//! or `[` in it matches itself.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Pattern(String);

impl Pattern {
    pub fn new(text: &str) -> Pattern {
        Pattern(text.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `value` matches the whole pattern (case-sensitive, like model names).
    pub fn matches(&self, value: &str) -> bool {
        let mut parts = self.0.split('*');
        let first = parts.next().unwrap_or("");
        let Some(mut rest) = value.strip_prefix(first) else {
            return false;
        };
        let parts: Vec<&str> = parts.collect();
        let Some((last, middle)) = parts.split_last() else {
            return rest.is_empty(); // no `*` at all: an exact match
        };
        for part in middle {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
    }

    /// The same pattern for SQLite's `GLOB`, whose `?` and `[` must be made literal.
    pub(crate) fn to_glob(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        for c in self.0.chars() {
            match c {
                '?' => out.push_str("[?]"),
                '[' => out.push_str("[[]"),
                other => out.push(other),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_runs_of_characters() {
        let p = Pattern::new;
        assert!(p("anthropic/*").matches("anthropic/claude-sonnet-4-5"));
        assert!(!p("anthropic/*").matches("openai/gpt-4.1"));
        assert!(p("*-mini").matches("openai/gpt-4.1-mini"));
        assert!(p("*").matches(""));
        assert!(p("a*b*c").matches("abc"));
        assert!(p("a*b*c").matches("a-b-b-c"));
        assert!(!p("a*b*c").matches("a-c"));
        assert!(
            !p("ab*ba").matches("aba"),
            "prefix and suffix must not overlap"
        );
        assert!(p("exact").matches("exact"));
        assert!(!p("exact").matches("exact2"));
        assert!(p("what?[x]").matches("what?[x]"));
        assert!(!p("what?").matches("whatx"));
    }

    #[test]
    fn globs_keep_only_the_star_special() {
        assert_eq!(Pattern::new("a?[b]*").to_glob(), "a[?][[]b]*");
    }
}
