//! [`ResponseFuture`], the future of a [`VerifyWebhook`](super::VerifyWebhook)
//! call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use pin_project_lite::pin_project;
use tower_service::Service;

use super::body::Collect;
use super::replay::ReplayGuard;
use super::{Rejection, ResponseBody, WebhookVerifier};

pin_project! {
    /// Reads the body, verifies it and then calls the inner service, or
    /// answers with a rejection without calling it.
    ///
    /// A replay reservation lives in this future: dropping it before the
    /// inner service has answered with a success releases the id.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<Full<Bytes>>>,
    {
        #[pin]
        state: State<S, B, S::Future>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B, F> {
        Reading {
            #[pin]
            body: Collect<B>,
            parts: Option<http::request::Parts>,
            // Made ready in `poll_ready`; called once the request is verified.
            inner: Option<S>,
            verifier: WebhookVerifier,
        },
        Calling {
            #[pin]
            future: F,
            replay: Option<ReplayGuard>,
        },
        Rejected {
            rejection: Option<Rejection>,
        },
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<Full<Bytes>>>,
    B: Body,
{
    pub(crate) fn new(request: Request<B>, inner: S, verifier: WebhookVerifier) -> Self {
        let (parts, body) = request.into_parts();
        Self {
            state: State::Reading {
                body: verifier.read_body(&parts.headers, body),
                parts: Some(parts),
                inner: Some(inner),
                verifier,
            },
        }
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>>,
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Reading {
                    body,
                    parts,
                    inner,
                    verifier,
                } => {
                    let read = ready!(body.poll(cx));
                    let checked = match (read, parts.take(), inner.take()) {
                        (Ok(bytes), Some(parts), Some(inner)) => verifier
                            .check(&parts.headers, &bytes)
                            .map(|(verified, replay)| (bytes, parts, inner, verified, replay)),
                        (Err(rejection), ..) => Err(rejection),
                        // `Reading` is left when the body is first read, so its
                        // fields are always there.
                        (Ok(_), ..) => Err(Rejection::BodyUnreadable),
                    };
                    match checked {
                        Ok((bytes, mut parts, mut inner, verified, replay)) => {
                            parts.extensions.insert(verified);
                            let request = Request::from_parts(parts, Full::new(bytes));
                            State::Calling {
                                future: inner.call(request),
                                replay,
                            }
                        }
                        Err(rejection) => {
                            tracing::debug!(code = rejection.code(), %rejection, "webhook rejected");
                            State::Rejected {
                                rejection: Some(rejection),
                            }
                        }
                    }
                }
                StateProj::Calling { future, replay } => {
                    let response = ready!(future.poll(cx))?;
                    if let Some(replay) = replay.take() {
                        // A failed delivery is retried with the same id: only
                        // a success makes the id a replay from now on.
                        if response.status().is_success() {
                            replay.keep();
                        }
                    }
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Rejected { rejection } => {
                    let rejection = rejection.take().unwrap_or(Rejection::BodyUnreadable);
                    return Poll::Ready(Ok(rejection.into_response().map(ResponseBody::problem)));
                }
            };
            this.state.set(next);
        }
    }
}

impl<S, B> std::fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<Full<Bytes>>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
