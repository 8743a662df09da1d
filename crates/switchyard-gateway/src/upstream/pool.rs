//! The forwarding client's connections to providers, pooled per request worker.
//!
//! Each worker thread (see [`crate::workers`]) keeps its own idle connections, so a
//! connection is used by the thread whose runtime drives it, and taking one is a look
//! through a short list of origins under a lock no other worker takes (threads that
//! are not workers share the first worker's): no hashing of the origin, no task
//! spawned per request to wait for the connection to come free. That general-purpose
//! machinery cost about a tenth of the gateway's instructions per proxied request.
//!
//! - An HTTP/1.1 connection serves one exchange at a time. It leaves the pool with a
//!   request, is driven by it (see [`super::http1`]), and comes back once the answer's
//!   body has been read to its end (see [`Reuse`]); an answer dropped before its end
//!   takes its connection with it, since what is left of it cannot be skipped safely.
//! - An HTTP/2 connection (when the provider offers it by ALPN) stays in the pool and
//!   carries every request to its origin at once.
//! - A provider may close an idle connection at any time. A request that hyper could
//!   not start on a reused connection is sent again on another one; a request that
//!   was started is never sent twice.
//! - Connections idle for longer than the idle timeout are dropped: those of an origin
//!   whenever it is used, all of a worker's now and then when any is.

use super::connect::Bounded;
use super::http1::Http1Connection;
use super::request_body::PieceFrames;
use super::SendError;
use http::header::{HeaderValue, HOST};
use http::uri::{Authority, Scheme};
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tower_service::Service;

/// Makes TCP (and TLS) connections, each within the connect limit.
pub(super) type Connector = Bounded<HttpsConnector<HttpConnector>>;

/// Most idle HTTP/1.1 connections a worker keeps to one origin; more are closed
/// when they come back. Far above what a laptop's agents keep busy at once.
const MAX_IDLE_PER_ORIGIN: usize = 256;
/// How often a worker's whole pool is swept for connections idle too long.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The connections of every worker, and how to make new ones.
pub(super) struct Connections {
    connector: Connector,
    http2: http2::Builder<TokioExecutor>,
    idle_timeout: Duration,
    workers: Box<[Mutex<WorkerPool>]>,
}

/// A scheme and authority: what a connection can be reused for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    scheme: Scheme,
    authority: Authority,
}

impl Origin {
    fn of(uri: &Uri) -> Result<Origin, SendError> {
        match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority)) => Ok(Origin {
                scheme: scheme.clone(),
                authority: authority.clone(),
            }),
            _ => Err(SendError::new(format!(
                "the provider URL {uri} needs a scheme and a host"
            ))),
        }
    }

    /// The URI the connector dials.
    fn uri(&self) -> Result<Uri, SendError> {
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query("/")
            .build()
            .map_err(SendError::new)
    }

    /// The `Host` header of an HTTP/1.1 request: the host, and the port unless it is
    /// the scheme's default.
    fn host_header(&self) -> Result<HeaderValue, SendError> {
        let default_port = if self.scheme == Scheme::HTTPS {
            443
        } else {
            80
        };
        let (host, port) = (self.authority.host(), self.authority.port_u16());
        super::host_header(host, port, default_port)
            .ok_or_else(|| SendError::new(format!("{host} cannot be sent as a Host header")))
    }
}

#[derive(Default)]
struct WorkerPool {
    /// Few entries (the providers in use), so a scan beats hashing. Never shrinks:
    /// a [`Reuse`] names its origin by position.
    origins: Vec<OriginPool>,
    last_sweep: Option<Instant>,
}

struct OriginPool {
    origin: Origin,
    /// Oldest first: taken from the back (the warmest), expired from the front.
    http1: VecDeque<IdleHttp1>,
    http2: Option<SharedHttp2>,
}

struct IdleHttp1 {
    connection: Http1Connection,
    since: Instant,
}

struct SharedHttp2 {
    sender: http2::SendRequest<PieceFrames>,
    last_used: Instant,
}

/// What the pool hands out for one request.
enum Checkout {
    Http1(Http1Connection),
    Http2(http2::SendRequest<PieceFrames>),
}

