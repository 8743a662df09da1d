//! The threads that serve client connections: one single-threaded tokio runtime per
//! core (up to [`MAX_WORKERS`]), each serving the connections an acceptor hands it.
//!
//! Why not one multi-threaded runtime: a proxied request is four socket events (the
//! client's request, the provider's connection becoming writable, the provider's
//! answer, the client's socket taking the reply). On a work-stealing runtime each of
//! them may wake an idle worker to look for work, and the request's tasks drift
//! between threads; every such wake is a futex call and, on a virtual machine, an
//! interrupt between cores. Here a connection's tasks, and the provider connections
//! its requests use (see [`current`]), stay on one thread.
//!
//! Each new connection goes to the worker serving the fewest, so a burst of
//! connections, or a few long streams, do not pile up on one thread.

mod anchor;

pub(crate) use anchor::request_started;

use crate::recorder::hold_records;
use axum::response::Response;
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::cell::Cell;
use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tower_service::Service;

/// More threads than this only open more connections to each provider (every worker
/// keeps its own pool): a gateway on a laptop serves one person's agents.
pub const MAX_WORKERS: usize = 4;
/// How long the acceptor waits after an accept error that is not about one connection
/// (out of file descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

thread_local! {
    static WORKER_INDEX: Cell<Option<usize>> = const { Cell::new(None) };
}

/// How many worker threads a gateway serves with: one per core, at most [`MAX_WORKERS`].
pub fn count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, MAX_WORKERS)
    })
}

/// The index of the worker thread this runs on (`0..count()`), or `None` off them.
pub fn current() -> Option<usize> {
    WORKER_INDEX.with(Cell::get)
}

/// Where a gateway serves its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeThreads {
    /// On worker threads of its own, one per core: what a running gateway uses.
    PerCore,
    /// On the runtime that calls [`serve`]; for tests that pause that runtime's clock.
    Caller,
}

/// What answers a connection's requests, cloned for each connection: the gateway's
/// [`crate::dispatch::GatewayService`], or a bare router in tests.
pub trait ConnectionService:
    Service<Request<Incoming>, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S> ConnectionService for S where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + 'static
{
}

/// Serving in progress: resolves [`Server::finished`] once every connection is closed.
pub struct Server {
    finished: watch::Receiver<bool>,
    force: watch::Sender<bool>,
    #[cfg(test)]
    loads: Vec<Arc<AtomicUsize>>,
}

impl Server {
    /// Waits until serving has stopped (after `stop` was signalled).
    pub async fn finished(&mut self) {
        // An error means the serving task is gone, which also means it has finished.
        let _ = self.finished.wait_for(|finished| *finished).await;
    }

    /// Closes open connections at once, dropping their requests (which still leave
    /// their log records), and waits until they are gone.
    pub async fn force_stop(mut self) {
        let _ = self.force.send(true);
        self.finished().await;
    }
}

/// Serves `listener`'s connections with `app` until `stop` turns true; then takes no
/// new connections and lets open ones finish their requests (see [`Server`]).
pub fn serve(
    listener: TcpListener,
    app: impl ConnectionService,
    stop: watch::Receiver<bool>,
    threads: ServeThreads,
) -> io::Result<Server> {
    match threads {
        ServeThreads::PerCore => serve_on_workers(listener, app, stop, count()),
        ServeThreads::Caller => Ok(serve_on_caller(listener, app, stop)),
    }
}

/// An acceptor on the current runtime hands connections to `count` worker threads.
fn serve_on_workers(
    listener: TcpListener,
    app: impl ConnectionService,
    stop: watch::Receiver<bool>,
    count: usize,
) -> io::Result<Server> {
    let (force, force_rx) = watch::channel(false);
    let (finished_tx, finished) = watch::channel(false);
    let workers = start_workers(app, &stop, &force_rx, count)?;
    #[cfg(test)]
    let loads = workers.iter().map(|w| w.load.clone()).collect();
    tokio::spawn(async move {
        accept_until_stopped(&listener, stop, |stream| hand_over(&workers, stream)).await;
        drop(listener);
        for worker in workers {
            let _ = worker.done.await;
        }
        let _ = finished_tx.send(true);
    });
    Ok(Server {
        finished,
        force,
        #[cfg(test)]
        loads,
    })
}

fn serve_on_caller(
    listener: TcpListener,
    app: impl ConnectionService,
    stop: watch::Receiver<bool>,
) -> Server {
    let (force, force_rx) = watch::channel(false);
    let (finished_tx, finished) = watch::channel(false);
    tokio::spawn(async move {
        let mut connections = Connections::new(app, stop.clone());
        accept_until_stopped(&listener, stop, |stream| {
            connections.serve(stream, None);
            true
        })
        .await;
        drop(listener);
        connections.finish(force_rx).await;
        let _ = finished_tx.send(true);
    });
    Server {
        finished,
        force,
        #[cfg(test)]
        loads: Vec::new(),
    }
}

