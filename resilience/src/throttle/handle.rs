//! [`ThrottleHandle`]: what a throttle reports.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::layer::Shared;
use super::partition::{Global, PerKey};

/// Reports a throttle's window (or, keyed, each key's) and its rejections;
/// from [`ThrottleLayer::handle`](super::ThrottleLayer::handle).
pub struct ThrottleHandle<P> {
    pub(crate) shared: Arc<Shared<P>>,
}

impl<P> ThrottleHandle<P> {
    /// The name given with
    /// [`ThrottleLayerBuilder::name`](super::ThrottleLayerBuilder::name)
    /// (`throttle` by default).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Calls rejected locally since the layer was built.
    #[must_use]
    pub fn rejected_total(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }
}

impl ThrottleHandle<Global> {
    /// The probability the next call is rejected:
    /// `max(0, (requests − K·accepts) / (requests + 1))`.
    #[must_use]
    pub fn reject_probability(&self) -> f64 {
        self.snapshot().probability
    }

    /// Requests counted in the window, rejected ones included.
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.snapshot().requests
    }

    /// Accepts counted in the window.
    #[must_use]
    pub fn accepts(&self) -> u64 {
        self.snapshot().accepts
    }

    fn snapshot(&self) -> super::window::Snapshot {
        self.shared.partition.window.snapshot(&self.shared.settings)
    }
}

impl<X, K: Hash + Eq> ThrottleHandle<PerKey<X, K>> {
    /// The probability the next call for `key` is rejected; `None` for a
    /// key not tracked (nothing is rejected for it).
    #[must_use]
    pub fn reject_probability_for(&self, key: &K) -> Option<f64> {
        self.shared.partition.windows.peek(key, |window| {
            window.snapshot(&self.shared.settings).probability
        })
    }

    /// The number of keys tracked.
    #[must_use]
    pub fn key_count(&self) -> usize {
        self.shared.partition.windows.len()
    }
}

impl<P> Clone for ThrottleHandle<P> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<P> fmt::Debug for ThrottleHandle<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottleHandle")
            .field("name", &self.shared.name)
            .field("rejected_total", &self.rejected_total())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "health")]
mod health {
    use std::hash::Hash;

    use super::ThrottleHandle;
    use crate::health::{ComponentHealth, HealthSource, Status};
    use crate::throttle::{Global, PerKey};

    /// Always healthy, with the local rejections counted and the state
    /// naming the probability the next call is rejected,
    /// `reject probability 25.0%`. A throttle that rejects is doing its job —
    /// keeping load off an upstream that refuses it — as a rate limiter that
    /// limits is; the upstream's own trouble is for its breaker or its
    /// callers to report. So, as for the rate limiter, there is no success
    /// rate either: a high local rejection rate must not mark it degraded.
    impl HealthSource for ThrottleHandle<Global> {
        fn health(&self) -> ComponentHealth {
            ComponentHealth::new("throttle", Status::Healthy)
                .with_state(format!(
                    "reject probability {:.1}%",
                    self.reject_probability() * 100.0
                ))
                .with_rejections(self.rejected_total())
        }
    }

    /// Always healthy, as the global throttle is (see there), with the local
    /// rejections counted and the state naming the keys tracked,
    /// `keys tracked: 3`.
    impl<X, K> HealthSource for ThrottleHandle<PerKey<X, K>>
    where
        X: 'static,
        K: Hash + Eq + 'static,
        Self: Send + Sync,
    {
        fn health(&self) -> ComponentHealth {
            ComponentHealth::new("throttle", Status::Healthy)
                .with_state(format!("keys tracked: {}", self.key_count()))
                .with_rejections(self.rejected_total())
        }
    }
}
