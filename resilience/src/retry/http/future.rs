//! The response future of [`HttpRetry`](super::HttpRetry).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BufMut, BytesMut};
use http::{HeaderMap, Request, Response, request::Parts};
use http_body::Body;
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower_service::Service;

use super::RetrySkipped;
use super::body::{Buffered, RetryBody};
use super::policy::{HttpPredicate, is_retryable_status};
use crate::BoxError;
use crate::retry::Predicate;
use crate::retry::error::BodyTooLargeToRetry;
use crate::retry::future::ResponseFuture;
use crate::retry::layer::Shared;

pin_project! {
    /// The response future of [`HttpRetry`](super::HttpRetry).
    pub struct HttpResponseFuture<S, B, P = HttpPredicate>
    where
        S: Service<Request<RetryBody<B>>>,
    {
        #[pin]
        state: State<S, B, P>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B, P>
    where
        S: Service<Request<RetryBody<B>>>,
    {
        // A single attempt; `too_large` is the limit a body exceeded.
        Once {
            #[pin]
            future: S::Future,
            too_large: Option<usize>,
        },
        Buffering {
            inner: Option<S>,
            parts: Option<Parts>,
            body: Option<B>,
            buf: BytesMut,
            trailers: Option<HeaderMap>,
            shared: Arc<Shared<P>>,
            limit: usize,
        },
        Retrying {
            #[pin]
            future: ResponseFuture<Replay<S, B>, P, Request<Buffered>>,
        },
    }
}

impl<S, B, P> HttpResponseFuture<S, B, P>
where
    S: Service<Request<RetryBody<B>>>,
{
    pub(crate) fn once(future: S::Future, too_large: Option<usize>) -> Self {
        Self {
            state: State::Once { future, too_large },
        }
    }

    pub(crate) fn buffering(
        inner: S,
        parts: Parts,
        body: B,
        buf: BytesMut,
        shared: Arc<Shared<P>>,
        limit: usize,
    ) -> Self {
        Self {
            state: State::Buffering {
                inner: Some(inner),
                parts: Some(parts),
                body: Some(body),
                buf,
                trailers: None,
                shared,
                limit,
            },
        }
    }
}

impl<S, B, P, ResB> Future for HttpResponseFuture<S, B, P>
where
    S: Service<Request<RetryBody<B>>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError> + 'static,
    P: Predicate<Response<ResB>, S::Error>,
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Once { future, too_large } => {
                    let result = ready!(future.poll(cx));
                    return Poll::Ready(match (*too_large, result) {
                        (Some(limit), Err(e)) => {
                            tracing::debug!(
                                limit,
                                "request failed; its body is too large to retry"
                            );
                            Err(BodyTooLargeToRetry::new(limit, e.into()).into())
                        }
                        (Some(limit), Ok(mut response))
                            if is_retryable_status(response.status()) =>
                        {
                            tracing::debug!(limit, status = %response.status(), "request failed; its body is too large to retry");
                            response
                                .extensions_mut()
                                .insert(RetrySkipped::BodyTooLarge { limit });
                            Ok(response)
                        }
                        (_, result) => result.map_err(Into::into),
                    });
                }
                StateProj::Buffering {
                    inner,
                    parts,
                    body,
                    buf,
                    trailers,
                    shared,
                    limit,
                } => {
                    let Some(source) = body.as_mut() else {
                        return Poll::Ready(Err(Polled.into()));
                    };
                    let next = match ready!(Pin::new(source).poll_frame(cx)) {
                        Some(Ok(frame)) => frame,
                        Some(Err(e)) => return Poll::Ready(Err(e.into())),
                        None => {
                            let (Some(mut service), Some(parts)) = (inner.take(), parts.take())
                            else {
                                return Poll::Ready(Err(Polled.into()));
                            };
                            let buffered = Buffered {
                                data: buf.split().freeze(),
                                trailers: trailers.take(),
                            };
                            let request = Request::from_parts(parts, buffered);
                            let started = shared.settings.max_elapsed.map(|_| Instant::now());
                            let future = service.call(request.clone().map(Buffered::into_body));
                            let max_attempts = super::max_attempts_of(&request, shared);
                            let future = ResponseFuture::with_max_attempts(
                                future,
                                Replay::new(service),
                                Some(request),
                                Arc::clone(shared),
                                started,
                                max_attempts,
                            );
                            this.state.set(State::Retrying { future });
                            continue;
                        }
                    };
                    match next.into_data() {
                        Ok(mut data) => {
                            let overflow = buf.len().saturating_add(data.remaining()) > *limit;
                            buf.put(&mut data);
                            if overflow {
                                let limit = *limit;
                                let (Some(mut service), Some(parts), Some(rest)) =
                                    (inner.take(), parts.take(), body.take())
                                else {
                                    return Poll::Ready(Err(Polled.into()));
                                };
                                tracing::debug!(
                                    limit,
                                    "request body too large to buffer; it will not be retried"
                                );
                                // What was read goes first, then the rest: the
                                // inner service receives the whole body.
                                let prefix = Some(buf.split().freeze());
                                let request =
                                    Request::from_parts(parts, RetryBody::streaming(prefix, rest));
                                let future = service.call(request);
                                this.state.set(State::Once {
                                    future,
                                    too_large: Some(limit),
                                });
                            }
                        }
                        Err(frame) => {
                            if let Ok(more) = frame.into_trailers() {
                                match trailers {
                                    Some(existing) => existing.extend(more),
                                    None => *trailers = Some(more),
                                }
                            }
                        }
                    }
                }
                StateProj::Retrying { future } => return future.poll(cx),
            }
        }
    }
}

impl<S, B, P> fmt::Debug for HttpResponseFuture<S, B, P>
where
    S: Service<Request<RetryBody<B>>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Once { .. } => "Once",
            State::Buffering { .. } => "Buffering",
            State::Retrying { .. } => "Retrying",
        };
        f.debug_struct("HttpResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

/// Turns the kept request into the one the inner service takes, so the
/// generic retry future can drive the attempts.
pub(crate) struct Replay<S, B> {
    inner: S,
    _body: PhantomData<fn(B)>,
}

impl<S, B> Replay<S, B> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            _body: PhantomData,
        }
    }
}

impl<S, B> Service<Request<Buffered>> for Replay<S, B>
where
    S: Service<Request<RetryBody<B>>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        self.inner.call(request.map(Buffered::into_body))
    }
}

/// Cannot happen: the future was polled after it moved its request on.
#[derive(Debug)]
struct Polled;

impl fmt::Display for Polled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("retry future polled after its request was sent")
    }
}

impl std::error::Error for Polled {}
