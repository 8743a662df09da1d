//! A minimal forwarding proxy, the floor any HTTP proxy pays on this machine: a hyper
//! server whose every request is sent on through a pooled hyper client to the mock and
//! answered with the upstream's body as it arrives. No routing, parsing or logging.
//! Measured beside the gateway so its figures can be read against what the extra hop
//! itself costs.

use crate::mock::{announce, next_connection};
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;

type ProxyBody = UnsyncBoxBody<Bytes, hyper::Error>;
type Upstream = Client<HttpConnector, Incoming>;

async fn forward(
    client: &Upstream,
    upstream: SocketAddr,
    mut request: Request<Incoming>,
) -> Result<Response<ProxyBody>, hyper::Error> {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let uri: Uri = match format!("http://{upstream}{path}").parse() {
        Ok(uri) => uri,
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    *request.uri_mut() = uri;
    match client.request(request).await {
        Ok(response) => Ok(response.map(|b| b.boxed_unsync())),
        Err(_) => Ok(status(StatusCode::BAD_GATEWAY)),
    }
}

fn status(code: StatusCode) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = code;
    response
}

/// Serves forever on `listen`, printing `listening on ADDR` first (the parent reads it).
/// Like the gateway, it serves on one single-threaded runtime per core, each with its
/// own client pool, so the two are compared on the same footing. Unlike it, the threads
/// race to accept, so one thread may take every connection of a level (see the README).
pub fn run(listen: SocketAddr, upstream: SocketAddr) -> anyhow::Result<()> {
    crate::procs::exit_with_parent();
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    announce(listener.local_addr()?)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut threads = Vec::with_capacity(cores);
    for _ in 0..cores {
        let listener = listener.try_clone()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        threads.push(std::thread::spawn(move || {
            runtime.block_on(serve(listener, upstream))
        }));
    }
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("a proxy thread panicked"))??;
    }
    Ok(())
}

/// Accepts from a listener shared with the other threads and serves on this one.
async fn serve(listener: std::net::TcpListener, upstream: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: &'static Upstream = Box::leak(Box::new(
        Client::builder(TokioExecutor::new()).build(connector),
    ));
    loop {
        let io = next_connection(&listener).await;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |r| forward(client, upstream, r));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}