impl OriginPool {
    fn drop_expired(&mut self, now: Instant, idle_timeout: Duration) {
        while self.http1.front().is_some_and(|idle| {
            now.duration_since(idle.since) > idle_timeout || idle.connection.is_closed()
        }) {
            self.http1.pop_front();
        }
        if self.http2.as_ref().is_some_and(|shared| {
            now.duration_since(shared.last_used) > idle_timeout || shared.sender.is_closed()
        }) {
            self.http2 = None;
        }
    }

    /// A connection for one request, after [`OriginPool::drop_expired`] (which leaves
    /// no closed HTTP/2 connection behind; idle HTTP/1.1 ones may close at any time).
    fn take(&mut self, now: Instant) -> Option<Checkout> {
        if let Some(shared) = &mut self.http2 {
            shared.last_used = now;
            return Some(Checkout::Http2(shared.sender.clone()));
        }
        while let Some(idle) = self.http1.pop_back() {
            if !idle.connection.is_closed() {
                return Some(Checkout::Http1(idle.connection));
            }
        }
        None
    }
}

impl WorkerPool {
    fn slot(&mut self, origin: &Origin) -> usize {
        if let Some(slot) = self.origins.iter().position(|pool| pool.origin == *origin) {
            return slot;
        }
        self.origins.push(OriginPool {
            origin: origin.clone(),
            http1: VecDeque::new(),
            http2: None,
        });
        self.origins.len() - 1
    }

    fn sweep_if_due(&mut self, now: Instant, idle_timeout: Duration) {
        if self
            .last_sweep
            .is_some_and(|last| now.duration_since(last) < SWEEP_EVERY)
        {
            return;
        }
        self.last_sweep = Some(now);
        for pool in &mut self.origins {
            pool.drop_expired(now, idle_timeout);
        }
    }
}

/// An HTTP/1.1 connection lent out for one exchange, driven by the answer's body while
/// it is read and given back once it has been read to its end.
pub(super) struct Reuse {
    connections: Arc<Connections>,
    worker: usize,
    slot: usize,
    connection: Http1Connection,
}

impl Reuse {
    /// Polls the answer's body, driving the connection (see
    /// [`Http1Connection::poll_driven`]).
    pub(super) fn poll_driven<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        outcome: impl FnMut(&mut std::task::Context<'_>) -> std::task::Poll<T>,
    ) -> std::task::Poll<T> {
        self.connection.poll_driven(cx, outcome)
    }

    /// The answer was read whole: the connection can carry the next request.
    pub(super) fn give_back(self) {
        let Reuse {
            connections,
            worker,
            slot,
            connection,
        } = self;
        if connection.is_closed() {
            return;
        }
        let mut pool = connections.lock(worker);
        if let Some(origin) = pool.origins.get_mut(slot) {
            if origin.http1.len() < MAX_IDLE_PER_ORIGIN {
                origin.http1.push_back(IdleHttp1 {
                    connection,
                    since: Instant::now(),
                });
            }
        }
    }
}

/// The answer to one request, its body with the connection to give back when it ends.
pub(super) type Exchange = Response<(Incoming, Option<Reuse>)>;

impl Connections {
    pub(super) fn new(connector: Connector, idle_timeout: Duration, workers: usize) -> Connections {
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2.timer(TokioTimer::new());
        Connections {
            connector,
            http2,
            idle_timeout,
            workers: (0..workers.max(1))
                .map(|_| Mutex::new(WorkerPool::default()))
                .collect(),
        }
    }

