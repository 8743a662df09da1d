//! Turning the model a client asked for into an ordered list of attempts.
//!
//! `<provider>/<model>` is one attempt. An alias resolves to a model or a policy.
//! `policy/<name>` expands its steps: in order (fallback), by sticky weighted choice
//! (load-balance, then the other steps by weight), or by recent latency (latency, with
//! a small share of traffic exploring steps without data). Nested policies expand in
//! place; a nested policy's own steps keep their own retries. Targets that are cooling
//! down are left out unless every target is cooling. Models the key may not use are
//! left out, and a request with nothing left is refused.

pub mod health;
pub mod retry;

use crate::config::governance::approved_by;
use crate::config::{ModelRef, PolicyConfig, PolicyKind};
use crate::errors::{ApiError, ErrorKind};
use crate::pricing::qualified_model;
use crate::snapshot::{ActiveKey, Provider, Snapshot};
use axum::http::StatusCode;
use health::RouteHealth;
use std::collections::HashSet;
use std::sync::Arc;

/// Share of latency-policy traffic (in percent) sent first to a step without data.
pub const EXPLORE_PERCENT: u64 = 7;
/// Deepest nesting followed (saved policies have no cycles; this bounds the work).
const MAX_DEPTH: usize = 8;

/// One provider, model and credential to try, and how often.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub provider: Arc<Provider>,
    pub model: String,
    pub credential: Option<String>,
    pub retries: u8,
}

impl Attempt {
    /// Key for health tracking: `provider/model` plus the credential, if any.
    pub fn target(&self) -> String {
        let mut target = qualified_model(&self.provider.name, &self.model);
        if let Some(credential) = &self.credential {
            target.push('#');
            target.push_str(credential);
        }
        target
    }
}

#[derive(Debug)]
pub struct Plan {
    /// The policy the request went through (the outermost), if any.
    pub policy: Option<String>,
    pub attempts: Vec<Attempt>,
}

/// Everything planning needs to know about the request.
pub struct PlanInput<'a> {
    pub snapshot: &'a Snapshot,
    pub health: &'a RouteHealth,
    pub key: &'a ActiveKey,
    /// What load balancing sticks on: trace id, else user id, else the request id.
    pub sticky_id: &'a str,
}

fn not_found(message: String) -> ApiError {
    ApiError::not_found(message).with_code("model_not_found")
}

fn not_approved(model: &str, key: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorKind::Permission,
        format!(
            "Model '{model}' is not approved for key '{key}'. Approve it by adding it (or a pattern \
             such as provider/*) to approved_models, globally or under [[keys]] name = \"{key}\", \
             then run `switchyard apply`."
        ),
    )
    .with_code("model_not_approved")
}

fn approved(input: &PlanInput<'_>, model: &str) -> bool {
    approved_by(input.snapshot.config.approved_models.as_deref(), model)
        && approved_by(input.key.approved_models.as_deref(), model)
}

pub fn plan(input: &PlanInput<'_>, requested: &str) -> Result<Plan, ApiError> {
    let config = &input.snapshot.config;
    let target = match config.aliases.get(requested) {
        Some(target) => target.as_str(),
        None => requested,
    };
    let Some(reference) = ModelRef::parse(target) else {
        return Err(not_found(format!(
            "Model '{requested}' is not available: name models <provider>/<model> (for example \
             openai/gpt-4.1), policy/<name> or an alias. Configured providers: {}.",
            configured_providers(input.snapshot)
        )));
    };
    if !approved(input, target) {
        return Err(not_approved(target, &input.key.name));
    }
    let mut attempts = Vec::new();
    let policy = match reference {
        ModelRef::Model { provider, model } => {
            let provider = input.snapshot.providers.get(provider).ok_or_else(|| {
                not_found(format!(
                    "Model '{requested}' is not available: no provider named '{provider}' is \
                     configured. Configured providers: {}.",
                    configured_providers(input.snapshot)
                ))
            })?;
            attempts.push(Attempt {
                provider: provider.clone(),
                model: model.to_string(),
                credential: None,
                retries: 0,
            });
            None
        }
        ModelRef::Policy(name) => {
            let policy = config.policy(name).ok_or_else(|| {
                not_found(format!(
                    "Model '{requested}' is not available: no routing policy named '{name}' is configured."
                ))
            })?;
            expand(input, policy, 0, &mut attempts);
            let before = attempts.len();
            attempts.retain(|a| approved(input, &format!("{}/{}", a.provider.name, a.model)));
            if attempts.is_empty() {
                return Err(if before == 0 {
                    not_found(format!("Policy '{name}' has no usable steps."))
                } else {
                    not_approved(&format!("every step of policy/{name}"), &input.key.name)
                });
            }
            Some(name.to_string())
        }
    };
    dedupe(&mut attempts);
    skip_cooling(input.health, &mut attempts);
    Ok(Plan { policy, attempts })
}

