//! The response future of [`Fallback`](super::Fallback).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::handler::FallbackHandler;
use super::predicate::Predicate;
use crate::BoxError;

pin_project! {
    /// Resolves to the inner response, or to the fallback's answer when the
    /// inner call failed with an error the predicate accepts.
    pub struct ResponseFuture<F, H, P, Req>
    where
        H: FallbackHandler<Req>,
    {
        #[pin]
        state: State<F, H::Future>,
        handler: H,
        predicate: P,
        saved: Option<H::Saved>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, G> {
        Primary { #[pin] fut: F },
        Fallback { #[pin] fut: G },
    }
}

impl<F, H, P, Req> ResponseFuture<F, H, P, Req>
where
    H: FallbackHandler<Req>,
{
    pub(crate) fn new(fut: F, handler: H, predicate: P, saved: H::Saved) -> Self {
        Self {
            state: State::Primary { fut },
            handler,
            predicate,
            saved: Some(saved),
        }
    }
}

impl<F, E, H, P, Req> Future for ResponseFuture<F, H, P, Req>
where
    F: Future<Output = Result<H::Response, E>>,
    E: Into<BoxError>,
    H: FallbackHandler<Req>,
    P: Predicate,
{
    type Output = Result<H::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Primary { fut } => {
                    let error: BoxError = match ready!(fut.poll(cx)) {
                        Ok(response) => return Poll::Ready(Ok(response)),
                        Err(error) => error.into(),
                    };
                    if !this.predicate.should_fallback(&error) {
                        return Poll::Ready(Err(error));
                    }
                    let Some(saved) = this.saved.take() else {
                        return Poll::Ready(Err(error));
                    };
                    tracing::debug!(%error, "answering from the fallback");
                    let fut = this.handler.fallback(saved, error);
                    this.state.set(State::Fallback { fut });
                }
                StateProj::Fallback { fut } => return fut.poll(cx),
            }
        }
    }
}

impl<F, H, P, Req> fmt::Debug for ResponseFuture<F, H, P, Req>
where
    H: FallbackHandler<Req>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Primary { .. } => "primary",
            State::Fallback { .. } => "fallback",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
