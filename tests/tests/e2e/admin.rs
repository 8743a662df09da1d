//! The admin API: guarded by token, Host and Origin; does what the CLI does; changes
//! apply to the running gateway without a restart.

use reqwest::Method;
use serde_json::{json, Value};
use switchyard_tests::{MockUpstream, TestGateway};

#[tokio::test]
async fn the_admin_api_refuses_missing_tokens_foreign_hosts_and_origins() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start(&mock).await;
    let status = gw.http.get(gw.url("/api/status")).send().await.unwrap();
    assert_eq!(status.status(), 401);
    let body: Value = status.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("admin-token"));

    let wrong = gw
        .http
        .get(gw.url("/api/status"))
        .bearer_auth("sya-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // A gateway key is not an admin token.
    let gateway_key = gw
        .http
        .get(gw.url("/api/status"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap();
    assert_eq!(gateway_key.status(), 401);

    let rebinding = gw
        .admin(Method::GET, "/api/status")
        .header("host", "evil.example:7450")
        .send()
        .await
        .unwrap();
    assert_eq!(rebinding.status(), 403);
    let cross_site = gw
        .admin(Method::GET, "/api/status")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let same_site = gw
        .admin(Method::GET, "/api/status")
        .header("origin", gw.gateway.base_url())
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), 200);
    // No permissive CORS on any route.
    assert!(same_site
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn status_reports_providers_and_todays_requests_and_spend() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start(&mock).await;
    for _ in 0..3 {
        gw.post(
            "/v1/chat/completions",
            &json!({"model": "oai/gpt-4.1", "messages": []}),
        )
        .send()
        .await
        .unwrap();
    }
    gw.records().await;
    let status: Value = gw
        .admin(Method::GET, "/api/status")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["base_url"], gw.gateway.base_url());
    assert_eq!(status["today"]["requests"], 3);
    assert!(status["today"]["cost_usd"].as_f64().unwrap() > 0.0);
    let providers = status["providers"].as_array().unwrap();
    let names: Vec<&str> = providers
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ant", "gem", "local", "oai"]);
    assert_eq!(providers[3]["key"], "ok");
    assert_eq!(providers[2]["key"], "not-needed");
    let text = serde_json::to_string(&status).unwrap();
    assert!(
        !text.contains(switchyard_tests::gateway::UPSTREAM_SECRET),
        "no secrets in the API"
    );

    let csv = gw
        .admin(
            Method::GET,
            "/api/usage?since=24h&group_by=provider&format=csv",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("group,requests,"));
    assert!(csv.lines().any(|l| l.starts_with("oai,3,0,")), "{csv}");

    let requests: Value = gw
        .admin(Method::GET, "/api/requests?limit=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(requests["requests"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn keys_made_through_the_api_work_at_once_and_are_shown_once() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start(&mock).await;
    let created = gw
        .admin(Method::POST, "/api/keys")
        .json(&json!({"name": "cursor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let secret = created["key"].as_str().unwrap().to_string();
    assert!(secret.starts_with("sy-"));

    let duplicate = gw
        .admin(Method::POST, "/api/keys")
        .json(&json!({"name": "cursor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), 409);

    let listed = gw
        .admin(Method::GET, "/api/keys")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains("cursor") && !listed.contains(&secret),
        "{listed}"
    );
    assert!(!listed.contains("hash"));

    let response = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&json!({"model": "oai/gpt-4.1", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let bad_json = gw
        .admin(Method::POST, "/api/keys")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    let body: Value = bad_json.json().await.unwrap();
    assert!(body["error"]["message"].is_string());
}

#[tokio::test]
async fn config_changes_apply_without_a_restart_from_the_api_and_from_the_cli() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start(&mock).await;
    let invalid = gw
        .admin(Method::PUT, "/api/config")
        .json(&json!({"toml": "[[providers]]\nname = \"x\"\nkind = \"openai-compatible\"\n"}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);
    let body: Value = invalid.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("needs a base_url"));

    let via_api = format!(
        "[[providers]]\nname = \"viaapi\"\nkind = \"openai-compatible\"\nbase_url = \"{}\"\n",
        mock.openai_base()
    );
    let applied: Value = gw
        .admin(Method::PUT, "/api/config")
        .json(&json!({ "toml": via_api }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(applied["changed"], true);
    let response = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "viaapi/m", "messages": []}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "applies at once");

    // Another process (the CLI) writes the store directly; the gateway notices.
    let other_process = switchyard_store::Store::open(gw.dir.path()).unwrap();
    let via_cli = via_api.replace("viaapi", "viacli");
    switchyard_gateway::manage::apply_config(&other_process, &via_cli).unwrap();
    let mut status = 0;
    for _ in 0..40 {
        status = gw
            .post(
                "/v1/chat/completions",
                &json!({"model": "viacli/m", "messages": []}),
            )
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "picked up within 4 s");

    let exported: Value = gw
        .admin(Method::GET, "/api/config")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(exported["toml"].as_str().unwrap().contains("viacli"));
}

#[tokio::test]
async fn models_lists_what_the_key_may_use_in_openai_list_format() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start(&mock).await;
    let unauthorized = gw.http.get(gw.url("/v1/models")).send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);
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
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"oai/gpt-4.1"));
    assert!(
        ids.contains(&"oai/custom-model"),
        "priced overrides are listed"
    );
    assert!(ids.contains(&"ant/claude-sonnet-4-5"));
    assert!(
        ids.contains(&"local/llama3.2"),
        "explicit model lists are used"
    );
    assert_eq!(list["data"][0]["object"], "model");
}

#[tokio::test]
async fn the_dashboard_is_served_with_a_strict_content_security_policy() {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start(&mock).await;
    let page = gw.http.get(gw.url("/ui/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    assert!(page.text().await.unwrap().contains("Switchyard"));
    let script = gw.http.get(gw.url("/ui/app.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    let missing = gw.http.get(gw.url("/ui/nope.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let health: Value = gw
        .http
        .get(gw.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}
