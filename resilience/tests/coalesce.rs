//! `CoalesceLayer`: one inner call per key in flight, shared results and
//! failures, bounded waiters, cancelled leaders.
#![cfg(feature = "coalesce")]
#![allow(missing_docs, clippy::unwrap_used)]

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade_resilience::BoxError;
use palisade_resilience::coalesce::CoalesceLayer;
use palisade_resilience::coalesce::error::{CoalesceFull, CoalescedError};
use palisade_resilience::key::MissingKey;
use palisade_resilience::rejection::{self, Rejection};
use tokio::task::JoinSet;
use tokio::time::advance;
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt, service_fn};

type Svc = BoxCloneSyncService<u64, Arc<String>, BoxError>;

/// Counts inner calls and inner futures dropped before they finished.
#[derive(Default)]
struct Counts {
    calls: AtomicUsize,
    cancelled: AtomicUsize,
}

struct CancelGuard(Arc<Counts>, bool);

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// An upstream answering `value <key>` (or failing for key 0) after `delay`.
fn upstream(
    delay: Duration,
) -> (
    Arc<Counts>,
    impl tower::Service<u64, Response = Arc<String>, Error = std::io::Error, Future: Send>
    + Clone
    + Send
    + Sync,
) {
    let counts = Arc::new(Counts::default());
    let seen = Arc::clone(&counts);
    let svc = service_fn(move |key: u64| {
        seen.calls.fetch_add(1, Ordering::SeqCst);
        let guard = CancelGuard(Arc::clone(&seen), false);
        async move {
            // Moved in whole (a closure would capture only the field).
            let mut guard = guard;
            tokio::time::sleep(delay).await;
            guard.1 = true;
            if key == 0 {
                Err(std::io::Error::other("upstream exploded"))
            } else {
                Ok(Arc::new(format!("value {key}")))
            }
        }
    });
    (counts, svc)
}

fn coalesced(
    layer: &CoalesceLayer<fn(&u64) -> Option<u64>>,
    delay: Duration,
) -> (Arc<Counts>, Svc) {
    let (counts, inner) = upstream(delay);
    (counts, BoxCloneSyncService::new(layer.layer(inner)))
}

fn by_value(key: &u64) -> Option<u64> {
    Some(*key)
}

