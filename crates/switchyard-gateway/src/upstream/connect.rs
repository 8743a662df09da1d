//! A time limit on making a connection, TLS handshake included. hyper's own connect
//! timeout stops at the TCP connection, so a provider that accepts connections and
//! then never answers the handshake would hold a try until the provider's (long)
//! request timeout instead of failing over in seconds.

use super::BoxError;
use http::Uri;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tower_service::Service;

/// Wraps a connector so each connection must be ready within `limit`.
#[derive(Clone, Debug)]
pub(super) struct Bounded<C> {
    inner: C,
    limit: Duration,
}

impl<C> Bounded<C> {
    pub(super) fn new(inner: C, limit: Duration) -> Bounded<C> {
        Bounded { inner, limit }
    }
}

impl<C> Service<Uri> for Bounded<C>
where
    C: Service<Uri>,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match tokio::time::timeout(limit, connecting).await {
                Ok(connected) => connected.map_err(Into::into),
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no connection within {} s", limit.as_secs_f64()),
                )
                .into()),
            }
        })
    }
}
