//! The state shared by every route.

use std::sync::Arc;

use palisade_resilience::ConfigError;
use palisade_resilience::health::HealthRegistry;
use palisade_webhooks::store::Store;

use crate::audit::Audit;
use crate::auth::Auth;
use crate::routes::demo::Demo;
use crate::routes::health::DeliveryStatus;
use crate::routes::stack::StackConfig;

/// Everything the routes need, cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Every breaker, bulkhead and limiter of the server, read by `/health/ready`.
    pub health: HealthRegistry,
    /// The demo client of `/demo/upstream`.
    pub demo: Demo,
    /// The database (the webhook outbox) and its kind (`sqlite`,
    /// `postgres`); `/health/ready` checks it answers. `None` in tests of
    /// routes that need no database.
    pub database: Option<(&'static str, Arc<dyn Store>)>,
    /// API keys, tiers and address rules of `/api`. `None`: no key store,
    /// so every `/api` request is refused as unauthenticated.
    pub auth: Option<Auth>,
    /// The audit log every `/api` change is recorded into (in memory until
    /// [`with_server`](Self::with_server)).
    pub audit: Audit,
    /// Body limit and request timeout of every route.
    pub stack: StackConfig,
    /// Whether the webhook delivery workers run (readiness); `None` when
    /// this app delivers nothing.
    pub delivery: Option<DeliveryStatus>,
}

impl AppState {
    /// The state the server starts with: the demo client, registered in the
    /// health registry, and no database (see
    /// [`with_database`](Self::with_database)).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] if a built-in layer's configuration is invalid.
    pub fn new() -> Result<Self, ConfigError> {
        let health = HealthRegistry::new();
        let demo = Demo::new()?;
        health.register(demo.breaker().name().to_owned(), demo.breaker().clone());
        Ok(Self {
            health,
            demo,
            database: None,
            auth: None,
            audit: Audit::in_memory(),
            stack: StackConfig::default(),
            delivery: None,
        })
    }

    /// Uses `store` (a database of `kind`) as the server's database.
    #[must_use]
    pub fn with_database(mut self, kind: &'static str, store: Arc<dyn Store>) -> Self {
        self.database = Some((kind, store));
        self
    }

    /// Reports the delivery workers' state in readiness.
    #[must_use]
    pub fn with_delivery(mut self, delivery: DeliveryStatus) -> Self {
        self.delivery = Some(delivery);
        self
    }

    /// Uses `config` as every route's body limit and timeout.
    #[must_use]
    pub fn with_stack(mut self, config: StackConfig) -> Self {
        self.stack = config;
        self
    }

    /// Uses `auth` for `/api` and keeps the audit log in its database.
    #[must_use]
    pub fn with_server(mut self, auth: Auth) -> Self {
        self.audit = Audit::new(Arc::new(auth.db().clone()));
        self.auth = Some(auth);
        self
    }
}