/// The acceptor's end of one worker.
struct Worker {
    queue: mpsc::UnboundedSender<std::net::TcpStream>,
    /// Connections the worker is serving now.
    load: Arc<AtomicUsize>,
    done: oneshot::Receiver<()>,
}

fn start_workers<S: ConnectionService>(
    app: S,
    stop: &watch::Receiver<bool>,
    force: &watch::Receiver<bool>,
    count: usize,
) -> io::Result<Vec<Worker>> {
    let mut workers = Vec::with_capacity(count);
    for index in 0..count {
        // Built here, so a runtime that cannot start fails the launch.
        // Sockets and timers only: signals are the main runtime's, and a process
        // driver here would check for exited children every time the worker parks.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let (queue, handed) = mpsc::unbounded_channel();
        let load = Arc::new(AtomicUsize::new(0));
        let (done_tx, done) = oneshot::channel();
        let connections = Connections::new(app.clone(), stop.clone());
        let (stop, force, worker_load) = (stop.clone(), force.clone(), load.clone());
        std::thread::Builder::new()
            .name(format!("switchyard-worker-{index}"))
            .spawn(move || {
                WORKER_INDEX.with(|w| w.set(Some(index)));
                runtime.block_on(run_worker(handed, worker_load, connections, stop, force));
                // Dropping the runtime frees what its tasks left behind.
                drop(runtime);
                let _ = done_tx.send(());
            })?;
        workers.push(Worker { queue, load, done });
    }
    Ok(workers)
}

async fn run_worker<S: ConnectionService>(
    mut handed: mpsc::UnboundedReceiver<std::net::TcpStream>,
    load: Arc<AtomicUsize>,
    mut connections: Connections<S>,
    mut stop: watch::Receiver<bool>,
    force: watch::Receiver<bool>,
) {
    // Ends with the runtime, when this function has returned.
    tokio::spawn(anchor::keep_armed());
    loop {
        let stream = tokio::select! {
            stream = handed.recv() => stream,
            _ = stop.wait_for(|stopped| *stopped) => None,
        };
        let Some(stream) = stream else { break };
        let guard = LoadGuard(load.clone());
        match TcpStream::from_std(stream) {
            Ok(stream) => connections.serve(stream, Some(guard)),
            Err(e) => tracing::debug!(error = %e, "cannot serve a handed connection"),
        }
    }
    connections.finish(force).await;
}

/// Gives `stream` to the worker serving the fewest connections; false once every
/// worker has stopped.
fn hand_over(workers: &[Worker], stream: TcpStream) -> bool {
    // Leaves this runtime's reactor, to join the worker's.
    let stream = match stream.into_std() {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(error = %e, "cannot hand a connection to a worker");
            return true;
        }
    };
    let Some(worker) = workers
        .iter()
        .filter(|w| !w.queue.is_closed())
        .min_by_key(|w| w.load.load(Ordering::Relaxed))
    else {
        tracing::error!("every worker has stopped; no connection can be served");
        return false;
    };
    worker.load.fetch_add(1, Ordering::Relaxed);
    if worker.queue.send(stream).is_err() {
        worker.load.fetch_sub(1, Ordering::Relaxed);
    }
    true
}

/// Accepts connections and passes each to `take` until `stop` turns true or `take`
/// returns false.
async fn accept_until_stopped(
    listener: &TcpListener,
    mut stop: watch::Receiver<bool>,
    mut take: impl FnMut(TcpStream) -> bool,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopped| *stopped) => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Without TCP_NODELAY, a streamed answer's small writes wait for the client's
        // delayed ACK (40 ms on Linux) whenever one is still unacknowledged.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on a client connection");
        }
        if !take(stream) {
            return;
        }
    }
}

/// Errors that end one connection, not the listener (as hyper's own server reads them).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The connections one runtime serves, each as a task it can close at once.
struct Connections<S> {
    tasks: JoinSet<()>,
    app: S,
    stop: watch::Receiver<bool>,
}

impl<S: ConnectionService> Connections<S> {
    fn new(app: S, stop: watch::Receiver<bool>) -> Connections<S> {
        Connections {
            tasks: JoinSet::new(),
            app,
            stop,
        }
    }

