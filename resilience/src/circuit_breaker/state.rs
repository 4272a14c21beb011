//! The lock-free state machine shared by every service of one breaker.
//!
//! The whole state lives in one `AtomicU64`, so admitting a call in Closed is
//! a single acquire load and every transition is one compare-and-swap:
//!
//! | bits  | field                                                        |
//! |-------|--------------------------------------------------------------|
//! | 0–2   | the [`State`]                                                |
//! | 3–18  | generation, bumped by every transition (16 bits, wrapping)   |
//! | 19–25 | consecutive trips without closing in between (saturating)    |
//! | 26–63 | Open: when probes may start; HalfOpen: when it gives up on its probes and re-opens — in whole ms since the clock's origin (saturates after about 8.7 years, meaning "never") |
//!
//! The sub-millisecond rest of that deadline is in a side word, tagged with
//! the generation it belongs to and written by the thread whose transition
//! won, right after it: deadlines are exact to the clock's nanosecond. A
//! reader that finds the side word of another generation (the few
//! nanoseconds before it is written) uses the next whole millisecond, late
//! by less than a millisecond and never early.
//!
//! A call remembers the word it was admitted under and only counts if the
//! word is unchanged when it completes, so outcomes of calls that straddle a
//! transition never leak into the next state's judgement.
//!
//! HalfOpen bookkeeping is a second word: generation (16 bits), probes taken,
//! probes done, failed probes, slow probes (12 bits each), updated by CAS.
//!
//! The last transition, for display, is a third word written only by the
//! thread whose transition won (see `encode_last`): no call reads it.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::config::Settings;
#[cfg(feature = "registry")]
use super::config::SlidingWindow;
use super::error::CircuitOpen;
use super::listener::{self, Transition};
use super::metrics::Metrics;
use super::ticket::{Admission, Ticket};
use super::window::{Padded, Sample, Tally, Window, WindowCell};
use crate::clock::Clock;
use crate::sync::{AtomicU64, Ordering};

/// The state of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Calls pass and are recorded in the sliding window.
    Closed,
    /// Calls are rejected until the wait is over.
    Open,
    /// A limited number of probe calls pass; their outcome decides between
    /// Closed and Open.
    HalfOpen,
    /// Every call is rejected until the breaker is reset (set by hand).
    ForcedOpen,
    /// Every call passes and nothing is recorded (set by hand).
    Disabled,
    /// Every call passes and is recorded and reported, but the breaker never
    /// opens: where it would have, it logs a `warn` event instead (set by
    /// hand or with the builder's `metrics_only`), as Resilience4j's
    /// METRICS_ONLY — for watching a new breaker's thresholds before they
    /// act.
    MetricsOnly,
}

impl State {
    const ALL: [Self; 6] = [
        Self::Closed,
        Self::Open,
        Self::HalfOpen,
        Self::ForcedOpen,
        Self::Disabled,
        Self::MetricsOnly,
    ];

    /// The lowercase name used in `tracing` events and metric labels:
    /// `closed`, `open`, `half_open`, `forced_open`, `disabled`,
    /// `metrics_only`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
            Self::ForcedOpen => "forced_open",
            Self::Disabled => "disabled",
            Self::MetricsOnly => "metrics_only",
        }
    }

    /// The number reported by the state gauge.
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
            Self::ForcedOpen => 3,
            Self::Disabled => 4,
            Self::MetricsOnly => 5,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ----- the state word ---------------------------------------------------------

const STATE_MASK: u64 = 0b111;
const GEN_SHIFT: u32 = 3;
const GEN_MASK: u64 = 0xFFFF;
const TRIPS_SHIFT: u32 = 19;
const MAX_TRIPS: u64 = 0x7F;
const DEADLINE_SHIFT: u32 = 26;
const MAX_DEADLINE_MS: u64 = (1 << (64 - DEADLINE_SHIFT)) - 1;
const CLOSED: u64 = 0;
const NANOS_PER_MS: u64 = 1_000_000;
/// The side word: generation above, sub-millisecond rest below.
const REST_SHIFT: u32 = 32;
const REST_MASK: u64 = (1 << REST_SHIFT) - 1;

