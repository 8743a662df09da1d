//! The OpenAI Responses API as a client format: translated for Anthropic and chat
//! providers, passed through to OpenAI itself.

use serde_json::{json, Value};
use switchyard_tests::TestGateway;

/// A Codex-like request: instructions, a function tool, a call and its output.
fn codex_like(model: &str, stream: bool) -> Value {
    json!({
        "model": model, "stream": stream, "instructions": "You are Codex.",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List files"}]},
            {"type": "function_call", "call_id": "call_1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"},
            {"type": "message", "role": "user", "content": "Now summarise."}
        ],
        "tools": [
            {"type": "function", "name": "exec_command", "description": "Run a command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
            {"type": "web_search"}
        ],
        "reasoning": {"effort": "low"}
    })
}

#[tokio::test]
async fn a_responses_client_runs_on_anthropic() {
    let (mock, gw) = TestGateway::with_mock().await;
    let response = gw
        .post("/v1/responses", &codex_like("ant/claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["output"][0]["type"], "message");
    assert_eq!(body["output"][0]["content"][0]["text"], "Hello from mock");
    assert_eq!(body["usage"]["input_tokens"], 170);
    assert_eq!(body["usage"]["input_tokens_details"]["cached_tokens"], 100);

    let sent = mock.last().unwrap();
    assert_eq!(sent.path_and_query, "/v1/messages");
    let sent = sent.json();
    assert_eq!(sent["system"][0]["text"], "You are Codex.");
    assert_eq!(sent["messages"][1]["content"][0]["type"], "tool_use");
    assert_eq!(
        sent["messages"][2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "a.txt"}]})
    );
    assert_eq!(sent["thinking"]["budget_tokens"], 1024, "low effort");
    assert_eq!(
        sent["tools"].as_array().unwrap().len(),
        1,
        "built-in tools stay behind"
    );

    let r = gw.last_record(1).await;
    assert_eq!(r["client_api"], "openai-responses");
    assert_eq!(r["cache_read_tokens"], 100);
}

#[tokio::test]
async fn a_responses_stream_is_produced_from_anthropic_events() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let text = gw
        .post("/v1/responses", &codex_like("ant/tool", true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let kinds: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let last_data = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .unwrap();
    let done: Value = serde_json::from_str(last_data).unwrap();
    assert_eq!(done["response"]["output"][0]["type"], "function_call");
    assert_eq!(done["response"]["output"][0]["call_id"], "toolu_1");
    assert_eq!(
        done["response"]["output"][0]["arguments"],
        "{\"city\": \"Paris\"}"
    );
    assert_eq!(done["response"]["usage"]["output_tokens"], 7);
    let r = gw.last_record(1).await;
    assert_eq!(r["output_tokens"], 7);
}

#[tokio::test]
async fn a_responses_client_on_an_openai_compatible_chat_server_is_translated() {
    let (mock, gw) = TestGateway::with_mock().await;
    let text = gw
        .post(
            "/v1/responses",
            &json!({"model": "local/llama3.2", "input": "hi", "stream": true}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("response.output_text.delta"));
    assert!(text.contains("\"delta\":\"Hello\""));
    assert_eq!(mock.last().unwrap().path_and_query, "/v1/chat/completions");
}

#[tokio::test]
async fn responses_pass_through_to_openai_itself() {
    let (mock, gw) = TestGateway::with_mock().await;
    let body = json!({"model": "oai/gpt-4.1", "input": "hi", "previous_response_id": "resp_prev", "x_future": 1});
    let response = gw.post("/v1/responses", &body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["x_mock_extra"]["kept"], true);
    let sent = mock.last().unwrap();
    assert_eq!(sent.path_and_query, "/v1/responses");
    let sent = sent.json();
    assert_eq!(sent["model"], "gpt-4.1");
    assert_eq!(sent["previous_response_id"], "resp_prev");
    assert!(
        sent.get("stream_options").is_none(),
        "never added on the Responses API"
    );
    let r = gw.last_record(1).await;
    assert_eq!(
        (
            r["input_tokens"].clone(),
            r["cache_read_tokens"].clone(),
            r["output_tokens"].clone()
        ),
        (json!(20), json!(10), json!(6))
    );

    let text = gw
        .post(
            "/v1/responses",
            &json!({"model": "oai/gpt-4.1", "input": "hi", "stream": true}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("response.completed"));
    let r = gw.last_record(2).await;
    assert_eq!(r["output_tokens"], 6, "usage from response.completed");
    assert_eq!(r["error_kind"], Value::Null);
}

#[tokio::test]
async fn previous_response_id_is_refused_where_the_gateway_would_need_state() {
    let (mock, gw) = TestGateway::with_mock().await;
    let response = gw
        .post("/v1/responses", &json!({"model": "ant/claude-sonnet-4-5", "input": "hi", "previous_response_id": "resp_1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "previous_response_unsupported");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("send the whole conversation"));
    assert!(mock.captured().is_empty());
}
