//! The HTTP edge: every error our layers originate becomes the documented
//! status, headers and problem+json body.
// `allow` before the `cfg`: a false crate-level `cfg` strips the attributes after it.
#![allow(missing_docs)]
#![cfg(all(
    feature = "axum",
    feature = "circuit-breaker",
    feature = "bulkhead",
    feature = "rate-limit",
    feature = "timeout",
    feature = "chaos",
    feature = "retry"
))]

use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::Full;
use palisade_resilience::BoxError;
use palisade_resilience::bulkhead::error::{BulkheadFull, Reason};
use palisade_resilience::chaos::error::ChaosError;
use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow};
use palisade_resilience::edge::{self, Problem};
use palisade_resilience::key::{MissingKey, PeerIp};
use palisade_resilience::rate_limit::error::RateLimited;
use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
use palisade_resilience::retry::RetryLayer;
use palisade_resilience::retry::error::BodyTooLargeToRetry;
use palisade_resilience::retry::http::RetryBody;
use palisade_resilience::timeout::error::Elapsed;
use serde_json::{Value, json};
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

/// The one `type` URI scheme of every Palisade crate.
const TYPE_BASE: &str = "https://palisade-rs.github.io/problems/";

/// Status, headers and the parsed body of a response.
async fn parts(response: Response) -> (StatusCode, http::HeaderMap, Value) {
    let (parts, body) = response.into_parts();
    assert_eq!(
        parts.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .expect("a small body");
    let body = serde_json::from_slice(&bytes).expect("a JSON body");
    (parts.status, parts.headers, body)
}

/// The body our own problems have.
fn ours(status: u16, code: &str, title: &str, detail: &str) -> Value {
    json!({
        "type": format!("{TYPE_BASE}{code}"),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    })
}

/// A breaker that opens after two failures out of two calls, waiting 30 s.
fn breaker() -> CircuitBreakerLayer {
    CircuitBreakerLayer::builder()
        .name("payments")
        .sliding_window(SlidingWindow::count(2))
        .minimum_calls(2)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(Duration::from_secs(30))
        .build()
        .expect("valid configuration")
}

#[tokio::test(start_paused = true)]
async fn circuit_open_is_503_with_retry_after_rounded_up() {
    let svc = breaker().layer(service_fn(|fail: bool| async move {
        if fail {
            Err(std::io::Error::other("down"))
        } else {
            Ok("ok")
        }
    }));
    for _ in 0..2 {
        let _ = svc.clone().oneshot(true).await;
    }

    let err = svc.clone().oneshot(false).await.unwrap_err();
    let (status, headers, body) = parts(edge::error_response(&err)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "30");
    assert_eq!(
        body,
        ours(
            503,
            "circuit_open",
            "Circuit open",
            "a dependency is failing and calls to it are suspended; try again later"
        )
    );
    // The breaker's name stays on the server.
    assert!(!body.to_string().contains("payments"));

    // 19.5 s left: a client told "19" would come back too early.
    tokio::time::advance(Duration::from_millis(10_500)).await;
    let err = svc.oneshot(false).await.unwrap_err();
    let response = edge::error_response(&err);
    assert_eq!(response.headers()[header::RETRY_AFTER], "20");
}

#[tokio::test(start_paused = true)]
async fn a_forced_open_breaker_has_no_retry_after() {
    let layer = breaker();
    layer.handle().force_open();
    let svc = layer.layer(service_fn(|(): ()| async { Ok::<_, Infallible>("ok") }));

    let err = svc.oneshot(()).await.unwrap_err();
    let (status, headers, body) = parts(edge::error_response(&err)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.get(header::RETRY_AFTER).is_none());
    assert_eq!(body["code"], "circuit_open");
}

#[tokio::test]
async fn bulkhead_full_is_503_with_a_one_second_retry_after() {
    for reason in [
        Reason::QueueFull,
        Reason::WaitExpired {
            max_wait: Duration::from_millis(250),
        },
    ] {
        let err: BoxError = BulkheadFull::new(16, reason).into();
        let (status, headers, body) = parts(edge::error_response(&err)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[header::RETRY_AFTER], "1");
        assert_eq!(
            body,
            ours(
                503,
                "bulkhead_full",
                "Too busy",
                "too many requests are in progress; try again shortly"
            )
        );
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limited_is_429_with_retry_after_and_ratelimit_headers() {
    // Two at once, then one every 500 ms.
    let svc = RateLimitLayer::global(Quota::per_second(NonZeroU32::new(2).unwrap()))
        .layer(service_fn(|(): ()| async { Ok::<_, Infallible>("ok") }));
    svc.clone().oneshot(()).await.unwrap();
    svc.clone().oneshot(()).await.unwrap();
    let err = svc.oneshot(()).await.unwrap_err();
    let limited = err.downcast_ref::<RateLimited>().unwrap().clone();

    let (status, headers, body) = parts(edge::error_response(&err)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // 500 ms rounded up; the whole burst is back after 1 s.
    assert_eq!(headers[header::RETRY_AFTER], "1");
    assert_eq!(headers["ratelimit-limit"], "2");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert_eq!(headers["ratelimit-reset"], "1");
    for (name, value) in &limited.headers() {
        assert_eq!(headers[name], value, "{name} is the limiter's own value");
    }
    assert_eq!(
        body,
        ours(
            429,
            "rate_limited",
            "Too many requests",
            "the rate limit was exceeded; retry after the time in Retry-After"
        )
    );
}

#[tokio::test]
async fn elapsed_is_504() {
    let err: BoxError = Elapsed::new(Duration::from_millis(1500)).into();
    let (status, headers, body) = parts(edge::error_response(&err)).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(headers.get(header::RETRY_AFTER).is_none());
    assert_eq!(
        body,
        ours(
            504,
            "timeout",
            "Timed out",
            "the request took too long to complete"
        )
    );
}

#[tokio::test]
async fn chaos_error_is_500_fault_injected() {
    let err: BoxError = ChaosError::new().into();
    let (status, _, body) = parts(edge::error_response(&err)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body,
        ours(
            500,
            "fault_injected",
            "Injected fault",
            "a fault was injected on purpose by the chaos layer"
        )
    );
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn backend_unavailable_is_503() {
    use palisade_resilience::rate_limit::error::BackendUnavailable;
    use palisade_resilience::rate_limit::redis::{
        FailurePolicy, RedisRateLimitLayer, lazy_connection,
    };

    // A port nothing listens on: Redis refuses, the layer fails closed.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let conn = lazy_connection(
        &format!("redis://127.0.0.1:{port}"),
        Duration::from_millis(50),
    )
    .unwrap();
    let layer =
        RedisRateLimitLayer::builder(conn, Quota::per_second(NonZeroU32::MIN), |_: &()| Some("k"))
            .timeout(Duration::from_millis(50))
            .failure_policy(FailurePolicy::FailClosed)
            .build()
            .unwrap();
    let svc = layer.layer(service_fn(|(): ()| async { Ok::<_, Infallible>("ok") }));
    let err = tokio::time::timeout(Duration::from_secs(10), svc.oneshot(()))
        .await
        .expect("the call hung")
        .unwrap_err();
    assert!(err.is::<BackendUnavailable>(), "got {err}");

    let (status, headers, body) = parts(edge::error_response(&err)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.get(header::RETRY_AFTER).is_none());
    assert_eq!(
        body,
        ours(
            503,
            "rate_limit_unavailable",
            "Rate limiter unavailable",
            "the rate limiter could not decide in time; try again later"
        )
    );
}

/// An application error wrapping the cause, as `?` with context would.
#[derive(Debug)]
struct Context(BoxError);

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("loading the cart")
    }
}

impl Error for Context {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.0)
    }
}

