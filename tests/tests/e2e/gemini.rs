//! Both client formats on a Gemini provider, end to end: what reaches the mock's
//! `generateContent` / `streamGenerateContent` (key header, translated body), what the
//! client sees (Anthropic and OpenAI shapes, streamed and not, tool calls and their
//! results across turns), what is recorded (tokens in their buckets, cost from the
//! catalog's Gemini prices), and upstream errors in the client's shape.

use serde_json::{json, Value};
use switchyard_gateway::pricing::{cost_usd, PriceCatalog};
use switchyard_store::TokenCounts;
use switchyard_tests::gateway::UPSTREAM_SECRET;
use switchyard_tests::TestGateway;

fn anthropic(gw: &TestGateway, body: Value) -> reqwest::RequestBuilder {
    gw.post_with_api_key("/v1/messages")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
}

/// The mock's usage: 30 prompt tokens of which 10 cached, 5 answer and 3 thought tokens.
fn mock_tokens() -> TokenCounts {
    TokenCounts {
        input: 20,
        cache_read: 10,
        output: 8,
        reasoning: 3,
        ..Default::default()
    }
}

fn sse_data(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn an_anthropic_client_runs_on_gemini_with_its_tool_results_translated() {
    let (mock, gw) = TestGateway::with_mock().await;
    let response = anthropic(
        &gw,
        json!({"model": "gem/gemini-2.5-flash", "max_tokens": 1024,
            "system": [{"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "Read /a"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "/a"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "file body"}]}],
            "tools": [{"name": "Read", "description": "Read a file", "input_schema": {
                "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                "properties": {"path": {"type": "string"}}, "required": ["path"], "additionalProperties": false}}]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-provider"], "gem");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["model"], "gem/gemini-2.5-flash");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Hello from mock"}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 20, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 10, "output_tokens": 8})
    );

    let sent = mock.last().unwrap();
    assert_eq!(
        sent.path_and_query,
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(sent.headers["x-goog-api-key"], UPSTREAM_SECRET);
    for name in ["authorization", "x-api-key"] {
        assert!(sent.headers.get(name).is_none(), "{name} sent upstream");
    }
    assert!(!String::from_utf8_lossy(&sent.body).contains(&gw.key));
    assert_eq!(
        sent.json(),
        json!({
            "systemInstruction": {"parts": [{"text": "You are a coding agent."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Read /a"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "Read", "args": {"path": "/a"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "Read", "response": {"output": "file body"}}}]}
            ],
            "tools": [{"functionDeclarations": [{"name": "Read", "description": "Read a file",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}]}],
            "generationConfig": {"maxOutputTokens": 1024}
        })
    );

    let r = gw.last_record(1).await;
    assert_eq!(r["client_api"], "anthropic-messages");
    assert_eq!(r["provider"], "gem");
    assert_eq!(r["upstream_model"], "gemini-2.5-flash");
    assert_eq!(r["status"], 200);
    assert_eq!(r["input_tokens"], 20);
    assert_eq!(r["cache_read_tokens"], 10);
    assert_eq!(r["output_tokens"], 8);
    assert_eq!(r["reasoning_tokens"], 3);
    let price = PriceCatalog::builtin()
        .lookup("gemini", "gemini-2.5-flash")
        .expect("in the catalog");
    let expected = cost_usd(price, &mock_tokens()).expect("priced");
    assert!(expected > 0.0);
    assert!((r["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12);
}

#[tokio::test]
async fn an_anthropic_stream_with_thinking_and_a_tool_call_comes_from_gemini_chunks() {
    let (mock, gw) = TestGateway::with_mock().await;
    let text = anthropic(
        &gw,
        json!({"model": "gem/gemini-2.5-flash-tool", "max_tokens": 4096, "stream": true,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "tools": [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}),
    )
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
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let data = sse_data(&text);
    assert_eq!(data[1]["content_block"]["type"], "thinking");
    assert_eq!(data[2]["delta"]["thinking"], "Thinking about it.");
    let call = &data[4]["content_block"];
    assert_eq!(call["type"], "tool_use");
    assert_eq!(call["name"], "get_weather");
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(data[5]["delta"]["partial_json"], "{\"city\":\"Paris\"}");
    assert_eq!(data[7]["delta"]["stop_reason"], "tool_use");
    assert_eq!(data[7]["usage"]["output_tokens"], 8);

    let sent = mock.last().unwrap();
    assert_eq!(
        sent.path_and_query,
        "/v1beta/models/gemini-2.5-flash-tool:streamGenerateContent?alt=sse"
    );
    let sent = sent.json();
    assert_eq!(
        sent["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 2048, "includeThoughts": true})
    );
    assert!(sent.get("stream").is_none());

    let r = gw.last_record(1).await;
    assert_eq!(r["stream"], 1);
    assert_eq!(
        r["error_kind"],
        Value::Null,
        "a finishReason ends it cleanly"
    );
    assert_eq!(r["input_tokens"], 20);
    assert_eq!(r["output_tokens"], 8);
}

#[tokio::test]
async fn an_openai_client_calls_a_tool_on_gemini_and_sends_the_result_back() {
    let (mock, gw) = TestGateway::with_mock().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let mut messages = vec![json!({"role": "user", "content": "Weather in Paris?"})];
    let body: Value = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "gem/tool", "messages": messages, "tools": tools, "tool_choice": "required"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    let message = body["choices"][0]["message"].clone();
    let call = &message["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");
    let id = call["id"].as_str().unwrap().to_string();
    assert!(id.len() <= 40);
    assert_eq!(
        mock.last().unwrap().json()["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );

    // Second turn: the result goes back under the call's id; Gemini gets the name.
    messages.push(message);
    messages.push(json!({"role": "tool", "tool_call_id": id, "content": "18 °C, sunny"}));
    let body: Value = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "gem/gemini-2.5-flash", "messages": messages, "tools": tools}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from mock");
    assert_eq!(body["usage"]["prompt_tokens"], 30);
    assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 10);
    assert_eq!(
        body["usage"]["completion_tokens_details"]["reasoning_tokens"],
        3
    );
    let sent = mock.last().unwrap().json();
    assert_eq!(
        sent["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"output": "18 °C, sunny"}}}]}
        ])
    );
}

#[tokio::test]
async fn an_openai_stream_comes_from_gemini_chunks_with_the_usage_chunk() {
    let (mock, gw) = TestGateway::with_mock().await;
    let response = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "gem/gemini-2.5-pro", "stream": true, "stream_options": {"include_usage": true},
                "reasoning_effort": "high", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    let chunks = sse_data(&text);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let reasoning: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["reasoning_content"].as_str())
        .collect();
    assert_eq!(reasoning, "Thinking about it.");
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Hello from mock");
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, ["stop"]);
    assert_eq!(
        chunks.last().unwrap()["usage"],
        json!({"prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38,
            "prompt_tokens_details": {"cached_tokens": 10}, "completion_tokens_details": {"reasoning_tokens": 3}})
    );
    let sent = mock.last().unwrap().json();
    assert_eq!(
        sent["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 16384, "includeThoughts": true})
    );
    let r = gw.last_record(1).await;
    assert_eq!(r["cache_read_tokens"], 10);
    assert!(
        r["cost_usd"].as_f64().unwrap() > 0.0,
        "gemini-2.5-pro is priced"
    );
}

#[tokio::test]
async fn gemini_errors_come_back_in_the_callers_shape_and_cut_streams_are_reported() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let response = anthropic(
        &gw,
        json!({"model": "gem/fail-429", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
    )
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
            &json!({"model": "gem/fail-400", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].get("status").is_none(),
        "OpenAI's shape, not Google's"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("mock failure 400"));

    let text = anthropic(
        &gw,
        json!({"model": "gem/cut", "max_tokens": 10, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    )
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
            "content_block_stop",
            "error"
        ]
    );
    let r = gw.last_record(3).await;
    assert_eq!(r["error_kind"], "upstream_stream_error");
}
