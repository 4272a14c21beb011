//! One breaker per key.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade_resilience::circuit_breaker::{
    CircuitBreakerLayer, KeyedCircuitBreakerLayer, SlidingWindow, State,
};
use tokio::time;
use tower::{Layer, Service, ServiceExt, service_fn};

use crate::support::rejection;

type Request = (&'static str, bool);

type Host = fn(&Request) -> Option<String>;

fn layer(max_keys: usize) -> KeyedCircuitBreakerLayer<String, Host> {
    fn host(request: &Request) -> Option<String> {
        Some(request.0.to_owned())
    }
    CircuitBreakerLayer::builder()
        .name("hosts")
        .sliding_window(SlidingWindow::count(4))
        .minimum_calls(2)
        .permitted_calls_in_half_open(1)
        .wait_duration_in_open(Duration::from_secs(10))
        .keyed(host as Host)
        .max_keys(NonZeroUsize::new(max_keys).unwrap())
        .build()
        .unwrap()
}

fn client(
    layer: &KeyedCircuitBreakerLayer<String, Host>,
    calls: &Arc<AtomicUsize>,
) -> impl Service<Request, Response = &'static str, Error = palisade_resilience::BoxError> {
    let calls = Arc::clone(calls);
    layer.layer(service_fn(move |(_, fail): Request| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move { if fail { Err("down") } else { Ok("up") } }
    }))
}

async fn send(
    service: &mut impl Service<Request, Response = &'static str, Error = palisade_resilience::BoxError>,
    request: Request,
) -> Result<&'static str, palisade_resilience::BoxError> {
    service.ready().await?.call(request).await
}

#[tokio::test(start_paused = true)]
async fn keys_have_independent_breakers() {
    let layer = layer(16);
    let handles = layer.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut service = client(&layer, &calls);

    let _ = send(&mut service, ("a", true)).await;
    let _ = send(&mut service, ("a", true)).await;
    assert_eq!(send(&mut service, ("b", false)).await.unwrap(), "up");

    let a = handles.handle(&"a".to_owned()).unwrap();
    let b = handles.handle(&"b".to_owned()).unwrap();
    assert_eq!(a.state(), State::Open);
    assert_eq!(a.name(), "hosts:a");
    assert_eq!(b.state(), State::Closed);
    assert_eq!(handles.len(), 2);

    let open = rejection(send(&mut service, ("a", false)).await);
    assert_eq!(open.name(), "hosts:a");
    assert_eq!(open.retry_after(), Some(Duration::from_secs(10)));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(send(&mut service, ("b", false)).await.unwrap(), "up");

    // Every service of the layer shares the breakers.
    let mut other = client(&layer, &calls);
    rejection(send(&mut other, ("a", false)).await);

    // The key recovers on its own schedule.
    time::advance(Duration::from_secs(10)).await;
    assert_eq!(send(&mut other, ("a", false)).await.unwrap(), "up");
    assert_eq!(a.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn the_least_recently_used_key_is_evicted() {
    let layer = layer(2);
    let handles = layer.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut service = client(&layer, &calls);

    let _ = send(&mut service, ("a", true)).await;
    let _ = send(&mut service, ("a", true)).await;
    send(&mut service, ("b", false)).await.unwrap();
    // "a" is used again (rejected, but looked up), so "b" is the oldest.
    rejection(send(&mut service, ("a", false)).await);
    send(&mut service, ("c", false)).await.unwrap();

    assert_eq!(handles.len(), 2);
    assert!(handles.handle(&"b".to_owned()).is_none());
    assert_eq!(
        handles.handle(&"a".to_owned()).map(|h| h.state()),
        Some(State::Open)
    );
    let mut keys: Vec<String> = handles.handles().into_iter().map(|(k, _)| k).collect();
    keys.sort();
    assert_eq!(keys, ["a", "c"]);

    // "b" comes back with a fresh breaker, evicting "a".
    send(&mut service, ("b", false)).await.unwrap();
    assert!(handles.handle(&"a".to_owned()).is_none());
    assert_eq!(send(&mut service, ("a", false)).await.unwrap(), "up");
}

#[tokio::test]
async fn a_request_without_a_key_is_refused_not_pooled() {
    let layer = CircuitBreakerLayer::builder()
        .keyed(|r: &Request| (!r.0.is_empty()).then(|| r.0.to_owned()))
        .max_keys(NonZeroUsize::new(4).unwrap())
        .build()
        .unwrap();
    let handles = layer.handle();
    let calls = Arc::new(AtomicUsize::new(0));
    let service = layer.layer(service_fn({
        let calls = Arc::clone(&calls);
        move |_: Request| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, &str>("up") }
        }
    }));
    let err = service.oneshot(("", false)).await.unwrap_err();
    let missing = err
        .downcast_ref::<palisade_resilience::key::MissingKey>()
        .expect("a MissingKey error");
    assert!(!missing.is_client_error());
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(handles.is_empty());
}
