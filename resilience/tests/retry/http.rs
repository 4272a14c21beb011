//! The HTTP preset: methods, statuses, `Retry-After` and body buffering.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header::RETRY_AFTER};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use palisade_resilience::retry::error::BodyTooLargeToRetry;
use palisade_resilience::retry::http::{HttpRetryLayer, RetryBody, RetrySkipped};
use palisade_resilience::retry::{Backoff, Jitter, RetryLayer};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

use super::support::Boom;

/// A body sent in chunks with no size hint, so its size is only found out by
/// reading it, optionally followed by trailers.
struct Chunks {
    chunks: VecDeque<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Chunks {
    fn new(chunks: &[&'static str]) -> Self {
        Self {
            chunks: chunks
                .iter()
                .map(|c| Bytes::from_static(c.as_bytes()))
                .collect(),
            trailers: None,
        }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(chunk) = self.chunks.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::new()
    }
}

/// One request as the upstream received it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    body: Bytes,
    trailers: Option<HeaderMap>,
    at: Instant,
}

type Answer = Result<Response<&'static str>, Boom>;

#[derive(Clone, Default)]
struct Upstream {
    seen: Arc<Mutex<Vec<Seen>>>,
    answers: Arc<Mutex<VecDeque<Answer>>>,
}

impl Upstream {
    /// Answers with `answers` in order, then 200.
    fn new(answers: impl IntoIterator<Item = Answer>) -> Self {
        let upstream = Self::default();
        upstream.answers.lock().unwrap().extend(answers);
        upstream
    }

