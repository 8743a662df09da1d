//! End-to-end tests of stopping a gateway: open requests get a grace period, then are
//! closed, and every request still leaves its record.

use futures_util::StreamExt;
use serde_json::json;
use std::time::{Duration, Instant};
use switchyard_tests::TestGateway;

#[tokio::test]
async fn shutdown_with_nothing_open_is_prompt() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let answered = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "oai/gpt-4.1", "messages": []}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    let base = gw.gateway.base_url();
    let started = Instant::now();
    let TestGateway { gateway, store, .. } = gw;
    gateway.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "an idle keep-alive connection held shutdown for {:?}",
        started.elapsed()
    );
    assert_eq!(store.recent_requests(10).unwrap().len(), 1);
    let refused = reqwest::Client::new()
        .get(format!("{base}/health"))
        .send()
        .await;
    assert!(refused.is_err(), "a stopped gateway no longer listens");
}

#[tokio::test]
async fn a_stream_open_at_shutdown_gets_the_grace_period_then_is_closed_and_recorded() {
    let (_mock, gw) = TestGateway::with_mock().await;
    let response = gw
        .post_with_api_key("/v1/messages")
        .json(&json!({"model": "ant/slow", "max_tokens": 5, "stream": true, "messages": []}))
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("message_start"));

    let started = Instant::now();
    let TestGateway { gateway, store, .. } = gw;
    let shutdown = tokio::spawn(gateway.shutdown());
    // The stream goes on during the grace period (the mock sends keep-alives)...
    let during = tokio::time::timeout(Duration::from_secs(4), body.next())
        .await
        .expect("the stream still flows while the gateway stops");
    assert!(during.is_some_and(|chunk| chunk.is_ok()));
    // ...and is closed when it ends, well before the mock's 30 s stream would.
    tokio::time::timeout(Duration::from_secs(15), shutdown)
        .await
        .expect("shutdown ends after the grace period")
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(4),
        "shutdown did not wait for the open stream: {waited:?}"
    );
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = body.next().await {}
    })
    .await;
    assert!(rest.is_ok(), "the client saw its stream end");

    let records = store.recent_requests(10).unwrap();
    assert_eq!(records.len(), 1, "the closed stream was recorded");
    let record = &records[0];
    assert_eq!(record["status"], 200);
    assert_eq!(
        record["input_tokens"], 20,
        "what was used is still recorded"
    );
}
