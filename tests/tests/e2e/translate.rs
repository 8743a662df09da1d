//! Requests translated between formats, end to end: an Anthropic client on an
//! OpenAI-format provider and the reverse, streaming and not, with tools and errors.

use serde_json::{json, Value};
use switchyard_tests::{MockUpstream, TestGateway};

fn anthropic(gw: &TestGateway, body: Value) -> reqwest::RequestBuilder {
    gw.post_with_api_key("/v1/messages?beta=true")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
}

fn claude_code_like(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 2048, "stream": stream,
        "system": [{"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "Read /a"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "/a"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "file body"}]}],
        "tools": [{"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]})
}

#[tokio::test]
async fn an_anthropic_client_runs_on_an_openai_format_provider() {
    let (mock, gw) = TestGateway::with_mock().await;
    let response = anthropic(&gw, claude_code_like("oai/gpt-4.1", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["model"], "oai/gpt-4.1");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Hello from mock"}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["usage"]["input_tokens"], 10);
    assert_eq!(body["usage"]["cache_read_input_tokens"], 2);

    let sent = mock.last().unwrap();
    assert_eq!(sent.path_and_query, "/v1/chat/completions");
    assert_eq!(sent.headers["authorization"], "Bearer upstream-secret-123");
    let sent = sent.json();
    assert_eq!(sent["model"], "gpt-4.1");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "You are a coding agent."})
    );
    assert_eq!(
        sent["messages"][2]["tool_calls"][0]["function"]["name"],
        "Read"
    );
    assert_eq!(
        sent["messages"][3],
        json!({"role": "tool", "tool_call_id": "toolu_1", "content": "file body"})
    );
    assert_eq!(
        sent["max_completion_tokens"], 2048,
        "OpenAI itself takes max_completion_tokens"
    );
    assert!(
        !sent.to_string().contains("cache_control"),
        "removed for a non-Claude target"
    );

    let r = gw.last_record(1).await;
    assert_eq!(r["client_api"], "anthropic-messages");
    assert_eq!(r["provider"], "oai");
    assert_eq!(r["input_tokens"], 10);
    assert_eq!(r["output_tokens"], 5);
    assert!(r["cost_usd"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn a_translated_answer_with_tool_calls_is_logged_with_the_time_it_took() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let response = anthropic(&gw, claude_code_like("oai/tool", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let overhead: f64 = response.headers()["x-switchyard-overhead-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["content"][0]["type"], "tool_use");
    assert_eq!(body["content"][0]["name"], "get_weather");
    assert_eq!(body["stop_reason"], "tool_use");

    let r = gw.last_record(1).await;
    assert_eq!(r["tool_calls"], json!(["get_weather"]));
    // The header and the log report the same time, translation of the answer included.
    let logged = r["overhead_ms"].as_f64().unwrap();
    assert!(
        overhead > 0.0 && (logged - overhead).abs() < 0.001,
        "{logged} vs {overhead}"
    );
    assert!(logged < r["latency_ms"].as_f64().unwrap());
}

#[tokio::test]
async fn an_anthropic_stream_is_produced_from_openai_chunks_with_tool_calls() {
    let (mock, gw) = TestGateway::with_mock().await;
    let text = anthropic(&gw, claude_code_like("oai/tool", true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        events,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert!(text.contains("\"type\":\"tool_use\"") && text.contains("\"name\":\"get_weather\""));
    assert!(text.contains("\"stop_reason\":\"tool_use\""));
    let sent = mock.last().unwrap().json();
    assert_eq!(sent["stream_options"]["include_usage"], true);
    let r = gw.last_record(1).await;
    assert_eq!(r["stream"], 1);
    assert_eq!(r["tool_calls"], json!(["get_weather"]));
    assert_eq!(r["output_tokens"], 5, "usage from the OpenAI usage chunk");
    assert_eq!(r["error_kind"], Value::Null);
}

#[tokio::test]
async fn an_openai_client_runs_on_anthropic_streaming_and_not() {
    let (mock, gw) = TestGateway::with_mock().await;
    let body: Value = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "ant/claude-sonnet-4-5", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from mock");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        body["usage"]["prompt_tokens"], 170,
        "20 + 100 cache reads + 50 cache writes"
    );
    assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
    let sent = mock.last().unwrap();
    assert_eq!(sent.path_and_query, "/v1/messages");
    assert_eq!(sent.headers["x-api-key"], "upstream-secret-123");
    let sent = sent.json();
    assert_eq!(
        sent["system"],
        json!([{"type": "text", "text": "Be brief."}])
    );
    assert!(
        sent["max_tokens"].as_u64().unwrap() > 0,
        "max_tokens is required by Anthropic"
    );

    let text = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "ant/tool", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "weather?"}]}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let chunks: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, "{\"city\": \"Paris\"}");
    let finish = chunks
        .iter()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str())
        .unwrap();
    assert_eq!(finish, "tool_calls");
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 7);
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn upstream_errors_come_back_in_the_callers_shape_across_formats() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let response = anthropic(&gw, claude_code_like("oai/fail-429", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("mock failure 429"));

    let response = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "ant/fail-500", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("type").is_none());
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("mock failure 500"));
}

#[tokio::test]
async fn a_translated_stream_cut_midway_closes_its_blocks_and_reports_the_error() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let text = anthropic(&gw, json!({"model": "oai/cut", "max_tokens": 10, "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        events,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "error"
        ]
    );
    let r = gw.last_record(1).await;
    assert_eq!(r["error_kind"], "upstream_stream_error");
}

#[tokio::test]
async fn a_fallback_policy_can_cross_formats() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = "[[policies]]\nname = \"any\"\ntype = \"fallback\"\nsteps = [{ model = \"ant/seq:529\" }, { model = \"oai/gpt-4.1\" }]\n";
    let gw = TestGateway::start_with(&mock, "", extra).await;
    let response = anthropic(&gw, json!({"model": "policy/any", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-provider"], "oai");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "Hello from mock");
}

#[tokio::test]
async fn a_body_that_cannot_be_translated_is_not_sent_to_the_next_provider() {
    // Its structure is sound, so the top-level read lets it through; the first step
    // needs it translated, and the full read finds the stray word. The pass-through
    // step after it must not get it: no provider can read it.
    let mock = MockUpstream::start().await.unwrap();
    let extra = "[[policies]]\nname = \"any\"\ntype = \"fallback\"\nsteps = [{ model = \"oai/gpt-4.1\" }, { model = \"ant/claude-sonnet-4-5\" }]\n";
    let gw = TestGateway::start_with(&mock, "", extra).await;
    let response = gw
        .post_with_api_key("/v1/messages")
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(r#"{"model":"policy/any","max_tokens":10,"messages":[{"role":"user","content":"hi"}, tru]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("not valid JSON"), "{message}");
    assert!(mock.captured().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn count_tokens_is_exact_from_anthropic_and_estimated_elsewhere() {
    let (mock, gw) = TestGateway::with_mock().await;
    let body = json!({"model": "ant/claude-sonnet-4-5", "messages": [{"role": "user", "content": "x".repeat(400)}]});
    let exact: Value = gw
        .post_with_api_key("/v1/messages/count_tokens")
        .header("anthropic-beta", "token-counting-2024-11-01")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(exact, json!({"input_tokens": 4242}));
    let sent = mock.last().unwrap();
    assert_eq!(sent.path_and_query, "/v1/messages/count_tokens");
    assert_eq!(sent.json()["model"], "claude-sonnet-4-5");
    assert_eq!(sent.headers["anthropic-beta"], "token-counting-2024-11-01");

    let mut body = body;
    body["model"] = json!("oai/gpt-4.1");
    let estimate: Value = gw
        .post_with_api_key("/v1/messages/count_tokens")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // 400 characters at 4 per token, plus 3 for the message.
    assert_eq!(estimate, json!({"input_tokens": 103}));
    let unauthorized = gw
        .http
        .post(gw.url("/v1/messages/count_tokens"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    let err: Value = unauthorized.json().await.unwrap();
    assert_eq!(err["type"], "error");
}

#[tokio::test]
async fn models_answer_in_anthropic_format_for_anthropic_clients() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let list: Value = gw
        .http
        .get(gw.url("/v1/models"))
        .header("x-api-key", &gw.key)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["has_more"], false);
    let first = &list["data"][0];
    assert_eq!(first["type"], "model");
    assert!(first["display_name"].is_string() && first["created_at"].is_string());
    assert_eq!(list["first_id"], first["id"]);
    assert!(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "ant/claude-sonnet-4-5"));
}

#[tokio::test]
async fn embeddings_pass_through_to_openai_compatible_providers_and_are_costed() {
    let (mock, gw) = TestGateway::with_mock().await;
    let body: Value = gw
        .post(
            "/v1/embeddings",
            &json!({"model": "oai/text-embedding-3-small", "input": ["a", "b"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    let sent = mock.last().unwrap();
    assert_eq!(sent.path_and_query, "/v1/embeddings");
    assert_eq!(sent.json()["model"], "text-embedding-3-small");
    let r = gw.last_record(1).await;
    assert_eq!(r["client_api"], "openai-embeddings");
    assert_eq!(r["input_tokens"], 16);
    assert!(r["cost_usd"].as_f64().unwrap() > 0.0);

    let refused = gw
        .post(
            "/v1/embeddings",
            &json!({"model": "ant/claude-sonnet-4-5", "input": "a"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let err: Value = refused.json().await.unwrap();
    assert_eq!(err["error"]["code"], "embeddings_unsupported");
}

#[tokio::test]
async fn count_tokens_reports_an_unreachable_provider_as_a_model_request_would() {
    let mock = MockUpstream::start().await.unwrap();
    let reset = MockUpstream::start_resetting().await.unwrap();
    let extra = format!(
        "[[providers]]\nname = \"gone\"\nkind = \"anthropic\"\nbase_url = \"http://{reset}\"\n\
         api_key = {{ keyring = \"ant\" }}\n"
    );
    let gw = TestGateway::start_with(&mock, "", &extra).await;
    let body =
        json!({"model": "gone/claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]});
    let counted = gw
        .post_with_api_key("/v1/messages/count_tokens")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(counted.status(), 502);
    let err: Value = counted.json().await.unwrap();
    assert_eq!(err["type"], "error");
    let message = err["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Could not reach provider 'gone' at http://"),
        "{message}"
    );
}

#[tokio::test]
async fn a_provider_key_that_cannot_be_read_is_named_and_nothing_is_sent_without_it() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = format!(
        "[[providers]]\nname = \"nokey\"\nkind = \"anthropic\"\nbase_url = \"{}\"\n\
         api_key = {{ env = \"SWITCHYARD_TEST_KEY_NEVER_SET\" }}\n",
        mock.anthropic_base()
    );
    let gw = TestGateway::start_with(&mock, "", &extra).await;
    let body = json!({"model": "nokey/claude-sonnet-4-5", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]});
    for path in ["/v1/messages", "/v1/messages/count_tokens"] {
        let refused = gw.post_with_api_key(path).json(&body).send().await.unwrap();
        assert_eq!(refused.status(), 500, "{path}");
        let err: Value = refused.json().await.unwrap();
        assert_eq!(err["type"], "error", "{path}");
        let message = err["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("Provider 'nokey' has no usable API key")
                && message.contains("environment variable SWITCHYARD_TEST_KEY_NEVER_SET"),
            "{path}: {message}"
        );
    }
    assert!(
        mock.captured().is_empty(),
        "a request went out without the provider's key"
    );
}
