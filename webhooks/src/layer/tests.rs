//! The service contract, without a network: readiness, what the inner
//! service receives, and how replay reservations follow the future.

use std::convert::Infallible;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use tower::{ServiceExt as _, service_fn};
use tower_service::Service;

use super::VerifyWebhookLayer;
use crate::{Secret, Signer, StandardWebhooks, Verified};

const NOW: i64 = 1_700_000_000;

fn secret() -> Secret {
    Secret::from_bytes(&[7; 32]).unwrap()
}

fn layer() -> VerifyWebhookLayer {
    VerifyWebhookLayer::new(StandardWebhooks::new(secret())).clock(|| NOW)
}

fn delivery(id: &str, body: &'static [u8]) -> Request<Full<Bytes>> {
    let mut request = Request::post("/hooks?x=1")
        .body(Full::new(Bytes::from_static(body)))
        .unwrap();
    Signer::new(secret())
        .sign(id, NOW, body)
        .unwrap()
        .apply(request.headers_mut());
    request
}

type Handler =
    fn(Request<Full<Bytes>>) -> std::future::Ready<Result<Response<Full<Bytes>>, Infallible>>;

fn ok_handler(
    _: Request<Full<Bytes>>,
) -> std::future::Ready<Result<Response<Full<Bytes>>, Infallible>> {
    std::future::ready(Ok(Response::new(Full::default())))
}

