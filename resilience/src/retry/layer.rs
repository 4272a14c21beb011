//! The layer and its builder.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::SmallRng;
use tower_layer::Layer;

use super::backoff::{Backoff, new_rng};
use super::budget::{BudgetState, RetryBudget};
use super::policy::RetryErrors;
use super::service::Retry;
use crate::ConfigError;

/// The settings every retrying service of one layer reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) backoff: Backoff,
    pub(crate) max_attempts: u32,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) max_retry_after: Duration,
}

/// What the services of one layer share: settings, predicate, budget and the
/// random generator (locked only when a jittered delay is drawn).
pub(crate) struct Shared<P> {
    pub(crate) settings: Settings,
    pub(crate) predicate: P,
    pub(crate) budget: Option<BudgetState>,
    pub(crate) rng: Mutex<SmallRng>,
}

impl<P: fmt::Debug> fmt::Debug for Shared<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("settings", &self.settings)
            .field("predicate", &self.predicate)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// The kind of request a [`RetryLayer`] retries: any `Clone` request (this
/// type, the default) or, with the `http` feature, `http::Request`s whose
/// bodies it buffers ([`http::Http`](super::http::Http), from
/// [`RetryLayer::http`]).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct AnyRequest;

/// Retries failed calls with exponential backoff, jitter and a retry budget.
///
/// Built with [`RetryLayer::builder`] (any `Clone` request) or, with the
/// `http` feature, [`RetryLayer::http`] (the HTTP preset, `K` =
/// [`http::Http`](super::http::Http)); see the [module docs](super) for the
/// behaviour. Every service made by one layer shares its retry budget and
/// random generator.
#[must_use]
pub struct RetryLayer<P = RetryErrors, K = AnyRequest> {
    pub(crate) shared: Arc<Shared<P>>,
    pub(crate) kind: K,
}

impl RetryLayer {
    /// A builder with the defaults: 3 attempts, [`Backoff::default`] (100 ms
    /// doubling to 10 s, full jitter), no `max_elapsed`, the default
    /// [`RetryBudget`], a 30 s `max_retry_after`, [`RetryErrors`] and a
    /// generator seeded by the operating system.
    pub fn builder() -> RetryLayerBuilder<RetryErrors> {
        RetryLayerBuilder {
            settings: Settings {
                backoff: Backoff::default(),
                max_attempts: 3,
                max_elapsed: None,
                max_retry_after: Duration::from_secs(30),
            },
            predicate: RetryErrors,
            budget: Some(RetryBudget::default()),
            seed: None,
            kind: AnyRequest,
        }
    }
}

impl<P, K> RetryLayer<P, K> {
    /// The backoff schedule.
    #[must_use]
    pub fn backoff(&self) -> Backoff {
        self.shared.settings.backoff
    }

    /// The total number of attempts, the first one included.
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.shared.settings.max_attempts
    }
}

impl<P, K: Clone> Clone for RetryLayer<P, K> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            kind: self.kind.clone(),
        }
    }
}

impl<P: fmt::Debug, K: fmt::Debug> fmt::Debug for RetryLayer<P, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("shared", &self.shared)
            .field("kind", &self.kind)
            .finish()
    }
}

impl<S, P> Layer<S> for RetryLayer<P, AnyRequest> {
    type Service = Retry<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry::new(inner, Arc::clone(&self.shared))
    }
}

/// Configures a [`RetryLayer`]; from [`RetryLayer::builder`] or, for the
/// HTTP preset, [`RetryLayer::http`] (which adds the setters of
/// `RetryLayerBuilder<P, Http>`: body limit and wall clock).
#[must_use]
#[derive(Debug, Clone)]
pub struct RetryLayerBuilder<P, K = AnyRequest> {
    pub(crate) settings: Settings,
    pub(crate) predicate: P,
    pub(crate) budget: Option<RetryBudget>,
    pub(crate) seed: Option<u64>,
    pub(crate) kind: K,
}

impl<P, K> RetryLayerBuilder<P, K> {
    /// The total number of attempts, the first one included (so `1` never
    /// retries). Must not be zero.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.settings.max_attempts = max_attempts;
        self
    }

    /// The backoff schedule between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.settings.backoff = backoff;
        self
    }

    /// Bounds the whole call: a retry is only started if its delay ends no
    /// later than `max_elapsed` after the first attempt was sent, that is
    /// when `now + delay <= first_attempt_start + max_elapsed` at the moment
    /// the retry is decided. Attempts already running are not interrupted
    /// (put a timeout inside or outside the layer for that). Must not be
    /// zero. By default there is no such limit.
    pub fn max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.settings.max_elapsed = Some(max_elapsed);
        self
    }

    /// The longest delay a result may ask for (HTTP `Retry-After`, or the
    /// `retry_after` of one of our rejections, such as an Open breaker's
    /// time to its next probe). A result asking for more is not retried but
    /// returned as it is, since the upstream said it will not recover in
    /// time. Zero means any such request stops retrying. 30 s by default.
    pub fn max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.settings.max_retry_after = max_retry_after;
        self
    }

    /// The retry budget shared by all services of the layer.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Disables the retry budget: only `max_attempts` and `max_elapsed` bound
    /// retries. Retries can then multiply the load of a failing upstream.
    pub fn no_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// Seeds the jitter generator, for reproducible schedules (tests,
    /// simulations). By default it is seeded by the operating system.
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Decides which results are retried (default: [`RetryErrors`]; for
    /// the HTTP preset [`HttpPredicate`](super::http::HttpPredicate)).
    pub fn predicate<Q>(self, predicate: Q) -> RetryLayerBuilder<Q, K> {
        RetryLayerBuilder {
            settings: self.settings,
            predicate,
            budget: self.budget,
            seed: self.seed,
            kind: self.kind,
        }
    }

    /// Checks the configuration and builds the layer.
    ///
    /// # Errors
    ///
    /// - [`ConfigError::Zero`] for `max_attempts`, `base`, `max_elapsed` or
    ///   `budget_ttl` of zero;
    /// - [`ConfigError::Inverted`] when the backoff's `cap` is below `base`;
    /// - [`ConfigError::NotFinite`] / [`ConfigError::OutOfRange`] for a
    ///   `retry_ratio` that is NaN, infinite, negative or above 1000.
    pub fn build(self) -> Result<RetryLayer<P, K>, ConfigError> {
        let kind = self.kind;
        let shared = Shared::new(
            self.settings,
            self.predicate,
            self.budget.as_ref(),
            self.seed,
        )?;
        Ok(RetryLayer {
            shared: Arc::new(shared),
            kind,
        })
    }
}

impl<P> Shared<P> {
    fn new(
        settings: Settings,
        predicate: P,
        budget: Option<&RetryBudget>,
        seed: Option<u64>,
    ) -> Result<Self, ConfigError> {
        if settings.max_attempts == 0 {
            return Err(ConfigError::Zero {
                field: "max_attempts",
            });
        }
        settings.backoff.validate()?;
        if settings.max_elapsed.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::Zero {
                field: "max_elapsed",
            });
        }
        let budget = match budget {
            Some(budget) => {
                budget.validate()?;
                Some(BudgetState::new(budget))
            }
            None => None,
        };
        Ok(Shared {
            settings,
            predicate,
            budget,
            rng: Mutex::new(new_rng(seed)),
        })
    }
}
