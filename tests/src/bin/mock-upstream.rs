//! Runs the mock provider on its own, for the Python SDK tests and for trying the
//! gateway by hand: `mock-upstream [ADDR:PORT]` prints the address it listens on.
//! With `MOCK_REQUIRE_KEY` set, requests must carry that provider key.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string())
        .parse()
        .map_err(std::io::Error::other)?;
    let required = std::env::var("MOCK_REQUIRE_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    let mock = switchyard_tests::MockUpstream::start_with_key(addr, required).await?;
    println!("mock upstream listening on http://{}", mock.addr);
    // Keep serving until killed.
    std::future::pending::<()>().await;
    Ok(())
}