fn state_of(word: u64) -> State {
    State::ALL
        .get((word & STATE_MASK) as usize)
        .copied()
        .unwrap_or(State::Closed)
}

fn gen_of(word: u64) -> u64 {
    (word >> GEN_SHIFT) & GEN_MASK
}

fn trips_of(word: u64) -> u64 {
    (word >> TRIPS_SHIFT) & MAX_TRIPS
}

fn deadline_ms_of(word: u64) -> u64 {
    word >> DEADLINE_SHIFT
}

/// Whether a call admitted under `word` is a HalfOpen probe.
#[inline]
pub(super) fn is_half_open(word: u64) -> bool {
    word & STATE_MASK == u64::from(State::HalfOpen.code())
}

/// Whether a call admitted under `word` goes unrecorded.
#[inline]
pub(super) fn is_disabled(word: u64) -> bool {
    word & STATE_MASK == u64::from(State::Disabled.code())
}

fn encode(state: State, generation: u64, trips: u64, deadline_ms: u64) -> u64 {
    u64::from(state.code())
        | ((generation & GEN_MASK) << GEN_SHIFT)
        | (trips.min(MAX_TRIPS) << TRIPS_SHIFT)
        | (deadline_ms.min(MAX_DEADLINE_MS) << DEADLINE_SHIFT)
}

// ----- the half-open word -----------------------------------------------------

const HO_FIELD: u32 = 12;
const HO_MASK: u64 = (1 << HO_FIELD) - 1;
const TAKEN: u32 = 16;
const DONE: u32 = TAKEN + HO_FIELD;
const FAILED: u32 = DONE + HO_FIELD;
const SLOW: u32 = FAILED + HO_FIELD;

fn ho_field(word: u64, shift: u32) -> u64 {
    (word >> shift) & HO_MASK
}

// ----- the last-transition word -----------------------------------------------

/// Set once the breaker has moved at all; the word is 0 before.
const LAST_SET: u64 = 1;
/// bits 1–3 the state it left, 4–6 the state it entered, 7–22 the
/// generation it entered (newer transitions win a race to store), 23–63 when,
/// in whole ms since the clock's origin (41 bits: about 69 years).
const LAST_FROM_SHIFT: u32 = 1;
const LAST_TO_SHIFT: u32 = 4;
const LAST_GEN_SHIFT: u32 = 7;
const LAST_AT_SHIFT: u32 = 23;
const LAST_MAX_MS: u64 = (1 << (64 - LAST_AT_SHIFT)) - 1;

fn encode_last(from: State, to: State, generation: u64, at_nanos: u64) -> u64 {
    LAST_SET
        | (u64::from(from.code()) << LAST_FROM_SHIFT)
        | (u64::from(to.code()) << LAST_TO_SHIFT)
        | ((generation & GEN_MASK) << LAST_GEN_SHIFT)
        | ((at_nanos / NANOS_PER_MS).min(LAST_MAX_MS) << LAST_AT_SHIFT)
}

/// The state whose code is in the three bits at `shift` of `word`.
fn state_at(word: u64, shift: u32) -> State {
    state_of(word >> shift)
}

/// Whether generation `a` is older than `b` (16-bit wrapping comparison).
fn older(a: u64, b: u64) -> bool {
    let diff = b.wrapping_sub(a) & GEN_MASK;
    diff != 0 && diff < 0x8000
}

// ----- the breaker ----------------------------------------------------------------

