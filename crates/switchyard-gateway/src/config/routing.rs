//! Routing sections of the config: `[[policies]]` (fallback, load-balance, latency)
//! and `[aliases]`, with the checks made when they are saved: every step names a
//! configured model or policy, no policy is empty, and no policy reaches itself.

use super::{is_simple_name, Config, ConfigError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Most retries a step may ask for.
pub const MAX_RETRIES: u8 = 10;
/// The prefix that turns a model name into a policy reference.
pub const POLICY_PREFIX: &str = "policy/";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// Steps in order; the next on failure.
    Fallback,
    /// One step chosen by weight, sticky on the request's trace id.
    LoadBalance,
    /// The fastest step first, by recent latency.
    Latency,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: PolicyKind,
    pub steps: Vec<StepConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// `<provider>/<model>` or `policy/<name>`.
    pub model: String,
    /// Further tries of this step on errors worth retrying (0-10).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u8,
    /// Share of traffic in a load-balance policy (any positive number; normalised).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Which of the provider's `credentials` to use instead of its `api_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl StepConfig {
    /// The step's load-balancing weight (1 when not given).
    pub fn weight(&self) -> f64 {
        self.weight.unwrap_or(1.0)
    }
}

/// What a model name in a request or a step refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelRef<'a> {
    Policy(&'a str),
    Model { provider: &'a str, model: &'a str },
}

impl<'a> ModelRef<'a> {
    /// Splits a `<provider>/<model>` or `policy/<name>` string; `None` if it is neither.
    pub fn parse(text: &'a str) -> Option<ModelRef<'a>> {
        if let Some(name) = text.strip_prefix(POLICY_PREFIX) {
            return (!name.is_empty()).then_some(ModelRef::Policy(name));
        }
        let (provider, model) = text.split_once('/')?;
        (!provider.is_empty() && !model.is_empty()).then_some(ModelRef::Model { provider, model })
    }
}

pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(m));
    let mut names = HashMap::new();
    for (i, policy) in config.policies.iter().enumerate() {
        if !is_simple_name(&policy.name) {
            return invalid(format!(
                "policy name '{}' may only use letters, digits, '-', '_' and '.'",
                policy.name
            ));
        }
        if names.insert(policy.name.as_str(), i).is_some() {
            return invalid(format!("policy '{}' is defined twice", policy.name));
        }
        if policy.steps.is_empty() {
            return invalid(format!("policy '{}' has no steps", policy.name));
        }
    }
    for policy in &config.policies {
        for step in &policy.steps {
            let context = || format!("policy '{}', step '{}'", policy.name, step.model);
            if step.retries > MAX_RETRIES {
                return invalid(format!(
                    "{}: retries must be at most {MAX_RETRIES}",
                    context()
                ));
            }
            match step.weight {
                Some(w) if !(w.is_finite() && w > 0.0) => {
                    return invalid(format!("{}: weight must be a positive number", context()))
                }
                Some(_) if policy.kind != PolicyKind::LoadBalance => {
                    return invalid(format!(
                        "{}: weight only applies to load-balance policies",
                        context()
                    ))
                }
                _ => {}
            }
            check_target(config, &step.model, step.credential.as_deref(), &context)?;
        }
    }
    if let Some(cycle) = find_cycle(config) {
        return invalid(format!(
            "policies form a cycle: {}",
            cycle
                .iter()
                .map(|n| format!("policy/{n}"))
                .collect::<Vec<_>>()
                .join(" -> ")
        ));
    }
    for (alias, target) in &config.aliases {
        if !is_simple_name(alias) {
            return invalid(format!(
                "alias '{alias}' may only use letters, digits, '-', '_' and '.'"
            ));
        }
        if config.provider(alias).is_some() {
            return invalid(format!("alias '{alias}' has the name of a provider"));
        }
        check_target(config, target, None, &|| format!("alias '{alias}'"))?;
    }
    Ok(())
}

/// A step or alias target must name a configured provider (and credential) or policy.
fn check_target(
    config: &Config,
    target: &str,
    credential: Option<&str>,
    context: &dyn Fn() -> String,
) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(format!("{}: {m}", context())));
    match ModelRef::parse(target) {
        None => invalid(format!(
            "'{target}' is not a model (<provider>/<model>) or a policy (policy/<name>)"
        )),
        Some(ModelRef::Policy(name)) => {
            if credential.is_some() {
                return invalid("a credential can only be chosen for a model, not a policy".into());
            }
            match config.policy(name) {
                Some(_) => Ok(()),
                None => invalid(format!("unknown policy '{name}'")),
            }
        }
        Some(ModelRef::Model { provider, .. }) => match config.provider(provider) {
            None => invalid(format!("unknown provider '{provider}'")),
            Some(p) => match credential {
                Some(c) if !p.credentials.contains_key(c) => invalid(format!(
                    "provider '{provider}' has no credential named '{c}'"
                )),
                _ => Ok(()),
            },
        },
    }
}

