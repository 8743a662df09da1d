//! The HTTP client the gateway forwards requests to providers with.
//!
//! Requests go over hyper's client connections, pooled by the gateway itself (see
//! [`pool`]): keep-alive, TLS by rustls with the webpki roots, HTTP/2 where the
//! provider offers it by ALPN. reqwest, used before, wraps hyper's general-purpose
//! client in layers the gateway never needs on this path (a redirect policy, the
//! answer's URL re-parsed, the client and its connector cloned, two timers per
//! request): about a fifth of the gateway's CPU per proxied request.
//!
//! Credentials written into a provider URL and redirects are handled by one loop for
//! both paths (see [`redirect`]).
//!
//! When the environment names a proxy (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, any
//! case), requests go through reqwest instead, which honours those variables and
//! `NO_PROXY`; both paths answer with the same [`UpstreamBody`].
//!
//! A body that goes quiet for [`IDLE_LIMIT`] ends with an error. The check re-arms one
//! timer only when it fires, rather than resetting a timer on every chunk.

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http::header::{HeaderValue, ACCEPT, USER_AGENT};
use http::{Request, Response, Uri};
use http_body::{Body, Frame};
use hyper_util::client::legacy::connect::HttpConnector;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Longest silence inside a provider's answer before it counts as lost. Long
/// reasoning can pause a stream, but not for this long.
pub const IDLE_LIMIT: Duration = Duration::from_secs(600);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const PROXY_VARIABLES: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

fn user_agent() -> HeaderValue {
    HeaderValue::from_static(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
}

mod connect;
mod http1;
mod pool;
mod redirect;
mod request_body;

pub use request_body::RequestBody;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    #[error("could not set up TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("could not set up the proxied HTTP client: {0}")]
    Proxied(#[from] reqwest::Error),
}

/// Sends requests to providers; cheap to share, holds the connection pool.
pub struct UpstreamClient {
    inner: Inner,
    idle_limit: Duration,
}

enum Inner {
    /// Connections pooled per worker thread (see [`crate::workers`]), so a provider
    /// connection is driven by the thread whose requests use it.
    Direct(Arc<pool::Connections>),
    Proxied(reqwest::Client),
}

impl UpstreamClient {
    /// The direct client, or the proxied one when the environment names a proxy.
    pub fn from_env() -> Result<UpstreamClient, ClientBuildError> {
        let proxy_named = PROXY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        if proxy_named {
            Self::proxied()
        } else {
            Self::direct()
        }
    }

    /// hyper's pooled client with rustls; no proxy.
    pub fn direct() -> Result<UpstreamClient, ClientBuildError> {
        Self::direct_with(CONNECT_TIMEOUT)
    }

    /// [`UpstreamClient::direct`] with connections (TCP and TLS) limited to `connect_limit`.
    pub fn direct_with(connect_limit: Duration) -> Result<UpstreamClient, ClientBuildError> {
        Self::direct_with_limits(connect_limit, POOL_IDLE_TIMEOUT, webpki_roots())
    }

    /// [`UpstreamClient::direct_with`], closing connections idle for `idle_timeout` and
    /// trusting the certificates `roots` lead to.
    fn direct_with_limits(
        connect_limit: Duration,
        idle_timeout: Duration,
        roots: rustls::RootCertStore,
    ) -> Result<UpstreamClient, ClientBuildError> {
        // The provider is named rather than taken from the process default, which
        // would depend on which crypto features other crates happen to enable.
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        let connector = connect::Bounded::new(connector, connect_limit);
        let connections = pool::Connections::new(connector, idle_timeout, crate::workers::count());
        Ok(UpstreamClient {
            inner: Inner::Direct(Arc::new(connections)),
            idle_limit: IDLE_LIMIT,
        })
    }

    /// reqwest, which routes through the proxy the environment names.
    pub fn proxied() -> Result<UpstreamClient, ClientBuildError> {
        Self::proxied_through(None)
    }

    /// reqwest through `proxy`, or through the one the environment names.
    fn proxied_through(proxy: Option<reqwest::Proxy>) -> Result<UpstreamClient, ClientBuildError> {
        let mut builder = reqwest::Client::builder();
        if let Some(proxy) = proxy {
            builder = builder.proxy(proxy);
        }
        let client = builder
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .tcp_nodelay(true)
            .user_agent(user_agent())
            // Redirects are followed by `redirect::follow`, as on the direct path.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(UpstreamClient {
            inner: Inner::Proxied(client),
            idle_limit: IDLE_LIMIT,
        })
    }

    /// Answers whose bodies go quiet for `limit` end with an error.
    pub fn with_idle_limit(mut self, limit: Duration) -> UpstreamClient {
        self.idle_limit = limit;
        self
    }

    /// Whether requests go through a proxy the environment names.
    pub fn is_proxied(&self) -> bool {
        matches!(self.inner, Inner::Proxied(_))
    }

    /// Sends one request; the answer's body is read separately, through the returned
    /// [`UpstreamBody`].
    ///
    /// The exchange is boxed. Unboxed, its 2 KB (the request kept for redirects, the
    /// pooled connection's send) were part of every future that awaits this one, seven
    /// of them nested up to the request's own, and each is copied whole when it is
    /// built: 14 KB copied per request, and poll frames as large. Boxed, that is one
    /// allocation, and the gateway's CPU per request on one connection fell by 3.5%
    /// (median of five interleaved runs).
    pub async fn send(
        &self,
        request: Request<impl Into<RequestBody>>,
    ) -> Result<Response<UpstreamBody>, SendError> {
        let mut request = request.map(Into::into);
        match &self.inner {
            Inner::Direct(connections) => {
                let headers = request.headers_mut();
                headers.entry(USER_AGENT).or_insert_with(user_agent);
                // reqwest's default, which some providers' edge rules expect.
                headers
                    .entry(ACCEPT)
                    .or_insert(HeaderValue::from_static("*/*"));
                let response = Box::pin(redirect::follow(request, |hop| {
                    connections.send(hop.map(|body: RequestBody| body.frames()))
                }))
                .await?;
                Ok(response.map(|(body, reuse)| {
                    UpstreamBody::new(Source::Direct(body, reuse), self.idle_limit)
                }))
            }
            Inner::Proxied(client) => {
                let response = Box::pin(redirect::follow(request, |hop| async move {
                    let hop = reqwest::Request::try_from(hop).map_err(SendError::new)?;
                    let answer = client.execute(hop).await.map_err(SendError::new)?;
                    Ok(Response::<reqwest::Body>::from(answer))
                }))
                .await?;
                Ok(response.map(|body| UpstreamBody::new(Source::Proxied(body), self.idle_limit)))
            }
        }
    }
}