/// The state shared by every service, future and handle of one breaker.
#[derive(Debug)]
pub(crate) struct Breaker {
    /// Read by every call: on its own cache line, away from the `Arc`'s
    /// reference count and the window's counters.
    state: Padded<AtomicU64>,
    half_open: AtomicU64,
    /// The sliding window; a registry may replace it (feature `registry`).
    window: WindowCell,
    rejected: AtomicU64,
    /// Failures in a row in Closed (or MetricsOnly), when the
    /// consecutive-failures model is on.
    consecutive: AtomicU64,
    /// The sub-millisecond rest of the current deadline (see the module docs).
    deadline_rest: AtomicU64,
    /// The last transition (see [`encode_last`]); 0 before the first.
    last_transition: AtomicU64,
    /// Every time below is in ns since this clock's origin.
    clock: Clock,
    /// Whether slow calls are detected. Completing a call reads the clock
    /// when they are, or when the window is a time window.
    pub(super) slow_calls: bool,
    settings: Settings,
    /// The settings a registry may change at run time, read per judgement.
    tunables: Tunables,
    metrics: Metrics,
    /// This breaker, for the Open → HalfOpen timer's task (which must not
    /// keep a dropped breaker alive).
    this: Weak<Breaker>,
}

impl Breaker {
    pub(crate) fn new(settings: Settings) -> Arc<Self> {
        Arc::new_cyclic(|this| Self::with_self(settings, this.clone()))
    }

    fn with_self(settings: Settings, this: Weak<Self>) -> Self {
        let clock = settings.clock;
        let window = WindowCell::new(Window::new(settings.window, clock));
        let initial = if settings.metrics_only {
            encode(State::MetricsOnly, 0, 0, 0)
        } else {
            CLOSED
        };
        Self {
            state: Padded(AtomicU64::new(initial)),
            consecutive: AtomicU64::new(0),
            half_open: AtomicU64::new(0),
            slow_calls: settings.slow_call_duration.is_some(),
            window,
            rejected: AtomicU64::new(0),
            deadline_rest: AtomicU64::new(0),
            last_transition: AtomicU64::new(0),
            clock,
            metrics: Metrics::new(&settings.name),
            tunables: Tunables::new(&settings),
            settings,
            this,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.settings.name
    }

    pub(crate) fn state(&self) -> State {
        state_of(self.state.load(Ordering::Acquire))
    }

    pub(crate) fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// The last transition: from, to, and its wall-clock time (ms precision).
    pub(crate) fn last_transition(&self) -> Option<(State, State, SystemTime)> {
        let word = self.last_transition.load(Ordering::Acquire);
        (word & LAST_SET != 0).then(|| {
            let at_ms = word >> LAST_AT_SHIFT;
            (
                state_at(word, LAST_FROM_SHIFT),
                state_at(word, LAST_TO_SHIFT),
                self.clock.wall_time(at_ms * NANOS_PER_MS),
            )
        })
    }

    /// Stores a transition that won its compare-and-swap, unless a newer one
    /// (a later generation) was stored first by a faster thread.
    #[cold]
    fn record_last(&self, from: State, to: State, generation: u64, now: u64) {
        let new = encode_last(from, to, generation, now);
        let _ = self
            .last_transition
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |stored| {
                let stored_gen = (stored >> LAST_GEN_SHIFT) & GEN_MASK;
                (stored & LAST_SET == 0 || older(stored_gen, generation)).then_some(new)
            });
    }

    pub(crate) fn window_totals(&self) -> Tally {
        self.window.load().totals(self.now())
    }

    /// Now, in ns since the clock's origin.
    #[inline]
    pub(super) fn now(&self) -> u64 {
        self.clock.now_nanos()
    }

    /// The deadline of an Open or HalfOpen `word`, in ns since the clock's
    /// origin; `u64::MAX` when it saturated (never).
    fn deadline(&self, word: u64) -> u64 {
        let ms = deadline_ms_of(word);
        if ms >= MAX_DEADLINE_MS {
            return u64::MAX;
        }
        let rest = self.deadline_rest.load(Ordering::Acquire);
        if rest >> REST_SHIFT == gen_of(word) {
            ms * NANOS_PER_MS + (rest & REST_MASK)
        } else {
            // Not written yet: the next whole millisecond is never early.
            (ms + 1) * NANOS_PER_MS
        }
    }

    /// Decides whether a call may pass. The Closed path is one load.
    #[inline]
    pub(crate) fn admit(self: &Arc<Self>) -> Admission {
        let word = self.state.load(Ordering::Acquire);
        if word & STATE_MASK == CLOSED {
            return Admission::Pass { word };
        }
        self.admit_slow(word)
    }