    fn lock(&self, worker: usize) -> MutexGuard<'_, WorkerPool> {
        // Never held across an await, and nothing in it can be left half-changed.
        self.workers[worker]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `request` (absolute URI) on a pooled connection to its origin, or on a
    /// new one.
    pub(super) async fn send(
        self: &Arc<Self>,
        mut request: Request<PieceFrames>,
    ) -> Result<Exchange, SendError> {
        let origin = Origin::of(request.uri())?;
        // An HTTP/1.1 try rewrites the URI to a path; a request sent again gets it back.
        let absolute = request.uri().clone();
        let worker = crate::workers::current().unwrap_or(0) % self.workers.len();
        let slot = self.lock(worker).slot(&origin);
        loop {
            let checkout = {
                let now = Instant::now();
                let mut pool = self.lock(worker);
                pool.sweep_if_due(now, self.idle_timeout);
                let origin_pool = &mut pool.origins[slot];
                origin_pool.drop_expired(now, self.idle_timeout);
                origin_pool.take(now)
            };
            let Some(checkout) = checkout else {
                // Boxed: connecting (TLS, HTTP/2 handshakes) takes far more state than
                // an exchange on a pooled connection, and every request's future would
                // otherwise carry, and copy, room for it.
                return Box::pin(self.send_on_new(request, &origin, worker, slot)).await;
            };
            match checkout {
                Checkout::Http2(mut sender) => {
                    match sender.try_send_request(request).await {
                        Ok(response) => return Ok(response.map(|body| (body, None))),
                        Err(mut failed) => match failed.take_message() {
                            // The connection is going away (closed, or told to by the
                            // provider) before the request could start. It leaves the
                            // pool now, even if it does not look closed yet, so the try
                            // after this one makes a new connection instead of coming
                            // back to it.
                            Some(unsent) => {
                                self.lock(worker).origins[slot].http2 = None;
                                request = unsent;
                            }
                            None => return Err(SendError::new(failed.into_error())),
                        },
                    }
                }
                Checkout::Http1(mut connection) => {
                    // Closed while it sat idle: try the next one. A close not read yet
                    // is read by the turn that would write the request, which then
                    // hands the request back, unsent, to go on another connection.
                    if !connection.is_ready() && connection.ready().await.is_err() {
                        continue;
                    }
                    prepare_http1(&mut request, &origin)?;
                    match connection.try_send(request).await {
                        Ok(response) => {
                            let reuse = self.reuse(worker, slot, connection);
                            return Ok(response.map(|body| (body, Some(reuse))));
                        }
                        Err(mut failed) => match failed.take_message() {
                            Some(mut unsent) => {
                                *unsent.uri_mut() = absolute.clone();
                                request = unsent;
                            }
                            None => return Err(SendError::new(failed.into_error())),
                        },
                    }
                }
            }
        }
    }

    fn reuse(self: &Arc<Self>, worker: usize, slot: usize, connection: Http1Connection) -> Reuse {
        Reuse {
            connections: Arc::clone(self),
            worker,
            slot,
            connection,
        }
    }

    /// Connects to `origin` and sends `request` there. An HTTP/2 connection joins the
    /// pool at once, to carry the origin's other requests too.
    async fn send_on_new(
        self: &Arc<Self>,
        mut request: Request<PieceFrames>,
        origin: &Origin,
        worker: usize,
        slot: usize,
    ) -> Result<Exchange, SendError> {
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(SendError::new)?;
        let io = connector
            .call(origin.uri()?)
            .await
            .map_err(SendError::new)?;
        if io.connected().is_negotiated_h2() {
            let (mut sender, connection) =
                self.http2.handshake(io).await.map_err(SendError::new)?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "provider connection (HTTP/2) ended");
                }
            });
            sender.ready().await.map_err(SendError::new)?;
            {
                // Requests that found no connection at once each made one; the first
                // to be shared stays so, and the others close once their request ends.
                let mut pool = self.lock(worker);
                let shared = &mut pool.origins[slot].http2;
                let open = match shared {
                    Some(existing) => !existing.sender.is_closed(),
                    None => false,
                };
                if !open {
                    *shared = Some(SharedHttp2 {
                        sender: sender.clone(),
                        last_used: Instant::now(),
                    });
                }
            }
            let response = sender.send_request(request).await.map_err(SendError::new)?;
            return Ok(response.map(|body| (body, None)));
        }
        let mut connection = Http1Connection::handshake(io).await?;
        connection.ready().await?;
        prepare_http1(&mut request, origin)?;
        let response = connection.send(request).await?;
        let reuse = self.reuse(worker, slot, connection);
        Ok(response.map(|body| (body, Some(reuse))))
    }
}

