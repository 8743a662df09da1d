//! Analytics through the admin API of a running gateway: questions as JSON and CSV,
//! charts as SVG, the summary, retention, and the legacy `/api/usage` on the same
//! engine. Requests go through the proxy with metadata headers, as clients send them.

use reqwest::Method;
use serde_json::{json, Value};
use switchyard_tests::{MockUpstream, TestGateway};

/// Sends `n` chat requests for `model` with the given repo, branch and tags.
async fn send(gw: &TestGateway, n: usize, model: &str, repo: &str, tags: &str) {
    for _ in 0..n {
        gw.post(
            "/v1/chat/completions",
            &json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .header("x-switchyard-repo", repo)
        .header("x-switchyard-branch", "main")
        .header("x-switchyard-tags", tags)
        .send()
        .await
        .unwrap();
    }
}

async fn get_json(gw: &TestGateway, path: &str) -> Value {
    let response = gw.admin(Method::GET, path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

fn group<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == name)
        .unwrap_or_else(|| panic!("no group {name} in {report}"))
}

/// A gateway with 5 + 3 successful requests in two repos and 2 failing ones.
async fn gateway_with_traffic() -> (MockUpstream, TestGateway) {
    let mock = MockUpstream::start().await.unwrap();
    let gw = TestGateway::start(&mock).await;
    send(&gw, 5, "oai/gpt-4.1", "github.com/me/app", "review, ci").await;
    send(&gw, 3, "local/llama3.2", "github.com/me/lib", "review").await;
    send(&gw, 2, "oai/fail-500", "github.com/me/app", "").await;
    assert_eq!(gw.records().await.len(), 10);
    (mock, gw)
}

#[tokio::test]
async fn questions_are_answered_by_any_dimension_with_filters() {
    let (_mock, gw) = gateway_with_traffic().await;
    let by_repo = get_json(&gw, "/api/analytics?range=24h&group_by=repo").await;
    assert_eq!(by_repo["total"]["requests"], 10);
    let app = group(&by_repo, "github.com/me/app");
    assert_eq!(app["requests"], 7);
    assert_eq!(app["errors"], 2);
    assert!((app["error_rate"].as_f64().unwrap() - 2.0 / 7.0).abs() < 1e-9);
    assert!(app["cost_usd"].as_f64().unwrap() > 0.0);
    assert!(app["latency_p50_ms"].as_f64().unwrap() > 0.0);
    assert!(app["latency_p99_ms"].as_f64().unwrap() >= app["latency_p50_ms"].as_f64().unwrap());
    let lib = group(&by_repo, "github.com/me/lib");
    assert_eq!(lib["unpriced_requests"], 3, "the local model has no price");

    // Several values and wildcards; a filter on another field than the grouping.
    let filtered = get_json(
        &gw,
        "/api/analytics?range=24h&group_by=model&repo=*/app,nothing&status=2*",
    )
    .await;
    assert_eq!(filtered["total"]["requests"], 5);
    assert_eq!(filtered["groups"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["groups"][0]["group"], "oai/gpt-4.1");

    let tags = get_json(&gw, "/api/analytics?range=24h&group_by=tag").await;
    assert_eq!(group(&tags, "review")["requests"], 8);
    assert_eq!(group(&tags, "ci")["requests"], 5);
    assert_eq!(group(&tags, "(none)")["requests"], 2);
    assert_eq!(
        tags["total"]["requests"], 10,
        "each request once in the total"
    );

    let by_status = get_json(&gw, "/api/analytics?range=24h&group_by=status").await;
    assert_eq!(group(&by_status, "500")["requests"], 2);

    // Hourly buckets in local time: every row has its bucket; top folds the rest.
    let hourly = get_json(
        &gw,
        "/api/analytics?range=24h&bucket=hour&group_by=model&top=1",
    )
    .await;
    assert_eq!(hourly["bucket"], "hour");
    assert!(hourly["buckets"].as_array().unwrap().len() >= 24);
    assert!(hourly["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["bucket"].is_string()));
    let names: Vec<&str> = hourly["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["oai/gpt-4.1", "(other)"]);

    // The CSV download has the same numbers.
    let csv = gw
        .admin(
            Method::GET,
            "/api/analytics?range=24h&bucket=day&group_by=repo&format=csv",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("bucket,group,requests,errors,"), "{csv}");
    let lib_lines: Vec<&str> = csv
        .lines()
        .filter(|l| l.contains(",github.com/me/lib,"))
        .collect();
    let lib_count: u64 = lib_lines
        .iter()
        .map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(lib_count, 3);

    // Mistakes are 400s in the admin API's error shape.
    for bad in [
        "/api/analytics?group_by=colour",
        "/api/analytics?range=forever",
        "/api/analytics?format=xml",
        "/api/analytics?bucket=minute&range=90d",
        "/api/analytics?unknown=1",
        "/api/analytics/chart/pie",
        "/api/analytics/chart/spend?width=5",
    ] {
        let response = gw.admin(Method::GET, bad).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"].is_string(), "{bad}: {body}");
    }
}

#[tokio::test]
async fn charts_are_svg_with_the_querys_groups() {
    let (_mock, gw) = gateway_with_traffic().await;
    for kind in ["spend", "requests", "tokens", "latency", "cost", "savings"] {
        let response = gw
            .admin(
                Method::GET,
                &format!("/api/analytics/chart/{kind}?range=24h&bucket=hour&group_by=model&theme=dark&width=900&height=300"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{kind}");
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        assert_eq!(
            response.headers()["content-security-policy"],
            "default-src 'none'"
        );
        let svg = response.text().await.unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("width=\"900\""),
            "{kind}"
        );
        // The legend or the axis names the model; the token chart stacks token kinds.
        let expected = if kind == "tokens" {
            "cache read"
        } else {
            "oai/gpt-4.1"
        };
        assert!(svg.contains(expected), "{kind}");
    }
    let svg = gw
        .admin(
            Method::GET,
            "/api/analytics/chart/latency.svg?range=24h&group_by=model&metric=ttft",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(svg.contains("Time to first token"));
    // The guard covers the new routes too.
    let anonymous = gw
        .http
        .get(gw.url("/api/analytics/chart/spend"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn summary_retention_and_the_old_usage_route() {
    let (_mock, gw) = gateway_with_traffic().await;
    let summary = get_json(&gw, "/api/analytics/summary").await;
    assert_eq!(summary["today_requests"], 10);
    assert!(summary["today_usd"].as_f64().unwrap() > 0.0);
    assert!(
        summary["projected_month_usd"].as_f64().unwrap()
            >= summary["this_month_usd"].as_f64().unwrap()
    );
    assert_eq!(summary["top_models"][0]["model"], "oai/gpt-4.1");

    let retention = get_json(&gw, "/api/analytics/retention").await;
    assert_eq!(retention["days"], 90);
    assert_eq!(retention["raw_rows"], 10);
    let changed: Value = gw
        .admin(Method::PUT, "/api/analytics/retention")
        .json(&json!({"days": 30}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(changed["days"], 30);
    let bad = gw
        .admin(Method::PUT, "/api/analytics/retention")
        .json(&json!({"days": -1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let pruned: Value = gw
        .admin(Method::POST, "/api/analytics/retention/prune")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pruned["deleted"], 0, "nothing is 30 days old");

    // /api/usage keeps its shape and gains the new figures.
    let usage = get_json(&gw, "/api/usage?since=24h&group_by=provider").await;
    let oai = usage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == "oai")
        .unwrap();
    assert_eq!(oai["requests"], 7);
    for field in [
        "errors",
        "input_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
        "cost_usd",
        "unpriced_requests",
        "avg_latency_ms",
        "avg_ttft_ms",
        "latency_p95_ms",
        "cache_savings_usd",
        "tool_calls",
    ] {
        assert!(oai.get(field).is_some(), "{field} in {oai}");
    }
    assert_eq!(usage["total"]["requests"], 10);
    let by_day = get_json(&gw, "/api/usage?since=24h&group_by=day").await;
    let days = by_day["rows"].as_array().unwrap();
    assert!(!days.is_empty() && days.len() <= 2);
    assert!(
        days.iter()
            .all(|d| d["group"].as_str().unwrap().len() == 10),
        "{by_day}"
    );
}