    #[cold]
    fn admit_slow(self: &Arc<Self>, mut word: u64) -> Admission {
        // Each retry follows a transition another thread made; a handful is
        // plenty, after which rejecting is the safe answer.
        for _ in 0..8 {
            match state_of(word) {
                State::Closed | State::Disabled | State::MetricsOnly => {
                    return Admission::Pass { word };
                }
                State::ForcedOpen => return self.reject(State::ForcedOpen, None),
                State::HalfOpen => {
                    let now = self.now();
                    if now >= self.deadline(word) {
                        // Its probes took longer than the maximum wait:
                        // open again, as after a failed probe.
                        self.transition(word, State::Open, Some(now));
                    } else {
                        if self.take_probe(word) {
                            return Admission::Probe(Ticket::new(Arc::clone(self), word));
                        }
                        if self.state.load(Ordering::Acquire) == word {
                            return self.reject(State::HalfOpen, None);
                        }
                    }
                }
                State::Open => {
                    let now = self.now();
                    let deadline = self.deadline(word);
                    if now < deadline {
                        // Exact unless the deadline's rest was not written
                        // yet; never report more than the wait itself.
                        let longest = self
                            .wait(trips_of(word))
                            .max(self.settings.max_result_break);
                        let remaining = Duration::from_nanos(deadline - now).min(longest);
                        return self.reject(State::Open, Some(remaining));
                    }
                    self.transition(word, State::HalfOpen, Some(now));
                }
            }
            word = self.state.load(Ordering::Acquire);
        }
        self.reject(state_of(word), None)
    }

    fn reject(&self, state: State, retry_after: Option<Duration>) -> Admission {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        self.metrics.rejected();
        Admission::Rejected { state, retry_after }
    }

    /// The error for a rejected call.
    pub(crate) fn open_error(&self, state: State, retry_after: Option<Duration>) -> CircuitOpen {
        CircuitOpen::new(Arc::clone(&self.settings.name), state, retry_after)
    }

