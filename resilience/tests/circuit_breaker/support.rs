//! A small upstream whose calls are counted, and helpers to drive a breaker.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade_resilience::BoxError;
use palisade_resilience::circuit_breaker::error::CircuitOpen;
use palisade_resilience::circuit_breaker::{CircuitBreaker, CircuitBreakerLayerBuilder};
use tower::util::BoxCloneService;
use tower::{Layer, Service, ServiceExt, service_fn};

/// What the upstream should do with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Ok,
    Fail,
    /// Succeed after the given time.
    Slow(Duration),
}

pub(crate) type Upstream = BoxCloneService<Call, &'static str, &'static str>;

/// An upstream and the number of calls it received.
pub(crate) fn upstream() -> (Upstream, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let service = service_fn(move |call: Call| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            match call {
                Call::Ok => Ok("ok"),
                Call::Fail => Err("upstream failed"),
                Call::Slow(after) => {
                    tokio::time::sleep(after).await;
                    Ok("slow")
                }
            }
        }
    });
    (BoxCloneService::new(service), calls)
}

/// A breaker from `builder` around a fresh upstream.
pub(crate) fn breaker(
    builder: CircuitBreakerLayerBuilder,
) -> (
    CircuitBreaker<Upstream>,
    palisade_resilience::circuit_breaker::CircuitBreakerHandle,
    Arc<AtomicUsize>,
) {
    let layer = builder.build().expect("valid configuration");
    let handle = layer.handle();
    let (inner, calls) = upstream();
    (layer.layer(inner), handle, calls)
}

pub(crate) async fn send<S>(service: &mut S, call: Call) -> Result<&'static str, BoxError>
where
    S: Service<Call, Response = &'static str, Error = BoxError>,
{
    service.ready().await?.call(call).await
}

pub(crate) async fn send_all<S>(service: &mut S, calls: &[Call])
where
    S: Service<Call, Response = &'static str, Error = BoxError>,
{
    for call in calls {
        let _ = send(service, *call).await;
    }
}

/// The breaker's rejection inside `result`; panics if the call was not
/// rejected by the breaker.
pub(crate) fn rejection(result: Result<&'static str, BoxError>) -> CircuitOpen {
    match result {
        Ok(response) => panic!("expected a rejection, got {response:?}"),
        Err(err) => err
            .downcast_ref::<CircuitOpen>()
            .unwrap_or_else(|| panic!("expected CircuitOpen, got {err}"))
            .clone(),
    }
}

pub(crate) fn calls(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}