#[tokio::test]
async fn a_wrapped_error_is_recognised() {
    let err: BoxError = Context(Context(Elapsed::new(Duration::from_secs(1)).into()).into()).into();
    let (status, _, body) = parts(edge::error_response(&err)).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(body["code"], "timeout");
}

#[tokio::test(start_paused = true)]
async fn circuit_open_inside_body_too_large_to_retry_is_recognised() {
    let breaker = breaker();
    breaker.handle().force_open();
    let upstream = breaker.layer(service_fn(|_: Request<RetryBody<Full<Bytes>>>| async {
        Ok::<_, Infallible>(http::Response::new(()))
    }));
    // A body over the limit is sent once; its failure cannot be retried.
    let retry = RetryLayer::http().max_body_bytes(0).build().unwrap();
    let request = Request::put("/cart")
        .body(Full::new(Bytes::from("{}")))
        .unwrap();
    let err = retry.layer(upstream).oneshot(request).await.unwrap_err();
    assert!(err.is::<BodyTooLargeToRetry>(), "got {err}");

    let (status, _, body) = parts(edge::error_response(&err)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "circuit_open");
}

#[tokio::test]
async fn an_unknown_error_is_500_without_its_text() {
    let secret = "connection to 10.1.2.3:5432 as admin/hunter2 refused";
    let err: BoxError = Context(std::io::Error::other(secret).into()).into();
    let response = edge::error_response(&err);
    let (status, headers, body) = parts(response).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(headers.get(header::RETRY_AFTER).is_none());
    assert_eq!(
        body,
        json!({
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "the server could not complete the request",
            "code": "internal",
        })
    );
    let text = body.to_string();
    for leak in ["10.1.2.3", "hunter2", "loading the cart"] {
        assert!(!text.contains(leak), "{leak} leaked");
    }
}

