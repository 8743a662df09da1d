//! End-to-end tests over HTTP against a mock provider, compiled as one test binary.

mod admin;
mod bad_input;
mod proxy;
