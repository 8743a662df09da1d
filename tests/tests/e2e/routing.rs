//! Routing policies against a mock provider with scripted failures, on tokio's paused
//! clock: backoff waits pass instantly but are measured exactly.

use serde_json::{json, Value};
use std::time::Duration;
use switchyard_tests::{MockUpstream, TestGateway};
use tokio::time::Instant;

/// A fallback chain: the scripted `seq` model on `oai` first (with `retries`), then
/// `oai/gpt-4.1` as a healthy fallback.
fn chain(first_model: &str, retries: u8) -> String {
    format!(
        "[[policies]]\nname = \"chain\"\ntype = \"fallback\"\n\
         steps = [{{ model = \"oai/{first_model}\", retries = {retries} }}, {{ model = \"oai/gpt-4.1\" }}]\n"
    )
}

async fn ask(gw: &TestGateway, model: &str, stream: bool) -> reqwest::Response {
    gw.post(
        "/v1/chat/completions",
        &json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .send()
    .await
    .unwrap()
}

async fn attempts_of(gw: &TestGateway) -> Vec<serde_json::Map<String, Value>> {
    let records = gw.records().await;
    let id = records[0]["request_id"].as_str().unwrap().to_string();
    gw.store.request_attempts(&id).unwrap()
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially_then_succeed() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start_paused(&mock, "", &chain("seq:500,500,ok", 3)).await;
    let began = Instant::now();
    let response = ask(&gw, "policy/chain", false).await;
    let waited = began.elapsed();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-attempts"], "3");
    assert_eq!(response.headers()["x-switchyard-model"], "seq:500,500,ok");
    // 500 ms then 1 s, each +-10%, unless Retry-After (7 s on these 500s) says otherwise:
    // the mock asks for 7 s, honoured as asked.
    assert!(
        waited >= Duration::from_secs(14) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    let attempts = attempts_of(&gw).await;
    let statuses: Vec<i64> = attempts
        .iter()
        .map(|a| a["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 500, 200]);
    assert_eq!(attempts[0]["error_kind"], "upstream");
    let record = &gw.records().await[0];
    assert_eq!(record["policy"], "chain");
    assert_eq!(record["attempts"], 3);
    assert_eq!(record["status"], 200);
}

#[tokio::test(start_paused = true)]
async fn retry_after_on_429_is_honoured() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start_paused(&mock, "", &chain("seq:429,ok", 1)).await;
    let began = Instant::now();
    let response = ask(&gw, "policy/chain", false).await;
    assert_eq!(response.status(), 200);
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_millis(2100),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn errors_retrying_cannot_fix_move_to_the_next_step_at_once() {
    let mock = MockUpstream::start().await.unwrap();
    for code in ["400", "401", "403", "404", "413"] {
        let model = format!("seq:{code}");
        let gw = TestGateway::start_paused(&mock, "", &chain(&model, 5)).await;
        let began = Instant::now();
        let response = ask(&gw, "policy/chain", false).await;
        assert_eq!(response.status(), 200, "{code} falls back");
        assert_eq!(response.headers()["x-switchyard-model"], "gpt-4.1");
        assert_eq!(
            response.headers()["x-switchyard-attempts"],
            "2",
            "{code} is not retried"
        );
        assert!(
            began.elapsed() < Duration::from_millis(100),
            "{code}: no backoff"
        );
        assert_eq!(mock.count(&model), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn timeouts_and_connection_resets_are_retried() {
    let mock = MockUpstream::start().await.unwrap();
    let reset = MockUpstream::start_resetting().await.unwrap();
    let extra = format!(
        "[[providers]]\nname = \"slowpoke\"\nkind = \"openai-compatible\"\nbase_url = \"{}\"\ntimeout_secs = 5\n\
         [[providers]]\nname = \"resetter\"\nkind = \"openai-compatible\"\nbase_url = \"http://{reset}/v1\"\n\
         [[policies]]\nname = \"t\"\ntype = \"fallback\"\nsteps = [{{ model = \"slowpoke/seq:hang,ok\", retries = 1 }}]\n\
         [[policies]]\nname = \"body\"\ntype = \"fallback\"\nsteps = [{{ model = \"slowpoke/seq:stall-body,ok\", retries = 1 }}]\n\
         [[policies]]\nname = \"r\"\ntype = \"fallback\"\nsteps = [{{ model = \"resetter/m\", retries = 2 }}, {{ model = \"oai/gpt-4.1\" }}]\n",
        mock.openai_base()
    );
    let gw = TestGateway::start_paused(&mock, "", &extra).await;

    // No answer at all, or a head whose body never comes: the deadline covers both.
    for (policy, model) in [
        ("policy/t", "seq:hang,ok"),
        ("policy/body", "seq:stall-body,ok"),
    ] {
        let began = Instant::now();
        let response = ask(&gw, policy, false).await;
        assert_eq!(response.status(), 200, "{policy}");
        assert_eq!(response.headers()["x-switchyard-attempts"], "2", "{policy}");
        let waited = began.elapsed();
        // A 5 s timeout, then a 500 ms (+-10%) backoff.
        assert!(
            waited >= Duration::from_millis(5450) && waited <= Duration::from_millis(5550),
            "{policy}: {waited:?}"
        );
        let attempts = attempts_of(&gw).await;
        assert_eq!(attempts[0]["model"], model, "this request's record");
        assert_eq!(attempts[0]["status"], 504, "{policy}");
        assert_eq!(attempts[0]["error_kind"], "timeout", "{policy}");
    }

    let response = ask(&gw, "policy/r", false).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-switchyard-attempts"],
        "4",
        "3 tries at the resetting provider, then the fallback"
    );
    let attempts = attempts_of(&gw).await;
    assert!(attempts[0]["error_message"]
        .as_str()
        .unwrap()
        .contains("Could not reach provider 'resetter'"));
}

#[tokio::test(start_paused = true)]
async fn an_error_whose_body_stalls_keeps_its_status_and_is_not_retried() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = format!(
        "[[providers]]\nname = \"staller\"\nkind = \"openai-compatible\"\nbase_url = \"{}\"\ntimeout_secs = 5\n\
         [[policies]]\nname = \"refused\"\ntype = \"fallback\"\nsteps = [{{ model = \"staller/seq:stall-400,ok\", retries = 1 }}]\n",
        mock.openai_base()
    );
    let gw = TestGateway::start_paused(&mock, "", &extra).await;

    // A 400 whose body stalls is still the provider's 400: cut at the deadline, not
    // turned into a timeout that would be retried.
    let began = Instant::now();
    let response = ask(&gw, "policy/refused", false).await;
    let waited = began.elapsed();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["x-switchyard-attempts"], "1");
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_millis(5100),
        "{waited:?}"
    );
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("400"), "{message}");
    assert_eq!(mock.count("seq:stall-400,ok"), 1);
}

#[tokio::test(start_paused = true)]
async fn when_every_step_fails_the_client_gets_the_last_error_and_the_log_shows_all() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = "[[policies]]\nname = \"doomed\"\ntype = \"fallback\"\n\
                 steps = [{ model = \"oai/seq:503\", retries = 1 }, { model = \"oai/seq:429\" }]\n";
    let gw = TestGateway::start_paused(&mock, "", extra).await;
    let response = ask(&gw, "policy/doomed", false).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["x-switchyard-attempts"], "3");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "mock failure 429");
    let record = &gw.records().await[0];
    assert_eq!(record["status"], 429);
    assert_eq!(record["attempts"], 3);
    let attempts = attempts_of(&gw).await;
    let got: Vec<(String, i64)> = attempts
        .iter()
        .map(|a| {
            (
                a["model"].as_str().unwrap().to_string(),
                a["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("seq:503".into(), 503),
            ("seq:503".into(), 503),
            ("seq:429".into(), 429)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn nothing_is_retried_after_the_first_byte() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start_paused(&mock, "", &chain("seq:midstream,ok", 3)).await;
    let response = ask(&gw, "policy/chain", true).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("Hel"), "{text}");
    assert!(
        text.contains("stream failed"),
        "the client sees the failure: {text}"
    );
    assert_eq!(
        mock.count("seq:midstream,ok"),
        1,
        "no retry once bytes were sent"
    );
    let record = gw.last_record(1).await;
    assert_eq!(record["error_kind"], "upstream_stream_error");
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_fails_before_its_first_byte_falls_back() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start_paused(&mock, "", &chain("seq:500", 0)).await;
    let response = ask(&gw, "policy/chain", true).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-model"], "gpt-4.1");
    let text = response.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test(start_paused = true)]
async fn a_failing_target_cools_down_and_is_skipped() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start_paused(&mock, "", &chain("seq:500", 0)).await;
    for _ in 0..3 {
        assert_eq!(ask(&gw, "policy/chain", false).await.status(), 200);
    }
    assert_eq!(mock.count("seq:500"), 3);
    let response = ask(&gw, "policy/chain", false).await;
    assert_eq!(
        response.headers()["x-switchyard-attempts"],
        "1",
        "the cooling step is skipped"
    );
    assert_eq!(mock.count("seq:500"), 3);
    tokio::time::advance(Duration::from_secs(31)).await;
    ask(&gw, "policy/chain", false).await;
    assert_eq!(mock.count("seq:500"), 4, "tried again after the cooldown");
}

#[tokio::test]
async fn load_balancing_sticks_to_the_trace_id_over_http() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = "[[policies]]\nname = \"lb\"\ntype = \"load-balance\"\n\
                 steps = [{ model = \"oai/gpt-4.1\", weight = 1 }, { model = \"local/llama3.2\", weight = 1 }]\n";
    let gw = TestGateway::start_with(&mock, "", extra).await;
    let mut served = std::collections::HashSet::new();
    for i in 0..40 {
        let trace = format!("trace-{}", i % 4);
        let mut first = None;
        for _ in 0..2 {
            let response = gw
                .post(
                    "/v1/chat/completions",
                    &json!({"model": "policy/lb", "messages": [], "switchyard": {"trace_id": trace}}),
                )
                .send()
                .await
                .unwrap();
            let provider = response.headers()["x-switchyard-provider"]
                .to_str()
                .unwrap()
                .to_string();
            served.insert(provider.clone());
            match &first {
                None => first = Some(provider),
                Some(p) => assert_eq!(p, &provider, "same trace, same step"),
            }
        }
    }
    assert_eq!(served.len(), 2, "both steps get traffic");
}