#[tokio::test]
async fn handle_error_answers_for_an_axum_router() {
    let app = Router::new().route(
        "/",
        get(|| async { "never answered" }).layer(
            // `ChaosError` from a layer, turned into a response by the edge.
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(edge::handle_error))
                .layer(
                    palisade_resilience::chaos::ChaosLayer::builder()
                        .error(1.0)
                        .seed(1)
                        .build()
                        .unwrap(),
                ),
        ),
    );
    let response = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, _, body) = parts(response).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["code"], "fault_injected");
}

#[tokio::test]
async fn a_problem_of_your_own() {
    let response = Problem::new(StatusCode::CONFLICT)
        .with_type("https://example.com/problems/version")
        .with_title("Version conflict")
        .with_detail("the order changed since you read it")
        .with_code("version_conflict")
        .with_instance("/orders/7")
        .with_header(header::ETAG, HeaderValue::from_static("\"v8\""))
        .into_response();
    let (status, headers, body) = parts(response).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(headers[header::ETAG], "\"v8\"");
    assert_eq!(
        body,
        json!({
            "type": "https://example.com/problems/version",
            "title": "Version conflict",
            "status": 409,
            "detail": "the order changed since you read it",
            "instance": "/orders/7",
            "code": "version_conflict",
        })
    );

    // The minimal problem: RFC 9457's `about:blank` with the reason phrase.
    let (_, _, body) = parts(Problem::new(StatusCode::NOT_FOUND).into_response()).await;
    assert_eq!(
        body,
        json!({ "type": "about:blank", "title": "Not Found", "status": 404 })
    );
}

/// A request from `ip`, as `into_make_service_with_connect_info` delivers it.
fn from(ip: [u8; 4]) -> Request<()> {
    let mut request = Request::new(());
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
    request
}

#[tokio::test(start_paused = true)]
async fn peer_ip_reads_axum_connect_info_so_each_client_ip_has_its_own_bucket() {
    let echo = service_fn(|_: Request<()>| async { Ok::<_, Infallible>("ok") });
    let svc = RateLimitLayer::keyed(Quota::per_minute(NonZeroU32::MIN), PeerIp).layer(echo);
    svc.clone().oneshot(from([192, 0, 2, 1])).await.unwrap();
    let err = svc.clone().oneshot(from([192, 0, 2, 1])).await.unwrap_err();
    assert!(err.is::<RateLimited>());
    svc.clone().oneshot(from([192, 0, 2, 2])).await.unwrap();

    // No address at all: refused with `MissingKey`, not pooled with anyone.
    let err = svc.oneshot(Request::new(())).await.unwrap_err();
    assert!(err.is::<MissingKey>());
}
