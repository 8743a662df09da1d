//! A gateway started in-process on a free port, with its own data directory, an
//! in-memory secret store, providers pointing at a mock upstream, and a gateway key.

use crate::MockUpstream;
use std::sync::Arc;
use switchyard_gateway::secrets::{MemorySecretStore, SecretStore};
use switchyard_gateway::{manage, GatewayOptions, RunningGateway, ServeThreads};
use switchyard_store::{RecentRequest, Store};

/// The provider key the mock providers are configured with.
pub const UPSTREAM_SECRET: &str = "upstream-secret-123";

/// Providers: `oai` (kind openai, so catalog prices apply), `ant` (kind anthropic),
/// `gem` (kind gemini),
/// `local` (openai-compatible, no price) and a price override for `oai/custom-model`.
pub fn mock_config(mock: &MockUpstream) -> String {
    format!(
        r#"
[[providers]]
name = "oai"
kind = "openai"
base_url = "{openai}"
api_key = {{ keyring = "oai" }}

[[providers]]
name = "ant"
kind = "anthropic"
base_url = "{anthropic}"
api_key = {{ keyring = "ant" }}

[[providers]]
name = "gem"
kind = "gemini"
base_url = "{gemini}"
api_key = {{ keyring = "gem" }}

[[providers]]
name = "local"
kind = "openai-compatible"
base_url = "{openai}"
models = ["llama3.2"]

[prices."oai/custom-model"]
input_cost_per_token = 0.000001
output_cost_per_token = 0.000002
"#,
        openai = mock.openai_base(),
        anthropic = mock.anthropic_base(),
        gemini = mock.gemini_base()
    )
}

pub struct TestGateway {
    pub gateway: RunningGateway,
    pub store: Store,
    pub key: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

impl TestGateway {
    /// A new mock upstream and a gateway configured against it.
    pub async fn with_mock() -> (MockUpstream, TestGateway) {
        let mock = MockUpstream::start().await.expect("mock starts");
        let gateway = TestGateway::start(&mock).await;
        (mock, gateway)
    }

    pub async fn start(mock: &MockUpstream) -> TestGateway {
        Self::start_with(mock, "", "").await
    }

    /// Starts with more config: `top` holds top-level keys (TOML wants them before the
    /// first table), `extra` more tables.
    pub async fn start_with(mock: &MockUpstream, top: &str, extra: &str) -> TestGateway {
        Self::start_serving(mock, top, extra, ServeThreads::PerCore).await
    }

    /// [`TestGateway::start_with`] for tests that pause the clock: the gateway serves
    /// on the test's runtime, so its timers (backoff, cooldowns) follow that clock.
    pub async fn start_paused(mock: &MockUpstream, top: &str, extra: &str) -> TestGateway {
        Self::start_serving(mock, top, extra, ServeThreads::Caller).await
    }

    async fn start_serving(
        mock: &MockUpstream,
        top: &str,
        extra: &str,
        threads: ServeThreads,
    ) -> TestGateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store opens");
        let config = format!("{top}\n{}\n{extra}", mock_config(mock));
        manage::apply_config(&store, &config).unwrap_or_else(|e| panic!("config applies: {e}"));
        let key = manage::create_key(&store, "test").expect("key").key;
        let secrets = Arc::new(MemorySecretStore::default());
        secrets.set("oai", UPSTREAM_SECRET).expect("secret");
        secrets.set("ant", UPSTREAM_SECRET).expect("secret");
        secrets.set("gem", UPSTREAM_SECRET).expect("secret");
        let gateway = switchyard_gateway::launch(GatewayOptions {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            secrets,
            threads,
        })
        .await
        .expect("gateway starts");
        TestGateway {
            gateway,
            store,
            key,
            http: reqwest::Client::new(),
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.base_url())
    }

    /// A POST with the gateway key and a JSON body.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .bearer_auth(&self.key)
            .json(body)
    }

    /// A POST with the gateway key in `x-api-key`, as Anthropic clients send it.
    pub fn post_with_api_key(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header("x-api-key", &self.key)
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(self.gateway.admin_token())
    }

    /// Waits for queued records to reach the database, then returns the newest first.
    pub async fn records(&self) -> Vec<RecentRequest> {
        let log = self.gateway.state().log.clone();
        tokio::task::spawn_blocking(move || log.flush())
            .await
            .expect("flush");
        self.store.recent_requests(100).expect("records")
    }

    /// The newest record, waiting briefly for it to be written (records of streams are
    /// queued when the stream ends, which may be just after the client saw the end).
    pub async fn last_record(&self, expected_count: usize) -> RecentRequest {
        for _ in 0..100 {
            let records = self.records().await;
            if records.len() >= expected_count {
                return records[0].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("expected {expected_count} records");
    }
}
