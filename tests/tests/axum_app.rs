//! An axum app over real HTTP on 127.0.0.1, every resilience layer on some
//! route behind `HandleErrorLayer` and the edge: what a client really sees.
//!
//! Real sockets need real time: timeouts are tiny, every request is bounded,
//! and nothing asserts on how long anything took.
#![allow(missing_docs)]

mod support;

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};
use http::{HeaderMap, StatusCode, header};
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade_resilience::BoxError;
use palisade_resilience::ServiceBuilderExt;
use palisade_resilience::bulkhead::BulkheadLayer;
use palisade_resilience::chaos::ChaosLayer;
use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow, State};
use palisade_resilience::edge;
use palisade_resilience::fallback::FallbackLayer;
use palisade_resilience::key::PeerIp;
use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
use palisade_resilience::retry::{Backoff, Jitter, RetryLayer};
use palisade_resilience::timeout::TimeoutLayer;
use serde_json::Value;
use support::{GUARD, fetch, serve};
use tokio::sync::{Notify, mpsc};
use tower::ServiceBuilder;

/// A client for one server.
#[derive(Clone)]
struct Http {
    client: Client<HttpConnector, Empty<Bytes>>,
    addr: SocketAddr,
}

/// A response: status, headers and body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    /// The problem+json body, checking the content type.
    fn problem(&self) -> Value {
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/problem+json"
        );
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// A header holding whole seconds.
    fn seconds(&self, name: &str) -> u64 {
        self.headers[name]
            .to_str()
            .expect("ASCII")
            .parse()
            .expect("delta seconds")
    }
}

impl Http {
    async fn start(app: Router) -> Self {
        let addr = serve(app, true).await;
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self { client, addr }
    }

    async fn get(&self, path: &str) -> Answer {
        let uri = format!("http://{}{path}", self.addr);
        let request = http::Request::get(uri)
            .body(Empty::new())
            .expect("a request");
        let (parts, body) = fetch(&self.client, request).await;
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// `handler` behind `HandleErrorLayer` with the edge, then `layers`.
macro_rules! guarded {
    ($handler:expr, $layers:expr) => {
        $handler.layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(edge::handle_error))
                .layer($layers),
        )
    };
}

fn ok() -> MethodRouter {
    get(|| async { "ok" })
}

#[tokio::test]
async fn a_forced_open_breaker_answers_503_until_reset() {
    let breaker = CircuitBreakerLayer::http().name("forced").build().unwrap();
    let handle = breaker.handle();
    let app = Router::new().route("/", guarded!(ok(), breaker));
    let http = Http::start(app).await;

    handle.force_open();
    let answer = http.get("/").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    let problem = answer.problem();
    assert_eq!(problem["status"], 503);
    assert_eq!(problem["code"], "circuit_open");
    // Forced open: no probe is scheduled, so no time to promise.
    assert!(answer.headers.get(header::RETRY_AFTER).is_none());

    handle.reset();
    let answer = http.get("/").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "ok");
}

#[tokio::test]
async fn a_tripped_breaker_answers_503_with_retry_after() {
    let breaker = CircuitBreakerLayer::http()
        .name("tripped")
        .sliding_window(SlidingWindow::count(2))
        .minimum_calls(2)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(Duration::from_secs(60))
        .build()
        .unwrap();
    let handle = breaker.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let broken = get(move || {
        seen.fetch_add(1, Ordering::SeqCst);
        async { StatusCode::INTERNAL_SERVER_ERROR }
    });
    let http = Http::start(Router::new().route("/", guarded!(broken, breaker))).await;

    // The handler's own 500s pass through and count as failures...
    for _ in 0..2 {
        assert_eq!(
            http.get("/").await.status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    assert_eq!(handle.state(), State::Open);

    // ...then the breaker answers for it.
    let answer = http.get("/").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.problem()["code"], "circuit_open");
    assert!((1..=60).contains(&answer.seconds("retry-after")));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_its_headers_per_client_ip() {
    let limit = RateLimitLayer::http(Quota::per_minute(NonZeroU32::new(2).unwrap()))
        .keyed(PeerIp)
        .build();
    // `PeerIp` keys on the `ConnectInfo` that the server records, as the
    // handler's extractor reads it.
    let whoami =
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() });
    let app = Router::new().route(
        "/",
        guarded!(whoami, ServiceBuilder::new().rate_limit_with(limit)),
    );
    let http = Http::start(app).await;

    for remaining in ["1", "0"] {
        let answer = http.get("/").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, "127.0.0.1");
        assert_eq!(answer.headers["ratelimit-limit"], "2");
        assert_eq!(answer.headers["ratelimit-remaining"], remaining);
        assert!((1..=60).contains(&answer.seconds("ratelimit-reset")));
    }

    let answer = http.get("/").await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.headers["ratelimit-limit"], "2");
    assert_eq!(answer.headers["ratelimit-remaining"], "0");
    assert!((1..=30).contains(&answer.seconds("retry-after")));
    assert!((1..=60).contains(&answer.seconds("ratelimit-reset")));
    let problem = answer.problem();
    assert_eq!(problem["status"], 429);
    assert_eq!(problem["code"], "rate_limited");
}

