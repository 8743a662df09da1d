use super::*;
use crate::config::Config;
use crate::snapshot::{Credential, KeyStatus, DEFAULT_PROVIDER_TIMEOUT};
use std::collections::HashMap;

fn snapshot(extra: &str) -> Snapshot {
    snapshot_with("", extra)
}

/// `top` holds top-level keys, which TOML wants before the first table.
fn snapshot_with(top: &str, extra: &str) -> Snapshot {
    let text = format!(
        "{top}[[providers]]\nname = \"a\"\nkind = \"openai\"\n[[providers]]\nname = \"b\"\nkind = \"groq\"\n\
         [[providers]]\nname = \"c\"\nkind = \"anthropic\"\n{extra}"
    );
    let config = Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}"));
    let providers = config
        .providers
        .iter()
        .map(|p| {
            let provider = Provider {
                name: p.name.clone(),
                name_header: http::HeaderValue::from_str(&p.name).unwrap(),
                kind: p.kind,
                base_url: String::new(),
                endpoints: Default::default(),
                default_credential: Credential {
                    secret: None,
                    status: KeyStatus::NotNeeded,
                },
                credentials: HashMap::new(),
                models: vec![],
                timeout: DEFAULT_PROVIDER_TIMEOUT,
            };
            (p.name.clone(), Arc::new(provider))
        })
        .collect();
    Snapshot {
        config,
        providers,
        ..Default::default()
    }
}

fn targets(plan: &Plan) -> Vec<String> {
    plan.attempts.iter().map(Attempt::target).collect()
}

fn run(snapshot: &Snapshot, health: &RouteHealth, model: &str, id: &str) -> Result<Plan, ApiError> {
    let key = ActiveKey {
        name: "k".into(),
        ..Default::default()
    };
    plan(
        &PlanInput {
            snapshot,
            health,
            key: &key,
            sticky_id: id,
        },
        model,
    )
}

const LB: &str = "[[policies]]\nname = \"lb\"\ntype = \"load-balance\"\nsteps = [{ model = \"a/x\", weight = 70 }, { model = \"b/y\", weight = 20 }, { model = \"c/z\", weight = 10 }]\n";

#[test]
fn load_balancing_follows_weights_within_two_percent_over_ten_thousand_ids() {
    let s = snapshot(LB);
    let health = RouteHealth::default();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for i in 0..10_000 {
        let plan = run(&s, &health, "policy/lb", &format!("trace-{i}")).unwrap();
        *counts.entry(targets(&plan)[0].clone()).or_default() += 1;
        assert_eq!(plan.attempts.len(), 3, "the others remain as fallbacks");
    }
    for (target, share) in [("a/x", 0.70), ("b/y", 0.20), ("c/z", 0.10)] {
        let got = counts[target] as f64 / 10_000.0;
        assert!((got - share).abs() <= 0.02, "{target}: {got}");
    }
}

#[test]
fn load_balancing_is_sticky_on_the_id() {
    let s = snapshot(LB);
    let health = RouteHealth::default();
    for i in 0..500 {
        let id = format!("session-{i}");
        let first = targets(&run(&s, &health, "policy/lb", &id).unwrap());
        for _ in 0..3 {
            assert_eq!(targets(&run(&s, &health, "policy/lb", &id).unwrap()), first);
        }
    }
}

#[test]
fn fallback_keeps_order_and_nested_policies_expand_in_place() {
    let s = snapshot(
        "[[policies]]\nname = \"inner\"\ntype = \"fallback\"\nsteps = [{ model = \"b/y\", retries = 2 }, { model = \"c/z\" }]\n\
         [[policies]]\nname = \"outer\"\ntype = \"fallback\"\nsteps = [{ model = \"a/x\", retries = 1 }, { model = \"policy/inner\" }, { model = \"a/x\" }]\n",
    );
    let plan = run(&s, &RouteHealth::default(), "policy/outer", "id").unwrap();
    assert_eq!(targets(&plan), ["a/x", "b/y", "c/z"], "duplicates dropped");
    assert_eq!(
        plan.attempts.iter().map(|a| a.retries).collect::<Vec<_>>(),
        [1, 2, 0]
    );
    assert_eq!(plan.policy.as_deref(), Some("outer"));
}

#[tokio::test(start_paused = true)]
async fn latency_ordering_follows_the_faster_step_and_converges_when_it_slows() {
    let s = snapshot("[[policies]]\nname = \"fast\"\ntype = \"latency\"\nsteps = [{ model = \"a/x\" }, { model = \"b/y\" }]\n");
    let health = RouteHealth::default();
    for _ in 0..50 {
        health.record_success("a/x", 300.0);
        health.record_success("b/y", 100.0);
    }
    assert_eq!(
        targets(&run(&s, &health, "policy/fast", "r1").unwrap()),
        ["b/y", "a/x"]
    );
    // b gets slower; within about a hundred requests the order flips.
    let mut flipped_after = None;
    for i in 0..200 {
        health.record_success("b/y", 900.0);
        health.record_success("a/x", 300.0);
        if targets(&run(&s, &health, "policy/fast", "r1").unwrap())[0] == "a/x" {
            flipped_after = Some(i);
            break;
        }
    }
    let flipped_after = flipped_after.expect("order converged");
    assert!(flipped_after < 100, "{flipped_after}");
}

