//! The state shared by every route.

use palisade_resilience::ConfigError;
use palisade_resilience::health::HealthRegistry;

use crate::routes::demo::Demo;

/// Everything the routes need, cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Every breaker, bulkhead and limiter of the server, read by `/health/ready`.
    pub health: HealthRegistry,
    /// The demo client of `/demo/upstream`.
    pub demo: Demo,
}

impl AppState {
    /// The state the server starts with: the demo client, registered in the
    /// health registry.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] if a built-in layer's configuration is invalid.
    pub fn new() -> Result<Self, ConfigError> {
        let health = HealthRegistry::new();
        let demo = Demo::new()?;
        health.register(demo.breaker().name().to_owned(), demo.breaker().clone());
        Ok(Self { health, demo })
    }
}
