//! Runs the mock provider on its own, for the Python SDK tests and for trying the
//! gateway by hand: `mock-upstream [ADDR:PORT]` prints the address it listens on.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string())
        .parse()
        .map_err(std::io::Error::other)?;
    let mock = switchyard_tests::MockUpstream::start_on(addr).await?;
    println!("mock upstream listening on http://{}", mock.addr);
    // Keep serving until killed.
    std::future::pending::<()>().await;
    Ok(())
}
