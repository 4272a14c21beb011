//! A resilient HTTP client: a hyper client behind a bulkhead, a retry with a
//! retry budget, a circuit breaker and a per-attempt timeout.
//!
//! ```sh
//! cargo run -p palisade-examples --bin resilient_client
//! ```
//!
//! It starts its own misbehaving upstream on 127.0.0.1 (a free port), calls
//! it in four scenarios, prints what the caller sees, and exits.
#![allow(clippy::print_stdout)] // An example shows what happens by printing it.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::{Router, http::StatusCode, routing::get};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use palisade_resilience::bulkhead::BulkheadLayer;
use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow};
use palisade_resilience::retry::{Backoff, Jitter, RetryBudget, RetryLayer};
use palisade_resilience::timeout::TimeoutLayer;
use palisade_resilience::{BoxError, rejection};
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, ServiceExt};

/// The whole client stack, boxed so helpers can name its type.
type Stack = BoxCloneService<Request<Empty<Bytes>>, Response<hyper::body::Incoming>, BoxError>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let hits = Arc::new(AtomicU32::new(0));
    let upstream = start_upstream(Arc::clone(&hits)).await?;

    // The HTTP preset counts 5xx answers and errors (timeouts, refused
    // connections) as failures; 4xx are the caller's fault, not the upstream's.
    // It opens when 75 % of the last 8 calls failed, and then rejects calls
    // for 30 s without sending them.
    let breaker = CircuitBreakerLayer::http()
        .name("upstream")
        .sliding_window(SlidingWindow::count(8))
        .minimum_calls(4)
        .failure_rate_threshold(75.0)
        .wait_duration_in_open(Duration::from_secs(30))
        .build()?;
    let breaker_state = breaker.handle();
    // The HTTP preset retries idempotent methods on 429/502/503/504 and on
    // errors, honouring `Retry-After`. The budget caps retries at 20 % of the
    // successful traffic (plus 5 a second), so an outage is not multiplied.
    let retry = RetryLayer::http()
        .max_attempts(3)
        .backoff(
            Backoff::exponential(Duration::from_millis(20), Duration::from_millis(200))
                .jitter(Jitter::Full),
        )
        .max_elapsed(Duration::from_secs(5))
        .budget(RetryBudget::new(Duration::from_secs(10), 5, 0.2))
        .build()?;
    // Outermost first. The bulkhead sits above the retry, so a call holds its
    // permit across its attempts and a full bulkhead is neither retried nor
    // counted by the breaker. The timeout bounds each attempt on its own.
    let client: Stack = ServiceBuilder::new()
        .layer(BulkheadLayer::new(
            NonZeroUsize::new(2).ok_or("zero permits")?,
        ))
        .layer(retry)
        .layer(breaker)
        .layer(TimeoutLayer::new(Duration::from_millis(500)))
        .service(Client::builder(TokioExecutor::new()).build_http())
        .boxed_clone();

    // Each 503 is retried at once (after a jittered backoff); the caller
    // never sees it.
    println!("1. a flaky upstream: every third request fails with 503");
    for n in 1..=6 {
        println!(
            "   GET /flaky #{n}: {}",
            call(client.clone(), format!("{upstream}/flaky")).await?
        );
    }
    report(&hits, &breaker_state.state());

    println!("2. three calls at once to a slow route, through a bulkhead of 2");
    let calls: Vec<_> = (0..3)
        .map(|_| tokio::spawn(call(client.clone(), format!("{upstream}/slow"))))
        .collect();
    for (n, call) in calls.into_iter().enumerate() {
        println!("   GET /slow #{}: {}", n + 1, call.await??);
    }
    report(&hits, &breaker_state.state());

    println!("3. a route that hangs: each attempt is cut off after 500 ms");
    println!(
        "   GET /hang: {}",
        call(client.clone(), format!("{upstream}/hang")).await?
    );
    report(&hits, &breaker_state.state());

    // The first call's three attempts fail, which takes the breaker's failure
    // rate to 75 %: it opens, and later calls fail fast without being sent.
    println!("4. an outage: every request fails with 503");
    for n in 1..=4 {
        println!(
            "   GET /down #{n}: {}",
            call(client.clone(), format!("{upstream}/down")).await?
        );
    }
    report(&hits, &breaker_state.state());
    Ok(())
}

/// Sends `GET url` through the stack and says what the caller got.
async fn call(client: Stack, url: String) -> Result<String, BoxError> {
    let request = Request::get(url).body(Empty::new())?;
    Ok(match client.oneshot(request).await {
        Ok(response) => response.status().to_string(),
        // Our layers' errors are recognised anywhere in the error's chain:
        // `circuit_open`, `bulkhead_full`, `timeout`, …
        Err(error) => match rejection::find(&*error) {
            Some(rejection) => rejection.code().to_owned(),
            None => format!("error: {error}"),
        },
    })
}

/// Prints (and resets) how many requests reached the upstream.
fn report(hits: &AtomicU32, state: &impl std::fmt::Display) {
    println!(
        "   -> the upstream received {} requests; the breaker is {state}",
        hits.swap(0, Ordering::SeqCst)
    );
}

/// Serves the misbehaving upstream on a free port of 127.0.0.1 and returns its base URL.
async fn start_upstream(hits: Arc<AtomicU32>) -> Result<String, BoxError> {
    let flaky_count = Arc::new(AtomicU32::new(0));
    let app = Router::new()
        .route(
            "/flaky",
            get(move || async move {
                let n = flaky_count.fetch_add(1, Ordering::SeqCst) + 1;
                if n.is_multiple_of(3) {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                StatusCode::OK
            }),
        )
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                StatusCode::OK
            }),
        )
        .route("/down", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        // Count every request that reaches the upstream.
        .layer(axum::middleware::map_request(
            move |request: axum::extract::Request| {
                hits.fetch_add(1, Ordering::SeqCst);
                async move { request }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}
