//! The minimal peers the benches compare against: tower retry policies that
//! never retry, and bare governor checks wrapped as services so they go
//! through the same [`drive`](crate::drive) loop as every other contender.

use std::future::{Ready, ready};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tower::Service;
use tower::retry::Policy;
use tower::retry::budget::{Budget, TpsBudget};

use crate::{Noop, NoopError};

/// The smallest tower retry policy: clones the request, never retries.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRetry;

impl<E> Policy<u64, u64, E> for NoRetry {
    type Future = Ready<()>;

    fn retry(&mut self, _: &mut u64, _: &mut Result<u64, E>) -> Option<Self::Future> {
        None
    }

    fn clone_request(&mut self, req: &u64) -> Option<u64> {
        Some(*req)
    }
}

/// tower's documented budget policy: successes deposit into a [`TpsBudget`],
/// failures withdraw before retrying (never needed here).
#[derive(Debug, Clone)]
pub struct BudgetRetry {
    budget: Arc<TpsBudget>,
}

impl BudgetRetry {
    /// tower's default budget: 10 s window, 10 retries a second, 20 %.
    #[must_use]
    pub fn new() -> Self {
        Self {
            budget: Arc::new(TpsBudget::new(Duration::from_secs(10), 10, 0.2)),
        }
    }
}

impl Default for BudgetRetry {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Policy<u64, u64, E> for BudgetRetry {
    type Future = Ready<()>;

    fn retry(&mut self, _: &mut u64, result: &mut Result<u64, E>) -> Option<Self::Future> {
        match result {
            Ok(_) => {
                self.budget.deposit();
                None
            }
            Err(_) => self.budget.withdraw().then(|| ready(())),
        }
    }

    fn clone_request(&mut self, req: &u64) -> Option<u64> {
        Some(*req)
    }
}

/// A quota that never limits a benchmark: a billion cells a second with a
/// burst of a billion.
///
/// # Panics
///
/// Never (the constants are non-zero).
#[must_use]
pub fn never_limiting_quota() -> Quota {
    let billion = NonZeroU32::new(1_000_000_000).expect("non-zero");
    Quota::per_second(billion).allow_burst(billion)
}

/// A per-key quota that never limits and never goes stale while a benchmark
/// cycles through its keys: one cell a second, a burst of a billion (each
/// call pushes the key's bucket a second ahead, so a purge never drops it).
///
/// # Panics
///
/// Never (the constants are non-zero).
#[must_use]
pub fn never_limiting_keyed_quota() -> Quota {
    let one = NonZeroU32::new(1).expect("non-zero");
    let billion = NonZeroU32::new(1_000_000_000).expect("non-zero");
    Quota::per_second(one).allow_burst(billion)
}

/// A bare governor direct limiter in front of [`Noop`]: `check()` in `call`,
/// nothing else.
#[derive(Debug, Clone)]
pub struct BareGovernor {
    limiter: Arc<DefaultDirectRateLimiter>,
}

impl BareGovernor {
    /// With [`never_limiting_quota`].
    #[must_use]
    pub fn new() -> Self {
        Self {
            limiter: Arc::new(governor::RateLimiter::direct(never_limiting_quota())),
        }
    }
}

impl Default for BareGovernor {
    fn default() -> Self {
        Self::new()
    }
}

impl Service<u64> for BareGovernor {
    type Response = u64;
    type Error = NoopError;
    type Future = Ready<Result<u64, NoopError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), NoopError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        match self.limiter.check() {
            Ok(()) => Noop.call(req),
            Err(_) => ready(Err(NoopError)),
        }
    }
}

/// [`BareGovernor`] with governor's `StateInformationMiddleware` (the
/// middleware our limiter uses to report the remaining burst), to tell the
/// middleware's cost from the limiter's.
#[derive(Debug, Clone)]
pub struct BareGovernorStateInfo {
    limiter: Arc<RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>>,
}

impl BareGovernorStateInfo {
    /// With [`never_limiting_quota`].
    #[must_use]
    pub fn new() -> Self {
        Self {
            limiter: Arc::new(
                RateLimiter::direct(never_limiting_quota())
                    .with_middleware::<StateInformationMiddleware>(),
            ),
        }
    }
}

impl Default for BareGovernorStateInfo {
    fn default() -> Self {
        Self::new()
    }
}

impl Service<u64> for BareGovernorStateInfo {
    type Response = u64;
    type Error = NoopError;
    type Future = Ready<Result<u64, NoopError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), NoopError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        match self.limiter.check() {
            Ok(snapshot) => {
                std::hint::black_box(snapshot.remaining_burst_capacity());
                Noop.call(req)
            }
            Err(_) => ready(Err(NoopError)),
        }
    }
}

/// A bare governor keyed limiter (its default dashmap store) in front of
/// [`Noop`]: `check_key(&(req % keys))` in `call`, nothing else.
#[derive(Debug, Clone)]
pub struct BareGovernorKeyed {
    limiter: Arc<DefaultKeyedRateLimiter<u64>>,
    keys: u64,
}

impl BareGovernorKeyed {
    /// With [`never_limiting_keyed_quota`], over `keys` distinct keys.
    #[must_use]
    pub fn new(keys: u64) -> Self {
        Self {
            limiter: Arc::new(governor::RateLimiter::dashmap(never_limiting_keyed_quota())),
            keys,
        }
    }
}

impl Service<u64> for BareGovernorKeyed {
    type Response = u64;
    type Error = NoopError;
    type Future = Ready<Result<u64, NoopError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), NoopError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        match self.limiter.check_key(&(req % self.keys)) {
            Ok(()) => Noop.call(req),
            Err(_) => ready(Err(NoopError)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    /// The never-limiting peers must admit every call a bench makes, or the
    /// benches would time rejections instead of admissions.
    #[test]
    fn bare_limiters_never_reject() {
        let mut direct = BareGovernor::new();
        let mut state_info = BareGovernorStateInfo::new();
        let mut keyed = BareGovernorKeyed::new(10);
        crate::current_thread().block_on(async {
            for i in 0..50_000 {
                assert_eq!(direct.ready().await.unwrap().call(i).await.unwrap(), i);
                assert_eq!(state_info.ready().await.unwrap().call(i).await.unwrap(), i);
                assert_eq!(keyed.ready().await.unwrap().call(i).await.unwrap(), i);
            }
        });
    }

    #[test]
    fn policies_never_retry_a_success_and_copy_the_request() {
        let mut ok: Result<u64, NoopError> = Ok(1);
        assert!(Policy::retry(&mut NoRetry, &mut 1, &mut ok).is_none());
        assert!(Policy::retry(&mut BudgetRetry::new(), &mut 1, &mut ok).is_none());
        assert_eq!(
            Policy::<u64, u64, NoopError>::clone_request(&mut NoRetry, &7),
            Some(7)
        );
    }
}
