//! The load generator: plain HTTP/1.1 connections (hyper's connection-level client),
//! requests built from one template, latencies in HDR histograms (nanoseconds).
//!
//! - [`fixed_rate`] is open-loop: a pacer thread releases requests at their intended
//!   times and latency is measured from the intended time, so a slow server cannot
//!   slow the generator down and hide its own queueing (no coordinated omission).
//! - [`saturate`] is closed-loop: a fixed number of connections send back to back.
//! - [`hold_streams`] keeps many slow streams open at once.
//!
//! It runs on a single-threaded runtime: the generator, the mock and the gateway share
//! the machine's cores, and a lean generator leaves the most to the gateway.

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};

/// Highest latency the histograms hold (longer ones are clamped to it).
const MAX_NANOS: u64 = 120_000_000_000;

/// One kind of request to one server, built once and cloned per request.
pub struct Target {
    pub addr: SocketAddr,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    /// Whether answers are event streams (time to first byte is then recorded).
    pub stream: bool,
    /// The serving process, whose CPU time per request is measured.
    pub server_pid: Option<u32>,
}

impl Target {
    pub fn new(
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, String)],
        body: String,
        stream: bool,
    ) -> Result<Target> {
        let mut map = HeaderMap::new();
        map.insert(
            hyper::header::HOST,
            HeaderValue::from_str(&addr.to_string())?,
        );
        map.insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in headers {
            map.insert(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        Ok(Target {
            addr,
            uri: path.parse()?,
            headers: map,
            body: Bytes::from(body),
            stream,
            server_pid: None,
        })
    }

    pub fn with_server_pid(mut self, pid: u32) -> Target {
        self.server_pid = Some(pid);
        self
    }

    /// The same request sent to another address (its Host header follows).
    pub fn at(&self, addr: SocketAddr) -> Result<Target> {
        let mut headers = self.headers.clone();
        headers.insert(
            hyper::header::HOST,
            HeaderValue::from_str(&addr.to_string())?,
        );
        Ok(Target {
            addr,
            uri: self.uri.clone(),
            headers,
            body: self.body.clone(),
            stream: self.stream,
            server_pid: None,
        })
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// Latencies and counts of one phase.
#[derive(Clone)]
pub struct Stats {
    /// Time to the last byte of the answer.
    pub total: Histogram<u64>,
    /// Time to the first byte of the body (streams).
    pub ttfb: Histogram<u64>,
    /// The gateway's own figure, `x-switchyard-overhead-ms`, in nanoseconds.
    pub reported_overhead: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// CPU time the serving process used in the measured window.
    pub server_cpu: Option<Duration>,
}

fn histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_NANOS, 3).map_err(|e| anyhow!("histogram: {e}"))
}

impl Stats {
    fn new() -> Result<Stats> {
        Ok(Stats {
            total: histogram()?,
            ttfb: histogram()?,
            reported_overhead: histogram()?,
            ok: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            server_cpu: None,
        })
    }

    fn merge(&mut self, other: &Stats) -> Result<()> {
        self.total
            .add(&other.total)
            .map_err(|e| anyhow!("merge: {e:?}"))?;
        self.ttfb
            .add(&other.ttfb)
            .map_err(|e| anyhow!("merge: {e:?}"))?;
        self.reported_overhead
            .add(&other.reported_overhead)
            .map_err(|e| anyhow!("merge: {e:?}"))?;
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        Ok(())
    }

    /// Adds a later slice of the same load: its samples, its time and its CPU.
    pub fn absorb(&mut self, slice: Stats) -> Result<()> {
        self.merge(&slice)?;
        self.elapsed += slice.elapsed;
        self.server_cpu = match (self.server_cpu, slice.server_cpu) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        Ok(())
    }

    fn error(&mut self, e: &anyhow::Error) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{e:#}"));
        }
    }

    fn record(&mut self, sample: &Sample) {
        self.ok += 1;
        self.total.saturating_record(nanos(sample.total));
        if let Some(t) = sample.ttfb {
            self.ttfb.saturating_record(nanos(t));
        }
        if let Some(o) = sample.reported_overhead_ms {
            self.reported_overhead
                .saturating_record((o * 1_000_000.0).max(1.0) as u64);
        }
    }

    /// CPU time of the serving process per answer, in microseconds.
    pub fn server_cpu_us(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.ok > 0).then(|| cpu.as_secs_f64() * 1e6 / self.ok as f64)
    }

    /// Answers per second over the measured window.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

