//! Spend limits and alerts end to end. Prices are chosen to be exact in binary
//! floating point: `oai/priced` costs $1.25 a request (5 output tokens at $0.25).

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use switchyard_gateway::secrets::{MemorySecretStore, SecretStore};
use switchyard_gateway::GatewayOptions;
use switchyard_tests::gateway::UPSTREAM_SECRET;
use switchyard_tests::{MockUpstream, TestGateway};

const PRICE: &str =
    "[prices.\"oai/priced\"]\ninput_cost_per_token = 0\noutput_cost_per_token = 0.25\n";

async fn ask(gw: &TestGateway) -> reqwest::Response {
    gw.post(
        "/v1/chat/completions",
        &json!({"model": "oai/priced", "messages": []}),
    )
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_key_is_refused_exactly_at_its_limit_and_counters_survive_a_restart() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = format!("{PRICE}[[keys]]\nname = \"test\"\nmonthly_limit_usd = 2.5\n");
    let gw = TestGateway::start_with(&mock, "", &extra).await;
    assert_eq!(ask(&gw).await.status(), 200);
    assert_eq!(ask(&gw).await.status(), 200);
    let refused = ask(&gw).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "spend_limit_reached");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("key 'test'") && message.contains("$2.50 spent of $2.50"),
        "{message}"
    );
    assert!(message.contains("resets on"), "{message}");
    assert_eq!(
        mock.count("priced"),
        2,
        "the refused request never reached the provider"
    );
    let anthropic = gw
        .post_with_api_key("/v1/messages")
        .json(&json!({"model": "ant/claude-sonnet-4-5", "max_tokens": 5, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(anthropic.status(), 429);
    let body: Value = anthropic.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");

    // Restart on the same data directory: the month's spend is read back.
    let TestGateway {
        gateway,
        dir,
        key,
        http,
        ..
    } = gw;
    gateway.shutdown().await;
    let secrets = Arc::new(MemorySecretStore::default());
    secrets.set("oai", UPSTREAM_SECRET).unwrap();
    secrets.set("ant", UPSTREAM_SECRET).unwrap();
    let again = switchyard_gateway::launch(GatewayOptions {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        secrets,
        threads: switchyard_gateway::ServeThreads::PerCore,
    })
    .await
    .unwrap();
    let response = http
        .post(format!("{}/v1/chat/completions", again.base_url()))
        .bearer_auth(&key)
        .json(&json!({"model": "oai/priced", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        429,
        "the limit still holds after a restart"
    );
    again.shutdown().await;
}

#[tokio::test]
async fn concurrent_requests_overshoot_by_at_most_those_in_flight() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = format!("{PRICE}[[keys]]\nname = \"test\"\nmonthly_limit_usd = 2.5\n");
    let gw = Arc::new(TestGateway::start_with(&mock, "", &extra).await);
    let in_flight = 8;
    let handles: Vec<_> = (0..in_flight)
        .map(|_| {
            let gw = gw.clone();
            tokio::spawn(async move { ask(&gw).await.status().as_u16() })
        })
        .collect();
    let mut ok = 0;
    for h in handles {
        if h.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert!(ok >= 2, "at least the requests within the limit succeed");
    gw.records().await;
    let (_, per_key) = gw.gateway.state().spend.spent();
    let spent: f64 = per_key.values().sum();
    assert!(spent <= 2.5 + 1.25 * in_flight as f64, "{spent}");
    assert_eq!(
        ask(&gw).await.status(),
        429,
        "refused once the spend is counted"
    );
}

#[tokio::test]
async fn the_gateway_wide_limit_applies_to_every_key() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = format!("{PRICE}[limits]\nmonthly_usd = 1.25\n");
    let gw = TestGateway::start_with(&mock, "", &extra).await;
    assert_eq!(ask(&gw).await.status(), 200);
    let refused = ask(&gw).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("the gateway"));
}

#[tokio::test(start_paused = true)]
async fn alerts_fire_once_and_webhooks_are_retried() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = format!(
        "{PRICE}[[keys]]\nname = \"test\"\nmonthly_limit_usd = 10\n\
         [[alerts]]\nname = \"half\"\nkey = \"test\"\nthreshold_percent = 20\nwebhook = \"http://{addr}/hooks/fail2\"\n\
         [[alerts]]\nname = \"slack\"\nthreshold_usd = 3\nwebhook = \"http://{addr}/hooks/slack\"\nwebhook_format = \"slack\"\n",
        addr = mock.addr
    );
    let gw = TestGateway::start_paused(&mock, "", &extra).await;
    let mut events = gw.gateway.subscribe_alerts();
    assert_eq!(ask(&gw).await.status(), 200); // $1.25: below both thresholds
    assert_eq!(ask(&gw).await.status(), 200); // $2.50: crosses 20% of $10
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.alert, "half");
    assert_eq!(event.subject, "test");

    // Two refusals, then delivery (1 s and 2 s backoff on the paused clock).
    for _ in 0..100 {
        if !mock.hooks().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hooks = mock.hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(mock.hook_calls("fail2"), 3);
    let (_, body) = &hooks[0];
    assert_eq!(body["type"], "switchyard.spend_alert");
    assert_eq!(body["alert"], "half");
    assert_eq!(body["subject"], "test");
    assert_eq!(body["spent_usd"], 2.5);
    assert_eq!(body["threshold_usd"], 2.0);
    assert_eq!(body["limit_usd"], 10.0);

    assert_eq!(ask(&gw).await.status(), 200); // $3.75: crosses the gateway's $3
    for _ in 0..100 {
        if mock.hooks().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let slack = &mock.hooks()[1];
    assert_eq!(slack.0, "slack");
    assert!(slack.1["text"]
        .as_str()
        .unwrap()
        .contains("The gateway has spent $3.75"));

    for _ in 0..3 {
        ask(&gw).await;
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(mock.hooks().len(), 2, "each alert fires once a month");
    let store = gw.store.clone();
    let fired = tokio::task::spawn_blocking(move || store.alert_events(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fired.len(), 2);
}

#[tokio::test]
async fn the_admin_api_reports_spend_against_limits() {
    let mock = MockUpstream::start().await.unwrap();
    let extra = format!(
        "{PRICE}[limits]\nmonthly_usd = 100\n[[keys]]\nname = \"test\"\nmonthly_limit_usd = 10\n"
    );
    let gw = TestGateway::start_with(&mock, "", &extra).await;
    ask(&gw).await;
    gw.records().await;
    let spend: Value = gw
        .admin(reqwest::Method::GET, "/api/spend")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spend["gateway"]["spent_usd"], 1.25);
    assert_eq!(spend["gateway"]["monthly_limit_usd"], 100.0);
    assert_eq!(spend["keys"][0]["name"], "test");
    assert_eq!(spend["keys"][0]["spent_usd"], 1.25);
    assert_eq!(spend["keys"][0]["monthly_limit_usd"], 10.0);
    let routing: Value = gw
        .admin(reqwest::Method::GET, "/api/routing")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(routing["targets"][0]["target"], "oai/priced");
    assert_eq!(routing["targets"][0]["cooling"], false);
}