#[tokio::test]
async fn a_full_bulkhead_answers_503_while_a_slow_request_holds_the_permit() {
    let (started, mut started_rx) = mpsc::unbounded_channel::<()>();
    let release = Arc::new(Notify::new());
    let held = Arc::clone(&release);
    let slow = get(move || {
        let started = started.clone();
        let release = Arc::clone(&held);
        async move {
            let _ = started.send(());
            release.notified().await;
            "done"
        }
    });
    let bulkhead = BulkheadLayer::new(NonZeroUsize::MIN);
    let handle = bulkhead.handle();
    let http = Http::start(Router::new().route("/", guarded!(slow, bulkhead))).await;

    let holder = tokio::spawn({
        let http = http.clone();
        async move { http.get("/").await }
    });
    tokio::time::timeout(GUARD, started_rx.recv())
        .await
        .expect("the slow request never started");

    let answer = http.get("/").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers[header::RETRY_AFTER], "1");
    assert_eq!(answer.problem()["code"], "bulkhead_full");
    assert_eq!(handle.rejected_total(), 1);

    release.notify_one();
    let answer = holder.await.unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "done");
}

#[tokio::test]
async fn a_timeout_answers_504() {
    let never = Arc::new(Notify::new());
    let hung = get(move || {
        let never = Arc::clone(&never);
        async move {
            never.notified().await;
            "unreachable"
        }
    });
    let timeout = TimeoutLayer::new(Duration::from_millis(50));
    let http = Http::start(Router::new().route("/", guarded!(hung, timeout))).await;

    let answer = http.get("/").await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    let problem = answer.problem();
    assert_eq!(problem["status"], 504);
    assert_eq!(problem["code"], "timeout");
}

#[tokio::test]
async fn the_fallback_answers_for_an_injected_fault() {
    let fallback = FallbackLayer::value(|_: BoxError| "from the fallback".into_response());
    let chaos = ChaosLayer::builder().error(1.0).seed(3).build().unwrap();
    let app = Router::new()
        .route(
            "/fallback",
            guarded!(
                ok(),
                ServiceBuilder::new()
                    .fallback(fallback)
                    .chaos(chaos.clone())
            ),
        )
        .route("/bare", guarded!(ok(), chaos));
    let http = Http::start(app).await;

    let answer = http.get("/fallback").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "from the fallback");

    // Without the fallback the same fault reaches the edge.
    let answer = http.get("/bare").await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.problem()["code"], "fault_injected");
}

#[tokio::test]
async fn the_http_retry_resends_a_get_after_a_503() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let busy_once = get(move || {
        let first = seen.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                (StatusCode::SERVICE_UNAVAILABLE, "busy")
            } else {
                (StatusCode::OK, "fresh")
            }
        }
    });
    let retry = RetryLayer::http()
        .max_attempts(2)
        .backoff(
            Backoff::exponential(Duration::from_millis(1), Duration::from_millis(1))
                .jitter(Jitter::None),
        )
        .build()
        .unwrap();
    let http = Http::start(Router::new().route(
        "/",
        guarded!(busy_once, ServiceBuilder::new().retry_with(retry)),
    ))
    .await;

    let answer = http.get("/").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "fresh");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