/// An HTTP/1.1 request names its target by path, and its host in a `Host` header.
fn prepare_http1(request: &mut Request<PieceFrames>, origin: &Origin) -> Result<(), SendError> {
    if !request.headers().contains_key(HOST) {
        request.headers_mut().insert(HOST, origin.host_header()?);
    }
    let target = match request.uri().path_and_query() {
        Some(target) => Uri::from(target.clone()),
        None => Uri::from_static("/"),
    };
    *request.uri_mut() = target;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{UpstreamClient, CONNECT_TIMEOUT};
    use bytes::Bytes;
    use http::Request;
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::net::TcpListener;

    /// A provider on 127.0.0.1 that answers every request with the number of the
    /// connection it came on, after `delay`, and counts connections opened and closed.
    struct Provider {
        url: String,
        authority: String,
        opened: Arc<AtomicUsize>,
        closed: Arc<AtomicUsize>,
        /// Request target and `Host` header of each request.
        seen: Arc<Mutex<Vec<(String, String)>>>,
    }

    impl Provider {
        async fn start(delay: Duration, close_idle_after: Option<Duration>) -> Provider {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let provider = Provider {
                url: format!("http://{addr}/v1/chat/completions"),
                authority: addr.to_string(),
                opened: Arc::default(),
                closed: Arc::default(),
                seen: Arc::default(),
            };
            let (opened, closed, seen) = (
                provider.opened.clone(),
                provider.closed.clone(),
                provider.seen.clone(),
            );
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    let number = opened.fetch_add(1, Ordering::SeqCst) + 1;
                    let (closed, seen) = (closed.clone(), seen.clone());
                    tokio::spawn(async move {
                        let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                            let host = request
                                .headers()
                                .get(http::header::HOST)
                                .and_then(|h| h.to_str().ok())
                                .unwrap_or("")
                                .to_string();
                            seen.lock()
                                .expect("lock")
                                .push((request.uri().to_string(), host));
                            async move {
                                tokio::time::sleep(delay).await;
                                let body = format!("{{\"connection\":{number}}}");
                                Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                    Bytes::from(body),
                                )))
                            }
                        });
                        let serving = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(socket), service);
                        match close_idle_after {
                            // Closes the socket without a word, as a provider whose
                            // keep-alive timeout passed does.
                            Some(after) => {
                                let _ = tokio::time::timeout(after, serving).await;
                            }
                            None => {
                                let _ = serving.await;
                            }
                        }
                        closed.fetch_add(1, Ordering::SeqCst);
                    });
                }
            });
            provider
        }

        fn opened(&self) -> usize {
            self.opened.load(Ordering::SeqCst)
        }
    }

    fn post(url: &str) -> Request<Bytes> {
        Request::post(super::super::parse_url(url).expect("url"))
            .header("content-type", "application/json")
            .body(Bytes::from_static(b"{\"model\":\"m\"}"))
            .expect("request")
    }

    /// Sends one request and reads its answer to the end.
    async fn exchange(client: &UpstreamClient, url: &str) -> String {
        let response = client.send(post(url)).await.expect("sent");
        assert_eq!(response.status(), 200);
        let body = response.into_body().bytes().await.expect("body");
        String::from_utf8(body.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn answers_read_to_their_end_leave_their_connection_for_the_next_request() {
        let provider = Provider::start(Duration::ZERO, None).await;
        let client = UpstreamClient::direct().expect("client");
        for _ in 0..5 {
            assert_eq!(exchange(&client, &provider.url).await, "{\"connection\":1}");
        }
        assert_eq!(provider.opened(), 1);
        // HTTP/1.1 names the target by path and the host in a header.
        let seen = provider.seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 5);
        for (target, host) in seen {
            assert_eq!(target, "/v1/chat/completions");
            assert_eq!(host, provider.authority);
        }
    }

    #[tokio::test]
    async fn an_answer_dropped_before_its_end_does_not_leave_its_connection_behind() {
        let provider = Provider::start(Duration::ZERO, None).await;
        let client = UpstreamClient::direct().expect("client");
        let unread = client.send(post(&provider.url)).await.expect("sent");
        drop(unread);
        assert_eq!(exchange(&client, &provider.url).await, "{\"connection\":2}");
        assert_eq!(exchange(&client, &provider.url).await, "{\"connection\":2}");
        assert_eq!(provider.opened(), 2);
    }

    #[tokio::test]
    async fn requests_at_once_each_get_a_connection_and_later_ones_reuse_them() {
        // Slow enough answers that the four requests overlap.
        let provider = Provider::start(Duration::from_millis(100), None).await;
        let client = UpstreamClient::direct().expect("client");
        for _ in 0..3 {
            let answers =
                futures_util::future::join_all((0..4).map(|_| exchange(&client, &provider.url)))
                    .await;
            assert_eq!(answers.len(), 4);
        }
        assert_eq!(provider.opened(), 4);
    }

    #[tokio::test]
    async fn a_connection_the_provider_closed_while_idle_is_not_used_again() {
        let provider = Provider::start(Duration::ZERO, Some(Duration::from_millis(50))).await;
        let client = UpstreamClient::direct().expect("client");
        assert_eq!(exchange(&client, &provider.url).await, "{\"connection\":1}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(provider.closed.load(Ordering::SeqCst), 1);
        assert_eq!(exchange(&client, &provider.url).await, "{\"connection\":2}");
    }

    #[tokio::test]
    async fn connections_idle_past_the_timeout_are_closed_rather_than_reused() {
        let provider = Provider::start(Duration::ZERO, None).await;
        let client = UpstreamClient::direct_with_limits(
            CONNECT_TIMEOUT,
            Duration::from_millis(100),
            super::super::webpki_roots(),
        )
        .expect("client");
        assert_eq!(exchange(&client, &provider.url).await, "{\"connection\":1}");
        assert_eq!(exchange(&client, &provider.url).await, "{\"connection\":1}");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(exchange(&client, &provider.url).await, "{\"connection\":2}");
        // The expired connection was let go, so the provider saw it close.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while provider.closed.load(Ordering::SeqCst) < 1 {
            assert!(tokio::time::Instant::now() < deadline, "never closed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn each_provider_has_connections_of_its_own() {
        let first = Provider::start(Duration::ZERO, None).await;
        let second = Provider::start(Duration::ZERO, None).await;
        let client = UpstreamClient::direct().expect("client");
        for _ in 0..3 {
            assert_eq!(exchange(&client, &first.url).await, "{\"connection\":1}");
            assert_eq!(exchange(&client, &second.url).await, "{\"connection\":1}");
        }
        assert_eq!((first.opened(), second.opened()), (1, 1));
    }

    /// A provider over TLS on 127.0.0.1 offering `alpn` (HTTP/2 and HTTP/1.1 served
    /// alike), answering with the HTTP version and the number of the connection each
    /// request came on; and a client that trusts its certificate.
    async fn tls_provider(
        alpn: &[&[u8]],
        one_request_per_connection: bool,
    ) -> (String, Arc<AtomicUsize>, UpstreamClient) {
        use tokio_rustls::rustls;
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("cert");
        let cert_der = cert.der().clone();
        let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key_der)
        .expect("server config");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let opened = Arc::new(AtomicUsize::new(0));
        let counter = opened.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let answered = Arc::new(tokio::sync::Notify::new());
                    let signal = answered.clone();
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let body = format!("{:?} {number}", request.version());
                        signal.notify_one();
                        async move {
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                Bytes::from(body),
                            )))
                        }
                    });
                    let builder = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    );
                    let connection = builder.serve_connection(TokioIo::new(tls), service);
                    let mut connection = std::pin::pin!(connection);
                    if one_request_per_connection {
                        tokio::select! {
                            _ = connection.as_mut() => return,
                            _ = answered.notified() => {}
                        }
                        // HTTP/2: a GOAWAY once the request in progress is answered.
                        connection.as_mut().graceful_shutdown();
                    }
                    let _ = connection.await;
                });
            }
        });
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert_der).expect("root");
        let client =
            UpstreamClient::direct_with_limits(CONNECT_TIMEOUT, Duration::from_secs(90), roots)
                .expect("client");
        (
            format!("https://{addr}/v1/chat/completions"),
            opened,
            client,
        )
    }

    #[tokio::test]
    async fn over_http2_every_request_shares_one_connection() {
        let (url, opened, client) = tls_provider(&[b"h2", b"http/1.1"], false).await;
        assert_eq!(exchange(&client, &url).await, "HTTP/2.0 1");
        let at_once = futures_util::future::join_all((0..8).map(|_| exchange(&client, &url))).await;
        assert!(
            at_once.iter().all(|answer| answer == "HTTP/2.0 1"),
            "{at_once:?}"
        );
        assert_eq!(exchange(&client, &url).await, "HTTP/2.0 1");
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn over_tls_without_http2_connections_are_reused_one_request_at_a_time() {
        let (url, opened, client) = tls_provider(&[b"http/1.1"], false).await;
        for _ in 0..3 {
            assert_eq!(exchange(&client, &url).await, "HTTP/1.1 1");
        }
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn requests_at_once_to_a_new_http2_provider_then_share_one_connection() {
        let (url, _, client) = tls_provider(&[b"h2"], false).await;
        // No connection yet: each of these may open one.
        let first = futures_util::future::join_all((0..4).map(|_| exchange(&client, &url))).await;
        assert!(
            first.iter().all(|answer| answer.starts_with("HTTP/2.0 ")),
            "{first:?}"
        );
        let mut later = Vec::new();
        for _ in 0..5 {
            later.push(exchange(&client, &url).await);
        }
        assert!(later.iter().all(|answer| *answer == later[0]), "{later:?}");
        assert!(first.contains(&later[0]), "{first:?} then {later:?}");
    }

    #[tokio::test]
    async fn an_http2_connection_the_provider_sends_away_is_replaced_without_an_error() {
        // Every connection answers one request, then says GOAWAY.
        let (url, opened, client) = tls_provider(&[b"h2"], true).await;
        for n in 1..=4 {
            let answer = exchange(&client, &url).await;
            assert!(answer.starts_with("HTTP/2.0 "), "{answer}");
            assert_eq!(opened.load(Ordering::SeqCst), n, "request {n}: {answer}");
            // Lets the GOAWAY arrive, or not: both must end in an answer.
            if n % 2 == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// Reads one request (head and `content-length` body) from `socket`; `None` once
    /// the client has closed it.
    async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
        use tokio::io::AsyncReadExt;
        let mut request = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().expect("length"));
                if request.len() >= end + 4 + length {
                    return Some(request);
                }
            }
            let n = socket.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            request.extend_from_slice(&buf[..n]);
        }
    }

    /// A listener for a provider a test writes by hand, and its chat URL.
    async fn raw_provider() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        (listener, format!("http://{addr}/v1/chat/completions"))
    }

    #[tokio::test]
    async fn an_answer_that_comes_in_pieces_is_read_whole_and_its_connection_reused() {
        use tokio::io::AsyncWriteExt;
        let (listener, url) = raw_provider().await;
        let opened = Arc::new(AtomicUsize::new(0));
        let counter = opened.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    // The head, then each piece after a pause: the client waits on the
                    // socket for every one of them.
                    while read_request(&mut socket).await.is_some() {
                        let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                        socket.write_all(head).await.expect("head");
                        for piece in ["one ", "two ", "three"] {
                            tokio::time::sleep(Duration::from_millis(30)).await;
                            let chunk = format!("{:x}\r\n{piece}\r\n", piece.len());
                            socket.write_all(chunk.as_bytes()).await.expect("piece");
                        }
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        socket.write_all(b"0\r\n\r\n").await.expect("end");
                    }
                });
            }
        });
        let client = UpstreamClient::direct().expect("client");
        for _ in 0..2 {
            let answer = tokio::time::timeout(Duration::from_secs(10), exchange(&client, &url))
                .await
                .expect("the answer stalled");
            assert_eq!(answer, "one two three");
        }
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_request_body_larger_than_the_socket_takes_is_sent_whole() {
        use tokio::io::AsyncWriteExt;
        let (listener, url) = raw_provider().await;
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            // A provider slow to read: the client has to wait for room to write.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let request = read_request(&mut socket).await.expect("request");
            let body = format!("{{\"received\":{}}}", request.len());
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(answer.as_bytes()).await.expect("answer");
            let _ = read_request(&mut socket).await;
        });
        let client = UpstreamClient::direct().expect("client");
        let body = Bytes::from(vec![b'x'; 8 * 1024 * 1024]);
        let request = Request::post(super::super::parse_url(&url).expect("url"))
            .body(body)
            .expect("request");
        let response = tokio::time::timeout(Duration::from_secs(10), client.send(request))
            .await
            .expect("the request stalled")
            .expect("sent");
        let answer = response.into_body().bytes().await.expect("body");
        let answer: serde_json::Value = serde_json::from_slice(&answer).expect("json");
        assert!(answer["received"].as_u64().expect("count") > 8 * 1024 * 1024);
    }
}
