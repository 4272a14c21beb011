//! [`HedgeHandle`]: what a hedge layer reports.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::layer::Shared;

/// Reports a hedge layer's extra load; from
/// [`HedgeLayer::handle`](super::HedgeLayer::handle).
#[derive(Clone)]
pub struct HedgeHandle {
    pub(crate) shared: Arc<Shared>,
}

impl HedgeHandle {
    /// Extra attempts sent since the layer was built.
    #[must_use]
    pub fn hedges_sent(&self) -> u64 {
        self.shared.hedges_sent.load(Ordering::Relaxed)
    }

    /// Calls answered by a hedge rather than by their first attempt.
    #[must_use]
    pub fn hedges_won(&self) -> u64 {
        self.shared.hedges_won.load(Ordering::Relaxed)
    }

    /// Hedges not sent because the budget was empty.
    #[must_use]
    pub fn budget_exhausted(&self) -> u64 {
        self.shared.budget_exhausted.load(Ordering::Relaxed)
    }

    /// The current hedge delay; `None` while a delay that follows the
    /// latencies (percentile, average plus x %) has too few
    /// samples.
    #[must_use]
    pub fn delay(&self) -> Option<Duration> {
        self.shared.delay()
    }
}

impl fmt::Debug for HedgeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HedgeHandle")
            .field("hedges_sent", &self.hedges_sent())
            .field("hedges_won", &self.hedges_won())
            .field("budget_exhausted", &self.budget_exhausted())
            .field("delay", &self.delay())
            .finish()
    }
}

/// Always healthy, with the state naming the delay and the hedges sent and
/// won, `delay 12ms, hedges sent 4, won 3` (`delay not known yet, …` while a
/// delay that follows the latencies has too few samples). Hedges are extra
/// attempts the layer sends by design; a call answered by a hedge was
/// answered, and a budget too empty to hedge leaves calls waiting on their
/// first attempt, not failing. Whether the attempts themselves fail is for
/// the breaker or outlier detector under the hedge to report. It rejects
/// nothing (`rejections` is 0) and keeps no success rate.
#[cfg(feature = "health")]
impl crate::health::HealthSource for HedgeHandle {
    fn health(&self) -> crate::health::ComponentHealth {
        use crate::health::{ComponentHealth, Status};
        let delay = match self.delay() {
            Some(delay) => format!("delay {delay:?}"),
            None => "delay not known yet".to_owned(),
        };
        ComponentHealth::new("hedge", Status::Healthy).with_state(format!(
            "{delay}, hedges sent {}, won {}",
            self.hedges_sent(),
            self.hedges_won()
        ))
    }
}