struct Sample {
    total: Duration,
    ttfb: Option<Duration>,
    reported_overhead_ms: Option<f64>,
}

type Sender = SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Measures the server's CPU time between `from` and `to` in the background.
fn watch_cpu(
    pid: Option<u32>,
    from: Instant,
    to: Instant,
) -> tokio::task::JoinHandle<Option<Duration>> {
    tokio::spawn(async move {
        let pid = pid?;
        tokio::time::sleep_until(from.into()).await;
        let before = crate::procs::cpu_time(pid)?;
        tokio::time::sleep_until(to.into()).await;
        Some(crate::procs::cpu_time(pid)?.saturating_sub(before))
    })
}

/// Sends one request on `sender` and reads the whole answer; times count from `start`.
async fn exchange(sender: &mut Sender, target: &Target, start: Instant) -> Result<Sample> {
    sender.ready().await?;
    let response = sender.send_request(target.request()).await?;
    let status = response.status();
    let reported_overhead_ms = response
        .headers()
        .get("x-switchyard-overhead-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<f64>().ok());
    let mut body = response.into_body();
    let mut ttfb = None;
    let mut bytes = 0usize;
    let mut error_text = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Some(data) = frame.data_ref() {
            if ttfb.is_none() && !data.is_empty() {
                ttfb = Some(start.elapsed());
            }
            bytes += data.len();
            if !status.is_success() && error_text.len() < 400 {
                error_text.extend_from_slice(data);
            }
        }
    }
    let total = start.elapsed();
    if !status.is_success() {
        bail!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&error_text[..error_text.len().min(400)])
        );
    }
    if bytes == 0 {
        bail!("empty answer");
    }
    Ok(Sample {
        total,
        ttfb: if target.stream { ttfb } else { None },
        reported_overhead_ms,
    })
}

/// One exchange, reconnecting first if the connection was lost.
async fn exchange_on(conn: &mut Option<Sender>, target: &Target, start: Instant) -> Result<Sample> {
    let sender = match conn {
        Some(s) if !s.is_closed() => s,
        _ => conn.insert(connect(target.addr).await?),
    };
    let result = exchange(sender, target, start).await;
    if result.is_err() {
        *conn = None;
    }
    result
}

/// Open-loop load at `rate` requests per second: `warmup` unrecorded, then `measure`.
/// `connections` bounds the requests in flight; more than that queue (and their wait
/// counts in their latency).
pub async fn fixed_rate(
    target: Arc<Target>,
    rate: f64,
    warmup: Duration,
    measure: Duration,
    connections: usize,
) -> Result<Stats> {
    let (tx, rx) = mpsc::unbounded_channel::<Instant>();
    let rx = Arc::new(Mutex::new(rx));
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        senders.push(connect(target.addr).await?);
    }
    let t0 = Instant::now() + Duration::from_millis(20);
    let measure_from = t0 + warmup;
    let end = measure_from + measure;
    let total = ((warmup + measure).as_secs_f64() * rate).round() as u64;
    let cpu = watch_cpu(target.server_pid, measure_from, end);
    let pacer = std::thread::Builder::new()
        .name("bench-pacer".into())
        .spawn(move || {
            for i in 0..total {
                let due = t0 + Duration::from_secs_f64(i as f64 / rate);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if tx.send(due).is_err() {
                    return;
                }
            }
        })?;
    let mut workers = Vec::with_capacity(connections);
    for sender in senders {
        let rx = rx.clone();
        let target = target.clone();
        workers.push(tokio::spawn(async move {
            let mut stats = Stats::new()?;
            let mut conn = Some(sender);
            loop {
                let due = {
                    let mut rx = rx.lock().await;
                    match rx.recv().await {
                        Some(due) => due,
                        None => break,
                    }
                };
                let result = exchange_on(&mut conn, &target, due).await;
                if due < measure_from {
                    continue;
                }
                match result {
                    Ok(sample) => stats.record(&sample),
                    Err(e) => stats.error(&e),
                }
            }
            Ok::<_, anyhow::Error>(stats)
        }));
    }
    let mut stats = Stats::new()?;
    for worker in workers {
        stats.merge(&worker.await??)?;
    }
    pacer
        .join()
        .map_err(|_| anyhow!("the pacer thread panicked"))?;
    stats.elapsed = end.duration_since(measure_from);
    stats.server_cpu = cpu.await?;
    Ok(stats)
}

