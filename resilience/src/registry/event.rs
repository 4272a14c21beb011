//! [`ConfigChanged`]: the event every applied change emits.

use std::sync::Arc;

use super::config::{Kind, LayerConfig};

/// One applied change: sent to every [subscriber](super::Registry::subscribe),
/// logged at `INFO` (target `palisade_resilience::registry`) and counted in
/// `palisade_registry_changes_total{name, kind}` (feature `metrics`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConfigChanged {
    /// The layer's name in the registry.
    pub name: Arc<str>,
    /// The settings before the change.
    pub before: LayerConfig,
    /// The settings in effect from now on.
    pub after: LayerConfig,
}

impl ConfigChanged {
    /// The kind of layer that changed.
    #[must_use]
    pub const fn kind(&self) -> Kind {
        self.after.kind()
    }

    /// Logs and counts the change (subscribers are sent it by the registry).
    pub(crate) fn record(&self) {
        tracing::info!(
            name = &*self.name,
            kind = self.kind().as_str(),
            before = ?self.before,
            after = ?self.after,
            "layer reconfigured"
        );
        #[cfg(feature = "metrics")]
        metrics::counter!(
            "palisade_registry_changes_total",
            "name" => self.name.to_string(),
            "kind" => self.kind().as_str(),
        )
        .increment(1);
    }
}
