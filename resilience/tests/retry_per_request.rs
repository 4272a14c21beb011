//! Per-request retry settings: a `MaxAttempts` extension overrides the
//! layer's `max_attempts` for that request (HTTP preset).
#![cfg(all(feature = "retry", feature = "http"))]
#![allow(missing_docs, clippy::unwrap_used)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Empty;
use palisade_resilience::retry::http::MaxAttempts;
use palisade_resilience::retry::{Backoff, Jitter, RetryLayer};
use tower::{Layer, ServiceExt, service_fn};

/// Sends one GET (with `own` as its `MaxAttempts`, if any) to an upstream
/// that always answers 503; returns how many attempts reached it.
async fn attempts(own: Option<u32>) -> usize {
    let layer = RetryLayer::http()
        .max_attempts(3)
        .backoff(
            Backoff::exponential(Duration::from_millis(10), Duration::from_millis(10))
                .jitter(Jitter::None),
        )
        .no_budget()
        .build()
        .unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let svc = layer.layer(service_fn(move |_req: Request<_>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            Ok::<_, std::convert::Infallible>(Response::builder().status(503).body(()).unwrap())
        }
    }));
    let mut request = Request::get("http://upstream/items/1")
        .body(Empty::<Bytes>::new())
        .unwrap();
    if let Some(own) = own {
        request
            .extensions_mut()
            .insert(MaxAttempts(NonZeroU32::new(own).unwrap()));
    }
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 503);
    seen.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn the_request_extension_overrides_the_layers_max_attempts() {
    assert_eq!(attempts(None).await, 3, "the layer's limit");
    assert_eq!(attempts(Some(5)).await, 5, "more for this request");
    assert_eq!(attempts(Some(1)).await, 1, "no retry for this request");
}
