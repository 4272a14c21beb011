//! [`ChaosLayer`] and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::error::ChaosError;
use super::faults::{ErrorFault, Faults, Latency, MakeError};
use super::service::Chaos;
use crate::config::check_range;
use crate::{BoxError, ConfigError};

/// Applies [`Chaos`]: injected latency and errors, each with a probability.
///
/// [`ChaosLayer::new`] (and `Default`) configures no fault: every call passes
/// through untouched. Clones share one random sequence and call counter.
#[must_use]
#[derive(Debug, Clone, Default)]
pub struct ChaosLayer {
    faults: Option<Arc<Faults>>,
}

impl ChaosLayer {
    /// A layer that injects nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with no faults and a random seed.
    pub fn builder() -> ChaosLayerBuilder {
        ChaosLayerBuilder::default()
    }
}

impl<S> Layer<S> for ChaosLayer {
    type Service = Chaos<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Chaos::new(inner, self.faults.clone())
    }
}

/// Settings for a [`ChaosLayer`]; faults that are not set are not injected.
#[must_use]
#[derive(Default)]
pub struct ChaosLayerBuilder {
    latency: Option<Latency>,
    error: Option<(f64, Option<MakeError>)>,
    seed: Option<u64>,
    name: Option<Arc<str>>,
}

impl ChaosLayerBuilder {
    /// Delays a call by exactly `delay` with `probability` (0..=1), before the
    /// inner service is polled.
    pub fn latency(self, delay: Duration, probability: f64) -> Self {
        self.latency_range(delay, delay, probability)
    }

    /// Delays a call by a uniformly random duration within `min..=max` with
    /// `probability` (0..=1).
    pub fn latency_range(mut self, min: Duration, max: Duration, probability: f64) -> Self {
        self.latency = Some(Latency {
            min,
            max,
            probability,
        });
        self
    }

    /// Fails a call with [`ChaosError`] with `probability` (0..=1), without
    /// calling the inner service. When latency is injected too, the error
    /// comes after the delay.
    pub fn error(mut self, probability: f64) -> Self {
        self.error = Some((probability, None));
        self
    }

    /// Like [`error`](Self::error), but fails with the error `make` returns
    /// (to imitate a specific failure, e.g. an `io::Error`).
    pub fn error_with<F>(mut self, probability: f64, make: F) -> Self
    where
        F: Fn() -> BoxError + Send + Sync + 'static,
    {
        self.error = Some((probability, Some(Arc::new(make))));
        self
    }

    /// Seeds the random decisions: with a seed, the n-th call through the
    /// layer (counted over all its clones) always gets the same faults.
    /// Without one, the seed comes from the operating system.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Names the layer in tracing events and in the `name` label of its
    /// metrics (default `chaos`).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Builds the layer.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NotFinite`] or [`ConfigError::OutOfRange`] when a
    /// probability is NaN or outside 0..=1; [`ConfigError::Inverted`] when the
    /// latency range's minimum is above its maximum.
    pub fn build(self) -> Result<ChaosLayer, ConfigError> {
        if let Some(latency) = &self.latency {
            check_range("latency_probability", latency.probability, 0.0, 1.0)?;
            if latency.min > latency.max {
                return Err(ConfigError::Inverted {
                    lower: "latency_min",
                    upper: "latency_max",
                });
            }
        }
        let error = match self.error {
            Some((probability, make)) => {
                check_range("error_probability", probability, 0.0, 1.0)?;
                let make: MakeError = make.unwrap_or_else(|| Arc::new(|| ChaosError::new().into()));
                Some(ErrorFault { probability, make })
            }
            None => None,
        };
        if self.latency.is_none() && error.is_none() {
            return Ok(ChaosLayer::new());
        }
        let name = self.name.unwrap_or_else(|| Arc::from("chaos"));
        let seed = self.seed.unwrap_or_else(os_seed);
        Ok(ChaosLayer {
            faults: Some(Arc::new(Faults::new(self.latency, error, name, seed))),
        })
    }
}

fn os_seed() -> u64 {
    use rand::TryRng;
    rand::rngs::SysRng.try_next_u64().unwrap_or_else(|error| {
        // Only reproducibility across runs is lost; the faults still vary per call.
        tracing::warn!(%error, "chaos: no OS randomness, using a fixed seed");
        0x5EED
    })
}

impl fmt::Debug for ChaosLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChaosLayerBuilder")
            .field("latency", &self.latency)
            .field("error_probability", &self.error.as_ref().map(|e| e.0))
            .field("seed", &self.seed)
            .field("name", &self.name)
            .finish()
    }
}
