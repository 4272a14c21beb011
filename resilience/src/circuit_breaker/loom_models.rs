//! loom models of the state word: every interleaving of two threads' atomic
//! operations is explored. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p palisade-resilience --release --lib loom`.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use loom::thread;

use super::*;
use crate::circuit_breaker::{CircuitBreakerLayer, CircuitBreakerLayerBuilder, SlidingWindow};

/// A breaker from `builder`, and how many transitions to each state its
/// listeners saw (`[closed, open, half_open, forced_open, disabled]`).
fn breaker(builder: CircuitBreakerLayerBuilder) -> (Arc<Breaker>, Arc<[AtomicUsize; 5]>) {
    let seen: Arc<[AtomicUsize; 5]> = Arc::new(Default::default());
    let sink = Arc::clone(&seen);
    let layer = builder
        .on_transition(move |t| {
            if let Some(count) = sink.get(usize::from(t.to().code())) {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        })
        .build()
        .expect("valid configuration");
    (Arc::clone(layer.handle().breaker()), seen)
}

fn transitions_to(seen: &[AtomicUsize; 5], state: State) -> usize {
    seen[usize::from(state.code())].load(std::sync::atomic::Ordering::SeqCst)
}

fn is_probe(admission: &Admission) -> bool {
    matches!(admission, Admission::Probe(_))
}

/// Admits and completes one call, as the service and its future do.
fn call(breaker: &Arc<Breaker>, failure: bool) {
    if let Admission::Pass { word } = breaker.admit() {
        Ticket::new(Arc::clone(breaker), word).finish(failure);
    }
}

/// Two failing calls complete at once, each enough to trip the breaker on
/// its own: exactly one transition to Open.
#[test]
fn loom_concurrent_failures_open_the_breaker_exactly_once() {
    loom::model(|| {
        let (breaker, seen) = breaker(
            CircuitBreakerLayer::builder()
                .sliding_window(SlidingWindow::count(2))
                .minimum_calls(1)
                .failure_rate_threshold(50.0),
        );
        let other = Arc::clone(&breaker);
        let handle = thread::spawn(move || call(&other, true));
        call(&breaker, true);
        handle.join().unwrap();

        assert_eq!(breaker.state(), State::Open);
        assert_eq!(transitions_to(&seen, State::Open), 1);
        let Admission::Rejected { retry_after, .. } = breaker.admit() else {
            panic!("an open breaker rejects");
        };
        assert!(retry_after.is_some_and(|wait| wait <= Duration::from_secs(30)));
    });
}

/// Two calls race for HalfOpen's single probe permit: exactly one gets it.
#[test]
fn loom_one_probe_permit_goes_to_exactly_one_caller() {
    loom::model(|| {
        let (breaker, _) = breaker(CircuitBreakerLayer::builder().permitted_calls_in_half_open(1));
        let closed = breaker.state.load(Ordering::Acquire);
        assert!(breaker.transition(closed, State::HalfOpen, None));

        let other = Arc::clone(&breaker);
        // Both hold what they got until both have tried.
        let handle = thread::spawn(move || other.admit());
        let got_mine = breaker.admit();
        let got_theirs = handle.join().unwrap();
        let (mine, theirs) = (is_probe(&got_mine), is_probe(&got_theirs));
        assert!(mine ^ theirs, "exactly one probe: {mine} {theirs}");
        assert_eq!(breaker.state(), State::HalfOpen);
        // The probe is dropped unfinished: its permit is free again.
        drop((got_mine, got_theirs));
        assert!(is_probe(&breaker.admit()));
    });
}

/// An Open breaker whose wait is over meets two calls at once: one moves it
/// to HalfOpen, and the single probe permit goes to exactly one of them.
#[test]
fn loom_open_to_half_open_happens_once_with_one_probe() {
    loom::model(|| {
        let (breaker, seen) = breaker(
            CircuitBreakerLayer::builder()
                .permitted_calls_in_half_open(1)
                .wait_duration_in_open(Duration::from_nanos(1)),
        );
        let closed = breaker.state.load(Ordering::Acquire);
        assert!(breaker.transition(closed, State::Open, None));
        // Past the Open deadline (the clock is real here), and past the
        // next whole millisecond too: a thread that reads the Open word after
        // the other has moved on finds the deadline's sub-millisecond rest
        // overwritten and rounds the deadline up to that millisecond. Were
        // the wait shorter, whether that thread finds the breaker still Open
        // would depend on timing, and loom would see a different model on
        // each run ("Is the model fully deterministic?", seen under load).
        let deadline = breaker.deadline(breaker.state.load(Ordering::Acquire));
        let rounded_up = (deadline / NANOS_PER_MS + 1) * NANOS_PER_MS;
        while breaker.now() <= rounded_up {
            std::hint::spin_loop();
        }

        let other = Arc::clone(&breaker);
        // Both hold what they got until both have tried.
        let handle = thread::spawn(move || other.admit());
        let got_mine = breaker.admit();
        let got_theirs = handle.join().unwrap();
        let (mine, theirs) = (is_probe(&got_mine), is_probe(&got_theirs));
        assert!(mine ^ theirs, "exactly one probe: {mine} {theirs}");
        assert_eq!(transitions_to(&seen, State::HalfOpen), 1);
    });
}

/// The probe completes while another call arrives: the breaker closes once,
/// and the other call is either rejected (HalfOpen) or passes (Closed),
/// never a second probe.
#[test]
fn loom_a_probe_closing_the_breaker_races_with_a_new_call() {
    loom::model(|| {
        let (breaker, seen) =
            breaker(CircuitBreakerLayer::builder().permitted_calls_in_half_open(1));
        let closed = breaker.state.load(Ordering::Acquire);
        assert!(breaker.transition(closed, State::HalfOpen, None));
        let Admission::Probe(mut probe) = breaker.admit() else {
            panic!("the permit is free");
        };

        let other = Arc::clone(&breaker);
        let handle = thread::spawn(move || match other.admit() {
            Admission::Pass { .. } => "pass",
            Admission::Probe(_) => "probe",
            Admission::Rejected { state, .. } => state.as_str(),
        });
        probe.finish(false);
        let verdict = handle.join().unwrap();
        assert!(verdict == "pass" || verdict == "half_open", "{verdict}");
        assert_eq!(breaker.state(), State::Closed);
        assert_eq!(transitions_to(&seen, State::Closed), 1);
    });
}

/// Two failing calls complete at once and make a run of two consecutive
/// failures (the rate alone would not judge yet): exactly one transition to
/// Open, whatever the interleaving.
#[test]
fn loom_a_run_of_concurrent_failures_opens_the_breaker_once() {
    loom::model(|| {
        let (breaker, seen) = breaker(
            CircuitBreakerLayer::builder()
                .sliding_window(SlidingWindow::count(100))
                .minimum_calls(100)
                .consecutive_failures(std::num::NonZeroU32::new(2).expect("non-zero")),
        );
        let other = Arc::clone(&breaker);
        let handle = thread::spawn(move || call(&other, true));
        call(&breaker, true);
        handle.join().unwrap();
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(transitions_to(&seen, State::Open), 1);
    });
}

/// Two operators move the breaker at once, to different states: whichever
/// transition came last, the recorded last transition is it — its target is
/// the state the breaker is in, never the one a slower thread stored late.
#[test]
fn loom_the_last_transition_is_the_one_that_came_last() {
    loom::model(|| {
        let (breaker, _) = breaker(CircuitBreakerLayer::builder());
        let other = Arc::clone(&breaker);
        let handle = thread::spawn(move || other.force(State::ForcedOpen));
        breaker.force(State::Disabled);
        handle.join().unwrap();
        let (_, to, _) = breaker.last_transition().expect("the breaker moved");
        assert_eq!(to, breaker.state());
    });
}