#[tokio::test]
async fn aliases_and_policies_are_listed_and_unapproved_models_refused() {
    let mock = MockUpstream::start().await.unwrap();
    let top = "approved_models = [\"oai/*\", \"policy/*\", \"local/*\"]\n";
    let extra = "[aliases]\nclaude-gpt = \"oai/gpt-4.1\"\n\
                 [[policies]]\nname = \"p\"\ntype = \"fallback\"\nsteps = [{ model = \"oai/gpt-4.1\" }]\n\
                 [[keys]]\nname = \"test\"\napproved_models = [\"policy/p\", \"oai/gpt-4.1\"]\n";
    let gw = TestGateway::start_with(&mock, top, extra).await;
    let list: Value = gw
        .http
        .get(gw.url("/v1/models"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["claude-gpt", "policy/p", "oai/gpt-4.1"],
        "only what this key may use"
    );

    let response = ask(&gw, "claude-gpt", false).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-model"], "gpt-4.1");

    let response = ask(&gw, "local/llama3.2", false).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'local/llama3.2' is not approved for key 'test'")
            && message.contains("approved_models"),
        "{message}"
    );
    let response = gw
        .post_with_api_key("/v1/messages")
        .json(&json!({"model": "ant/claude-sonnet-4-5", "max_tokens": 5, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "permission_error");
}

#[tokio::test]
async fn an_expired_key_is_refused_with_its_date() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start_with(
        &mock,
        "",
        "[[keys]]\nname = \"test\"\nexpires = \"2020-01-31\"\n",
    )
    .await;
    let models = gw.http.get(gw.url("/v1/models")).bearer_auth(&gw.key);
    // Refused a model, and the list of models too.
    for response in [
        ask(&gw, "oai/gpt-4.1", false).await,
        models.send().await.unwrap(),
    ] {
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("expired on 2020-01-31"), "{message}");
    }
}
