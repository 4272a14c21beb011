//! Every circuit breaker the server has, by name: the fixed ones built at
//! start-up (the demo upstream's) and the webhook engine's per-endpoint
//! breakers, which appear as endpoints are first called.
//!
//! ```
//! use palisade_server::AppState;
//!
//! let state = AppState::new()?;
//! let demo = state.breakers.get("demo-upstream").expect("the demo breaker is listed");
//! demo.force_open();
//! assert_eq!(demo.state().as_str(), "forced_open");
//! # Ok::<(), palisade_resilience::ConfigError>(())
//! ```

use std::sync::Arc;

use palisade_resilience::circuit_breaker::CircuitBreakerHandle;
use palisade_webhooks::deliver::Engine;

/// The prefix of an endpoint breaker's name: `webhook:ep_…`.
pub const WEBHOOK_PREFIX: &str = "webhook:";

/// The server's breakers, cheap to clone.
#[derive(Debug, Clone)]
pub struct Breakers {
    fixed: Arc<[CircuitBreakerHandle]>,
    engine: Option<Engine>,
}

impl Breakers {
    /// A set of the `fixed` breakers, named by their own names.
    #[must_use]
    pub fn new(fixed: impl IntoIterator<Item = CircuitBreakerHandle>) -> Self {
        Self {
            fixed: fixed.into_iter().collect(),
            engine: None,
        }
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
        let mut list: Vec<_> = self
            .fixed
            .iter()
            .map(|h| (h.name().to_owned(), h.clone()))
            .collect();
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
        if let Some(fixed) = self.fixed.iter().find(|h| h.name() == name) {
            return Some(fixed.clone());
        }
        let endpoint = name.strip_prefix(WEBHOOK_PREFIX)?;
        self.engine
            .as_ref()?
            .breakers()
            .into_iter()
            .find_map(|(id, h)| (id == endpoint).then_some(h))
    }
}