/// Closed-loop load on `connections` connections: `warmup` unrecorded, then `measure`.
pub async fn saturate(
    target: Arc<Target>,
    warmup: Duration,
    measure: Duration,
    connections: usize,
) -> Result<Stats> {
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        senders.push(connect(target.addr).await?);
    }
    let measure_from = Instant::now() + warmup;
    let end = measure_from + measure;
    let cpu = watch_cpu(target.server_pid, measure_from, end);
    let mut workers = Vec::with_capacity(connections);
    for sender in senders {
        let target = target.clone();
        workers.push(tokio::spawn(async move {
            let mut stats = Stats::new()?;
            let mut conn = Some(sender);
            loop {
                let start = Instant::now();
                if start >= end {
                    break;
                }
                let result = exchange_on(&mut conn, &target, start).await;
                if start < measure_from || Instant::now() > end {
                    continue;
                }
                match result {
                    Ok(sample) => stats.record(&sample),
                    Err(e) => stats.error(&e),
                }
            }
            Ok::<_, anyhow::Error>(stats)
        }));
    }
    let mut stats = Stats::new()?;
    for worker in workers {
        stats.merge(&worker.await??)?;
    }
    stats.elapsed = measure;
    stats.server_cpu = cpu.await?;
    Ok(stats)
}

/// Progress of a [`count`] run, readable while it runs.
#[derive(Default)]
pub struct Progress {
    pub done: AtomicU64,
}

/// Closed-loop load until `requests` answers: for the memory-growth phase.
pub async fn count(
    target: Arc<Target>,
    requests: u64,
    connections: usize,
    progress: Arc<Progress>,
) -> Result<Stats> {
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections {
        let target = target.clone();
        let issued = issued.clone();
        let progress = progress.clone();
        workers.push(tokio::spawn(async move {
            let mut stats = Stats::new()?;
            let mut conn = None;
            while issued.fetch_add(1, Ordering::Relaxed) < requests {
                let start = Instant::now();
                match exchange_on(&mut conn, &target, start).await {
                    Ok(sample) => stats.record(&sample),
                    Err(e) => stats.error(&e),
                }
                progress.done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(stats)
        }));
    }
    let mut stats = Stats::new()?;
    for worker in workers {
        stats.merge(&worker.await??)?;
    }
    stats.elapsed = started.elapsed();
    Ok(stats)
}

/// Opens `streams` slow streams at once, calls `sample` once every one of them has
/// started (and they are all still open), then reads them all to the end.
pub async fn hold_streams<F, T>(
    target: Arc<Target>,
    streams: usize,
    sample: F,
) -> Result<(T, Stats)>
where
    F: std::future::Future<Output = T>,
{
    let started = Arc::new(AtomicUsize::new(0));
    let all_started = Arc::new(tokio::sync::Notify::new());
    let mut workers = Vec::with_capacity(streams);
    for _ in 0..streams {
        let target = target.clone();
        let started = started.clone();
        let all_started = all_started.clone();
        workers.push(tokio::spawn(async move {
            let mut stats = Stats::new()?;
            let mut counted = false;
            let result = async {
                let mut sender = connect(target.addr).await?;
                sender.ready().await?;
                let start = Instant::now();
                let response = sender.send_request(target.request()).await?;
                if !response.status().is_success() {
                    bail!("HTTP {}", response.status());
                }
                let mut body = response.into_body();
                let mut first = true;
                while let Some(frame) = body.frame().await {
                    frame?;
                    if first {
                        first = false;
                        counted = true;
                        if started.fetch_add(1, Ordering::SeqCst) + 1 == streams {
                            all_started.notify_one();
                        }
                    }
                }
                Ok(start.elapsed())
            }
            .await;
            match result {
                Ok(total) => stats.record(&Sample {
                    total,
                    ttfb: None,
                    reported_overhead_ms: None,
                }),
                Err(e) => {
                    stats.error(&e);
                    // Do not leave the sampler waiting for a stream that failed.
                    if !counted && started.fetch_add(1, Ordering::SeqCst) + 1 == streams {
                        all_started.notify_one();
                    }
                }
            }
            Ok::<_, anyhow::Error>(stats)
        }));
    }
    let hold = crate::mock::SLOW_STREAM_TICK * crate::mock::SLOW_STREAM_TICKS;
    tokio::time::timeout(hold, all_started.notified())
        .await
        .map_err(|_| {
            anyhow!(
                "only {} of {streams} streams started within {hold:?}",
                started.load(Ordering::SeqCst)
            )
        })?;
    let sampled = sample.await;
    let mut stats = Stats::new()?;
    for worker in workers {
        stats.merge(&worker.await??)?;
    }
    Ok((sampled, stats))
}