    /// Serves HTTP/1.1 and HTTP/2 on `stream` in a task of its own; `load` is dropped
    /// when the connection closes.
    fn serve(&mut self, stream: TcpStream, load: Option<LoadGuard>) {
        // Finished connections are collected here, so the set holds only open ones.
        while self.tasks.try_join_next().is_some() {}
        let service = TowerToHyperService::new(self.app.clone());
        let mut stop = self.stop.clone();
        let serving = async move {
            // Held for the task's life, however it ends.
            let _load = load;
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::trace!(error = %e, "a client connection ended with an error");
                    }
                    return;
                }
                _ = stop.wait_for(|stopped| *stopped) => {}
            }
            // Finishes the request in progress, then closes.
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        };
        self.tasks.spawn(async move {
            let mut serving = std::pin::pin!(serving);
            // The server writes an answer within the poll that completes it; the
            // answer's log record is sent after (see `hold_records`).
            std::future::poll_fn(|cx| {
                let _held = hold_records();
                std::future::Future::poll(serving.as_mut(), cx)
            })
            .await
        });
    }

    /// Waits for the open connections to finish, or closes them all when `force`
    /// turns true.
    async fn finish(mut self, mut force: watch::Receiver<bool>) {
        tokio::select! {
            _ = async { while self.tasks.join_next().await.is_some() {} } => return,
            _ = force.wait_for(|forced| *forced) => {}
        }
        // Closing a connection drops its requests, whose records are then queued.
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Counts a connection against its worker's load until it closes.
struct LoadGuard(Arc<AtomicUsize>);

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::Router;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};
    use hyper::client::conn::http1::SendRequest;
    use hyper_util::rt::TokioIo;
    use std::net::SocketAddr;

    /// Answers with the index of the worker that served the request, or stays open
    /// for a minute on `/hold`.
    fn app() -> Router {
        Router::new()
            .route("/", get(|| async { format!("{:?}", current()) }))
            .route(
                "/hold",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "held"
                }),
            )
    }

    async fn start(workers: usize) -> (Server, SocketAddr, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stop_rx) = watch::channel(false);
        let server = serve_on_workers(listener, app(), stop_rx, workers).unwrap();
        (server, addr, stop)
    }

    async fn connect(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        sender
    }

    async fn get_text(sender: &mut SendRequest<Empty<Bytes>>, path: &str) -> String {
        let request = http::Request::get(path)
            .header("host", "localhost")
            .body(Empty::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    fn loads(server: &Server) -> Vec<usize> {
        server
            .loads
            .iter()
            .map(|l| l.load(Ordering::Relaxed))
            .collect()
    }

    async fn wait_for_loads(server: &Server, expected: &[usize]) {
        for _ in 0..200 {
            if loads(server) == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("loads are {:?}, not {expected:?}", loads(server));
    }

    #[tokio::test]
    async fn connections_go_to_the_worker_serving_the_fewest() {
        let (server, addr, _stop) = start(2).await;
        let mut connections = Vec::new();
        let mut served_by = Vec::new();
        for _ in 0..4 {
            let mut sender = connect(addr).await;
            served_by.push(get_text(&mut sender, "/").await);
            connections.push(sender);
        }
        assert_eq!(served_by, ["Some(0)", "Some(1)", "Some(0)", "Some(1)"]);
        // A connection stays with its worker.
        assert_eq!(get_text(&mut connections[1], "/").await, "Some(1)");
        assert_eq!(loads(&server), [2, 2]);

        // Worker 0's clients leave: the next connections go to it until it catches up.
        drop(connections.remove(2));
        drop(connections.remove(0));
        wait_for_loads(&server, &[0, 2]).await;
        for _ in 0..2 {
            let mut sender = connect(addr).await;
            assert_eq!(get_text(&mut sender, "/").await, "Some(0)");
            connections.push(sender);
        }
        assert_eq!(loads(&server), [2, 2]);
    }

    #[tokio::test]
    async fn stopping_finishes_once_idle_connections_are_closed() {
        let (mut server, addr, stop) = start(2).await;
        let mut idle = connect(addr).await;
        assert_eq!(get_text(&mut idle, "/").await, "Some(0)");
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server.finished())
            .await
            .expect("the workers stop");
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the listener is closed"
        );
    }

    #[tokio::test]
    async fn a_forced_stop_closes_requests_still_open() {
        let (mut server, addr, stop) = start(1).await;
        let mut held = connect(addr).await;
        let request = tokio::spawn(async move {
            let request = http::Request::get("/hold")
                .header("host", "localhost")
                .body(Empty::<Bytes>::new())
                .unwrap();
            held.send_request(request).await
        });
        wait_for_loads(&server, &[1]).await;
        stop.send(true).unwrap();
        let graceful = tokio::time::timeout(Duration::from_millis(300), server.finished()).await;
        assert!(
            graceful.is_err(),
            "a graceful stop waits for the open request"
        );
        tokio::time::timeout(Duration::from_secs(5), server.force_stop())
            .await
            .expect("a forced stop ends at once");
        let answer = request.await.unwrap();
        assert!(answer.is_err(), "the held request was closed, not answered");
    }
}