/// The Mozilla root certificates, as webpki-roots ships them.
fn webpki_roots() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// A request that got no answer: refused, reset, TLS, timed out while connecting.
#[derive(Debug)]
pub struct SendError {
    source: BoxError,
}

impl SendError {
    fn new(source: impl Into<BoxError>) -> SendError {
        SendError {
            source: source.into(),
        }
    }

    /// The innermost cause, which says what actually happened.
    pub fn root_cause(&self) -> &(dyn StdError + 'static) {
        let mut cause: &(dyn StdError + 'static) = &*self.source;
        while let Some(next) = cause.source() {
            cause = next;
        }
        cause
    }

    /// Whether the failure was a timeout (of the connection attempt).
    pub fn is_timeout(&self) -> bool {
        let mut cause: Option<&(dyn StdError + 'static)> = Some(&*self.source);
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::TimedOut {
                    return true;
                }
            }
            if let Some(r) = c.downcast_ref::<reqwest::Error>() {
                if r.is_timeout() {
                    return true;
                }
            }
            cause = c.source();
        }
        false
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}

/// Reading an answer's body failed, or the provider went quiet for too long.
#[derive(Debug)]
pub struct BodyError {
    message: String,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl BodyError {
    fn read(e: impl fmt::Display) -> BodyError {
        BodyError {
            message: e.to_string(),
        }
    }
}

enum Source {
    /// With the connection to give back to the pool once the body has ended.
    Direct(hyper::body::Incoming, Option<pool::Reuse>),
    Proxied(reqwest::Body),
}

/// One frame from either source's body, its error worded for the client.
fn poll_frame<B>(
    body: Pin<&mut B>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, BodyError>>>
where
    B: Body<Data = Bytes>,
    B::Error: fmt::Display,
{
    body.poll_frame(cx)
        .map(|frame| frame.map(|r| r.map_err(BodyError::read)))
}

/// A provider's answer body, as a stream of chunks as they arrive.
pub struct UpstreamBody {
    source: Source,
    /// A chunk handed back with [`UpstreamBody::put_back`], returned first.
    front: Option<Bytes>,
    idle_limit: Duration,
    last_data: Instant,
    /// Armed the first time the body has nothing to give; see the module notes.
    idle_timer: Option<Pin<Box<Sleep>>>,
}

impl fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            Source::Direct(..) => "direct",
            Source::Proxied(_) => "proxied",
        };
        f.debug_struct("UpstreamBody")
            .field("source", &source)
            .field("idle_limit", &self.idle_limit)
            .finish_non_exhaustive()
    }
}

