//! Shared helpers for the benchmarks: a trivial inner service and a loop that
//! drives `ready().await` + `call().await` the same way for every contender.
#![allow(clippy::disallowed_methods)] // benches measure wall-clock time on purpose

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tower::{Service, ServiceExt};

/// The error of [`Noop`] (never produced; peers need a `Clone` error type).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopError;

impl fmt::Display for NoopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("noop error")
    }
}

impl std::error::Error for NoopError {}

/// A trivial inner service: always ready, answers its request at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Noop;

impl Service<u64> for Noop {
    type Response = u64;
    type Error = NoopError;
    type Future = Ready<Result<u64, NoopError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), NoopError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        ready(Ok(req))
    }
}

/// Like [`Noop`] but infallible, for peers that want `Error = Infallible`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopInfallible;

impl Service<u64> for NoopInfallible {
    type Response = u64;
    type Error = Infallible;
    type Future = Ready<Result<u64, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        ready(Ok(req))
    }
}

/// A current-thread runtime with time enabled, as the benches prescribe.
///
/// # Panics
///
/// If the runtime cannot be built (benches only).
#[must_use]
pub fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

/// Drives `iters` calls (`ready().await` then `call().await`) through `svc` and
/// returns the time they took. Results, including errors, are black-boxed so
/// every contender does the same work.
pub async fn drive<S>(svc: &mut S, iters: u64) -> Duration
where
    S: Service<u64>,
{
    let start = Instant::now();
    for i in 0..iters {
        match svc.ready().await {
            Ok(ready) => {
                let _ = black_box(ready.call(black_box(i)).await.is_ok());
            }
            Err(_) => {
                black_box(());
            }
        }
    }
    start.elapsed()
}

/// Counts the heap allocations of `calls` calls through `svc` (after a warm-up
/// call), so the tables can report allocations per call next to the time.
///
/// # Panics
///
/// Never in practice (the runtime is built by [`current_thread`]).
pub fn allocations_per_call<S>(svc: &mut S, calls: u64) -> f64
where
    S: Service<u64>,
{
    let rt = current_thread();
    rt.block_on(drive(svc, 16));
    let info = allocation_counter::measure(|| {
        rt.block_on(drive(svc, calls));
    });
    #[allow(clippy::cast_precision_loss)] // counts are small
    let per_call = info.count_total as f64 / calls as f64;
    per_call
}
