//! The body of a request to a provider: pieces of shared bytes sent back to back
//! without being joined first. A pass-through body is the client's own bytes with the
//! model id swapped: the unchanged stretches are slices of what the client sent, so a
//! 300 KB conversation is not copied to change a dozen bytes. Cloning (for retries and
//! redirects) shares the pieces.

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

#[derive(Clone, Debug, Default)]
pub struct RequestBody {
    pieces: Arc<[Bytes]>,
    len: usize,
}

impl RequestBody {
    pub fn from_pieces(pieces: Vec<Bytes>) -> RequestBody {
        let pieces: Vec<Bytes> = pieces.into_iter().filter(|p| !p.is_empty()).collect();
        let len = pieces.iter().map(Bytes::len).sum();
        RequestBody {
            pieces: pieces.into(),
            len,
        }
    }

    #[cfg(test)]
    pub(crate) fn pieces(&self) -> &[Bytes] {
        &self.pieces
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pieces joined: for the few places that need one buffer (the proxied path's
    /// client, tests). Free when there is a single piece.
    pub fn joined(&self) -> Bytes {
        match &*self.pieces {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut all = BytesMut::with_capacity(self.len);
                for piece in many {
                    all.extend_from_slice(piece);
                }
                all.freeze()
            }
        }
    }

    /// The body as hyper sends it: one frame per piece.
    pub(super) fn frames(&self) -> PieceFrames {
        PieceFrames {
            pieces: self.pieces.clone(),
            next: 0,
            remaining: self.len as u64,
        }
    }
}

impl From<Bytes> for RequestBody {
    fn from(bytes: Bytes) -> RequestBody {
        RequestBody::from_pieces(vec![bytes])
    }
}

impl From<Vec<u8>> for RequestBody {
    fn from(bytes: Vec<u8>) -> RequestBody {
        RequestBody::from(Bytes::from(bytes))
    }
}

impl From<RequestBody> for reqwest::Body {
    fn from(body: RequestBody) -> reqwest::Body {
        reqwest::Body::from(body.joined())
    }
}

/// A [`RequestBody`] being sent; its exact length becomes the `content-length`.
pub struct PieceFrames {
    pieces: Arc<[Bytes]>,
    next: usize,
    remaining: u64,
}

impl Body for PieceFrames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let Some(piece) = self.pieces.get(self.next).cloned() else {
            return Poll::Ready(None);
        };
        self.next += 1;
        self.remaining -= piece.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn pieces_are_sent_in_order_with_their_exact_length() {
        let body = RequestBody::from_pieces(vec![
            Bytes::from_static(b"{\"a\":"),
            Bytes::new(),
            Bytes::from_static(b"1}"),
        ]);
        assert_eq!(body.len(), 7);
        assert_eq!(body.joined(), Bytes::from_static(b"{\"a\":1}"));
        let frames = body.frames();
        assert_eq!(frames.size_hint().exact(), Some(7));
        let sent = frames.collect().await.unwrap().to_bytes();
        assert_eq!(sent, Bytes::from_static(b"{\"a\":1}"));
        // A clone sends the same again (retries, redirects).
        let again = body.clone().frames().collect().await.unwrap().to_bytes();
        assert_eq!(again, sent);
        assert!(RequestBody::default().frames().is_end_stream());
    }
}
