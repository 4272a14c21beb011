//! [`ResponseFuture`] for [`Coalesce`](super::Coalesce).

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::flight::Flight;
use crate::BoxError;

pin_project! {
    /// The response future of [`Coalesce`](super::Coalesce): waits for the
    /// flight the call joined or started, answers from the cache, or passes
    /// a keyless call through.
    pub struct ResponseFuture<F, K, T> {
        #[pin]
        kind: Kind<F, K, T>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, K, T> {
        Flight { flight: Arc<Flight<K, T>>, slot: usize },
        Passthrough { #[pin] future: F },
        Cached { response: Option<T> },
        Failed { error: Option<BoxError> },
    }
}

impl<F, K, T> ResponseFuture<F, K, T> {
    pub(crate) fn flight(flight: Arc<Flight<K, T>>, slot: usize) -> Self {
        Self {
            kind: Kind::Flight { flight, slot },
        }
    }

    pub(crate) fn passthrough(future: F) -> Self {
        Self {
            kind: Kind::Passthrough { future },
        }
    }

    pub(crate) fn cached(response: T) -> Self {
        Self {
            kind: Kind::Cached {
                response: Some(response),
            },
        }
    }

    pub(crate) fn failed(error: BoxError) -> Self {
        Self {
            kind: Kind::Failed { error: Some(error) },
        }
    }
}

impl<F, E, K, T> Future for ResponseFuture<F, K, T>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Flight { flight, slot } => flight.poll(*slot, cx),
            KindProj::Passthrough { future } => future.poll(cx).map_err(Into::into),
            KindProj::Cached { response } => Poll::Ready(
                response
                    .take()
                    .ok_or_else(|| "the coalesced call was already answered".into()),
            ),
            KindProj::Failed { error } => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| "the coalesced call was already answered".into()))),
        }
    }
}

impl<F, K, T> fmt::Debug for ResponseFuture<F, K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Flight { .. } => "flight",
            Kind::Passthrough { .. } => "passthrough",
            Kind::Cached { .. } => "cached",
            Kind::Failed { .. } => "failed",
        };
        f.debug_struct("ResponseFuture")
            .field("kind", &kind)
            .finish()
    }
}
