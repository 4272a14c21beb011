//! The configured faults and the per-call decision.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::BoxError;

/// Makes the error to inject.
pub(crate) type MakeError = Arc<dyn Fn() -> BoxError + Send + Sync>;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Latency {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    pub(crate) probability: f64,
}

#[derive(Clone)]
pub(crate) struct ErrorFault {
    pub(crate) probability: f64,
    pub(crate) make: MakeError,
}

/// The faults of one layer, shared by all its services so that clones draw
/// from one sequence instead of repeating the same decisions.
pub(crate) struct Faults {
    pub(crate) latency: Option<Latency>,
    pub(crate) error: Option<ErrorFault>,
    pub(crate) name: Arc<str>,
    seed: u64,
    calls: AtomicU64,
}

/// What to do to one call.
pub(crate) struct Decision {
    pub(crate) delay: Option<Duration>,
    pub(crate) error: Option<BoxError>,
}

impl Faults {
    pub(crate) fn new(
        latency: Option<Latency>,
        error: Option<ErrorFault>,
        name: Arc<str>,
        seed: u64,
    ) -> Self {
        Self {
            latency,
            error,
            name,
            seed,
            calls: AtomicU64::new(0),
        }
    }

    /// Decides the faults of the next call. The n-th call (over all clones)
    /// gets its own generator seeded from `(seed, n)`: deterministic for a
    /// seed and a call order, without a lock.
    pub(crate) fn decide(&self) -> Decision {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let mut rng = SmallRng::seed_from_u64(mix(self.seed, n));
        let delay = self.latency.and_then(|l| {
            rng.random_bool(l.probability).then(|| {
                if l.min == l.max {
                    l.min
                } else {
                    rng.random_range(l.min..=l.max)
                }
            })
        });
        let error = self
            .error
            .as_ref()
            .and_then(|e| rng.random_bool(e.probability).then(|| (e.make)()));
        if let Some(delay) = delay {
            tracing::debug!(name = &*self.name, ?delay, "chaos: injecting latency");
            #[cfg(feature = "metrics")]
            metrics::counter!("palisade_chaos_injected_total", "name" => self.name.to_string(), "fault" => "latency")
                .increment(1);
        }
        if let Some(error) = &error {
            tracing::debug!(name = &*self.name, %error, "chaos: injecting an error");
            #[cfg(feature = "metrics")]
            metrics::counter!("palisade_chaos_injected_total", "name" => self.name.to_string(), "fault" => "error")
                .increment(1);
        }
        Decision { delay, error }
    }
}

/// SplitMix64's finaliser over seed and call number, so neighbouring calls
/// get unrelated generators.
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("name", &&*self.name)
            .field("latency", &self.latency)
            .field(
                "error_probability",
                &self.error.as_ref().map(|e| e.probability),
            )
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}