#[tokio::test(start_paused = true)]
async fn latency_policy_explores_steps_without_data_on_a_small_share() {
    let s = snapshot("[[policies]]\nname = \"fast\"\ntype = \"latency\"\nsteps = [{ model = \"a/x\" }, { model = \"b/y\" }]\n");
    let health = RouteHealth::default();
    health.record_success("a/x", 100.0);
    let explored = (0..10_000)
        .filter(|i| {
            targets(&run(&s, &health, "policy/fast", &format!("req-{i}")).unwrap())[0] == "b/y"
        })
        .count();
    let share = explored as f64 / 10_000.0;
    assert!((0.05..=0.10).contains(&share), "{share}");
}

#[tokio::test(start_paused = true)]
async fn cooling_targets_are_skipped_unless_all_are_cooling() {
    let s = snapshot("[[policies]]\nname = \"f\"\ntype = \"fallback\"\nsteps = [{ model = \"a/x\" }, { model = \"b/y\" }]\n");
    let health = RouteHealth::default();
    for _ in 0..health::COOLDOWN_AFTER_FAILURES {
        health.record_failure("a/x");
    }
    assert_eq!(
        targets(&run(&s, &health, "policy/f", "id").unwrap()),
        ["b/y"]
    );
    for _ in 0..health::COOLDOWN_AFTER_FAILURES {
        health.record_failure("b/y");
    }
    assert_eq!(
        targets(&run(&s, &health, "policy/f", "id").unwrap()),
        ["a/x", "b/y"]
    );
    tokio::time::advance(health::COOLDOWN).await;
    health.record_success("a/x", 1.0);
    assert_eq!(
        targets(&run(&s, &health, "policy/f", "id").unwrap()),
        ["a/x", "b/y"]
    );
}

#[test]
fn aliases_resolve_and_approval_is_enforced_per_key() {
    let s = snapshot_with(
        "approved_models = [\"a/*\", \"b/*\", \"policy/*\"]\n",
        "[aliases]\nclaude-gpt = \"a/gpt-5\"\nfast = \"policy/f\"\n\
         [[policies]]\nname = \"f\"\ntype = \"fallback\"\nsteps = [{ model = \"a/x\" }, { model = \"b/y\" }]\n",
    );
    let health = RouteHealth::default();
    assert_eq!(
        targets(&run(&s, &health, "claude-gpt", "id").unwrap()),
        ["a/gpt-5"]
    );
    assert_eq!(
        targets(&run(&s, &health, "fast", "id").unwrap()),
        ["a/x", "b/y"]
    );
    let err = run(&s, &health, "c/z", "id").unwrap_err();
    assert_eq!(err.status, StatusCode::FORBIDDEN);
    assert!(
        err.message.contains("not approved for key 'k'"),
        "{}",
        err.message
    );

    let key = ActiveKey {
        name: "narrow".into(),
        approved_models: Some(vec!["policy/f".into(), "b/*".into()]),
        ..Default::default()
    };
    let narrowed = plan(
        &PlanInput {
            snapshot: &s,
            health: &health,
            key: &key,
            sticky_id: "id",
        },
        "policy/f",
    )
    .unwrap();
    assert_eq!(
        targets(&narrowed),
        ["b/y"],
        "steps outside the key's list are skipped"
    );
    let err = plan(
        &PlanInput {
            snapshot: &s,
            health: &health,
            key: &key,
            sticky_id: "id",
        },
        "a/x",
    )
    .unwrap_err();
    assert_eq!(err.status, StatusCode::FORBIDDEN);
}

#[test]
fn unknown_names_are_not_found() {
    let s = snapshot("");
    let health = RouteHealth::default();
    for (model, expected) in [
        ("policy/nope", "no routing policy named 'nope'"),
        ("zzz/x", "no provider named 'zzz'"),
        ("gpt-4.1", "<provider>/<model>"),
    ] {
        let err = run(&s, &health, model, "id").unwrap_err();
        assert_eq!(err.status, StatusCode::NOT_FOUND);
        assert!(err.message.contains(expected), "{model}: {}", err.message);
    }
}

#[test]
fn weighted_choice_covers_the_range() {
    assert_eq!(weighted_choice(&[1.0, 1.0], 0.0), 0);
    assert_eq!(weighted_choice(&[1.0, 1.0], 0.49), 0);
    assert_eq!(weighted_choice(&[1.0, 1.0], 0.5), 1);
    assert_eq!(weighted_choice(&[1.0, 1.0], 0.999), 1);
}