impl UpstreamBody {
    fn new(source: Source, idle_limit: Duration) -> UpstreamBody {
        UpstreamBody {
            source,
            front: None,
            idle_limit,
            last_data: Instant::now(),
            idle_timer: None,
        }
    }

    /// A body that yields what `chunks` yields, for tests of what reads bodies.
    #[cfg(test)]
    pub(crate) fn from_stream<S>(chunks: S) -> UpstreamBody
    where
        S: futures_util::TryStream<Ok = Bytes, Error = std::io::Error> + Send + 'static,
    {
        UpstreamBody::new(
            Source::Proxied(reqwest::Body::wrap_stream(chunks)),
            IDLE_LIMIT,
        )
    }

    /// Whether the body comes from a connection that is a task of its own and hands
    /// the body over one chunk per turn of that task (reqwest's, behind a proxy): a
    /// reader gathering the chunks that arrived together has to give it turns. Direct
    /// HTTP/1.1 connections are driven by their body (see [`http1`]), and HTTP/2 ones
    /// queue every frame they have read, so a chunk not there is a chunk not come.
    pub fn arrives_a_chunk_per_turn(&self) -> bool {
        matches!(self.source, Source::Proxied(_))
    }

    /// Returns `chunk` ahead of everything else (a chunk read to look at it first).
    pub fn put_back(&mut self, chunk: Bytes) {
        debug_assert!(self.front.is_none(), "one chunk put back at a time");
        self.front = Some(chunk);
    }

    /// The whole body. A body that arrives as one chunk is returned without a copy.
    pub async fn bytes(mut self) -> Result<Bytes, BodyError> {
        use futures_util::StreamExt;
        let Some(first) = self.next().await.transpose()? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.next().await.transpose()? else {
            return Ok(first);
        };
        let mut all = BytesMut::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(chunk) = self.next().await.transpose()? {
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }

    /// At most `limit` bytes of the body: whatever arrived by `deadline`, or before
    /// reading failed.
    pub async fn read_limited(mut self, limit: usize, deadline: Instant) -> Bytes {
        use futures_util::StreamExt;
        let mut body = Vec::new();
        while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, self.next()).await {
            let room = limit.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= limit {
                break;
            }
        }
        Bytes::from(body)
    }

    /// The next data frame from the source (trailers and empty frames skipped).
    fn poll_source(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BodyError>>> {
        loop {
            let frame = match &mut self.source {
                // An HTTP/1.1 body is read by driving its connection (see `http1`).
                Source::Direct(body, Some(reuse)) => {
                    reuse.poll_driven(cx, |quiet| poll_frame(Pin::new(&mut *body), quiet))
                }
                Source::Direct(body, None) => poll_frame(Pin::new(body), cx),
                Source::Proxied(body) => poll_frame(Pin::new(body), cx),
            };
            let frame = match std::task::ready!(frame) {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    if let Source::Direct(_, reuse) = &mut self.source {
                        if let Some(reuse) = reuse.take() {
                            reuse.give_back();
                        }
                    }
                    return Poll::Ready(None);
                }
            };
            if let Ok(data) = frame.into_data() {
                if !data.is_empty() {
                    return Poll::Ready(Some(Ok(data)));
                }
            }
        }
    }

