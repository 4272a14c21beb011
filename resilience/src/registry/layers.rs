//! [`Registry`]: named layers, listed and reconfigured at run time.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use indexmap::IndexMap;
use tokio::sync::broadcast;

use super::config::{Kind, LayerConfig};
use super::error::RegistryError;
use super::event::ConfigChanged;

/// How many changes a slow subscriber may fall behind before it misses some
/// (it then gets `RecvError::Lagged` and can re-read the list).
const EVENT_BUFFER: usize = 64;

/// A registered layer's handle: its live state and counts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Handle {
    /// A circuit breaker.
    #[cfg(feature = "circuit-breaker")]
    Breaker(crate::circuit_breaker::CircuitBreakerHandle),
    /// A bulkhead.
    #[cfg(feature = "bulkhead")]
    Bulkhead(crate::bulkhead::BulkheadHandle),
    /// A rate limiter: its counts, and the policy whose quota changes.
    #[cfg(feature = "rate-limit")]
    RateLimit(crate::rate_limit::RateLimitHandle, super::TunableRate),
    /// An adaptive concurrency limit: its limit, calls in flight and
    /// rejections. No run-time settings.
    #[cfg(feature = "adaptive")]
    AdaptiveLimit(crate::adaptive::AdaptiveLimitHandle),
    /// An outlier detector: its ejections and the endpoints out now. No
    /// run-time settings.
    #[cfg(feature = "outlier")]
    Outlier(crate::outlier::OutlierHandle),
    /// A client-side throttle with one window (a keyed one is not
    /// registered): its reject probability and rejections. No run-time
    /// settings.
    #[cfg(feature = "throttle")]
    Throttle(crate::throttle::ThrottleHandle<crate::throttle::Global>),
    /// A hedge layer: its delay and the hedges sent and won. No run-time
    /// settings.
    #[cfg(feature = "hedge")]
    Hedge(crate::hedge::HedgeHandle),
}

impl Handle {
    /// The kind of layer.
    #[must_use]
    pub const fn kind(&self) -> Kind {
        match self {
            #[cfg(feature = "circuit-breaker")]
            Self::Breaker(_) => Kind::Breaker,
            #[cfg(feature = "bulkhead")]
            Self::Bulkhead(_) => Kind::Bulkhead,
            #[cfg(feature = "rate-limit")]
            Self::RateLimit(..) => Kind::RateLimit,
            #[cfg(feature = "adaptive")]
            Self::AdaptiveLimit(_) => Kind::AdaptiveLimit,
            #[cfg(feature = "outlier")]
            Self::Outlier(_) => Kind::Outlier,
            #[cfg(feature = "throttle")]
            Self::Throttle(_) => Kind::Throttle,
            #[cfg(feature = "hedge")]
            Self::Hedge(_) => Kind::Hedge,
        }
    }

    /// The settings in effect now; [`LayerConfig::NoSettings`] for a layer
    /// that has none to change.
    #[must_use]
    pub fn config(&self) -> LayerConfig {
        match self {
            #[cfg(feature = "circuit-breaker")]
            Self::Breaker(breaker) => LayerConfig::Breaker(breaker.runtime_config()),
            #[cfg(feature = "bulkhead")]
            Self::Bulkhead(bulkhead) => {
                let max = std::num::NonZeroUsize::new(bulkhead.max_concurrent())
                    .unwrap_or(std::num::NonZeroUsize::MIN);
                LayerConfig::Bulkhead(super::BulkheadConfig::new(max))
            }
            #[cfg(feature = "rate-limit")]
            Self::RateLimit(_, policy) => LayerConfig::RateLimit(policy.quota()),
            #[cfg(feature = "adaptive")]
            Self::AdaptiveLimit(_) => LayerConfig::NoSettings(Kind::AdaptiveLimit),
            #[cfg(feature = "outlier")]
            Self::Outlier(_) => LayerConfig::NoSettings(Kind::Outlier),
            #[cfg(feature = "throttle")]
            Self::Throttle(_) => LayerConfig::NoSettings(Kind::Throttle),
            #[cfg(feature = "hedge")]
            Self::Hedge(_) => LayerConfig::NoSettings(Kind::Hedge),
        }
    }

