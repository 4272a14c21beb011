//! Small real services that record when they are called.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_resilience::BoxError;
use tokio::time::Instant;
use tower::{Service, ServiceExt, service_fn};

/// The inner service's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Boom(pub usize);

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "boom #{}", self.0)
    }
}

impl std::error::Error for Boom {}

/// What the inner service was asked, and when.
#[derive(Clone, Default)]
pub(crate) struct Calls(Arc<Mutex<Vec<Instant>>>);

impl Calls {
    pub(crate) fn record(&self) -> usize {
        let mut calls = self.0.lock().unwrap();
        calls.push(Instant::now());
        calls.len()
    }

    pub(crate) fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The time between consecutive calls.
    pub(crate) fn gaps(&self) -> Vec<Duration> {
        let calls = self.0.lock().unwrap();
        calls.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

/// Fails the first `failures` calls (error `Boom(n)` for call n), then
/// answers with the call number.
pub(crate) fn flaky(
    failures: usize,
) -> (
    impl Service<&'static str, Response = usize, Error = Boom, Future: Send> + Clone + Send,
    Calls,
) {
    let calls = Calls::default();
    let recorder = calls.clone();
    let service = service_fn(move |_: &'static str| {
        let n = recorder.record();
        async move { if n <= failures { Err(Boom(n)) } else { Ok(n) } }
    });
    (service, calls)
}

/// What a [`scripted`] call should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Succeed,
    Fail,
}

/// Succeeds or fails as the request says; counts calls.
pub(crate) fn scripted() -> (
    impl Service<Mode, Response = (), Error = Boom, Future: Send> + Clone + Send,
    Arc<AtomicUsize>,
) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    let service = service_fn(move |mode: Mode| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            match mode {
                Mode::Succeed => Ok(()),
                Mode::Fail => Err(Boom(n)),
            }
        }
    });
    (service, count)
}

/// Calls `service` once, the way a user would.
pub(crate) async fn call<S, Req>(service: &mut S, request: Req) -> Result<S::Response, BoxError>
where
    S: Service<Req, Error = BoxError>,
{
    service.ready().await?.call(request).await
}

/// The inner error behind a boxed one.
pub(crate) fn boom(error: &BoxError) -> &Boom {
    error
        .downcast_ref::<Boom>()
        .unwrap_or_else(|| panic!("expected the inner error, got {error}"))
}
