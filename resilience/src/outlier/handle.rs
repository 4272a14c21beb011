//! [`OutlierHandle`]: what a detector reports.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::shared::Shared;

/// Reports a detector's ejections; from
/// [`OutlierDetector::handle`](super::OutlierDetector::handle).
#[derive(Clone)]
pub struct OutlierHandle {
    pub(crate) shared: Arc<Shared>,
}

impl OutlierHandle {
    /// The name given with
    /// [`OutlierDetectorBuilder::name`](super::OutlierDetectorBuilder::name)
    /// (`outlier` by default).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Ejections since the detector was built.
    #[must_use]
    pub fn ejections(&self) -> u64 {
        self.shared.ejections.load(Ordering::Relaxed)
    }

    /// The names of the endpoints ejected right now (returning those whose
    /// ejection is over first).
    #[must_use]
    pub fn ejected(&self) -> Vec<String> {
        self.shared.ejected_names()
    }

    /// How many endpoints were ejected at the detector's last look (cheap:
    /// no lock; [`ejected`](Self::ejected) is exact).
    #[must_use]
    pub fn ejected_count(&self) -> usize {
        self.shared.ejected_now.load(Ordering::Relaxed)
    }

    /// The endpoints in the pool at the detector's last look, ejected or not.
    #[must_use]
    pub fn endpoints(&self) -> usize {
        self.shared.endpoints.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for OutlierHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutlierHandle")
            .field("name", &self.shared.name)
            .field("ejections", &self.ejections())
            .field("ejected", &self.ejected_count())
            .field("endpoints", &self.endpoints())
            .finish()
    }
}

#[cfg(feature = "health")]
mod health {
    use super::OutlierHandle;
    use crate::health::{ComponentHealth, HealthSource, Status};

    /// Healthy while every endpoint is in the pool, degraded while some are
    /// ejected (the others carry their load); the state reads
    /// `2 of 5 endpoints ejected`.
    impl HealthSource for OutlierHandle {
        fn health(&self) -> ComponentHealth {
            let ejected = self.ejected().len();
            let status = if ejected == 0 {
                Status::Healthy
            } else {
                Status::Degraded
            };
            ComponentHealth::new("outlier_detector", status).with_state(format!(
                "{ejected} of {} endpoints ejected",
                self.endpoints()
            ))
        }
    }
}