    /// Applies `config`, already checked to be of this kind and valid.
    fn apply(&self, config: &LayerConfig) {
        match (self, config) {
            #[cfg(feature = "circuit-breaker")]
            (Self::Breaker(breaker), LayerConfig::Breaker(c)) => breaker.apply_runtime_config(c),
            #[cfg(feature = "bulkhead")]
            (Self::Bulkhead(bulkhead), LayerConfig::Bulkhead(c)) => {
                bulkhead.resize(c.max_concurrent.get());
            }
            #[cfg(feature = "rate-limit")]
            (Self::RateLimit(_, policy), LayerConfig::RateLimit(quota)) => {
                policy.set_quota(*quota);
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
}

/// A registered layer reports its health as its own handle does.
#[cfg(feature = "health")]
impl crate::health::HealthSource for Handle {
    fn health(&self) -> crate::health::ComponentHealth {
        use crate::health::HealthSource;
        match self {
            #[cfg(feature = "circuit-breaker")]
            Self::Breaker(breaker) => HealthSource::health(breaker),
            #[cfg(feature = "bulkhead")]
            Self::Bulkhead(bulkhead) => HealthSource::health(bulkhead),
            #[cfg(feature = "rate-limit")]
            Self::RateLimit(limiter, _) => HealthSource::health(limiter),
            #[cfg(feature = "adaptive")]
            Self::AdaptiveLimit(limit) => HealthSource::health(limit),
            #[cfg(feature = "outlier")]
            Self::Outlier(detector) => HealthSource::health(detector),
            #[cfg(feature = "throttle")]
            Self::Throttle(throttle) => HealthSource::health(throttle),
            #[cfg(feature = "hedge")]
            Self::Hedge(hedge) => HealthSource::health(hedge),
        }
    }
}

/// One registered layer, as [`Registry::list`] reports it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Entry {
    /// The name it is registered under.
    pub name: Arc<str>,
    /// Its settings now.
    pub config: LayerConfig,
    /// Its live state and counts.
    pub handle: Handle,
}

/// Every stateful layer by name — breakers, bulkheads, rate limiters,
/// adaptive limits, outlier detectors, throttles and hedge layers — listed
/// with its state and settings; the breakers, bulkheads and rate limiters
/// reconfigured at run time without rebuilding the stack, each applied
/// change an event. See the [module docs](super).
///
/// Cheap to clone (clones share the entries). The lock inside is taken only
/// by registering, listing and reconfiguring, never by a call through a
/// layer.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    entries: Mutex<IndexMap<Arc<str>, Handle>>,
    events: broadcast::Sender<ConfigChanged>,
    /// Where each registered layer is also reported, if anywhere: one
    /// registration feeds both the list and the health report.
    #[cfg(feature = "health")]
    health: Option<crate::health::HealthRegistry>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self {
            inner: Arc::new(Inner {
                entries: Mutex::new(IndexMap::new()),
                events,
                #[cfg(feature = "health")]
                health: None,
            }),
        }
    }

