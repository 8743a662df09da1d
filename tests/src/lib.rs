//! Test support for Switchyard's end-to-end tests: a mock upstream that speaks OpenAI
//! chat completions and Anthropic messages (and records what it was sent), and a
//! gateway started in-process against it.

pub mod agent;
pub mod gateway;
pub mod mock;

pub use gateway::TestGateway;
pub use mock::MockUpstream;