    fn take_probe(&self, word: u64) -> bool {
        let generation = gen_of(word);
        let permitted = u64::from(self.settings.permitted);
        self.half_open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |ho| {
                (ho & GEN_MASK == generation && ho_field(ho, TAKEN) < permitted)
                    .then(|| ho + (1 << TAKEN))
            })
            .is_ok()
    }

    /// A probe that never completed gives its permit back, so a cancelled
    /// probe cannot leave HalfOpen waiting forever.
    pub(super) fn release_probe(&self, word: u64) {
        let generation = gen_of(word);
        let _ = self
            .half_open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |ho| {
                (ho & GEN_MASK == generation && ho_field(ho, TAKEN) > 0).then(|| ho - (1 << TAKEN))
            });
    }

    /// Records the outcome of a call admitted under `word` (never Disabled:
    /// those calls get no ticket). The common case — Closed, a count window,
    /// no slow-call detection — is inlined into the response future and
    /// reads no clock.
    ///
    /// The window is loaded once: the call records into it and judges its
    /// totals, even if a registry replaces it meanwhile (the call is then
    /// counted in the window it was recorded into, once).
    #[inline]
    pub(super) fn complete(&self, word: u64, failure: bool, start: u64) {
        let loaded = self.window.load();
        // `loaded` is a guard with feature `registry`, the window without.
        #[allow(clippy::needless_borrow)]
        let current: &Window = &loaded;
        if let Window::Count(window) = current
            && !self.slow_calls
            && !is_half_open(word)
        {
            self.metrics.outcome(failure);
            if self.state.load(Ordering::Acquire) != word {
                return;
            }
            let sample = Sample {
                failure,
                slow: false,
            };
            let over_rate = window
                .record(sample)
                .is_some_and(|tally| self.exceeds(tally, self.minimum_calls()));
            if over_rate | self.streak(failure) {
                self.trip(word, None);
            }
            return;
        }
        self.complete_timed(word, failure, start, current);
    }

    /// Counts `failure` into the run of consecutive failures; true when the
    /// run reaches the threshold. One predictable branch when the model is
    /// off.
    #[inline]
    fn streak(&self, failure: bool) -> bool {
        let threshold = self.tunables.consecutive_failures.load(Ordering::Relaxed);
        if threshold == 0 {
            return false;
        }
        if failure {
            self.consecutive.fetch_add(1, Ordering::AcqRel) + 1 >= threshold
        } else {
            if self.consecutive.load(Ordering::Relaxed) != 0 {
                self.consecutive.store(0, Ordering::Release);
            }
            false
        }
    }

    /// Opens the breaker admitted under `word` — unless it only records
    /// (MetricsOnly), where it says so instead.
    #[cold]
    #[inline(never)]
    fn trip(&self, word: u64, now: Option<u64>) {
        if state_of(word) == State::MetricsOnly {
            // Start the next run afresh, so one long run logs once per
            // threshold rather than on every further failure.
            self.consecutive.store(0, Ordering::Release);
            tracing::warn!(
                breaker = self.name(),
                "circuit breaker would open (metrics only: it never rejects)"
            );
            self.metrics.would_open();
            return;
        }
        self.transition(word, State::Open, now);
    }

    /// Everything but the common case: probes, time windows, slow calls.
    #[inline(never)]
    fn complete_timed(&self, word: u64, failure: bool, start: u64, window: &Window) {
        self.metrics.outcome(failure);
        let now = (self.slow_calls || window.needs_clock()).then(|| self.now());
        let slow = match (now, self.settings.slow_call_duration) {
            (Some(now), Some(limit)) => Duration::from_nanos(now.saturating_sub(start)) >= limit,
            _ => false,
        };
        let sample = Sample { failure, slow };
        if is_half_open(word) {
            self.complete_probe(word, sample, now);
            return;
        }
        if self.state.load(Ordering::Acquire) != word {
            return;
        }
        let over_rate = window
            .record(sample, now)
            .is_some_and(|tally| self.exceeds(tally, self.minimum_calls()));
        if over_rate | self.streak(failure) {
            self.trip(word, now);
        }
    }

    #[inline]
    fn minimum_calls(&self) -> u64 {
        self.tunables.minimum_calls.load(Ordering::Relaxed)
    }

    #[inline]
    fn exceeds(&self, tally: Tally, minimum: u64) -> bool {
        let over = |count: u64, threshold_bp: u64| {
            count > 0 && count.saturating_mul(10_000) >= threshold_bp.saturating_mul(tally.calls)
        };
        tally.calls >= minimum
            && (over(
                tally.failures,
                self.tunables.failure_bp.load(Ordering::Relaxed),
            ) || (self.slow_calls && over(tally.slow, self.settings.slow_bp)))
    }

    /// Counts a finished probe; the one that finishes the last permitted probe
    /// judges them all.
    #[cold]
    fn complete_probe(&self, word: u64, sample: Sample, now: Option<u64>) {
        let generation = gen_of(word);
        let add =
            (1 << DONE) + (u64::from(sample.failure) << FAILED) + (u64::from(sample.slow) << SLOW);
        let Ok(before) = self
            .half_open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |ho| {
                (ho & GEN_MASK == generation).then(|| ho + add)
            })
        else {
            return;
        };
        let after = before + add;
        let permitted = u64::from(self.settings.permitted);
        if ho_field(after, DONE) < permitted {
            return;
        }
        let tally = Tally {
            calls: ho_field(after, DONE),
            failures: ho_field(after, FAILED),
            slow: ho_field(after, SLOW),
        };
        let to = if self.exceeds(tally, permitted) {
            State::Open
        } else {
            State::Closed
        };
        self.transition(word, to, now);
    }

    /// Moves from the state word `from` to `to`; false when another thread
    /// changed the state first.
    pub(crate) fn transition(&self, from: u64, to: State, now: Option<u64>) -> bool {
        self.transition_for(from, to, now, None)
    }

    /// A result-driven break: opens the breaker for `wait` (at most
    /// `max_result_break`) from the state the call was admitted under
    /// (Closed or HalfOpen; MetricsOnly only logs). Lost races are fine:
    /// another thread moved the state first.
    #[cold]
    pub(super) fn break_for(&self, admitted: u64, wait: Duration) {
        let wait = wait.min(self.settings.max_result_break);
        if wait.is_zero() {
            return;
        }
        match state_of(admitted) {
            State::MetricsOnly => {
                tracing::warn!(
                    breaker = self.name(),
                    ?wait,
                    "circuit breaker would open for the upstream's wait (metrics only)"
                );
                self.metrics.would_open();
            }
            State::Closed | State::HalfOpen => {
                // The call's own outcome may have opened the breaker
                // already (with its usual wait), or a probe closed it: the
                // current word decides, once. An Open breaker is kept open
                // at least until the upstream's time.
                let word = self.state.load(Ordering::Acquire);
                let now = self.now();
                let wanted = now.saturating_add(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX));
                let act = match state_of(word) {
                    State::Closed => true,
                    State::HalfOpen => gen_of(word) == gen_of(admitted),
                    State::Open => self.deadline(word) < wanted,
                    _ => false,
                };
                if act {
                    self.transition_for(word, State::Open, Some(now), Some(wait));
                }
            }
            _ => {}
        }
    }

    fn transition_for(
        &self,
        from: u64,
        to: State,
        now: Option<u64>,
        wait_override: Option<Duration>,
    ) -> bool {
        let now = now.unwrap_or_else(|| self.now());
        let generation = gen_of(from).wrapping_add(1) & GEN_MASK;
        let mut trips = trips_of(from);
        let deadline = match to {
            State::Open => {
                trips = (trips + 1).min(MAX_TRIPS);
                Some(wait_override.unwrap_or_else(|| self.wait(trips)))
            }
            State::HalfOpen => Some(self.settings.max_wait_in_half_open),
            State::Closed | State::MetricsOnly => {
                trips = 0;
                None
            }
            _ => None,
        }
        .map(|wait| {
            let wait = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
            now.saturating_add(wait)
        });
        let deadline_ms = deadline.map_or(0, |d| (d / NANOS_PER_MS).min(MAX_DEADLINE_MS));
        let new = encode(to, generation, trips, deadline_ms);
        // Prepare what the new state reads before publishing it; harmless if
        // the CAS below fails (nothing reads them under another word).
        match to {
            State::Closed | State::MetricsOnly => {
                self.window.load().reset(now);
                self.consecutive.store(0, Ordering::Release);
            }
            State::HalfOpen => {
                let _ = self
                    .half_open
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |ho| {
                        older(ho & GEN_MASK, generation).then_some(generation)
                    });
            }
            _ => {}
        }
        if self
            .state
            .compare_exchange(from, new, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        if let Some(deadline) = deadline {
            let rest = deadline % NANOS_PER_MS;
            self.deadline_rest
                .store((generation << REST_SHIFT) | rest, Ordering::Release);
            if to == State::Open && self.settings.open_to_half_open_timer {
                self.start_half_open_timer(new, deadline.saturating_sub(now));
            }
        }
        let from = state_of(from);
        if from != to {
            self.record_last(from, to, generation, now);
            self.metrics.transition(from, to);
            let transition =
                Transition::new(Arc::clone(&self.settings.name), from, to, Instant::now());
            listener::report(&self.settings.listeners, &transition);
        }
        true
    }

    /// With the timer on, moves the breaker from the Open `word` to HalfOpen
    /// once its wait is over, without waiting for a call, so its health turns
    /// back to degraded without traffic. Needs a tokio runtime; without one
    /// the move stays lazy, as with the timer off. The task holds the breaker
    /// weakly and does nothing if the state moved on meanwhile.
    #[cold]
    fn start_half_open_timer(&self, word: u64, wait_nanos: u64) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = Weak::clone(&self.this);
        runtime.spawn(async move {
            tokio::time::sleep(Duration::from_nanos(wait_nanos)).await;
            if let Some(breaker) = this.upgrade() {
                // Late by the clock's rounding at most: the word's deadline
                // is checked like a call's would be.
                let now = breaker.now();
                if breaker.state.load(Ordering::Acquire) == word && now >= breaker.deadline(word) {
                    breaker.transition(word, State::HalfOpen, Some(now));
                }
            }
        });
    }

    /// Moves to `to` from whatever the state is (the handle's manual control).
    pub(crate) fn force(&self, to: State) {
        loop {
            let word = self.state.load(Ordering::Acquire);
            if state_of(word) == to && to != State::Closed {
                return;
            }
            if self.transition(word, to, None) {
                return;
            }
        }
    }

    /// The wait of the `trips`-th consecutive opening.
    fn wait(&self, trips: u64) -> Duration {
        let (wait, max_wait) = self.tunables.waits();
        let exponent = i32::try_from(trips.saturating_sub(1)).unwrap_or(i32::MAX);
        let grown = wait.as_secs_f64() * self.settings.multiplier.powi(exponent);
        Duration::try_from_secs_f64(grown)
            .unwrap_or(max_wait)
            .min(max_wait)
    }

    /// The settings that can change at run time, as they are now.
    #[cfg(feature = "registry")]
    pub(crate) fn tuning(&self) -> Tuning {
        let t = &self.tunables;
        let consecutive = t.consecutive_failures.load(Ordering::Relaxed);
        Tuning {
            failure_bp: t.failure_bp.load(Ordering::Relaxed),
            minimum_calls: t.minimum_calls.load(Ordering::Relaxed),
            consecutive_failures: (consecutive != 0).then_some(consecutive),
            wait: t.waits().0,
            window: self.window.load().shape(),
        }
    }

    /// Applies validated run-time settings. Each is one atomic store, read by
    /// the next judgement: no call is paused, and calls in flight count
    /// against whichever threshold is current when they complete. A window
    /// of another shape replaces the current one, empty (the window starts
    /// over); calls in flight record into whichever window they load when
    /// they complete. The same shape keeps the window and its counts.
    /// `minimum_calls` is capped at a count window's size, as when the
    /// breaker was built; with a wait multiplier of 1 the wait cap follows
    /// the new wait.
    #[cfg(feature = "registry")]
    pub(crate) fn retune(&self, tuning: Tuning) {
        let t = &self.tunables;
        if self.window.load().shape() != tuning.window {
            // Stamped with the breaker's clock, so a time window's buckets
            // line up with the calls' readings.
            self.window.replace(Window::new(tuning.window, self.clock));
        }
        let minimum = match tuning.window {
            SlidingWindow::Count(n) => tuning.minimum_calls.min(u64::from(n)),
            SlidingWindow::Time { .. } => tuning.minimum_calls,
        };
        let wait = nanos(tuning.wait);
        let max_wait = if self.settings.multiplier > 1.0 {
            nanos(self.settings.max_wait).max(wait)
        } else {
            wait
        };
        t.failure_bp.store(tuning.failure_bp, Ordering::Relaxed);
        t.minimum_calls.store(minimum, Ordering::Relaxed);
        t.consecutive_failures
            .store(tuning.consecutive_failures.unwrap_or(0), Ordering::Relaxed);
        t.max_wait_nanos.store(max_wait, Ordering::Relaxed);
        t.wait_nanos.store(wait, Ordering::Relaxed);
    }
}

