//! The response body that records the duration when it ends.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf as _;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::record::Pending;

pin_project! {
    /// A response body that records the request's duration when its last
    /// frame is read, when it fails (`error.type` = `body`), or when it is
    /// dropped — not when the response head is sent.
    #[derive(Debug)]
    pub struct MetricsBody<B> {
        #[pin]
        inner: B,
        pending: Option<Pending>,
    }
}

impl<B> MetricsBody<B> {
    pub(super) fn new(inner: B, pending: Option<Pending>) -> Self {
        Self { inner, pending }
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B: Body> Body for MetricsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        let end = match &frame {
            None => Some(None),
            Some(Err(_)) => Some(Some("body")),
            Some(Ok(frame)) => {
                if let Some(pending) = this.pending.as_mut()
                    && let Some(data) = frame.data_ref()
                {
                    pending.body_bytes = pending
                        .body_bytes
                        .saturating_add(u64::try_from(data.remaining()).unwrap_or(u64::MAX));
                }
                this.inner.is_end_stream().then_some(None)
            }
        };
        if let Some(error) = end
            && let Some(mut pending) = this.pending.take()
        {
            pending.finish(error);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
