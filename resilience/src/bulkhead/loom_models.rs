//! loom models of the bulkhead's own counters around tokio's semaphore: the
//! wait-queue places and what `in_flight` / `is_idle` report. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p palisade-resilience --release --lib loom`.

use std::sync::Arc;
use std::time::Duration;

use loom::thread;

use super::*;

fn shared(max_concurrent: usize, max_waiters: usize) -> Arc<Shared> {
    let limits = Limits {
        max_concurrent,
        max_waiters,
        max_wait: Duration::from_secs(1),
    };
    Shared::new(limits, Stats::new(Arc::from("loom")))
}

/// What one caller got: a permit, a place in the queue, or a rejection.
/// Holding it holds the permit or the place.
#[allow(dead_code)]
enum Got {
    Permit(Permit),
    Queued(WaiterGuard),
    Rejected,
}

fn arrive(shared: &Arc<Shared>) -> Got {
    if let Some(permit) = shared.try_acquire(1) {
        return Got::Permit(permit);
    }
    match shared.enqueue() {
        Some(place) => Got::Queued(place),
        None => {
            let _ = shared.reject(Reason::QueueFull);
            Got::Rejected
        }
    }
}

/// Two callers, one permit and one queue place: one runs and one waits,
/// whatever the interleaving, and everything is given back afterwards.
#[test]
fn loom_two_callers_get_the_permit_and_the_queue_place() {
    loom::model(|| {
        let shared = shared(1, 1);
        let other = Arc::clone(&shared);
        let handle = thread::spawn(move || arrive(&other));
        let mine = arrive(&shared);
        let theirs = handle.join().unwrap();

        let got = [&mine, &theirs];
        let permits = got.iter().filter(|g| matches!(g, Got::Permit(_))).count();
        let queued = got.iter().filter(|g| matches!(g, Got::Queued(_))).count();
        assert_eq!((permits, queued), (1, 1));
        assert_eq!(shared.in_flight(), 1);
        assert_eq!(shared.waiters.load(Ordering::Acquire), 1);
        assert!(!shared.is_idle());
        drop((mine, theirs));
        assert_eq!(shared.in_flight(), 0);
        assert!(shared.is_idle());
    });
}

/// Three callers race for one queue place (no permit free) and keep what
/// they got: exactly one holds the place, the other two are rejected and
/// counted.
#[test]
fn loom_the_queue_never_takes_more_than_its_places() {
    loom::model(|| {
        let shared = shared(1, 1);
        let running = shared.try_acquire(1).unwrap();
        let others: Vec<_> = (0..2)
            .map(|_| {
                let shared = Arc::clone(&shared);
                thread::spawn(move || arrive(&shared))
            })
            .collect();
        let mine = arrive(&shared);
        let mut got: Vec<Got> = others.into_iter().map(|h| h.join().unwrap()).collect();
        got.push(mine);

        let queued = got.iter().filter(|g| matches!(g, Got::Queued(_))).count();
        let rejected = got.iter().filter(|g| matches!(g, Got::Rejected)).count();
        assert_eq!((queued, rejected), (1, 2));
        assert_eq!(shared.stats.rejected.load(Ordering::Relaxed), 2);
        assert_eq!(shared.waiters.load(Ordering::Acquire), 1);
        drop((got, running));
        assert!(shared.is_idle());
    });
}

/// The limit is lowered from 2 to 1 while two calls hold a permit and
/// return it concurrently: whatever the interleaving, the debt is paid
/// exactly once, and afterwards one permit is free and the bulkhead idle.
#[test]
fn loom_a_lowered_limit_is_paid_back_exactly_once() {
    loom::model(|| {
        let shared = shared(2, 0);
        let first = shared.try_acquire(1).unwrap();
        let second = shared.try_acquire(1).unwrap();
        let returning = thread::spawn(move || drop(first));
        shared.resize(1);
        drop(second);
        returning.join().unwrap();

        assert_eq!(shared.max_concurrent(), 1);
        assert_eq!(shared.semaphore.available_permits(), 1);
        assert_eq!(shared.in_flight(), 0);
        assert!(shared.is_idle());
    });
}
