//! Every circuit breaker the server has, by name: the fixed ones built at
//! start-up (the demo upstream's), held in a resilience [`Registry`] so an
//! operator can change their settings while they serve, and the webhook
//! engine's per-endpoint breakers, which appear as endpoints are first
//! called. Those are the keyed layer's, one per endpoint, and a registry
//! takes no keyed layer (each key has its own state and its settings come
//! from the endpoint): they are listed here, not registered, so their
//! settings cannot be changed at run time.
//!
//! ```
//! use palisade_server::AppState;
//!
//! let state = AppState::new()?;
//! assert!(state.breakers.registry().config("demo-upstream").is_some());
//! let demo = state.breakers.get("demo-upstream").expect("the demo breaker is listed");
//! demo.force_open();
//! assert_eq!(demo.state().as_str(), "forced_open");
//! # Ok::<(), palisade_resilience::ConfigError>(())
//! ```

use palisade_resilience::circuit_breaker::CircuitBreakerHandle;
use palisade_resilience::registry::{Handle, Registry};
use palisade_webhooks::deliver::Engine;

/// The prefix of an endpoint breaker's name: `webhook:ep_…`.
pub const WEBHOOK_PREFIX: &str = "webhook:";

/// The server's breakers, cheap to clone.
#[derive(Debug, Clone)]
pub struct Breakers {
    registry: Registry,
    engine: Option<Engine>,
}

impl Breakers {
    /// The breakers registered in `registry` (its bulkheads and rate
    /// limiters are not breakers: they are left out).
    #[must_use]
    pub fn new(registry: Registry) -> Self {
        Self {
            registry,
            engine: None,
        }
    }

    /// The registry of the fixed breakers: their settings, changed with
    /// [`Registry::reconfigure`].
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The fixed breakers, in the order they were registered.
    fn fixed(&self) -> impl Iterator<Item = CircuitBreakerHandle> {
        self.registry
            .list()
            .into_iter()
            .filter_map(|entry| match entry.handle {
                Handle::Breaker(handle) => Some(handle),
                _ => None,
            })
    }

    /// Adds the webhook engine's per-endpoint breakers, named
    /// `webhook:<endpoint id>`.
    #[must_use]
    pub fn with_engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Every breaker with its name: the fixed ones first, then the
    /// endpoints' by name.
    #[must_use]
    pub fn list(&self) -> Vec<(String, CircuitBreakerHandle)> {
        let mut list: Vec<_> = self.fixed().map(|h| (h.name().to_owned(), h)).collect();
        if let Some(engine) = &self.engine {
            let mut endpoints: Vec<_> = engine
                .breakers()
                .into_iter()
                .map(|(endpoint, h)| (format!("{WEBHOOK_PREFIX}{endpoint}"), h))
                .collect();
            endpoints.sort_by(|a, b| a.0.cmp(&b.0));
            list.extend(endpoints);
        }
        list
    }

    /// The breaker called `name`, if there is one.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<CircuitBreakerHandle> {
        if let Some(fixed) = self.fixed().find(|h| h.name() == name) {
            return Some(fixed);
        }
        let endpoint = name.strip_prefix(WEBHOOK_PREFIX)?;
        self.engine
            .as_ref()?
            .breakers()
            .into_iter()
            .find_map(|(id, h)| (id == endpoint).then_some(h))
    }
}
