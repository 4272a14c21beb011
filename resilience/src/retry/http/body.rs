//! The request body the inner service sees.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The body of the requests the HTTP retry preset sends to the inner
    /// service.
    ///
    /// It is one of:
    /// - a buffered body (idempotent requests within the size limit): the
    ///   bytes (and trailers) read before the first attempt, replayed as one
    ///   data frame on every attempt;
    /// - the original body `B`, streamed once (requests that are not
    ///   retried), preceded by the part already read when the body turned
    ///   out to exceed the limit, so every byte reaches the inner service.
    ///
    /// Data frames are [`Bytes`]; the error type is `B`'s.
    pub struct RetryBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Buffered {
            data: Option<Bytes>,
            trailers: Option<HeaderMap>,
        },
        Streaming {
            prefix: Option<Bytes>,
            #[pin]
            body: B,
        },
    }
}

impl<B> RetryBody<B> {
    pub(crate) fn buffered(data: Bytes, trailers: Option<HeaderMap>) -> Self {
        let data = (!data.is_empty()).then_some(data);
        Self {
            kind: Kind::Buffered { data, trailers },
        }
    }

    pub(crate) fn streaming(prefix: Option<Bytes>, body: B) -> Self {
        Self {
            kind: Kind::Streaming {
                prefix: prefix.filter(|p| !p.is_empty()),
                body,
            },
        }
    }

    /// Returns `true` if the body was buffered and may be sent again.
    #[must_use]
    pub fn is_buffered(&self) -> bool {
        matches!(self.kind, Kind::Buffered { .. })
    }
}

impl<B: Body> Body for RetryBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Buffered { data, trailers } => {
                if let Some(data) = data.take() {
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(t))))
            }
            KindProj::Streaming { prefix, body } => {
                if let Some(prefix) = prefix.take() {
                    return Poll::Ready(Some(Ok(Frame::data(prefix))));
                }
                body.poll_frame(cx).map(|frame| {
                    frame.map(|frame| {
                        // Free for `Bytes` chunks, one copy for other buffers.
                        frame.map(|frame| frame.map_data(|mut d| d.copy_to_bytes(d.remaining())))
                    })
                })
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Buffered { data, trailers } => data.is_none() && trailers.is_none(),
            Kind::Streaming { prefix, body } => prefix.is_none() && body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Buffered { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Streaming { prefix, body } => {
                let prefix = prefix.as_ref().map_or(0, |p| p.len() as u64);
                let hint = body.size_hint();
                let mut sum = SizeHint::new();
                sum.set_lower(hint.lower().saturating_add(prefix));
                if let Some(upper) = hint.upper() {
                    sum.set_upper(upper.saturating_add(prefix));
                }
                sum
            }
        }
    }
}

impl<B> fmt::Debug for RetryBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Buffered { .. } => "Buffered",
            Kind::Streaming { .. } => "Streaming",
        };
        f.debug_struct("RetryBody")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

/// A buffered body, kept to build each attempt's request.
#[derive(Debug, Clone)]
pub(crate) struct Buffered {
    pub(crate) data: Bytes,
    pub(crate) trailers: Option<HeaderMap>,
}

impl Buffered {
    pub(crate) fn into_body<B>(self) -> RetryBody<B> {
        RetryBody::buffered(self.data, self.trailers)
    }
}