fn configured_providers(snapshot: &Snapshot) -> String {
    let mut names: Vec<&str> = snapshot.providers.keys().map(String::as_str).collect();
    names.sort_unstable();
    if names.is_empty() {
        "none yet; add providers with `switchyard apply FILE`".to_string()
    } else {
        names.join(", ")
    }
}

fn expand(input: &PlanInput<'_>, policy: &PolicyConfig, depth: usize, out: &mut Vec<Attempt>) {
    if depth > MAX_DEPTH {
        return;
    }
    for index in step_order(input, policy) {
        let step = &policy.steps[index];
        match ModelRef::parse(&step.model) {
            Some(ModelRef::Model { provider, model }) => {
                if let Some(provider) = input.snapshot.providers.get(provider) {
                    out.push(Attempt {
                        provider: provider.clone(),
                        model: model.to_string(),
                        credential: step.credential.clone(),
                        retries: step.retries,
                    });
                }
            }
            Some(ModelRef::Policy(name)) => {
                if let Some(nested) = input.snapshot.config.policy(name) {
                    expand(input, nested, depth + 1, out);
                }
            }
            None => {}
        }
    }
}

/// The order in which a policy's steps are tried.
fn step_order(input: &PlanInput<'_>, policy: &PolicyConfig) -> Vec<usize> {
    let mut order: Vec<usize> = (0..policy.steps.len()).collect();
    match policy.kind {
        PolicyKind::Fallback => {}
        PolicyKind::LoadBalance => {
            let weights: Vec<f64> = policy.steps.iter().map(|s| s.weight()).collect();
            let chosen = weighted_choice(&weights, sticky_point(input.sticky_id, &policy.name));
            // The chosen step, then the others by weight as fallbacks.
            order.sort_by(|&a, &b| {
                (b == chosen)
                    .cmp(&(a == chosen))
                    .then(weights[b].total_cmp(&weights[a]))
                    .then(a.cmp(&b))
            });
        }
        PolicyKind::Latency => {
            let latency: Vec<Option<f64>> = policy
                .steps
                .iter()
                .map(|s| step_latency(input, &s.model, s.credential.as_deref()))
                .collect();
            // Measured steps fastest first, then steps without data in config order.
            order.sort_by(|&a, &b| match (latency[a], latency[b]) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.cmp(&b),
            });
            let unmeasured: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&i| latency[i].is_none())
                .collect();
            let measured_any = latency.iter().any(Option::is_some);
            if measured_any && !unmeasured.is_empty() {
                let roll = xxhash_rust::xxh3::xxh3_64(input.sticky_id.as_bytes());
                if roll % 100 < EXPLORE_PERCENT {
                    let explore = unmeasured[(roll / 100) as usize % unmeasured.len()];
                    order.retain(|&i| i != explore);
                    order.insert(0, explore);
                }
            }
        }
    }
    order
}

/// Recent latency of a step: a model's own, or a nested policy's best.
fn step_latency(input: &PlanInput<'_>, model: &str, credential: Option<&str>) -> Option<f64> {
    match ModelRef::parse(model)? {
        ModelRef::Model { .. } => {
            let target = match credential {
                Some(c) => format!("{model}#{c}"),
                None => model.to_string(),
            };
            input.health.latency_ms(&target)
        }
        ModelRef::Policy(name) => {
            let policy = input.snapshot.config.policy(name)?;
            policy
                .steps
                .iter()
                .filter_map(|s| match ModelRef::parse(&s.model)? {
                    ModelRef::Model { .. } => {
                        step_latency(input, &s.model, s.credential.as_deref())
                    }
                    ModelRef::Policy(_) => None,
                })
                .min_by(f64::total_cmp)
        }
    }
}

/// A point in [0, 1) fixed by the sticky id (and the policy, so that two policies
/// do not make the same choice for every id).
fn sticky_point(sticky_id: &str, policy: &str) -> f64 {
    let seed = xxhash_rust::xxh3::xxh3_64(policy.as_bytes());
    let hash = xxhash_rust::xxh3::xxh3_64_with_seed(sticky_id.as_bytes(), seed);
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// The index whose share of the total weight covers `point`.
pub fn weighted_choice(weights: &[f64], point: f64) -> usize {
    let total: f64 = weights.iter().sum();
    let mut target = point * total;
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    weights.len().saturating_sub(1)
}

fn dedupe(attempts: &mut Vec<Attempt>) {
    if attempts.len() < 2 {
        return;
    }
    let mut seen = HashSet::new();
    attempts.retain(|a| seen.insert(a.target()));
}

fn skip_cooling(health: &RouteHealth, attempts: &mut Vec<Attempt>) {
    // A lone target stays whether it cools or not.
    if attempts.len() < 2 {
        return;
    }
    let cooling: Vec<bool> = attempts
        .iter()
        .map(|a| health.is_cooling(&a.target()))
        .collect();
    // When none or every target is cooling, all stay: with every one cooling, one of
    // them is still the best bet.
    if !cooling.contains(&true) || !cooling.contains(&false) {
        return;
    }
    let mut flags = cooling.into_iter();
    attempts.retain(|_| !flags.next().unwrap_or(false));
}

#[cfg(test)]
mod tests;
