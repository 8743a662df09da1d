//! End-to-end tests of the model endpoints against a mock provider: what reaches the
//! provider, what the client gets back, and what is recorded.

use serde_json::{json, Value};
use switchyard_gateway::pricing::{cost_usd, PriceCatalog};
use switchyard_store::TokenCounts;
use switchyard_tests::gateway::UPSTREAM_SECRET;
use switchyard_tests::{MockUpstream, TestGateway};

fn catalog_cost(catalog: &str, model: &str, tokens: TokenCounts) -> f64 {
    let price = PriceCatalog::builtin()
        .lookup(catalog, model)
        .expect("model in catalog");
    cost_usd(price, &tokens).expect("priced")
}

#[tokio::test]
async fn openai_request_passes_through_with_only_the_model_and_metadata_changed() {
    let (mock, gw) = TestGateway::with_mock().await;
    // An unknown field, written with spacing and number formats that a re-serialization
    // would change, must reach the provider exactly as sent.
    let raw = r#"{"model":"oai/gpt-4.1","messages":[{"role":"user","content":"hi"}],"x_future":{"n":1.50,"s":"\u00e9"},"switchyard":{"tags":["t1"],"user_id":"u1","trace_id":"tr1","extra":{"ticket":"X-1"}}}"#;
    let response = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&gw.key)
        .header("content-type", "application/json")
        .header("x-switchyard-branch", "feature/x")
        .header("x-requesty-repo", "acme/app")
        .header("x-switchyard-agent", "claude-code")
        .header("x-switchyard-tags", "t2")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-provider"], "oai");
    assert_eq!(response.headers()["x-switchyard-model"], "gpt-4.1");
    let overhead: f64 = response.headers()["x-switchyard-overhead-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..1000.0).contains(&overhead), "{overhead}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from mock");
    assert_eq!(
        body["x_mock_extra"]["kept"], true,
        "unknown response fields survive"
    );

    let sent = mock.last().unwrap();
    assert_eq!(sent.path_and_query, "/v1/chat/completions");
    let text = String::from_utf8(sent.body.to_vec()).unwrap();
    assert!(
        text.contains(r#""x_future":{"n":1.50,"s":"\u00e9"}"#),
        "{text}"
    );
    assert!(text.starts_with(r#"{"model":"gpt-4.1","#), "{text}");
    assert!(
        !text.contains("switchyard"),
        "metadata object removed: {text}"
    );
    assert_eq!(
        sent.headers["authorization"],
        format!("Bearer {UPSTREAM_SECRET}").as_str()
    );
    // Built once per provider by the gateway: the host with its port.
    assert_eq!(sent.headers["host"], mock.addr.to_string().as_str());
    for (name, value) in &sent.headers {
        assert!(
            !name.as_str().starts_with("x-switchyard"),
            "{name} forwarded"
        );
        assert!(!name.as_str().starts_with("x-requesty"), "{name} forwarded");
        assert!(
            !value.to_str().unwrap_or("").contains(&gw.key),
            "gateway key forwarded in {name}"
        );
    }

    let r = gw.last_record(1).await;
    assert_eq!(r["client_api"], "openai-chat");
    assert_eq!(r["requested_model"], "oai/gpt-4.1");
    assert_eq!(r["provider"], "oai");
    assert_eq!(r["upstream_model"], "gpt-4.1");
    assert_eq!(r["status"], 200);
    assert_eq!(r["stream"], 0);
    assert_eq!(r["key_name"], "test");
    // prompt_tokens 12 includes 2 cached: 10 uncached + 2 cache reads.
    assert_eq!(r["input_tokens"], 10);
    assert_eq!(r["cache_read_tokens"], 2);
    assert_eq!(r["output_tokens"], 5);
    assert_eq!(r["reasoning_tokens"], 1);
    let expected = catalog_cost(
        "openai",
        "gpt-4.1",
        TokenCounts {
            input: 10,
            cache_read: 2,
            output: 5,
            reasoning: 1,
            ..Default::default()
        },
    );
    assert!((r["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12);
    assert!(expected > 0.0);
    assert_eq!(r["branch"], "feature/x");
    assert_eq!(r["repo"], "acme/app");
    assert_eq!(r["agent"], "claude-code");
    assert_eq!(r["user_id"], "u1");
    assert_eq!(r["trace_id"], "tr1");
    assert_eq!(r["tags"], json!(["t2", "t1"]));
    assert_eq!(r["extra"], json!({"ticket": "X-1"}));
    assert!(r["latency_ms"].as_f64().unwrap() > 0.0);
    assert!(r["upstream_ms"].as_f64().unwrap() > 0.0);
    assert!(r["overhead_ms"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn price_overrides_apply_and_unknown_models_have_unknown_cost() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let ask = |model: &str| {
        gw.post(
            "/v1/chat/completions",
            &json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
    };
    assert_eq!(ask("oai/custom-model").await.unwrap().status(), 200);
    let r = gw.last_record(1).await;
    // 10 uncached input (the override has no cache price, so cache reads cost input
    // price) + 2 cache reads at 1e-6, 5 output at 2e-6.
    let expected = 12.0 * 1e-6 + 5.0 * 2e-6;
    assert!(
        (r["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-15,
        "{r:?}"
    );

    assert_eq!(ask("local/llama3.2").await.unwrap().status(), 200);
    let r = gw.last_record(2).await;
    assert_eq!(
        r["cost_usd"],
        Value::Null,
        "no price known: unknown, not zero"
    );
    assert_eq!(r["input_tokens"], 10);
}

#[tokio::test]
async fn openai_stream_gets_usage_upstream_and_drops_the_extra_chunk() {
    let (mock, gw) = TestGateway::with_mock().await;
    let response = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "oai/gpt-4.1", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let text = response.text().await.unwrap();
    assert!(text.contains("Hello") && text.contains(" from mock"));
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(
        !text.contains("\"usage\""),
        "usage chunk not asked for: {text}"
    );
    let sent = mock.last().unwrap().json();
    assert_eq!(sent["stream_options"]["include_usage"], true);

    let r = gw.last_record(1).await;
    assert_eq!(r["stream"], 1);
    assert_eq!(
        (r["input_tokens"].clone(), r["output_tokens"].clone()),
        (json!(10), json!(5))
    );
    assert!(r["ttft_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(r["error_kind"], Value::Null);
}

#[tokio::test]
async fn openai_stream_keeps_the_usage_chunk_when_the_client_asks() {
    let (mock, gw) = TestGateway::with_mock().await;
    let text = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "oai/gpt-4.1", "stream": true, "stream_options": {"include_usage": true, "x": 1},
                "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("\"usage\""), "{text}");
    let sent = mock.last().unwrap().json();
    assert_eq!(
        sent["stream_options"],
        json!({"include_usage": true, "x": 1})
    );
    assert_eq!(gw.last_record(1).await["output_tokens"], 5);
}

#[tokio::test]
async fn anthropic_request_passes_through_with_headers_query_and_cache_buckets() {
    let (mock, gw) = TestGateway::with_mock().await;
    let response = gw.post_with_api_key("/v1/messages?beta=true")
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "prompt-caching-2024-07-31")
        .header("x-claude-code-session-id", "session-42")
        .json(&json!({"model": "ant/claude-sonnet-4-5", "max_tokens": 100,
            "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "Hello from mock");
    assert_eq!(body["x_mock_extra"]["kept"], true);

    let sent = mock.last().unwrap();
    assert_eq!(sent.path_and_query, "/v1/messages?beta=true");
    assert_eq!(sent.headers["x-api-key"], UPSTREAM_SECRET);
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
    assert_eq!(sent.headers["anthropic-beta"], "prompt-caching-2024-07-31");
    assert_eq!(sent.headers["host"], mock.addr.to_string().as_str());
    assert!(sent.headers.get("authorization").is_none());
    let sent_json = sent.json();
    assert_eq!(sent_json["model"], "claude-sonnet-4-5");
    assert_eq!(sent_json["system"][0]["cache_control"]["ttl"], "1h");

    let r = gw.last_record(1).await;
    assert_eq!(r["client_api"], "anthropic-messages");
    assert_eq!(r["session_id"], "session-42");
    assert_eq!(r["input_tokens"], 20);
    assert_eq!(r["cache_read_tokens"], 100);
    assert_eq!(r["cache_write_5m_tokens"], 50);
    assert_eq!(r["output_tokens"], 7);
    let expected = catalog_cost(
        "anthropic",
        "claude-sonnet-4-5",
        TokenCounts {
            input: 20,
            cache_read: 100,
            cache_write_5m: 50,
            output: 7,
            ..Default::default()
        },
    );
    assert!((r["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12);
    let price = PriceCatalog::builtin()
        .lookup("anthropic", "claude-sonnet-4-5")
        .unwrap();
    let saved =
        100.0 * (price.input_cost_per_token.unwrap() - price.cache_read_input_token_cost.unwrap());
    assert!(
        (r["cache_savings_usd"].as_f64().unwrap() - saved).abs() < 1e-12,
        "{r:?}"
    );
}

#[tokio::test]
async fn anthropic_stream_is_forwarded_event_for_event_and_usage_is_merged() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let response = gw
        .post_with_api_key("/v1/messages")
        .json(
            &json!({"model": "ant/claude-sonnet-4-5", "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        events,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let r = gw.last_record(1).await;
    assert_eq!(r["input_tokens"], 20);
    assert_eq!(r["cache_read_tokens"], 100);
    assert_eq!(r["output_tokens"], 7, "final count from message_delta");
    assert!(r["ttft_ms"].as_f64().is_some());
}

#[tokio::test]
async fn tool_calls_pass_through_both_formats_streaming_and_not() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let body: Value = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "oai/tool", "messages": [{"role": "user", "content": "weather?"}],
                "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");

    let text = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "oai/tool", "stream": true, "messages": [{"role": "user", "content": "weather?"}]}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let arguments: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(arguments, "{\"city\":\"Paris\"}");

    let text = gw
        .post_with_api_key("/v1/messages")
        .json(
            &json!({"model": "ant/tool", "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "weather?"}]}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("\"tool_use\"") && text.contains("input_json_delta"));
    assert!(text.contains("\"stop_reason\":\"tool_use\""));

    // The log names every tool call, streamed or not.
    let records = gw.records().await;
    for r in &records[..3] {
        assert_eq!(r["tool_calls"], json!(["get_weather"]), "{r:?}");
    }
}

#[tokio::test]
async fn upstream_errors_keep_their_status_and_come_back_in_the_callers_dialect() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let response = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "oai/fail-429", "messages": []}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "mock failure 429");

    // A provider of the other format behind a route: still the route's dialect.
    let response = gw
        .post_with_api_key("/v1/messages")
        .json(&json!({"model": "ant/fail-500", "max_tokens": 5, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["message"], "mock failure 500");

    let r = gw.last_record(2).await;
    assert_eq!(r["status"], 500);
    assert_eq!(r["error_kind"], "upstream");
    assert!(r["error_message"]
        .as_str()
        .unwrap()
        .contains("mock failure 500"));
}

#[tokio::test]
async fn unreachable_provider_is_a_502_naming_it() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let dead = "[[providers]]\nname = \"dead\"\nkind = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:9/v1\"\n";
    switchyard_gateway::manage::apply_config(&gw.store, dead).unwrap();
    gw.gateway.state().reload().await.unwrap();
    let response = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "dead/x", "messages": []}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Could not reach provider 'dead'"));
}

#[tokio::test]
async fn a_stream_cut_midway_ends_with_an_error_event_and_is_recorded() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let text = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "oai/cut", "stream": true, "messages": []}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(" from mock"));
    assert!(!text.contains("[DONE]"));
    let last = text.trim_end().lines().last().unwrap();
    let error: Value = serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap();
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("stream failed"));
    let r = gw.last_record(1).await;
    assert_eq!(r["error_kind"], "upstream_stream_error");

    let text = gw
        .post_with_api_key("/v1/messages")
        .json(&json!({"model": "ant/cut", "max_tokens": 5, "stream": true, "messages": []}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("event: error\ndata: {\"type\":\"error\""),
        "{text}"
    );
    let r = gw.last_record(2).await;
    assert_eq!(r["error_kind"], "upstream_stream_error");
    assert_eq!(r["input_tokens"], 20, "usage seen before the cut is kept");
}

/// Whether the mock saw its client (the gateway) go away, waiting up to 5 s.
async fn upstream_cancelled(mock: &MockUpstream) -> bool {
    for _ in 0..100 {
        if mock.cancelled() == 1 {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_client_that_gives_up_before_the_answer_cancels_the_upstream_and_is_recorded() {
    let (mock, gw) = TestGateway::with_mock().await;
    let request = gw
        .post_with_api_key("/v1/messages")
        .json(&json!({"model": "ant/seq:hang", "max_tokens": 5, "messages": []}))
        .send();
    let client = tokio::spawn(request);
    // Give up only once the request is with the provider (the mock never answers).
    for _ in 0..100 {
        if mock.count("seq:hang") == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        mock.count("seq:hang"),
        1,
        "the request reached the provider"
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    client.abort();

    let cancelled = upstream_cancelled(&mock).await;
    assert!(cancelled, "the upstream request was left running");
    let r = gw.last_record(1).await;
    assert_eq!(r["error_kind"], "client_disconnected");
    assert_eq!(r["status"], 499);
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_upstream_and_is_recorded() {
    use futures_util::StreamExt;
    let (mock, gw) = TestGateway::with_mock().await;
    let response = gw
        .post_with_api_key("/v1/messages")
        .json(&json!({"model": "ant/slow", "max_tokens": 5, "stream": true, "messages": []}))
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("message_start"));
    drop(body);

    let cancelled = upstream_cancelled(&mock).await;
    assert!(cancelled, "the upstream stream was not cancelled");
    let r = gw.last_record(1).await;
    assert_eq!(r["error_kind"], "client_disconnected");
    assert_eq!(r["status"], 200);
    assert_eq!(r["input_tokens"], 20, "what was used is still recorded");
    assert_eq!(r["cache_read_tokens"], 100);
}
