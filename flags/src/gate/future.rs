//! [`ResponseFuture`]: the inner service's answer, the disabled answer, or
//! the refusal when no context could be built.

use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

pin_project! {
    /// The response of a [`FlagGate`](super::FlagGate).
    pub struct ResponseFuture<F, D, ResBody> {
        #[pin]
        kind: Kind<F, D, ResBody>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, D, ResBody> {
        Enabled { #[pin] future: F },
        Disabled { #[pin] future: D },
        Refused { response: Option<Response<ResBody>> },
    }
}

impl<F, D, ResBody> ResponseFuture<F, D, ResBody> {
    pub(super) fn enabled(future: F) -> Self {
        Self {
            kind: Kind::Enabled { future },
        }
    }

    pub(super) fn disabled(future: D) -> Self {
        Self {
            kind: Kind::Disabled { future },
        }
    }

    pub(super) fn refused(response: Response<ResBody>) -> Self {
        Self {
            kind: Kind::Refused {
                response: Some(response),
            },
        }
    }
}

impl<F, D, ResBody, E> Future for ResponseFuture<F, D, ResBody>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    D: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Enabled { future } => future.poll(cx),
            KindProj::Disabled { future } => future.poll(cx),
            KindProj::Refused { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}

impl<F, D, ResBody> std::fmt::Debug for ResponseFuture<F, D, ResBody> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
