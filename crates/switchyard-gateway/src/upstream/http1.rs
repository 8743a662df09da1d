//! An HTTP/1.1 provider connection, driven by the request that uses it.
//!
//! hyper splits a client connection in two: the `SendRequest` a request goes through,
//! and the `Connection` future that reads and writes the socket. Spawned as a task of
//! its own, that future hands an answer's body over one chunk per turn: each chunk
//! wakes the request's task, whose next poll wakes the connection's again. A stream of
//! a dozen chunks that arrived in one read took a dozen such rounds, each one a poll
//! of the client's connection too. Here whoever holds the connection polls it: the
//! exchange while it waits for the answer's head, the answer's body while it is read
//! (see [`super::UpstreamBody`]). A burst of chunks is read within one poll.
//!
//! An idle connection in the pool is polled by nobody. A provider that closed it is
//! noticed when the connection is next taken: the turn that would write the next
//! request reads the close first, and hands the request back unsent, to go on another
//! connection (see the pool). Until then, or until the pool sweeps it for age, the
//! closed socket stays open on this side.

use super::pool::Connector;
use super::request_body::PieceFrames;
use super::SendError;
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tower_service::Service;

/// What a connection to a provider reads and writes: TCP, or TLS over TCP.
pub(super) type ProviderIo = <Connector as Service<Uri>>::Response;

type Driver = http1::Connection<ProviderIo, PieceFrames>;

pub(super) struct Http1Connection {
    sender: http1::SendRequest<PieceFrames>,
    /// Reads and writes the socket when polled. Boxed: it holds the connection's
    /// buffers, and the connection moves between the pool and its requests. `None`
    /// once it has ended; an ended future is never polled again.
    driver: Option<Pin<Box<Driver>>>,
    /// Why the connection ended, when it failed: the sender only knows that it did.
    failure: Option<hyper::Error>,
}

impl Http1Connection {
    /// Starts HTTP/1.1 on a connection just made.
    pub(super) async fn handshake(io: ProviderIo) -> Result<Http1Connection, SendError> {
        let (sender, driver) = http1::handshake(io).await.map_err(SendError::new)?;
        Ok(Http1Connection {
            sender,
            driver: Some(Box::pin(driver)),
            failure: None,
        })
    }

    /// Lets the connection read and write what it can now; registers `cx` to be woken
    /// when it can do more.
    fn drive(&mut self, cx: &mut Context<'_>) {
        let Some(driver) = &mut self.driver else {
            return;
        };
        if let Poll::Ready(ended) = driver.as_mut().poll(cx) {
            self.driver = None;
            if let Err(e) = ended {
                tracing::debug!(error = %e, "provider connection ended");
                self.failure = Some(e);
            }
        }
    }

    /// Polls `outcome`, something only driving the connection moves on (the answer's
    /// head, the next frame of its body), driving the connection in between; registers
    /// `cx` for what the connection waits on before returning `Pending`.
    ///
    /// The connection hands what it reads over by channels, which wake whoever polled
    /// them last. Polled with `cx`, each hand-over would wake this very task while it
    /// runs, and bring it back for one more poll (of the client's whole connection)
    /// with nothing to do. So `outcome` is polled with a waker that wakes nobody, and
    /// so is the connection until it has nothing more to read; only its last turn
    /// registers `cx`, with the socket.
    pub(super) fn poll_driven<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut outcome: impl FnMut(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let mut quiet = Context::from_waker(Waker::noop());
        if let Poll::Ready(done) = outcome(&mut quiet) {
            return Poll::Ready(done);
        }
        self.drive(&mut quiet);
        if let Poll::Ready(done) = outcome(&mut quiet) {
            return Poll::Ready(done);
        }
        self.drive(cx);
        outcome(&mut quiet)
    }

    /// Whether the connection takes a request now, without being driven: it finished
    /// its last exchange, and has not been seen to close since.
    pub(super) fn is_ready(&self) -> bool {
        self.driver.is_some() && self.sender.is_ready()
    }

    /// Whether the connection is known to have closed.
    pub(super) fn is_closed(&self) -> bool {
        self.driver.is_none() || self.sender.is_closed()
    }

    /// Waits until the connection can take a request; an error once it has closed
    /// (as an idle connection the provider closed has, once polled).
    pub(super) async fn ready(&mut self) -> Result<(), SendError> {
        let ready = std::future::poll_fn(|cx| {
            // A connection that finished its last exchange is ready at once; this turn
            // reads a close that came while it was idle. Quiet, as in `poll_driven`:
            // the connection would otherwise wake this task when the request is handed
            // to it.
            let mut quiet = Context::from_waker(Waker::noop());
            self.drive(&mut quiet);
            if let Poll::Ready(ready) = self.sender.poll_ready(&mut quiet) {
                return Poll::Ready(ready);
            }
            self.drive(cx);
            self.sender.poll_ready(cx)
        })
        .await;
        ready.map_err(|closed| self.why_it_failed(closed))
    }

    /// Sends `request` and drives the connection until the answer's head is in. A
    /// request the connection could not start comes back in the error, to be sent on
    /// another connection.
    pub(super) async fn try_send(
        &mut self,
        request: Request<PieceFrames>,
    ) -> Result<Response<Incoming>, hyper::client::conn::TrySendError<Request<PieceFrames>>> {
        let mut answer = std::pin::pin!(self.sender.try_send_request(request));
        let mut written = false;
        std::future::poll_fn(|cx| {
            if written {
                return self.poll_driven(cx, |quiet| answer.as_mut().poll(quiet));
            }
            // The turn that writes the request then waits on the socket alone: it
            // registers nothing that the answer's hand-over would wake.
            written = true;
            self.drive(cx);
            answer
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
        })
        .await
    }

    /// Like [`Http1Connection::try_send`], for a request that has nowhere else to go.
    pub(super) async fn send(
        &mut self,
        request: Request<PieceFrames>,
    ) -> Result<Response<Incoming>, SendError> {
        match self.try_send(request).await {
            Ok(response) => Ok(response),
            Err(failed) => Err(self.why_it_failed(failed.into_error())),
        }
    }

    /// The connection's own error when it ended with one: `reported` (from the sender)
    /// only says that it is gone.
    fn why_it_failed(&mut self, reported: hyper::Error) -> SendError {
        match self.failure.take() {
            Some(cause) => SendError::new(cause),
            None => SendError::new(reported),
        }
    }
}