    /// An empty registry that also registers every layer registered in it
    /// in `health`, under the same name, so a health report covers what the
    /// registry lists without a second registration.
    ///
    /// ```
    /// use palisade_resilience::circuit_breaker::CircuitBreakerLayer;
    /// use palisade_resilience::health::HealthRegistry;
    /// use palisade_resilience::registry::Registry;
    ///
    /// let health = HealthRegistry::new();
    /// let registry = Registry::with_health(health.clone());
    /// let breaker = CircuitBreakerLayer::builder().name("db").build()?;
    /// registry.register_breaker(breaker.handle())?;
    /// breaker.handle().force_open();
    /// let report = health.check();
    /// assert_eq!(report.components[0].name, "db");
    /// assert_eq!(report.components[0].health.state, "forced_open");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "health")]
    #[must_use]
    pub fn with_health(health: crate::health::HealthRegistry) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self {
            inner: Arc::new(Inner {
                entries: Mutex::new(IndexMap::new()),
                events,
                health: Some(health),
            }),
        }
    }

    fn entries(&self) -> MutexGuard<'_, IndexMap<Arc<str>, Handle>> {
        // The map is never left half-updated, so a panic elsewhere while it
        // was held does not make it unusable.
        self.inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers the breaker `handle` belongs to, under its own name.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateName`] when the name is taken.
    #[cfg(feature = "circuit-breaker")]
    pub fn register_breaker(
        &self,
        handle: crate::circuit_breaker::CircuitBreakerHandle,
    ) -> Result<(), RegistryError> {
        let name = Arc::from(handle.name());
        self.insert(name, Handle::Breaker(handle))
    }

    /// Registers the bulkhead `handle` belongs to, under its own name.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateName`] when the name is taken.
    #[cfg(feature = "bulkhead")]
    pub fn register_bulkhead(
        &self,
        handle: crate::bulkhead::BulkheadHandle,
    ) -> Result<(), RegistryError> {
        let name = Arc::from(handle.name());
        self.insert(name, Handle::Bulkhead(handle))
    }

    /// Registers a rate limiter built on a [`TunableRate`](super::TunableRate)
    /// policy under `name`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateName`] when the name is taken.
    #[cfg(feature = "rate-limit")]
    pub fn register_rate_limit<H, W>(
        &self,
        name: &str,
        layer: &crate::rate_limit::RateLimitLayer<super::TunableRate<W>, H>,
    ) -> Result<(), RegistryError> {
        self.insert(
            Arc::from(name),
            Handle::RateLimit(layer.handle(), layer.policy().unweighted()),
        )
    }

    /// Registers the adaptive concurrency limit `handle` belongs to, under
    /// its own name. It has no run-time settings: it is listed (and
    /// reported to the health registry), and
    /// [`reconfigure`](Self::reconfigure) refuses it.
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use palisade_resilience::adaptive::AdaptiveLimitLayer;
    /// use palisade_resilience::registry::{Handle, Kind, LayerConfig, Registry, RegistryError};
    ///
    /// let layer = AdaptiveLimitLayer::builder()
    ///     .name("search")
    ///     .initial_limit(NonZeroUsize::new(20).unwrap())
    ///     .build()?;
    /// let registry = Registry::new();
    /// registry.register_adaptive(layer.handle())?;
    ///
    /// // Listed with its live handle: the limit in force.
    /// let entry = &registry.list()[0];
    /// assert_eq!(&*entry.name, "search");
    /// assert_eq!(entry.config, LayerConfig::NoSettings(Kind::AdaptiveLimit));
    /// let Handle::AdaptiveLimit(limit) = &entry.handle else { unreachable!() };
    /// assert_eq!(limit.limit(), 20);
    ///
    /// // The limit moves by itself; there is nothing to reconfigure.
    /// let refused = registry.reconfigure("search", entry.config).unwrap_err();
    /// assert!(matches!(refused, RegistryError::NotReconfigurable { kind: Kind::AdaptiveLimit, .. }));
    /// # Ok::<(), palisade_resilience::BoxError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateName`] when the name is taken.
    #[cfg(feature = "adaptive")]
    pub fn register_adaptive(
        &self,
        handle: crate::adaptive::AdaptiveLimitHandle,
    ) -> Result<(), RegistryError> {
        let name = Arc::from(handle.name());
        self.insert(name, Handle::AdaptiveLimit(handle))
    }

    /// Registers the outlier detector `handle` belongs to, under its own
    /// name ([`OutlierHandle::name`](crate::outlier::OutlierHandle::name)).
    /// It has no run-time settings: it is listed (and reported to the health
    /// registry), and [`reconfigure`](Self::reconfigure) refuses it.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateName`] when the name is taken.
    #[cfg(feature = "outlier")]
    pub fn register_outlier(
        &self,
        handle: crate::outlier::OutlierHandle,
    ) -> Result<(), RegistryError> {
        let name = Arc::from(handle.name());
        self.insert(name, Handle::Outlier(handle))
    }

    /// Registers the throttle `handle` belongs to, under its own name
    /// ([`ThrottleHandle::name`](crate::throttle::ThrottleHandle::name)).
    /// Only a throttle with one window: a keyed one is not registered, as
    /// for the other keyed layers. It has no run-time settings: it is listed
    /// (and reported to the health registry), and
    /// [`reconfigure`](Self::reconfigure) refuses it.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateName`] when the name is taken.
    #[cfg(feature = "throttle")]
    pub fn register_throttle(
        &self,
        handle: crate::throttle::ThrottleHandle<crate::throttle::Global>,
    ) -> Result<(), RegistryError> {
        let name = Arc::from(handle.name());
        self.insert(name, Handle::Throttle(handle))
    }

    /// Registers the hedge layer `handle` belongs to under `name` (a hedge
    /// layer has no name of its own). It has no run-time settings: it is
    /// listed (and reported to the health registry), and
    /// [`reconfigure`](Self::reconfigure) refuses it.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateName`] when the name is taken.
    #[cfg(feature = "hedge")]
    pub fn register_hedge(
        &self,
        name: &str,
        handle: crate::hedge::HedgeHandle,
    ) -> Result<(), RegistryError> {
        self.insert(Arc::from(name), Handle::Hedge(handle))
    }

    fn insert(&self, name: Arc<str>, handle: Handle) -> Result<(), RegistryError> {
        let mut entries = self.entries();
        if entries.contains_key(&name) {
            return Err(RegistryError::DuplicateName {
                name: name.to_string(),
            });
        }
        #[cfg(feature = "health")]
        if let Some(health) = &self.inner.health {
            health.register(name.to_string(), handle.clone());
        }
        entries.insert(name, handle);
        Ok(())
    }

    /// Every registered layer, in the order registered.
    #[must_use]
    pub fn list(&self) -> Vec<Entry> {
        self.entries()
            .iter()
            .map(|(name, handle)| Entry {
                name: Arc::clone(name),
                config: handle.config(),
                handle: handle.clone(),
            })
            .collect()
    }

    /// The settings of the layer registered as `name`.
    #[must_use]
    pub fn config(&self, name: &str) -> Option<LayerConfig> {
        self.entries().get(name).map(Handle::config)
    }

    /// Replaces the settings of the layer registered as `name`. The change
    /// takes effect on the next call through the layer (calls in flight are
    /// neither interrupted nor counted twice), and is sent to subscribers,
    /// logged and counted; the applied change is returned.
    ///
    /// # Errors
    ///
    /// [`RegistryError::UnknownName`], [`RegistryError::NotReconfigurable`]
    /// (a layer with no run-time settings), [`RegistryError::KindMismatch`]
    /// or [`RegistryError::Invalid`]; the layer then keeps its settings and
    /// no event is sent.
    pub fn reconfigure(
        &self,
        name: &str,
        config: LayerConfig,
    ) -> Result<ConfigChanged, RegistryError> {
        // Held across check and apply, so concurrent changes are applied one
        // after the other and each event's `before` is what it replaced.
        let entries = self.entries();
        let Some((name, handle)) = entries.get_key_value(name) else {
            return Err(RegistryError::UnknownName {
                name: name.to_owned(),
            });
        };
        let before = handle.config();
        if let LayerConfig::NoSettings(kind) = before {
            return Err(RegistryError::NotReconfigurable {
                name: name.to_string(),
                kind,
            });
        }
        if handle.kind() != config.kind() || matches!(config, LayerConfig::NoSettings(_)) {
            return Err(RegistryError::KindMismatch {
                name: name.to_string(),
                registered: handle.kind(),
                given: config.kind(),
            });
        }
        validate(&config).map_err(|error| {
            tracing::warn!(name = &**name, %error, "layer reconfiguration refused");
            RegistryError::Invalid {
                name: name.to_string(),
                error,
            }
        })?;
        handle.apply(&config);
        let changed = ConfigChanged {
            name: Arc::clone(name),
            before,
            after: handle.config(),
        };
        drop(entries);
        changed.record();
        // No subscriber is not an error.
        let _ = self.inner.events.send(changed.clone());
        Ok(changed)
    }

    /// Every change applied from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<ConfigChanged> {
        self.inner.events.subscribe()
    }
}

fn validate(config: &LayerConfig) -> Result<(), crate::ConfigError> {
    match config {
        #[cfg(feature = "circuit-breaker")]
        LayerConfig::Breaker(c) => c.validate(),
        #[cfg(feature = "bulkhead")]
        LayerConfig::Bulkhead(c) => c.validate(),
        #[cfg(feature = "rate-limit")]
        LayerConfig::RateLimit(_) => Ok(()),
        // Refused before: a layer with settings is never given none.
        LayerConfig::NoSettings(_) => Ok(()),
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("names", &self.entries().keys().collect::<Vec<_>>())
            .finish()
    }
}
