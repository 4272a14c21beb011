//! Shared helpers for the benchmarks: a trivial inner service, a loop that
//! drives `ready().await` + `call().await` the same way for every contender,
//! allocation counting, and the minimal peers (tower retry policies, bare
//! governor checks) that the benches put side by side with ours.
//!
//! Every bench binary links `allocation-counter`, which replaces the global
//! allocator with a counting one: allocation-free contenders are unaffected,
//! allocating ones pay a few nanoseconds of bookkeeping per allocation.
#![allow(clippy::disallowed_methods)] // benches measure wall-clock time on purpose

pub mod peers;
pub mod process;

use std::convert::Infallible;
use std::fmt;
use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::sync::Barrier;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use tokio::runtime::Runtime;
use tower::{Service, ServiceExt};

/// How many calls [`bench_service`] counts allocations over.
pub const ALLOCATION_CALLS: u64 = 10_000;

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

/// The loop of [`drive`] for contenders that are not tower services: `call`
/// makes the future of call `i`, whose `Ok`/`Err` is black-boxed.
pub async fn drive_fn<F, Fut, T, E>(mut call: F, iters: u64) -> Duration
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = Instant::now();
    for i in 0..iters {
        let _ = black_box(call(black_box(i)).await.is_ok());
    }
    start.elapsed()
}

/// Counts the heap allocations of `calls` calls through `svc` on `rt` (after
/// 16 warm-up calls), so the tables can report allocations per call next to
/// the time.
pub fn allocations_per_call<S>(rt: &Runtime, svc: &mut S, calls: u64) -> f64
where
    S: Service<u64>,
{
    rt.block_on(drive(svc, 16));
    let info = allocation_counter::measure(|| {
        rt.block_on(drive(svc, calls));
    });
    per_call(info.count_total, calls)
}

/// [`allocations_per_call`] for a [`drive_fn`] contender.
pub fn allocations_per_call_fn<F, Fut, T, E>(rt: &Runtime, mut call: F, calls: u64) -> f64
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    rt.block_on(drive_fn(&mut call, 16));
    let info = allocation_counter::measure(|| {
        rt.block_on(drive_fn(&mut call, calls));
    });
    per_call(info.count_total, calls)
}

fn per_call(count: u64, calls: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)] // counts are far below 2^52
    let per_call = count as f64 / calls as f64;
    per_call
}

/// Prints one allocation figure in a fixed format the docs are built from:
/// `allocations/call <group>/<id>: <n>`.
pub fn report_allocations(group: &str, id: &str, per_call: f64) {
    eprintln!("allocations/call {group}/{id}: {per_call:.3}");
}

/// Benchmarks `svc` as `group/id`: first prints its allocations per call,
/// then measures it with [`drive`] in `iter_custom` on `rt`.
///
/// Services that need a runtime when built (tower's `RateLimit`, tokio
/// timers) must be built inside `rt.enter()`.
pub fn bench_service<S>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    group_name: &str,
    rt: &Runtime,
    id: &str,
    mut svc: S,
) where
    S: Service<u64>,
{
    let allocations = allocations_per_call(rt, &mut svc, ALLOCATION_CALLS);
    report_allocations(group_name, id, allocations);
    group.bench_function(id, |b| {
        b.iter_custom(|iters| rt.block_on(drive(&mut svc, iters)));
    });
}

/// Runs `iters` calls on each of `threads` std threads at once, each with its
/// own current-thread runtime and its own clone of `svc`, and returns the
/// time of the slowest thread: criterion then reports the time per call as
/// seen by one thread while the others hammer the same shared state.
///
/// The runtimes are built before the clock starts (a barrier lines the
/// threads up), so only the calls are timed.
///
/// # Panics
///
/// When a thread panics (benches only).
pub fn drive_threads<S>(svc: &S, threads: usize, iters: u64) -> Duration
where
    S: Service<u64> + Clone + Send,
{
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let mut svc = svc.clone();
                let barrier = &barrier;
                scope.spawn(move || {
                    let rt = current_thread();
                    barrier.wait();
                    rt.block_on(drive(&mut svc, iters))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a bench thread"))
            .max()
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inner_service_does_not_allocate() {
        let rt = current_thread();
        assert!(allocations_per_call(&rt, &mut Noop, 1_000).abs() < f64::EPSILON);
    }

    #[test]
    fn allocations_are_counted_per_call() {
        let rt = current_thread();
        let boxed = |i: u64| async move { Ok::<_, NoopError>(Box::new(i)) };
        let per_call = allocations_per_call_fn(&rt, boxed, 1_000);
        assert!((per_call - 1.0).abs() < f64::EPSILON, "{per_call}");
    }

    #[test]
    fn every_thread_makes_every_call() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering};
        let calls = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&calls);
        let svc = tower::service_fn(move |i: u64| {
            counter.fetch_add(1, Ordering::Relaxed);
            ready(Ok::<_, NoopError>(i))
        });
        drive_threads(&svc, 2, 500);
        assert_eq!(calls.load(Ordering::Relaxed), 1_000);
    }
}
