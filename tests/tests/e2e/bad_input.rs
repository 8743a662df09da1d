//! Bad input gets a clear error in the dialect of the endpoint called, with the right
//! status, is recorded, and the gateway keeps serving.

use serde_json::{json, Value};
use switchyard_tests::{MockUpstream, TestGateway};

struct Case {
    name: &'static str,
    content_type: Option<&'static str>,
    key: KeyChoice,
    body: Vec<u8>,
    status: u16,
    message_contains: &'static str,
}

#[derive(Clone, Copy)]
enum KeyChoice {
    Valid,
    Missing,
    Unknown,
}

fn cases(model: &str) -> Vec<Case> {
    let valid = |extra: Value| {
        let mut body = json!({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        serde_json::to_vec(&body).unwrap()
    };
    vec![
        Case {
            name: "malformed JSON",
            content_type: Some("application/json"),
            key: KeyChoice::Valid,
            body: b"{\"model\": ".to_vec(),
            status: 400,
            message_contains: "not valid JSON",
        },
        Case {
            name: "not an object",
            content_type: Some("application/json"),
            key: KeyChoice::Valid,
            body: b"[1, 2]".to_vec(),
            status: 400,
            message_contains: "not valid JSON",
        },
        Case {
            name: "missing model",
            content_type: Some("application/json"),
            key: KeyChoice::Valid,
            body: br#"{"messages": []}"#.to_vec(),
            status: 400,
            message_contains: "Missing `model`",
        },
        Case {
            name: "model not a string",
            content_type: Some("application/json"),
            key: KeyChoice::Valid,
            body: br#"{"model": 5}"#.to_vec(),
            status: 400,
            message_contains: "`model` must be a string",
        },
        Case {
            name: "unknown provider",
            content_type: Some("application/json"),
            key: KeyChoice::Valid,
            body: valid(json!({"model": "nope/gpt-4.1"})),
            status: 404,
            message_contains: "no provider named 'nope'",
        },
        Case {
            name: "model without provider",
            content_type: Some("application/json"),
            key: KeyChoice::Valid,
            body: valid(json!({"model": "gpt-4.1"})),
            status: 404,
            message_contains: "<provider>/<model>",
        },
        Case {
            name: "unknown policy",
            content_type: Some("application/json"),
            key: KeyChoice::Valid,
            body: valid(json!({"model": "policy/fast"})),
            status: 404,
            message_contains: "no routing policy named 'fast'",
        },
        Case {
            name: "missing key",
            content_type: Some("application/json"),
            key: KeyChoice::Missing,
            body: valid(json!({})),
            status: 401,
            message_contains: "Missing gateway key",
        },
        Case {
            name: "unknown key",
            content_type: Some("application/json"),
            key: KeyChoice::Unknown,
            body: valid(json!({})),
            status: 401,
            message_contains: "Invalid or revoked",
        },
        Case {
            name: "wrong content type",
            content_type: Some("text/plain"),
            key: KeyChoice::Valid,
            body: valid(json!({})),
            status: 415,
            message_contains: "application/json",
        },
        Case {
            name: "no content type",
            content_type: None,
            key: KeyChoice::Valid,
            body: valid(json!({})),
            status: 415,
            message_contains: "application/json",
        },
        Case {
            name: "stream not a bool",
            content_type: Some("application/json"),
            key: KeyChoice::Valid,
            body: valid(json!({"stream": "yes"})),
            status: 400,
            message_contains: "`stream`",
        },
        Case {
            name: "model repeated in another case",
            content_type: Some("application/json"),
            key: KeyChoice::Valid,
            body: valid(json!({"MODEL": "oai/gpt-4.1-mini"})),
            status: 400,
            message_contains: "`MODEL` repeats `model` in another case",
        },
        Case {
            name: "a comment a lenient reader could see differently",
            content_type: Some("application/json"),
            key: KeyChoice::Valid,
            body: {
                let mut body = valid(json!({}));
                body.pop();
                body.extend_from_slice(br#","x":[/*"*/]}"#);
                body
            },
            status: 400,
            message_contains: "unexpected character",
        },
        Case {
            name: "bad metadata object",
            content_type: Some("application/json"),
            key: KeyChoice::Valid,
            body: valid(json!({"switchyard": {"tags": "not-a-list"}})),
            status: 400,
            message_contains: "`switchyard` must be an object",
        },
    ]
}

async fn send(
    gw: &TestGateway,
    path: &str,
    key: KeyChoice,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = gw.http.post(gw.url(path)).body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    request = match key {
        KeyChoice::Valid => request.header("x-api-key", &gw.key),
        KeyChoice::Missing => request,
        KeyChoice::Unknown => request.bearer_auth("sy-not-a-real-key"),
    };
    request.send().await.unwrap()
}

fn error_message(path: &str, body: &Value) -> String {
    if path == "/v1/messages" {
        assert_eq!(body["type"], "error", "Anthropic shape: {body}");
        assert!(body["error"]["type"].is_string(), "{body}");
    } else {
        assert!(body["error"]["type"].is_string(), "OpenAI shape: {body}");
        assert!(body.get("type").is_none(), "{body}");
    }
    body["error"]["message"].as_str().unwrap_or("").to_string()
}

#[tokio::test]
async fn each_bad_request_gets_a_clear_error_in_the_endpoint_dialect() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start(&mock).await;
    let mut recorded = 0;
    for (path, model) in [
        ("/v1/chat/completions", "oai/gpt-4.1"),
        ("/v1/messages", "ant/claude-sonnet-4-5"),
    ] {
        for case in cases(model) {
            let response = send(&gw, path, case.key, case.content_type, case.body).await;
            assert_eq!(
                response.status().as_u16(),
                case.status,
                "{path}: {}",
                case.name
            );
            let body: Value = response.json().await.unwrap();
            let message = error_message(path, &body);
            assert!(
                message.contains(case.message_contains),
                "{path}: {}: {message}",
                case.name
            );
            recorded += 1;
        }
    }
    assert!(
        mock.captured().is_empty(),
        "nothing bad reached the provider"
    );
    let records = gw.records().await;
    assert_eq!(records.len(), recorded, "every failed request is recorded");
    assert!(records.iter().all(|r| r["error_kind"].is_string()));

    // And the gateway keeps serving.
    let ok = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "oai/gpt-4.1", "messages": []}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start(&mock).await;
    let limit = switchyard_gateway::proxy::MAX_BODY_BYTES;
    let mut body = br#"{"model":"oai/gpt-4.1","pad":""#.to_vec();
    body.resize(limit + 10, b'a');
    body.extend_from_slice(b"\"}");
    for path in ["/v1/chat/completions", "/v1/messages"] {
        let response = send(
            &gw,
            path,
            KeyChoice::Valid,
            Some("application/json"),
            body.clone(),
        )
        .await;
        assert_eq!(response.status(), 413);
        let message = error_message(path, &response.json().await.unwrap());
        assert!(message.contains("32 MiB"), "{message}");
    }
    assert!(mock.captured().is_empty());
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start(&mock).await;
    let body = json!({"model": "oai/gpt-4.1", "messages": []});
    // Used first, so the gateway has seen the key valid (and remembers it so).
    let before = gw.post("/v1/chat/completions", &body).send().await.unwrap();
    assert_eq!(before.status(), 200);
    let admin = gw
        .admin(reqwest::Method::DELETE, "/api/keys/test")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 204);
    let response = gw.post("/v1/chat/completions", &body).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_provider_whose_key_cannot_be_found_says_how_to_fix_it() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start(&mock).await;
    let config = format!(
        "[[providers]]\nname = \"nokey\"\nkind = \"openai\"\nbase_url = \"{}\"\napi_key = {{ env = \"SWITCHYARD_TEST_UNSET_VARIABLE\" }}\n",
        mock.openai_base()
    );
    switchyard_gateway::manage::apply_config(&gw.store, &config).unwrap();
    gw.gateway.state().reload().await.unwrap();
    let response = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "nokey/gpt-4.1", "messages": []}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("SWITCHYARD_TEST_UNSET_VARIABLE"),
        "{message}"
    );
    assert!(mock.captured().is_empty());
}

#[tokio::test]
async fn requests_beside_the_model_endpoints_get_the_routers_answers() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start(&mock).await;
    // A query string does not change the endpoint: it still asks for a key.
    let response = send(
        &gw,
        "/v1/chat/completions?trace=1",
        KeyChoice::Missing,
        Some("application/json"),
        br#"{"model":"oai/gpt-4.1","messages":[]}"#.to_vec(),
    )
    .await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(error_message("/v1/chat/completions", &body).contains("Missing gateway key"));

    for path in [
        "/v1/chat/completions/",
        "/v1/chat/completion",
        "/V1/messages",
    ] {
        let response = send(
            &gw,
            path,
            KeyChoice::Valid,
            Some("application/json"),
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(
            error_message(path, &body).contains("no endpoint at"),
            "{path}: {body}"
        );
    }

    let response = gw
        .http
        .get(gw.url("/v1/messages"))
        .header("x-api-key", &gw.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
}