    /// `Ready` with an error once nothing has arrived for the idle limit.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<BodyError> {
        let timer = match &mut self.idle_timer {
            Some(timer) => timer,
            None => {
                // The first wait: until now the body was read without pause.
                self.last_data = Instant::now();
                let due = self.last_data + self.idle_limit;
                self.idle_timer
                    .insert(Box::pin(tokio::time::sleep_until(due)))
            }
        };
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The timer was set when an earlier chunk was the latest one; data may
            // have come since, which moves the deadline.
            let due = self.last_data + self.idle_limit;
            if Instant::now() >= due {
                return Poll::Ready(BodyError {
                    message: format!(
                        "the provider sent nothing for {} s",
                        self.idle_limit.as_secs()
                    ),
                });
            }
            timer.as_mut().reset(due);
        }
    }
}

impl Stream for UpstreamBody {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.poll_unwatched(cx) {
            Poll::Pending => this.poll_idle(cx).map(|e| Some(Err(e))),
            ready => ready,
        }
    }
}

impl UpstreamBody {
    /// The next chunk, without arming the idle limit when there is none yet: for a
    /// caller that polls again soon whatever happens (it holds data to send, or has
    /// woken itself). A caller that waits on the result uses `poll_next`.
    pub fn poll_unwatched(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, BodyError>>> {
        if let Some(chunk) = self.front.take() {
            return Poll::Ready(Some(Ok(chunk)));
        }
        let polled = self.poll_source(cx);
        // Only read when a timer exists: a body read without ever waiting (most
        // complete answers, and streams that arrive in bursts) never looks at the clock.
        if matches!(polled, Poll::Ready(Some(Ok(_)))) && self.idle_timer.is_some() {
            self.last_data = Instant::now();
        }
        polled
    }
}

/// Parses an absolute URL the way browsers and reqwest do (international host names
/// to punycode, paths normalised), as a URI hyper can send to.
pub fn parse_url(text: &str) -> Option<Uri> {
    let url = url::Url::parse(text).ok()?;
    Uri::try_from(url.as_str()).ok()
}

/// The `Host` header of a plain-HTTP request to `uri`: its host, and its port unless
/// it is 80 (what the HTTP client would write, built once per provider rather than
/// formatted for every request). `None` for any other scheme: over TLS the protocol is
/// negotiated, and HTTP/2 names the host in `:authority`, not in a `Host` header.
pub fn plain_http_host_header(uri: &Uri) -> Option<HeaderValue> {
    if uri.scheme_str() != Some("http") {
        return None;
    }
    host_header(uri.host()?, uri.port_u16(), 80)
}

/// A `Host` header value: `host`, with `port` unless it is the scheme's `default_port`.
fn host_header(host: &str, port: Option<u16>, default_port: u16) -> Option<HeaderValue> {
    let value = match port {
        Some(port) if port != default_port => format!("{host}:{port}"),
        _ => host.to_string(),
    };
    HeaderValue::try_from(value).ok()
}

/// `uri` with its query replaced by `query`.
pub fn with_query(uri: &Uri, query: Option<&str>) -> Option<Uri> {
    let Some(query) = query else {
        return Some(uri.clone());
    };
    let mut parts = uri.clone().into_parts();
    let path = uri.path();
    parts.path_and_query = Some(format!("{path}?{query}").parse().ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server on 127.0.0.1 that reads one request, writes `parts` with `pause`
    /// between them, then holds the connection open; returns its URL and the request.
    async fn scripted_server(
        parts: Vec<&'static str>,
        pause: Duration,
    ) -> (String, tokio::sync::oneshot::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = vec![0u8; 64 * 1024];
            let n = socket.read(&mut request).await.expect("read");
            let _ = seen_tx.send(String::from_utf8_lossy(&request[..n]).into_owned());
            for part in parts {
                socket.write_all(part.as_bytes()).await.expect("write");
                tokio::time::sleep(pause).await;
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        (format!("http://{addr}/v1/chat/completions"), seen_rx)
    }

    fn post(url: &str, body: &'static str) -> Request<Bytes> {
        Request::post(parse_url(url).expect("url"))
            .header("content-type", "application/json")
            .body(Bytes::from_static(body.as_bytes()))
            .expect("request")
    }

    #[test]
    fn the_send_future_stays_small_for_the_futures_that_await_it() {
        let client = UpstreamClient::direct().expect("client");
        let sending = client.send(post("http://127.0.0.1:9/v1/chat/completions", "{}"));
        // 2.5 KB with the exchange inline.
        assert!(
            std::mem::size_of_val(&sending) <= 1024,
            "{} bytes",
            std::mem::size_of_val(&sending)
        );
    }

    #[tokio::test]
    async fn a_body_in_several_chunks_is_read_whole_and_the_request_is_sent_as_built() {
        let (url, seen) = scripted_server(
            vec![
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
                "4\r\n{\"a\"\r\n",
                "4\r\n:1}\n\r\n0\r\n\r\n",
            ],
            Duration::from_millis(20),
        )
        .await;
        let client = UpstreamClient::direct().expect("client");
        let response = client
            .send(post(&url, "{\"model\":\"m\"}"))
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        let body = response.into_body().bytes().await.expect("body");
        assert_eq!(&body[..], b"{\"a\":1}\n");
        let request = seen.await.expect("request seen").to_ascii_lowercase();
        assert!(
            request.starts_with("post /v1/chat/completions http/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("\r\nuser-agent: switchyard/"), "{request}");
        assert!(request.contains("\r\naccept: */*\r\n"), "{request}");
        assert!(request.contains("\r\ncontent-length: 13\r\n"), "{request}");
        assert!(request.ends_with("\r\n\r\n{\"model\":\"m\"}"), "{request}");
    }

    #[tokio::test]
    async fn a_body_that_goes_quiet_ends_with_an_error_after_the_idle_limit() {
        for proxied in [false, true] {
            let (url, seen) = scripted_server(
                vec![
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
                    "6\r\ndata: \r\n",
                    "6\r\nhello\n\r\n",
                ],
                Duration::from_millis(150),
            )
            .await;
            let (client, url) = if proxied {
                // The scripted server is the proxy; the provider's host is never resolved.
                let server = url.trim_start_matches("http://").split('/').next();
                let server = server.and_then(|s| s.parse().ok()).expect("address");
                let provider = "http://provider.invalid/v1/chat/completions".to_string();
                (through_proxy(server), provider)
            } else {
                (UpstreamClient::direct().expect("client"), url)
            };
            let client = client.with_idle_limit(Duration::from_millis(400));
            let mut body = client
                .send(post(&url, "{}"))
                .await
                .expect("sent")
                .into_body();
            // Pauses shorter than the limit are waited out, however many there are.
            assert_eq!(
                &body.next().await.expect("chunk").expect("data")[..],
                b"data: "
            );
            assert_eq!(
                &body.next().await.expect("chunk").expect("data")[..],
                b"hello\n"
            );
            let started = Instant::now();
            let error = body
                .next()
                .await
                .expect("an error, not the end")
                .expect_err("idle");
            assert!(
                started.elapsed() >= Duration::from_millis(300),
                "{:?}",
                started.elapsed()
            );
            assert!(error.to_string().contains("sent nothing for"), "{error}");
            let request = seen.await.expect("request seen").to_ascii_lowercase();
            assert_eq!(
                request.starts_with("post http://provider.invalid/"),
                proxied,
                "{request}"
            );
        }
    }

    #[tokio::test]
    async fn a_chunk_put_back_comes_first() {
        let (url, _seen) = scripted_server(
            vec![
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
                "6\r\n world\r\n0\r\n\r\n",
            ],
            Duration::from_millis(20),
        )
        .await;
        let client = UpstreamClient::direct().expect("client");
        let mut body = client
            .send(post(&url, "{}"))
            .await
            .expect("sent")
            .into_body();
        // The proxy looks at a stream's first chunk before committing to it.
        let first = body.next().await.expect("chunk").expect("data");
        assert_eq!(&first[..], b"hello");
        body.put_back(first);
        assert_eq!(&body.bytes().await.expect("body")[..], b"hello world");
    }

    /// A server that redirects `/old` to `to` (308), `/moved` to `/new` (301) and
    /// `/loop` to itself, and answers `/new` with the body, credential and host headers
    /// it received and whether the request came through a proxy (an absolute URL in the
    /// request line). It serves as a proxy too: a proxy's request names the whole URL
    /// and is routed by its path.
    async fn redirecting_server(to: Option<String>) -> std::net::SocketAddr {
        use axum::http::{HeaderMap, StatusCode};
        use axum::routing::post;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let to = to.unwrap_or_else(|| "/new".to_string());
        let app = axum::Router::new()
            .route(
                "/old",
                post(move || async move { (StatusCode::PERMANENT_REDIRECT, [("location", to)]) }),
            )
            .route(
                "/moved",
                post(|| async { (StatusCode::MOVED_PERMANENTLY, [("location", "/new")]) }),
            )
            .route(
                "/loop",
                post(|| async { (StatusCode::TEMPORARY_REDIRECT, [("location", "/loop")]) }),
            )
            .route(
                "/new",
                post(|uri: Uri, headers: HeaderMap, body: String| async move {
                    let seen = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-")
                            .to_string()
                    };
                    let via = if uri.scheme().is_some() {
                        "proxied"
                    } else {
                        "direct"
                    };
                    format!(
                        "{body}|{}|{}|{}|{via}",
                        seen("authorization"),
                        seen("x-api-key"),
                        seen("host")
                    )
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// A request with keys, and with its `Host` set as the gateway sets it.
    fn with_keys(url: &str) -> Request<Bytes> {
        let mut request = post(url, "hi");
        let host = plain_http_host_header(request.uri()).expect("host");
        request.headers_mut().insert(http::header::HOST, host);
        request
            .headers_mut()
            .insert("authorization", HeaderValue::from_static("Bearer k"));
        request
            .headers_mut()
            .insert("x-api-key", HeaderValue::from_static("k2"));
        request
    }

    /// The status and the body of the answer to `with_keys(url)`.
    async fn answer(client: &UpstreamClient, url: &str) -> (u16, String) {
        let answer = client.send(with_keys(url)).await.expect("sent");
        let status = answer.status().as_u16();
        let body = answer.into_body().bytes().await.expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn through_proxy(proxy: std::net::SocketAddr) -> UpstreamClient {
        let proxy = reqwest::Proxy::all(format!("http://{proxy}")).expect("proxy url");
        UpstreamClient::proxied_through(Some(proxy)).expect("client")
    }

    #[tokio::test]
    async fn redirects_are_followed_with_the_body_and_keys_only_on_the_same_host() {
        let client = UpstreamClient::direct().expect("client");
        let here = redirecting_server(None).await;
        let kept = (200, format!("hi|Bearer k|k2|{here}|direct"));
        assert_eq!(answer(&client, &format!("http://{here}/old")).await, kept);
        // A 301 or 302 keeps the POST and its body, unlike a browser.
        assert_eq!(answer(&client, &format!("http://{here}/moved")).await, kept);

        let elsewhere = redirecting_server(Some(format!("http://{here}/new"))).await;
        assert_eq!(
            answer(&client, &format!("http://{elsewhere}/old")).await,
            (200, format!("hi|-|-|{here}|direct")),
            "keys are not sent to another host, and the Host names the new one"
        );
        let (status, _) = answer(&client, &format!("http://{here}/loop")).await;
        assert_eq!(status, 307, "a loop ends with the redirect itself");
    }

    #[tokio::test]
    async fn behind_a_proxy_redirects_are_followed_the_same_way() {
        // Every hop goes to the proxy, whatever host the URL names.
        let proxy = redirecting_server(Some("http://elsewhere.invalid/new".to_string())).await;
        let client = through_proxy(proxy);
        assert_eq!(
            answer(&client, "http://provider.invalid/moved").await,
            (200, "hi|Bearer k|k2|provider.invalid|proxied".to_string()),
            "a 301 keeps the POST, its body and the keys on the same host"
        );
        assert_eq!(
            answer(&client, "http://provider.invalid/old").await,
            (200, "hi|-|-|elsewhere.invalid|proxied".to_string()),
            "keys are not sent to another host, and the Host names the new one"
        );
        let (status, _) = answer(&client, "http://provider.invalid/loop").await;
        assert_eq!(status, 307, "a loop ends with the redirect itself");
    }

    #[test]
    fn the_host_header_is_built_for_plain_http_without_port_80_or_credentials() {
        let host = |url: &str| {
            plain_http_host_header(&url.parse::<Uri>().expect("uri"))
                .map(|v| v.to_str().expect("text").to_string())
        };
        assert_eq!(host("http://127.0.0.1:80/v1").as_deref(), Some("127.0.0.1"));
        assert_eq!(host("http://localhost/v1").as_deref(), Some("localhost"));
        assert_eq!(
            host("http://127.0.0.1:11434/v1").as_deref(),
            Some("127.0.0.1:11434")
        );
        assert_eq!(host("http://[::1]:8080/v1").as_deref(), Some("[::1]:8080"));
        assert_eq!(
            host("http://ana:pw@llm.example:8443/v1").as_deref(),
            Some("llm.example:8443")
        );
        assert_eq!(
            host("https://api.openai.com/v1"),
            None,
            "left to the client"
        );
        assert_eq!(host("/v1/chat/completions"), None);
    }

    #[tokio::test]
    async fn an_error_body_that_stalls_is_cut_at_the_deadline() {
        let (url, _seen) = scripted_server(
            vec![
                "HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n",
                "9\r\n{\"error\":\r\n",
            ],
            Duration::from_millis(10),
        )
        .await;
        let client = UpstreamClient::direct().expect("client");
        let response = client.send(post(&url, "{}")).await.expect("sent");
        assert_eq!(response.status(), 400);
        let deadline = Instant::now() + Duration::from_millis(300);
        let body = response.into_body().read_limited(1024, deadline).await;
        assert_eq!(&body[..], b"{\"error\":");
        assert!(Instant::now() >= deadline);
    }

    #[tokio::test]
    async fn credentials_in_the_url_go_as_basic_auth_not_in_the_host() {
        let (url, seen) = scripted_server(
            vec!["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
            Duration::ZERO,
        )
        .await;
        let url = url.replace("http://", "http://ana:pw@");
        let client = UpstreamClient::direct().expect("client");
        let answer = client.send(post(&url, "{}")).await.expect("sent");
        assert_eq!(answer.status(), 200);
        let request = seen.await.expect("request seen").to_ascii_lowercase();
        // base64("ana:pw")
        assert!(
            request.contains("\r\nauthorization: basic yw5honb3\r\n"),
            "{request}"
        );
        assert!(!request.contains("ana:pw@"), "{request}");
    }

    #[tokio::test]
    async fn a_tls_handshake_that_never_comes_is_a_timeout_within_the_connect_limit() {
        // Accepts connections and never says a word: a black-holed TLS endpoint.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let client = UpstreamClient::direct_with(Duration::from_millis(200)).expect("client");
        let started = Instant::now();
        let error = client
            .send(post(&format!("https://{addr}/v1/chat/completions"), "{}"))
            .await
            .expect_err("no handshake");
        assert!(error.is_timeout(), "{error}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_says_so() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!(
            "http://{}/v1/chat/completions",
            listener.local_addr().expect("addr")
        );
        drop(listener);
        let client = UpstreamClient::direct().expect("client");
        let error = client.send(post(&url, "{}")).await.expect_err("refused");
        assert!(!error.is_timeout());
        assert!(
            error
                .root_cause()
                .to_string()
                .to_lowercase()
                .contains("refused"),
            "{}",
            error.root_cause()
        );
    }

    #[test]
    fn urls_are_normalised_like_a_browser_would() {
        let uri = parse_url("https://Bücher.example/v1/chat/completions").expect("parses");
        assert_eq!(
            uri.to_string(),
            "https://xn--bcher-kva.example/v1/chat/completions"
        );
        assert!(parse_url("not a url").is_none());
        assert!(parse_url("http://").is_none());
    }

    #[test]
    fn a_query_replaces_the_one_before() {
        let uri = parse_url("http://127.0.0.1:9/v1/messages").expect("parses");
        let with = with_query(&uri, Some("beta=true")).expect("valid");
        assert_eq!(with.to_string(), "http://127.0.0.1:9/v1/messages?beta=true");
        let again = with_query(&with, Some("a=1")).expect("valid");
        assert_eq!(again.to_string(), "http://127.0.0.1:9/v1/messages?a=1");
        assert_eq!(with_query(&uri, None), Some(uri.clone()));
    }
}
