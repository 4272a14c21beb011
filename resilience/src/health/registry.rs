//! The registry itself.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use super::report::{ComponentHealth, ComponentReport, HealthReport, HealthSource, Status};
use crate::ConfigError;
use crate::config::check_range;

/// Components registered under names; cheap to clone (clones share the same
/// components).
///
/// Registering or replacing a component takes a write lock and reading takes a
/// read lock: the registry is read by health probes, never on a request's path.
#[derive(Clone)]
pub struct HealthRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    components: RwLock<Vec<(String, Arc<dyn HealthSource>)>>,
    degraded_below: f64,
}

impl HealthRegistry {
    /// An empty registry with the default success-rate threshold (50 %).
    #[must_use]
    pub fn new() -> Self {
        Self::with_threshold(50.0)
    }

    fn with_threshold(degraded_below: f64) -> Self {
        Self {
            inner: Arc::new(Inner {
                components: RwLock::new(Vec::new()),
                degraded_below,
            }),
        }
    }

    /// An empty registry where a component whose rolling success rate is below
    /// `percent` counts as at least degraded (0 turns the rule off).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `percent` is NaN or outside 0..=100.
    pub fn degraded_below(percent: f64) -> Result<Self, ConfigError> {
        let percent = check_range("degraded_below", percent, 0.0, 100.0)?;
        Ok(Self::with_threshold(percent))
    }

    /// Registers `source` under `name`, replacing any component of that name
    /// (so re-creating a layer on reload does not leave a stale entry).
    pub fn register(&self, name: impl Into<String>, source: impl HealthSource) {
        let name = name.into();
        let source: Arc<dyn HealthSource> = Arc::new(source);
        let mut components = self
            .inner
            .components
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match components.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = source,
            None => components.push((name, source)),
        }
    }

    /// Removes the component named `name`; returns whether there was one.
    pub fn unregister(&self, name: &str) -> bool {
        let mut components = self
            .inner
            .components
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let before = components.len();
        components.retain(|(n, _)| n != name);
        components.len() != before
    }

    /// Asks every component for a fresh report and combines them (see the
    /// [module docs](crate::health) for the rule).
    #[must_use]
    pub fn check(&self) -> HealthReport {
        // Clone the sources out so no component's `health()` runs under our lock.
        let sources: Vec<(String, Arc<dyn HealthSource>)> = self
            .inner
            .components
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let components: Vec<ComponentReport> = sources
            .into_iter()
            .map(|(name, source)| ComponentReport {
                name,
                health: self.adjust(source.health()),
            })
            .collect();
        let status = components
            .iter()
            .map(|c| c.health.status)
            .max()
            .unwrap_or(Status::Healthy);
        HealthReport { status, components }
    }

    /// Applies the success-rate rule on top of the component's own verdict.
    fn adjust(&self, mut health: ComponentHealth) -> ComponentHealth {
        if let Some(rate) = health.success_rate
            && rate < self.inner.degraded_below
        {
            health.status = health.status.max(Status::Degraded);
        }
        health
    }

    /// The number of registered components.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .components
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no component is registered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for HealthRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .inner
            .components
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        f.debug_struct("HealthRegistry")
            .field("components", &names)
            .field("degraded_below", &self.inner.degraded_below)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(status: Status) -> impl HealthSource {
        move || ComponentHealth::new("custom", status)
    }

    #[test]
    fn empty_registry_is_healthy() {
        let registry = HealthRegistry::new();
        assert!(registry.is_empty());
        assert_eq!(registry.check().status, Status::Healthy);
    }

    #[test]
    fn aggregate_is_the_worst_component() {
        let registry = HealthRegistry::new();
        registry.register("a", fixed(Status::Healthy));
        registry.register("b", fixed(Status::Degraded));
        assert_eq!(registry.check().status, Status::Degraded);
        registry.register("c", fixed(Status::Unhealthy));
        assert_eq!(registry.check().status, Status::Unhealthy);
        assert!(registry.unregister("c"));
        assert!(!registry.unregister("c"));
        assert_eq!(registry.check().status, Status::Degraded);
    }

    #[test]
    fn registering_a_name_again_replaces_it() {
        let registry = HealthRegistry::new();
        registry.register("a", fixed(Status::Unhealthy));
        registry.register("a", fixed(Status::Healthy));
        assert_eq!(registry.len(), 1);
        assert_eq!(registry.check().status, Status::Healthy);
    }

    #[test]
    fn low_success_rate_degrades_but_never_improves() {
        let registry = HealthRegistry::degraded_below(90.0).unwrap();
        registry.register("ok", || {
            ComponentHealth::new("custom", Status::Healthy).with_success_rate(95.0)
        });
        assert_eq!(registry.check().status, Status::Healthy);
        registry.register("flaky", || {
            ComponentHealth::new("custom", Status::Healthy).with_success_rate(80.0)
        });
        registry.register("open", || {
            ComponentHealth::new("custom", Status::Unhealthy).with_success_rate(10.0)
        });
        let report = registry.check();
        assert_eq!(report.components[1].health.status, Status::Degraded);
        assert_eq!(report.components[2].health.status, Status::Unhealthy);
        assert_eq!(report.status, Status::Unhealthy);
    }

    #[test]
    fn threshold_is_validated() {
        assert!(HealthRegistry::degraded_below(f64::NAN).is_err());
        assert!(HealthRegistry::degraded_below(101.0).is_err());
        assert!(HealthRegistry::degraded_below(0.0).is_ok());
    }
}