    fn service<B>(
        &self,
    ) -> impl Service<
        Request<RetryBody<B>>,
        Response = Response<&'static str>,
        Error = Boom,
        Future: Send,
    > + Clone
    + Send
    + use<B>
    where
        B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
    {
        let upstream = self.clone();
        service_fn(move |request: Request<RetryBody<B>>| {
            let upstream = upstream.clone();
            async move {
                let at = Instant::now();
                let method = request.method().clone();
                let collected = request.into_body().collect().await.unwrap();
                let trailers = collected.trailers().cloned();
                upstream.seen.lock().unwrap().push(Seen {
                    method,
                    body: collected.to_bytes(),
                    trailers,
                    at,
                });
                let next = upstream.answers.lock().unwrap().pop_front();
                next.unwrap_or_else(|| Ok(status(200)))
            }
        })
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn status(code: u16) -> Response<&'static str> {
    Response::builder().status(code).body("").unwrap()
}

fn retry_after(code: u16, value: &str) -> Response<&'static str> {
    Response::builder()
        .status(code)
        .header(RETRY_AFTER, value)
        .body("")
        .unwrap()
}

/// A fixed wall clock, on a whole second as HTTP dates are.
const NOW: Duration = Duration::from_secs(1_800_000_000);

fn layer(max_attempts: u32) -> HttpRetryLayer {
    RetryLayer::http()
        .max_attempts(max_attempts)
        .backoff(
            Backoff::exponential(Duration::from_millis(10), Duration::from_millis(10))
                .jitter(Jitter::None),
        )
        .max_retry_after(Duration::from_secs(60))
        .max_body_bytes(8)
        .no_budget()
        .clock(|| SystemTime::UNIX_EPOCH + NOW)
        .build()
        .unwrap()
}

fn request(method: Method, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri("http://upstream/items/1")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

async fn send<B>(
    layer: &HttpRetryLayer,
    upstream: &Upstream,
    request: Request<B>,
) -> Result<Response<&'static str>, palisade_resilience::BoxError>
where
    B: Body<Data = Bytes, Error = Infallible> + Send + Unpin + 'static,
{
    layer.layer(upstream.service::<B>()).oneshot(request).await
}

#[tokio::test(start_paused = true)]
async fn gateway_errors_and_429_are_retried_500_is_not() {
    for code in [502, 503, 504, 429] {
        let upstream = Upstream::new([Ok(status(code))]);
        let response = send(&layer(3), &upstream, request(Method::GET, ""))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{code}");
        assert_eq!(upstream.seen().len(), 2, "{code}");
    }
    let upstream = Upstream::new([Ok(status(500))]);
    let response = send(&layer(3), &upstream, request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(upstream.seen().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn transport_errors_are_retried() {
    let upstream = Upstream::new([Err(Boom(1)), Err(Boom(2))]);
    let response = send(&layer(3), &upstream, request(Method::DELETE, ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(upstream.seen().len(), 3);

    // Exhausted: the last transport error comes back.
    let upstream = Upstream::new([Err(Boom(1)), Err(Boom(2))]);
    let error = send(&layer(2), &upstream, request(Method::GET, ""))
        .await
        .unwrap_err();
    assert_eq!(error.downcast_ref::<Boom>(), Some(&Boom(2)));
}

#[tokio::test(start_paused = true)]
async fn only_idempotent_methods_are_retried() {
    for method in [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::PUT,
        Method::DELETE,
    ] {
        let upstream = Upstream::new([Ok(status(503))]);
        let response = send(&layer(3), &upstream, request(method.clone(), ""))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        assert_eq!(upstream.seen().len(), 2, "{method}");
    }
    for method in [Method::POST, Method::PATCH] {
        let upstream = Upstream::new([Ok(status(503))]);
        let response = send(&layer(3), &upstream, request(method.clone(), "{\"a\":1}"))
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{method}"
        );
        let seen = upstream.seen();
        assert_eq!(seen.len(), 1, "{method}");
        assert_eq!(seen[0].body, "{\"a\":1}");

        let upstream = Upstream::new([Err(Boom(1))]);
        let error = send(&layer(3), &upstream, request(method.clone(), ""))
            .await
            .unwrap_err();
        assert_eq!(error.downcast_ref::<Boom>(), Some(&Boom(1)), "{method}");
        assert_eq!(upstream.seen().len(), 1, "{method}");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_wait_the_larger_of_it_and_the_backoff() {
    let upstream = Upstream::new([Ok(retry_after(503, "3")), Ok(retry_after(429, "0"))]);
    let response = send(&layer(3), &upstream, request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = upstream.seen();
    // 3 s is longer than the 10 ms backoff; "0" is shorter, so the backoff.
    assert_eq!(seen[1].at - seen[0].at, Duration::from_secs(3));
    assert_eq!(seen[2].at - seen[1].at, Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn retry_after_dates_are_compared_with_the_clock() {
    let in_five_seconds =
        httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + NOW + Duration::from_secs(5));
    let in_the_past =
        httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + NOW - Duration::from_secs(5));
    let upstream = Upstream::new([
        Ok(retry_after(503, &in_five_seconds)),
        Ok(retry_after(503, &in_the_past)),
    ]);
    let response = send(&layer(3), &upstream, request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = upstream.seen();
    assert_eq!(seen[1].at - seen[0].at, Duration::from_secs(5));
    // A date in the past asks for no wait: the 10 ms backoff applies.
    assert_eq!(seen[2].at - seen[1].at, Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_cap_returns_the_response() {
    let capped = RetryLayer::http()
        .max_retry_after(Duration::from_secs(2))
        .no_budget()
        .build()
        .unwrap();
    let upstream = Upstream::new([Ok(retry_after(503, "10"))]);
    let started = Instant::now();
    let response = send(&capped, &upstream, request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[RETRY_AFTER], "10");
    assert_eq!(upstream.seen().len(), 1);
    assert_eq!(Instant::now(), started, "it did not wait");

    // Within the cap it waits what was asked.
    let upstream = Upstream::new([Ok(retry_after(503, "2"))]);
    let response = send(&capped, &upstream, request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = upstream.seen();
    assert_eq!(seen[1].at - seen[0].at, Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn bodies_within_the_limit_are_sent_intact_on_every_attempt() {
    let mut trailers = HeaderMap::new();
    trailers.insert("checksum", "abc".parse().unwrap());
    let mut body = Chunks::new(&["ab", "cde", "fgh"]);
    body.trailers = Some(trailers.clone());
    let upstream = Upstream::new([Ok(status(503)), Err(Boom(2))]);
    let request = Request::put("http://upstream/items/1").body(body).unwrap();

    let response = send(&layer(3), &upstream, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = upstream.seen();
    assert_eq!(seen.len(), 3);
    for attempt in &seen {
        assert_eq!(attempt.method, Method::PUT);
        assert_eq!(attempt.body, "abcdefgh");
        assert_eq!(attempt.trailers.as_ref(), Some(&trailers));
    }
}

#[tokio::test(start_paused = true)]
async fn a_body_found_too_large_while_reading_is_sent_whole_once() {
    // 11 bytes against a limit of 8, without a size hint.
    let upstream = Upstream::new([Ok(status(503))]);
    let request = Request::put("http://upstream/items/1")
        .body(Chunks::new(&["abc", "def", "ghi", "jk"]))
        .unwrap();
    let response = send(&layer(3), &upstream, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.extensions().get::<RetrySkipped>(),
        Some(&RetrySkipped::BodyTooLarge { limit: 8 })
    );
    let seen = upstream.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body, "abcdefghijk");

    // A transport error says why it was not retried and keeps the cause.
    let upstream = Upstream::new([Err(Boom(1))]);
    let request = Request::put("http://upstream/items/1")
        .body(Chunks::new(&["abcdefgh", "i"]))
        .unwrap();
    let error = send(&layer(3), &upstream, request).await.unwrap_err();
    let too_large = error
        .downcast_ref::<BodyTooLargeToRetry>()
        .unwrap_or_else(|| panic!("expected BodyTooLargeToRetry, got {error}"));
    assert_eq!(too_large.limit(), 8);
    assert_eq!(too_large.inner().downcast_ref::<Boom>(), Some(&Boom(1)));
    assert!(too_large.to_string().contains("boom #1"), "{too_large}");
    assert_eq!(upstream.seen().len(), 1);
    assert_eq!(upstream.seen()[0].body, "abcdefghi");
}

#[tokio::test(start_paused = true)]
async fn a_body_known_to_be_too_large_is_not_buffered() {
    let upstream = Upstream::new([Err(Boom(1))]);
    let error = send(&layer(3), &upstream, request(Method::PUT, "0123456789"))
        .await
        .unwrap_err();
    assert_eq!(
        error.downcast_ref::<BodyTooLargeToRetry>().unwrap().limit(),
        8
    );
    let seen = upstream.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body, "0123456789");

    // A body of exactly the limit is kept and retried.
    let upstream = Upstream::new([Err(Boom(1))]);
    let response = send(&layer(3), &upstream, request(Method::PUT, "01234567"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bodies: Vec<_> = upstream.seen().into_iter().map(|s| s.body).collect();
    assert_eq!(bodies, ["01234567", "01234567"]);
}

#[tokio::test(start_paused = true)]
async fn successful_answers_are_returned_after_one_attempt() {
    let upstream = Upstream::new([Ok(status(404))]);
    let response = send(&layer(3), &upstream, request(Method::GET, ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(upstream.seen().len(), 1);
    assert!(response.extensions().get::<RetrySkipped>().is_none());
}

/// A body that fails after its first chunk.
struct Broken(bool);

impl Body for Broken {
    type Data = Bytes;
    type Error = Boom;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Boom>>> {
        if self.0 {
            return Poll::Ready(Some(Err(Boom(0))));
        }
        self.0 = true;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"ab")))))
    }
}

#[tokio::test(start_paused = true)]
async fn a_body_failing_while_buffered_fails_the_call_before_sending() {
    let calls = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&calls);
    let upstream = service_fn(move |_: Request<RetryBody<Broken>>| {
        *counter.lock().unwrap() += 1;
        async { Ok::<_, Boom>(status(200)) }
    });
    let request = Request::put("http://upstream/items/1")
        .body(Broken(false))
        .unwrap();
    let error = layer(3).layer(upstream).oneshot(request).await.unwrap_err();
    assert_eq!(error.downcast_ref::<Boom>(), Some(&Boom(0)));
    assert_eq!(*calls.lock().unwrap(), 0);
}

/// Retries a 500 as well: a custom rule for a known-flaky upstream.
#[derive(Clone, Copy, Debug)]
struct AlsoServerErrors;

impl<B, E> palisade_resilience::retry::Predicate<Response<B>, E> for AlsoServerErrors {
    fn should_retry(&self, result: &Result<Response<B>, E>) -> bool {
        result
            .as_ref()
            .map_or(true, |response| response.status().is_server_error())
    }
}

#[tokio::test(start_paused = true)]
async fn the_http_preset_keeps_a_custom_predicate_and_its_http_setters() {
    let custom = RetryLayer::http()
        .max_attempts(3)
        .backoff(Backoff::exponential(
            Duration::from_millis(10),
            Duration::from_millis(10),
        ))
        .predicate(AlsoServerErrors)
        .max_body_bytes(8)
        .no_budget()
        .build()
        .unwrap();
    assert_eq!(custom.max_body_bytes(), 8);

    // The custom predicate retries the 500 that the default one returns.
    let upstream = Upstream::new([Ok(status(500))]);
    let response = custom
        .layer(upstream.service::<Full<Bytes>>())
        .oneshot(request(Method::PUT, "{}"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(upstream.seen().len(), 2);

    // The preset's HTTP rules still hold: a POST is sent once.
    let upstream = Upstream::new([Ok(status(500))]);
    let response = custom
        .layer(upstream.service::<Full<Bytes>>())
        .oneshot(request(Method::POST, "{}"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(upstream.seen().len(), 1);
}