/// The settings of a breaker that can change at run time (through the
/// registry), in the units the breaker judges with.
#[cfg(feature = "registry")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tuning {
    pub(crate) failure_bp: u64,
    pub(crate) minimum_calls: u64,
    pub(crate) consecutive_failures: Option<u64>,
    pub(crate) wait: Duration,
    pub(crate) window: SlidingWindow,
}

/// [`Tuning`] as atomics: judging reads them with relaxed loads (plain loads
/// on x86 and ARM), so changing them takes no lock on the call path.
#[derive(Debug)]
struct Tunables {
    failure_bp: AtomicU64,
    minimum_calls: AtomicU64,
    /// Zero when the consecutive-failures model is off.
    consecutive_failures: AtomicU64,
    wait_nanos: AtomicU64,
    max_wait_nanos: AtomicU64,
}

impl Tunables {
    fn new(settings: &Settings) -> Self {
        Self {
            failure_bp: AtomicU64::new(settings.failure_bp),
            minimum_calls: AtomicU64::new(settings.minimum_calls),
            consecutive_failures: AtomicU64::new(settings.consecutive_failures.unwrap_or(0)),
            wait_nanos: AtomicU64::new(nanos(settings.wait)),
            max_wait_nanos: AtomicU64::new(nanos(settings.max_wait)),
        }
    }

