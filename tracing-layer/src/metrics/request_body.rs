//! The request body that counts its bytes as the inner service reads them.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Buf as _;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// How a metrics layer passes the request body on: as it came
/// ([`PassRequestBody`], the default) or wrapped in a [`MetricsRequestBody`]
/// that counts its bytes ([`CountRequestBody`], chosen by
/// [`MetricsLayer::request_body_sizes`](super::MetricsLayer::request_body_sizes)).
///
/// Sealed: the two kinds are the only ones.
pub trait RequestBodyMode: Clone + sealed::Sealed {}

/// The request body reaches the inner service unchanged and is not measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct PassRequestBody;

/// The request body reaches the inner service as a [`MetricsRequestBody`],
/// which counts its bytes for the request body-size histogram.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountRequestBody;

impl RequestBodyMode for PassRequestBody {}
impl RequestBodyMode for CountRequestBody {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::PassRequestBody {}
    impl Sealed for super::CountRequestBody {}
}

pin_project! {
    /// A request body that adds the size of each data frame the inner service
    /// reads to the request's measurement, for
    /// `http.server.request.body.size` / `http.client.request.body.size`.
    ///
    /// Frames pass unchanged; a request the layer does not measure (a skipped
    /// path) is wrapped too, and counts nothing.
    #[derive(Debug)]
    pub struct MetricsRequestBody<B> {
        #[pin]
        inner: B,
        bytes: Option<Arc<AtomicU64>>,
    }
}

impl<B> MetricsRequestBody<B> {
    pub(super) fn new(inner: B, bytes: Option<Arc<AtomicU64>>) -> Self {
        Self { inner, bytes }
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// The wrapped body, mutably.
    pub fn get_mut(&mut self) -> &mut B {
        &mut self.inner
    }

    /// Unwraps the body; what it yields afterwards is not counted.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: Body> Body for MetricsRequestBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(bytes) = this.bytes.as_ref()
            && let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            let n = u64::try_from(data.remaining()).unwrap_or(u64::MAX);
            // Only this body adds; the measurement reads once, at the end.
            bytes.fetch_add(n, Ordering::Relaxed);
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
