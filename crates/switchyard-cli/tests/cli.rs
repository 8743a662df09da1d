//! The `switchyard` binary as a user runs it: serve, keys, apply/export, usage, secrets,
//! and a shutdown that writes every queued record.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use switchyard_tests::MockUpstream;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

fn switchyard(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("SWITCHYARD_DATA_DIR", dir)
        .env_remove("SWITCHYARD_LISTEN")
        .stdin(Stdio::null())
        .output()
        .expect("switchyard runs")
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Starts `switchyard serve` on a free port; returns the child and its base URL.
fn serve(dir: &Path) -> (Child, String) {
    serve_with(dir, &[])
}

/// [`serve`] with more environment variables; proxy variables from the calling
/// environment are removed so that only `env` decides whether a proxy is used.
fn serve_with(dir: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SWITCHYARD_DATA_DIR", dir);
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"] {
        command.env_remove(name).env_remove(name.to_lowercase());
    }
    let mut child = command
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    let url = line.trim().rsplit(' ').next().expect("url").to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (child, url)
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Applies `config` to the data directory and returns a new gateway key.
fn apply_and_create_key(dir: &Path, config: &str) -> String {
    let file = dir.join("c.toml");
    std::fs::write(&file, config).unwrap();
    assert!(switchyard(dir, &["apply", file.to_str().unwrap()])
        .status
        .success());
    stdout(&switchyard(dir, &["key", "create", "k"]))
        .trim()
        .to_string()
}

fn config_for(mock: &MockUpstream) -> String {
    format!(
        "[[providers]]\nname = \"mock\"\nkind = \"openai\"\nbase_url = \"{}\"\napi_key = {{ env = \"SWITCHYARD_TEST_UPSTREAM_KEY\" }}\n",
        mock.openai_base()
    )
}

#[test]
fn serve_answers_quickly_and_prints_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (mut child, url) = serve(dir.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let healthy = runtime.block_on(async {
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client.get(format!("{url}/health")).send().await {
                return r.status().as_u16();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let elapsed = started.elapsed();
    assert_eq!(healthy, 200);
    // Well under a second on any machine; a debug build on a busy CI box gets slack.
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    eprintln!("start-up to first answered request: {elapsed:?}");
    assert!(terminate(&mut child).success());
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = switchyard(dir.path(), &["serve", "--listen", &addr]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("cannot listen on {addr}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn keys_are_shown_once_listed_without_secrets_and_revocable() {
    let dir = tempfile::tempdir().unwrap();
    let created = switchyard(dir.path(), &["key", "create", "claude-code"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let key = stdout(&created).trim().to_string();
    assert!(key.starts_with("sy-") && key.len() > 40);
    assert!(stderr(&created).contains("not shown again"));

    let again = switchyard(dir.path(), &["key", "create", "claude-code"]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already exists"));

    let list = stdout(&switchyard(dir.path(), &["key", "list"]));
    assert!(list.contains("claude-code") && list.contains("active"));
    assert!(!list.contains(&key));
    assert!(list.contains(&key[..11]), "prefix shown: {list}");

    assert!(switchyard(dir.path(), &["key", "revoke", "claude-code"])
        .status
        .success());
    assert!(stdout(&switchyard(dir.path(), &["key", "list"])).contains("revoked"));
    let missing = switchyard(dir.path(), &["key", "revoke", "nope"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("no active gateway key named 'nope'"));

    // The database never holds the key itself.
    let db = std::fs::read(dir.path().join("switchyard.db")).unwrap();
    assert!(!db.windows(key.len()).any(|w| w == key.as_bytes()));
}

#[test]
fn apply_is_idempotent_and_export_round_trips_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("switchyard.toml");
    std::fs::write(
        &file,
        "[[providers]]\nname = \"openai\"\nkind = \"openai\"\napi_key = { keyring = \"openai\" }\n\n\
         [[providers]]\nname = \"local\"\nkind = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:11434/v1\"\n\n\
         [prices.\"local/llama3.2\"]\ninput_cost_per_token = 0\noutput_cost_per_token = 0\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let first = switchyard(dir.path(), &["apply", file]);
    assert!(stdout(&first).contains("Applied"), "{}", stderr(&first));
    let second = switchyard(dir.path(), &["apply", file]);
    assert!(stdout(&second).contains("No changes"));

    let exported = dir.path().join("exported.toml");
    let out = switchyard(dir.path(), &["export", "--out", exported.to_str().unwrap()]);
    assert!(out.status.success());
    let third = switchyard(dir.path(), &["apply", exported.to_str().unwrap()]);
    assert!(stdout(&third).contains("No changes"), "export round-trips");
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(text.contains("keyring = \"openai\""));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[providers]]\nname = \"o\"\nkind = \"openai\"\napi_key = \"sk-pasted-key\"\n",
    )
    .unwrap();
    let refused = switchyard(dir.path(), &["apply", bad.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("switchyard secret set"));
    assert!(!stderr(&refused).contains("sk-pasted-key"));
}

#[test]
fn secret_set_without_a_keychain_says_to_use_an_environment_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["secret", "set", "openai"])
        .env("SWITCHYARD_DATA_DIR", dir.path())
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(b"sk-test-value\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("api_key = { env = "), "{err}");
    assert!(!err.contains("sk-test-value"));
}

#[test]
fn shutdown_writes_every_queued_record_and_usage_reports_them() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mock = runtime.block_on(MockUpstream::start()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = apply_and_create_key(dir.path(), &config_for(&mock));

    let (mut child, url) = serve_with(dir.path(), &[("SWITCHYARD_TEST_UPSTREAM_KEY", "upstream")]);

    const REQUESTS: usize = 200;
    runtime.block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..REQUESTS {
            let r = client
                .post(format!("{url}/v1/chat/completions"))
                .bearer_auth(&key)
                .json(&serde_json::json!({"model": "mock/gpt-4.1", "messages": []}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    });
    // Stop at once: records still queued must reach the database before exit.
    assert!(terminate(&mut child).success());

    let json = switchyard(
        dir.path(),
        &[
            "usage",
            "--since",
            "1h",
            "--group-by",
            "provider",
            "--format",
            "json",
        ],
    );
    let usage: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(usage["total"]["requests"], REQUESTS);
    assert_eq!(usage["rows"][0]["group"], "mock");
    assert_eq!(usage["total"]["output_tokens"], 5 * REQUESTS);

    let table = stdout(&switchyard(dir.path(), &["usage", "--group-by", "key"]));
    assert!(
        table.contains("REQUESTS") && table.lines().any(|l| l.starts_with("k ")),
        "{table}"
    );
    let csv = stdout(&switchyard(
        dir.path(),
        &["usage", "--format", "csv", "--group-by", "day"],
    ));
    assert!(csv.starts_with("group,requests"));
    let bad = switchyard(dir.path(), &["usage", "--since", "forever"]);
    assert!(stderr(&bad).contains("not a time window"));
}

#[test]
fn dashboard_prints_a_link_with_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&switchyard(
        dir.path(),
        &["dashboard", "--url", "http://127.0.0.1:7450"],
    ));
    let token = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    assert_eq!(
        out.trim(),
        format!("http://127.0.0.1:7450/ui/#token={}", token.trim())
    );
}

/// Writes `records` into the store in `dir` as a gateway's writer would (day rollups
/// in UTC, the zone the commands below run in).
fn write_records(dir: &Path, records: Vec<switchyard_store::RequestRecord>) {
    use switchyard_store::analytics::TimeZone;
    let store = switchyard_store::Store::open(dir).unwrap();
    let options = switchyard_store::WriterOptions {
        zone: TimeZone::UTC,
        ..switchyard_store::WriterOptions::default()
    };
    let writer = switchyard_store::LogWriter::start_with(&store, 64, options).unwrap();
    let sender = writer.sender();
    for r in records {
        sender.send_wait(r);
    }
    writer.shutdown();
}

fn in_utc(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("SWITCHYARD_DATA_DIR", dir)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .output()
        .expect("switchyard runs")
}

#[test]
fn usage_charts_summary_and_retention_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let now = switchyard_store::now_ms();
    let hour = 3_600_000;
    let records = (0..48)
        .map(|i| switchyard_store::RequestRecord {
            request_id: format!("r{i}"),
            ts_ms: now - (i % 6) * 24 * hour - 1000,
            client_api: "openai-chat",
            requested_model: Some(
                if i % 3 == 0 {
                    "anthropic/claude"
                } else {
                    "openai/gpt"
                }
                .into(),
            ),
            provider: Some("p".into()),
            status: if i == 0 { 500 } else { 200 },
            repo: Some(if i % 2 == 0 { "app" } else { "lib" }.into()),
            cost_usd: Some(0.25),
            cache_savings_usd: Some(0.01),
            latency_ms: 100.0 + i as f64,
            tool_calls: vec!["Read".into()],
            ..Default::default()
        })
        .collect();
    write_records(dir.path(), records);

    let json = in_utc(
        dir.path(),
        &[
            "usage",
            "--range",
            "7d",
            "--bucket",
            "day",
            "--group-by",
            "repo",
            "--filter",
            "model=anthropic/*",
            "--format",
            "json",
        ],
    );
    assert!(json.status.success(), "{}", stderr(&json));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["total"]["requests"], 16);
    assert_eq!(report["total"]["errors"], 1);
    assert_eq!(report["total"]["tool_calls"]["Read"], 16);
    assert!(report["buckets"].as_array().unwrap().len() >= 7);
    let repos: Vec<&str> = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(repos.len(), 2, "{repos:?}");

    let table = stdout(&in_utc(
        dir.path(),
        &["usage", "--range", "7d", "--group-by", "model"],
    ));
    assert!(
        table.contains("P95") && table.lines().any(|l| l.starts_with("openai/gpt ")),
        "{table}"
    );
    let csv = stdout(&in_utc(
        dir.path(),
        &[
            "usage",
            "--range",
            "7d",
            "--bucket",
            "day",
            "--group-by",
            "model",
            "--format",
            "csv",
            "--top",
            "1",
        ],
    ));
    assert!(csv.starts_with("bucket,group,requests,"), "{csv}");
    assert!(
        !csv.contains("anthropic/claude") && csv.contains("(other)"),
        "{csv}"
    );

    let out = dir.path().join("spend.svg");
    let chart = in_utc(
        dir.path(),
        &[
            "chart",
            "spend",
            "--out",
            out.to_str().unwrap(),
            "--range",
            "7d",
            "--bucket",
            "day",
            "--theme",
            "dark",
            "--width",
            "640",
        ],
    );
    assert!(chart.status.success(), "{}", stderr(&chart));
    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(
        svg.starts_with("<svg")
            && svg.contains("width=\"640\"")
            && svg.contains("anthropic/claude")
    );
    let bad = in_utc(
        dir.path(),
        &["chart", "pie", "--out", out.to_str().unwrap()],
    );
    assert!(stderr(&bad).contains("unknown chart 'pie'"));
    let bad = in_utc(dir.path(), &["usage", "--filter", "model"]);
    assert!(stderr(&bad).contains("should look like"));

    let summary = in_utc(dir.path(), &["summary", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&summary.stdout).unwrap();
    assert!(summary["last_30_days_usd"].as_f64().unwrap() > 11.9);
    // Which days fall in this month depends on the date the test runs.
    let top = summary["top_models"].as_array().unwrap();
    assert_eq!(top.is_empty(), summary["this_month_requests"] == 0);
    assert!(top
        .windows(2)
        .all(|w| w[0]["cost_usd"].as_f64() >= w[1]["cost_usd"].as_f64()));
    assert!(stdout(&in_utc(dir.path(), &["summary"])).contains("Projected month"));

    let retention = stdout(&in_utc(
        dir.path(),
        &["retention", "--days", "3", "--prune"],
    ));
    assert!(retention.contains("kept 3 days"), "{retention}");
    // Rows of days 3-5 ago went; the rollups still count them.
    let after = in_utc(
        dir.path(),
        &[
            "usage",
            "--range",
            "7d",
            "--group-by",
            "none",
            "--format",
            "json",
        ],
    );
    let after: serde_json::Value = serde_json::from_slice(&after.stdout).unwrap();
    assert_eq!(after["total"]["requests"], 48);
}

#[test]
fn a_proxy_named_in_the_environment_carries_provider_traffic() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The mock answers requests in proxy form too (`POST http://host/path`), so it
    // stands in for the proxy; the provider's host does not resolve at all.
    let mock = runtime.block_on(MockUpstream::start()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = apply_and_create_key(
        dir.path(),
        "[[providers]]\nname = \"far\"\nkind = \"openai\"\nbase_url = \"http://provider.invalid/v1\"\napi_key = { env = \"SWITCHYARD_TEST_UPSTREAM_KEY\" }\n",
    );
    let proxy = format!("http://{}", mock.addr);
    let (mut child, url) = serve_with(
        dir.path(),
        &[
            ("SWITCHYARD_TEST_UPSTREAM_KEY", "upstream"),
            ("HTTP_PROXY", &proxy),
        ],
    );
    let answer = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"model": "far/gpt-4.1", "messages": []}))
            .send()
            .await
            .unwrap()
    });
    assert_eq!(answer.status(), 200);
    let seen = mock.last().expect("the request reached the proxy");
    assert_eq!(seen.headers["host"], "provider.invalid");
    assert_eq!(seen.headers["authorization"], "Bearer upstream");
    assert!(terminate(&mut child).success());
}
