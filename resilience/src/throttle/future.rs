//! [`ResponseFuture`] for [`Throttle`](super::Throttle).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::window::{AcceptWindow, WindowSettings};
use crate::BoxError;
use crate::classify::{Classify, Outcome};

pin_project! {
    /// The response future of [`Throttle`](super::Throttle): the inner
    /// call, whose result counts as an accept or not, or a rejection.
    pub struct ResponseFuture<F, C> {
        #[pin]
        kind: Kind<F, C>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, C> {
        Called {
            #[pin]
            future: F,
            window: Arc<AcceptWindow>,
            settings: WindowSettings,
            classify: C,
        },
        Failed { error: Option<BoxError> },
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn called(
        future: F,
        window: Arc<AcceptWindow>,
        settings: WindowSettings,
        classify: C,
    ) -> Self {
        Self {
            kind: Kind::Called {
                future,
                window,
                settings,
                classify,
            },
        }
    }

    pub(crate) fn failed(error: BoxError) -> Self {
        Self {
            kind: Kind::Failed { error: Some(error) },
        }
    }
}

impl<F, T, E, C> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Classify<T, E>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called {
                future,
                window,
                settings,
                classify,
            } => {
                let result = std::task::ready!(future.poll(cx));
                if classify.classify(&result) == Outcome::Success {
                    window.accept(settings);
                }
                Poll::Ready(result.map_err(Into::into))
            }
            KindProj::Failed { error } => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| "the throttled call was already answered".into()))),
        }
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Called { .. } => "called",
            Kind::Failed { .. } => "failed",
        };
        f.debug_struct("ResponseFuture")
            .field("kind", &kind)
            .finish()
    }
}
