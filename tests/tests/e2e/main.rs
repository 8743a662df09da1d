//! End-to-end tests over HTTP against a mock provider, compiled as one test binary.
#![allow(clippy::unwrap_used)]

mod admin;
mod analytics;
mod bad_input;
mod gemini;
mod proxy;
mod responses;
mod routing;
mod shutdown;
mod spend;
mod translate;