fn layer() -> CoalesceLayer<fn(&u64) -> Option<u64>> {
    CoalesceLayer::builder(by_value as fn(&u64) -> Option<u64>)
        .max_waiters(NonZeroUsize::new(1_000).unwrap())
        .build()
}

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_identical_calls_make_one_inner_call() {
    let (counts, svc) = coalesced(&layer(), Duration::from_millis(100));
    let mut callers = JoinSet::new();
    for _ in 0..1_000 {
        callers.spawn(svc.clone().oneshot(42));
    }
    let answers = callers.join_all().await;
    assert_eq!(answers.len(), 1_000);
    for answer in answers {
        assert_eq!(*answer.unwrap(), "value 42");
    }
    assert_eq!(counts.calls.load(Ordering::SeqCst), 1);
    assert_eq!(counts.cancelled.load(Ordering::SeqCst), 0);

    // The key is forgotten once answered: this is not a cache.
    assert_eq!(*svc.oneshot(42).await.unwrap(), "value 42");
    assert_eq!(counts.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn distinct_keys_do_not_share_a_call() {
    let (counts, svc) = coalesced(&layer(), Duration::from_millis(100));
    let mut callers = JoinSet::new();
    for key in 1..=10_u64 {
        for _ in 0..10 {
            let svc = svc.clone();
            callers.spawn(async move { (key, svc.oneshot(key).await) });
        }
    }
    for (key, answer) in callers.join_all().await {
        assert_eq!(*answer.unwrap(), format!("value {key}"));
    }
    assert_eq!(counts.calls.load(Ordering::SeqCst), 10);
}

#[tokio::test(start_paused = true)]
async fn a_leaders_failure_reaches_every_follower() {
    let (counts, svc) = coalesced(&layer(), Duration::from_millis(100));
    let mut callers = JoinSet::new();
    for _ in 0..50 {
        callers.spawn(svc.clone().oneshot(0));
    }
    for answer in callers.join_all().await {
        let err = answer.unwrap_err();
        let shared = err
            .downcast_ref::<CoalescedError>()
            .unwrap_or_else(|| panic!("expected CoalescedError, got {err}"));
        assert_eq!(shared.get_ref().to_string(), "upstream exploded");
        assert!(shared.get_ref().is::<std::io::Error>());
    }
    assert_eq!(counts.calls.load(Ordering::SeqCst), 1);

    // A caller that was alone gets the inner error itself.
    let err = svc.oneshot(0).await.unwrap_err();
    assert!(err.is::<std::io::Error>(), "got {err}");
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_leader_does_not_strand_its_followers() {
    let (counts, svc) = coalesced(&layer(), Duration::from_millis(100));
    let leader = tokio::spawn(svc.clone().oneshot(5));
    advance(Duration::from_millis(10)).await;
    assert_eq!(
        counts.calls.load(Ordering::SeqCst),
        1,
        "the leader started the call"
    );

    let mut followers = JoinSet::new();
    for _ in 0..5 {
        followers.spawn(svc.clone().oneshot(5));
    }
    advance(Duration::from_millis(10)).await;
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());

    for answer in followers.join_all().await {
        assert_eq!(*answer.unwrap(), "value 5");
    }
    // The followers took over the leader's call rather than starting another.
    assert_eq!(counts.calls.load(Ordering::SeqCst), 1);
    assert_eq!(counts.cancelled.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_call_everyone_abandoned_is_cancelled_and_the_key_freed() {
    let (counts, svc) = coalesced(&layer(), Duration::from_millis(100));
    let mut callers = JoinSet::new();
    for _ in 0..3 {
        callers.spawn(svc.clone().oneshot(9));
    }
    advance(Duration::from_millis(10)).await;
    callers.abort_all();
    while callers.join_next().await.is_some() {}
    assert_eq!(counts.cancelled.load(Ordering::SeqCst), 1);

    assert_eq!(*svc.oneshot(9).await.unwrap(), "value 9");
    assert_eq!(counts.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn waiters_beyond_the_bound_are_rejected() {
    let layer = CoalesceLayer::builder(by_value as fn(&u64) -> Option<u64>)
        .max_waiters(NonZeroUsize::new(2).unwrap())
        .build();
    let (counts, svc) = coalesced(&layer, Duration::from_millis(100));
    let mut callers = JoinSet::new();
    for _ in 0..3 {
        callers.spawn(svc.clone().oneshot(3));
    }
    advance(Duration::from_millis(1)).await;
    // The leader and two followers wait; a fourth caller is refused at once.
    let err = svc.clone().oneshot(3).await.unwrap_err();
    let full = err.downcast_ref::<CoalesceFull>().expect("CoalesceFull");
    assert_eq!(full.max_waiters(), 2);
    let found = rejection::find(&*err).expect("a rejection");
    assert!(matches!(found, Rejection::CoalesceFull(_)));
    assert_eq!(found.code(), "coalesce_full");
    // Other keys are not affected.
    assert_eq!(*svc.clone().oneshot(4).await.unwrap(), "value 4");

    for answer in callers.join_all().await {
        assert_eq!(*answer.unwrap(), "value 3");
    }
    assert_eq!(counts.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_call_without_a_key_is_refused_unless_passed_through() {
    fn odd_only(key: &u64) -> Option<u64> {
        (key % 2 == 1).then_some(*key)
    }
    let (_, inner) = upstream(Duration::from_millis(1));
    let strict = CoalesceLayer::new(odd_only).layer(inner.clone());
    let err = strict.oneshot(2).await.unwrap_err();
    assert!(err.is::<MissingKey>(), "got {err}");

    let (counts, inner) = upstream(Duration::from_millis(100));
    let lenient = CoalesceLayer::builder(odd_only)
        .pass_keyless()
        .build()
        .layer(inner);
    let (a, b) = tokio::join!(lenient.clone().oneshot(2), lenient.oneshot(2));
    assert_eq!(*a.unwrap(), "value 2");
    assert_eq!(*b.unwrap(), "value 2");
    assert_eq!(
        counts.calls.load(Ordering::SeqCst),
        2,
        "keyless calls are not coalesced"
    );
}

#[tokio::test(start_paused = true)]
async fn the_optional_cache_answers_until_its_time_to_live_passes() {
    let layer = CoalesceLayer::builder(by_value as fn(&u64) -> Option<u64>)
        .cache(Duration::from_secs(1), NonZeroUsize::new(2).unwrap())
        .build();
    let (counts, svc) = coalesced(&layer, Duration::from_millis(100));

    assert_eq!(*svc.clone().oneshot(1).await.unwrap(), "value 1");
    advance(Duration::from_millis(500)).await;
    // Within the time to live: answered at once, without a call.
    let start = tokio::time::Instant::now();
    assert_eq!(*svc.clone().oneshot(1).await.unwrap(), "value 1");
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(counts.calls.load(Ordering::SeqCst), 1);

    // One second after the call ended, the response is stale.
    advance(Duration::from_millis(500)).await;
    assert_eq!(*svc.clone().oneshot(1).await.unwrap(), "value 1");
    assert_eq!(counts.calls.load(Ordering::SeqCst), 2);

    // Errors are not cached.
    assert!(svc.clone().oneshot(0).await.is_err());
    assert!(svc.clone().oneshot(0).await.is_err());
    assert_eq!(counts.calls.load(Ordering::SeqCst), 4);

    // At most two keys: a third evicts the least recently stored (1).
    for key in [2, 3] {
        svc.clone().oneshot(key).await.unwrap();
    }
    let before = counts.calls.load(Ordering::SeqCst);
    for key in [3, 2] {
        svc.clone().oneshot(key).await.unwrap();
    }
    assert_eq!(
        counts.calls.load(Ordering::SeqCst),
        before,
        "2 and 3 are cached"
    );
    svc.clone().oneshot(1).await.unwrap();
    assert_eq!(
        counts.calls.load(Ordering::SeqCst),
        before + 1,
        "1 was evicted"
    );
}
