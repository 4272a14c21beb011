//! The retry budget: retries may add at most a fixed share of extra load.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::ConfigError;
use crate::config::check_range;

/// One retry costs this many units; a success deposits `ratio * UNIT`.
const UNIT: u64 = 1000;
/// The reserve is kept in units × nanoseconds-per-second so that refilling
/// it from elapsed nanoseconds is exact.
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// How many retries the layer may send, as in Finagle's `RetryBudget` and
/// tower's `TpsBudget`.
///
/// - Every successful call deposits `retry_ratio` of a retry: with a ratio of
///   `0.2`, five successes pay for one retry, so retries add at most 20 % of
///   extra load on a healthy upstream and stop quickly when it fails.
/// - Deposits count for one to two `ttl` windows, so a long healthy period
///   cannot be saved up for an outage.
/// - A reserve refilled with time lets `min_retries_per_sec` retries through
///   even without successes (for low-traffic clients); it holds at most
///   `min_retries_per_sec * ttl` retries and starts full.
///
/// The budget is created when the layer is built and shared (through an
/// `Arc`) by every service the layer makes. A "success" is an attempt that
/// the [`Predicate`](super::Predicate) neither retries nor rejects
/// ([`Predicate::is_success`](super::Predicate::is_success)). Depositing is
/// one atomic addition; only a retry locks the budget and reads the clock.
///
/// When the budget is empty the layer returns the last result as it is,
/// exactly as if retries were exhausted (and logs a `debug` event).
///
/// ```
/// use std::time::Duration;
/// use palisade_resilience::retry::{RetryBudget, RetryLayer};
///
/// // Retries may add 10 % on top of successful traffic, plus 1 per second.
/// let layer = RetryLayer::builder()
///     .budget(RetryBudget::new(Duration::from_secs(10), 1, 0.1))
///     .build()
///     .unwrap();
/// # drop(layer);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudget {
    ttl: Duration,
    min_retries_per_sec: u32,
    retry_ratio: f64,
}

impl RetryBudget {
    /// A budget where deposits live for `ttl`, `min_retries_per_sec` retries
    /// are always allowed and each success deposits `retry_ratio` retries.
    ///
    /// The values are checked when the layer is built: `ttl` must not be zero
    /// and `retry_ratio` must be finite and within `0..=1000`.
    #[must_use]
    pub const fn new(ttl: Duration, min_retries_per_sec: u32, retry_ratio: f64) -> Self {
        Self {
            ttl,
            min_retries_per_sec,
            retry_ratio,
        }
    }

    /// How long a deposit counts.
    #[must_use]
    pub const fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The retries per second allowed without any success.
    #[must_use]
    pub const fn min_retries_per_sec(&self) -> u32 {
        self.min_retries_per_sec
    }

    /// The retries each success pays for.
    #[must_use]
    pub const fn retry_ratio(&self) -> f64 {
        self.retry_ratio
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.ttl.is_zero() {
            return Err(ConfigError::Zero {
                field: "budget_ttl",
            });
        }
        check_range("retry_ratio", self.retry_ratio, 0.0, 1000.0)?;
        Ok(())
    }
}

impl Default for RetryBudget {
    /// tower's and Finagle's default: 10 s, 10 retries per second, 20 %.
    fn default() -> Self {
        Self::new(Duration::from_secs(10), 10, 0.2)
    }
}

/// The shared, mutable side of a [`RetryBudget`].
pub(crate) struct BudgetState {
    deposit: u64,
    ttl: Duration,
    /// Units added to the reserve per nanosecond, scaled by `NANOS_PER_SEC`.
    reserve_rate: u128,
    reserve_cap: u128,
    /// Deposits of the current window: the only field the success path
    /// touches, so it is an atomic and not behind the lock.
    pending: AtomicU64,
    ledger: Mutex<Ledger>,
}

struct Ledger {
    window_start: Instant,
    /// What is left of the previous window's deposits.
    earned: u64,
    /// Units × `NANOS_PER_SEC`.
    reserve: u128,
    reserve_at: Instant,
}

impl BudgetState {
    /// Builds the state from a validated budget.
    pub(crate) fn new(budget: &RetryBudget) -> Self {
        // The ratio is validated to be within 0..=1000, so this fits.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let deposit = (budget.retry_ratio * UNIT as f64).round() as u64;
        let reserve_rate = u128::from(budget.min_retries_per_sec) * u128::from(UNIT);
        let reserve_cap = reserve_rate.saturating_mul(budget.ttl.as_nanos());
        let now = Instant::now();
        Self {
            deposit,
            ttl: budget.ttl,
            reserve_rate,
            reserve_cap,
            pending: AtomicU64::new(0),
            ledger: Mutex::new(Ledger {
                window_start: now,
                earned: 0,
                reserve: reserve_cap,
                reserve_at: now,
            }),
        }
    }

    /// Records a success.
    pub(crate) fn deposit(&self) {
        if self.deposit != 0 {
            // Relaxed: the count is a statistic, nothing is published with it.
            self.pending.fetch_add(self.deposit, Ordering::Relaxed);
        }
    }

    /// Takes one retry from the budget, or returns `false` if it is empty.
    pub(crate) fn withdraw(&self) -> bool {
        let now = Instant::now();
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);

        let elapsed = now.saturating_duration_since(ledger.reserve_at);
        ledger.reserve = ledger
            .reserve
            .saturating_add(self.reserve_rate.saturating_mul(elapsed.as_nanos()))
            .min(self.reserve_cap);
        ledger.reserve_at = now;

        let span = now.saturating_duration_since(ledger.window_start);
        if span >= self.ttl {
            // The previous window's deposits expire; the window that just
            // ended becomes the previous one. Nobody rotated while no retry
            // was needed, so when the window ran longer than `ttl` only the
            // share of its deposits that fits in `ttl` counts (assuming an
            // even rate), which keeps a long quiet period from being banked.
            let drained = u128::from(self.pending.swap(0, Ordering::Relaxed));
            let kept = drained.saturating_mul(self.ttl.as_nanos()) / span.as_nanos().max(1);
            ledger.earned = u64::try_from(kept).unwrap_or(u64::MAX);
            ledger.window_start = now;
        }

        // Deposits only ever increase `pending` and only this (locked) path
        // decreases it, so what is read here is still there below.
        let pending = self.pending.load(Ordering::Relaxed);
        let reserve = ledger.reserve / NANOS_PER_SEC;
        let available = u128::from(ledger.earned) + u128::from(pending) + reserve;
        if available < u128::from(UNIT) {
            return false;
        }

        // Spend what expires first.
        let mut cost = UNIT;
        let from_earned = cost.min(ledger.earned);
        ledger.earned -= from_earned;
        cost -= from_earned;
        let from_pending = cost.min(pending);
        if from_pending > 0 {
            self.pending.fetch_sub(from_pending, Ordering::Relaxed);
        }
        cost -= from_pending;
        ledger.reserve -= u128::from(cost) * NANOS_PER_SEC;
        true
    }
}

impl fmt::Debug for BudgetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BudgetState")
            .field("deposit", &self.deposit)
            .field("ttl", &self.ttl)
            .field("pending", &self.pending.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