    /// The initial wait in Open and its cap.
    fn waits(&self) -> (Duration, Duration) {
        (
            Duration::from_nanos(self.wait_nanos.load(Ordering::Relaxed)),
            Duration::from_nanos(self.max_wait_nanos.load(Ordering::Relaxed)),
        )
    }
}

/// `d` in whole nanoseconds, saturating (about 584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(all(test, loom))]
#[path = "loom_models.rs"]
mod loom_models;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_word_round_trips() {
        let word = encode(State::Open, 0xABCD, 5, 123_456);
        assert_eq!(state_of(word), State::Open);
        assert_eq!(gen_of(word), 0xABCD);
        assert_eq!(trips_of(word), 5);
        assert_eq!(deadline_ms_of(word), 123_456);
        assert_eq!(trips_of(encode(State::Open, 0, 1_000, 0)), MAX_TRIPS);
    }

    fn half_open_breaker(permitted: u32) -> Arc<Breaker> {
        let layer = crate::circuit_breaker::CircuitBreakerLayer::builder()
            .permitted_calls_in_half_open(permitted)
            .build()
            .unwrap();
        let breaker = Arc::clone(layer.handle().breaker());
        let closed = breaker.state.load(Ordering::Acquire);
        assert!(breaker.transition(closed, State::HalfOpen, None));
        breaker
    }

    /// Threads race for probes: exactly the permitted number get one, and
    /// the last of them to finish judges.
    #[test]
    fn exactly_the_permitted_probes_pass_under_contention() {
        for _ in 0..50 {
            let breaker = half_open_breaker(5);
            let tickets: Vec<Ticket> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..4)
                    .map(|_| {
                        let breaker = &breaker;
                        scope.spawn(move || {
                            (0..10)
                                .filter_map(|_| match breaker.admit() {
                                    Admission::Probe(ticket) => Some(ticket),
                                    _ => None,
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|w| w.join().unwrap())
                    .collect()
            });
            assert_eq!(tickets.len(), 5);
            assert_eq!(breaker.rejected(), 35);
            assert_eq!(breaker.state(), State::HalfOpen);
            std::thread::scope(|scope| {
                for ticket in tickets {
                    scope.spawn(move || {
                        let mut ticket = ticket;
                        ticket.finish(false);
                    });
                }
            });
            assert_eq!(breaker.state(), State::Closed);
        }
    }

    #[test]
    fn a_probe_of_an_earlier_half_open_period_does_not_count() {
        let breaker = half_open_breaker(1);
        let Admission::Probe(mut stale) = breaker.admit() else {
            panic!("expected a probe")
        };
        // Forced open and back to HalfOpen: a new period with its own permit.
        breaker.force(State::ForcedOpen);
        let forced = breaker.state.load(Ordering::Acquire);
        assert!(breaker.transition(forced, State::HalfOpen, None));
        stale.finish(true);
        assert_eq!(breaker.state(), State::HalfOpen);
        let Admission::Probe(mut fresh) = breaker.admit() else {
            panic!("the new period's permit is free")
        };
        fresh.finish(false);
        assert_eq!(breaker.state(), State::Closed);
    }

    #[test]
    fn generations_compare_across_the_wrap() {
        assert!(older(1, 2));
        assert!(older(0xFFFF, 0));
        assert!(!older(2, 2));
        assert!(!older(3, 2));
    }
}