/// An inner service that is ready only when the test says so.
#[derive(Clone)]
struct Gate {
    open: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

impl Service<Request<Full<Bytes>>> for Gate {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if self.open.load(Ordering::SeqCst) {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    fn call(&mut self, _: Request<Full<Bytes>>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(Response::new(Full::default())))
    }
}

#[tokio::test]
async fn readiness_is_the_inner_services() {
    let gate = Gate {
        open: Arc::new(AtomicBool::new(false)),
        calls: Arc::new(AtomicUsize::new(0)),
    };
    let mut service = tower_layer::Layer::layer(&layer(), gate.clone());
    let mut cx = Context::from_waker(Waker::noop());

    assert!(Service::<Request<Full<Bytes>>>::poll_ready(&mut service, &mut cx).is_pending());
    gate.open.store(true, Ordering::SeqCst);
    assert!(Service::<Request<Full<Bytes>>>::poll_ready(&mut service, &mut cx).is_ready());

    let response = service.call(delivery("msg_1", b"{}")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(gate.calls.load(Ordering::SeqCst), 1);
}

#[derive(Clone, Debug, PartialEq)]
struct TraceId(u32);

#[tokio::test]
async fn the_inner_service_gets_the_request_as_sent_plus_the_proof() {
    let service = tower_layer::Layer::layer(
        &layer(),
        service_fn(|request: Request<Full<Bytes>>| async move {
            assert_eq!(request.method(), Method::POST);
            assert_eq!(request.uri(), "/hooks?x=1");
            assert_eq!(request.headers()["x-extra"], "kept");
            assert_eq!(request.extensions().get(), Some(&TraceId(9)));
            let verified: &Verified = request.extensions().get().unwrap();
            assert_eq!(verified.id.as_deref(), Some("msg_1"));
            assert_eq!(verified.timestamp, Some(NOW));
            let body = request.into_body().collect().await.unwrap().to_bytes();
            Ok::<_, Infallible>(Response::new(Full::new(body)))
        }),
    );
    let mut request = delivery("msg_1", b"payload");
    request
        .headers_mut()
        .insert("x-extra", "kept".parse().unwrap());
    request.extensions_mut().insert(TraceId(9));

    let response = service.oneshot(request).await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "payload"
    );
}

#[tokio::test]
async fn a_dropped_call_releases_its_replay_reservation() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let layer = layer().replay_protection(NonZeroUsize::new(10).unwrap());
    // The first call never answers: the handler hangs until dropped.
    let mut service = tower_layer::Layer::layer(
        &layer,
        service_fn(move |_: Request<Full<Bytes>>| {
            let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    std::future::pending::<()>().await;
                }
                Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
            }
        }),
    );
    let mut cx = Context::from_waker(Waker::noop());

    let mut hanging = Box::pin(
        ready(&mut service)
            .await
            .unwrap()
            .call(delivery("msg_1", b"{}")),
    );
    assert!(hanging.as_mut().poll(&mut cx).is_pending());
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // While it is in flight, a duplicate is a replay.
    let duplicate = ready(&mut service)
        .await
        .unwrap()
        .call(delivery("msg_1", b"{}"))
        .await;
    assert_eq!(duplicate.unwrap().status(), StatusCode::CONFLICT);

    // The client went away: the sender will retry, and the retry is accepted.
    drop(hanging);
    let retry = ready(&mut service)
        .await
        .unwrap()
        .call(delivery("msg_1", b"{}"))
        .await;
    assert_eq!(retry.unwrap().status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// `ServiceExt::ready`, with the request type spelled out: the layer's
/// service accepts any body type.
async fn ready<S>(service: &mut S) -> Result<&mut S, Infallible>
where
    S: Service<Request<Full<Bytes>>, Error = Infallible>,
{
    tower::ServiceExt::<Request<Full<Bytes>>>::ready(service).await
}

async fn status(layer: &VerifyWebhookLayer, id: &str) -> StatusCode {
    let service = tower_layer::Layer::layer(layer, service_fn(ok_handler as Handler));
    service.oneshot(delivery(id, b"{}")).await.unwrap().status()
}

#[tokio::test(start_paused = true)]
async fn seen_ids_are_remembered_for_the_schemes_tolerance() {
    let scheme = StandardWebhooks::new(secret()).tolerance(Duration::from_secs(60));
    let layer = VerifyWebhookLayer::new(scheme)
        .clock(|| NOW)
        .replay_protection(NonZeroUsize::new(10).unwrap());

    assert_eq!(status(&layer, "msg_1").await, StatusCode::OK);
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(status(&layer, "msg_1").await, StatusCode::CONFLICT);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(status(&layer, "msg_1").await, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn the_replay_window_can_be_set_in_either_order() {
    let window = Duration::from_secs(10);
    let capacity = NonZeroUsize::new(10).unwrap();
    for layer in [
        layer().replay_window(window).replay_protection(capacity),
        layer().replay_protection(capacity).replay_window(window),
    ] {
        assert_eq!(status(&layer, "msg_1").await, StatusCode::OK);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(status(&layer, "msg_1").await, StatusCode::CONFLICT);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(status(&layer, "msg_1").await, StatusCode::OK);
    }
}

#[test]
fn the_service_satisfies_axums_bounds() {
    fn assert_axum_layer<L>(_: &L)
    where
        L: tower_layer::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service:
            Service<axum::extract::Request, Error = Infallible> + Clone + Send + Sync + 'static,
        <L::Service as Service<axum::extract::Request>>::Response: axum::response::IntoResponse,
        <L::Service as Service<axum::extract::Request>>::Future: Send + 'static,
    {
    }
    assert_axum_layer(&layer());
}

mod garbage_headers {
    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    /// Any bytes a `HeaderValue` can hold.
    fn header_value() -> impl Strategy<Value = HeaderValue> {
        proptest::collection::vec(
            prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff],
            0..80,
        )
        .prop_map(|bytes| HeaderValue::from_bytes(&bytes).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the headers hold, the layer answers (never panics) and
        /// only a valid delivery reaches the inner service.
        #[test]
        fn any_header_values_get_an_answer(
            replace in proptest::collection::vec(
                (prop::sample::select(vec![
                    "webhook-id",
                    "webhook-timestamp",
                    "webhook-signature",
                    "content-length",
                ]), header_value()),
                1..4,
            ),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let calls = Arc::new(AtomicUsize::new(0));
            let counted = Arc::clone(&calls);
            let service = tower_layer::Layer::layer(
                &layer().replay_protection(NonZeroUsize::new(4).unwrap()),
                service_fn(move |_: Request<Full<Bytes>>| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    ok_handler(Request::default())
                }),
            );
            let mut request = delivery("msg_1", b"{}");
            for (name, value) in &replace {
                request.headers_mut().insert(*name, value.clone());
            }
            let response = runtime.block_on(service.oneshot(request)).unwrap();
            let status = response.status();
            prop_assert!(
                [200, 400, 401, 413].contains(&status.as_u16()),
                "{status} for {replace:?}"
            );
            prop_assert_eq!(calls.load(Ordering::SeqCst) == 1, status == StatusCode::OK);
        }
    }
}

#[test]
fn a_stripe_delivery_from_the_future_waits_for_the_clock() {
    use std::sync::atomic::AtomicI64;

    use super::{Rejection, WebhookVerifier};
    use crate::{Stripe, VerifyError};

    const THREE_YEARS: i64 = 3 * 365 * 24 * 3600;
    let clock = Arc::new(AtomicI64::new(NOW));
    let now = Arc::clone(&clock);
    let stripe = Stripe::new("whsec_test_secret").unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "stripe-signature",
        stripe.sign(NOW + THREE_YEARS, b"{}").parse().unwrap(),
    );
    let verifier = WebhookVerifier::new(stripe).clock(move || now.load(Ordering::SeqCst));

    assert_eq!(
        verifier.verify(&headers, b"{}").unwrap_err(),
        Rejection::from(VerifyError::TimestampTooNew {
            ahead_secs: THREE_YEARS
        })
    );
    clock.store(NOW + THREE_YEARS - 301, Ordering::SeqCst);
    assert_eq!(
        verifier.verify(&headers, b"{}").unwrap_err(),
        Rejection::from(VerifyError::TimestampTooNew { ahead_secs: 301 })
    );
    clock.store(NOW + THREE_YEARS - 300, Ordering::SeqCst);
    assert_eq!(
        verifier.verify(&headers, b"{}").unwrap().timestamp,
        Some(NOW + THREE_YEARS)
    );
}