/// A chain of policy names that leads back to its start, if there is one.
fn find_cycle(config: &Config) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unseen,
        Visiting,
        Done,
    }
    fn visit<'c>(
        config: &'c Config,
        name: &'c str,
        marks: &mut HashMap<&'c str, Mark>,
        path: &mut Vec<&'c str>,
    ) -> Option<Vec<String>> {
        match marks.get(name).copied().unwrap_or(Mark::Unseen) {
            Mark::Done => return None,
            Mark::Visiting => {
                let start = path.iter().position(|n| *n == name).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            Mark::Unseen => {}
        }
        marks.insert(name, Mark::Visiting);
        path.push(name);
        if let Some(policy) = config.policy(name) {
            for step in &policy.steps {
                if let Some(ModelRef::Policy(next)) = ModelRef::parse(&step.model) {
                    if let Some(cycle) = visit(config, next, marks, path) {
                        return Some(cycle);
                    }
                }
            }
        }
        path.pop();
        marks.insert(name, Mark::Done);
        None
    }
    let mut marks = HashMap::new();
    for policy in &config.policies {
        if let Some(cycle) = visit(config, &policy.name, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const PROVIDERS: &str = r#"
[[providers]]
name = "openai"
kind = "openai"
credentials = { work = { env = "OPENAI_WORK_KEY" } }

[[providers]]
name = "anthropic"
kind = "anthropic"
"#;

    fn parse(extra: &str) -> Result<Config, String> {
        Config::from_toml(&format!("{PROVIDERS}\n{extra}")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_documented_policies_parse_and_round_trip() {
        let config = parse(
            r#"
[aliases]
claude-gpt5 = "openai/gpt-5"
fast = "policy/fast"

[[policies]]
name = "sonnet"
type = "fallback"
steps = [ { model = "anthropic/claude-sonnet-4-5", retries = 1 }, { model = "openai/gpt-4.1", retries = 2, credential = "work" } ]

[[policies]]
name = "rollout"
type = "load-balance"
steps = [ { model = "openai/gpt-4.1", weight = 90 }, { model = "policy/sonnet", weight = 10 } ]

[[policies]]
name = "fast"
type = "latency"
steps = [ { model = "openai/gpt-4.1-mini" }, { model = "policy/rollout" } ]
"#,
        )
        .unwrap();
        assert_eq!(config.policies.len(), 3);
        let again = Config::from_toml(&config.to_toml()).unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn bad_policies_are_rejected_with_the_problem_named() {
        let cases = [
            ("[[policies]]\nname = \"p\"\ntype = \"fallback\"\nsteps = []\n", "policy 'p' has no steps"),
            ("[[policies]]\nname = \"p\"\ntype = \"fallback\"\nsteps = [{ model = \"nope/x\" }]\n", "unknown provider 'nope'"),
            ("[[policies]]\nname = \"p\"\ntype = \"fallback\"\nsteps = [{ model = \"policy/q\" }]\n", "unknown policy 'q'"),
            ("[[policies]]\nname = \"p\"\ntype = \"fallback\"\nsteps = [{ model = \"openai/x\", retries = 11 }]\n", "at most 10"),
            ("[[policies]]\nname = \"p\"\ntype = \"load-balance\"\nsteps = [{ model = \"openai/x\", weight = 0 }]\n", "positive"),
            ("[[policies]]\nname = \"p\"\ntype = \"fallback\"\nsteps = [{ model = \"openai/x\", weight = 2 }]\n", "only applies to load-balance"),
            ("[[policies]]\nname = \"p\"\ntype = \"fallback\"\nsteps = [{ model = \"openai/x\", credential = \"home\" }]\n", "no credential named 'home'"),
            ("[[policies]]\nname = \"p\"\ntype = \"fallback\"\nsteps = [{ model = \"gpt-4.1\" }]\n", "is not a model"),
            ("[aliases]\nfast = \"policy/none\"\n", "alias 'fast': unknown policy 'none'"),
            ("[aliases]\nopenai = \"openai/gpt-4.1\"\n", "has the name of a provider"),
            (
                "[[policies]]\nname = \"a\"\ntype = \"fallback\"\nsteps = [{ model = \"policy/b\" }]\n\
                 [[policies]]\nname = \"b\"\ntype = \"latency\"\nsteps = [{ model = \"openai/x\" }, { model = \"policy/a\" }]\n",
                "cycle: policy/a -> policy/b -> policy/a",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}\n=> {err}");
        }
    }
}
