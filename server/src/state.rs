//! The state shared by every route.

use std::num::NonZeroUsize;
use std::sync::Arc;

use palisade_flags::store::FlagStore;
use palisade_resilience::ConfigError;
use palisade_resilience::health::HealthRegistry;
use palisade_resilience::registry::Registry;
use palisade_webhooks::StandardWebhooks;
use palisade_webhooks::layer::WebhookVerifier;
use palisade_webhooks::store::Store;

use crate::api::webhooks::Webhooks;
use crate::audit::Audit;
use crate::auth::Auth;
use crate::breakers::Breakers;
use crate::events::{Events, Sources};
use crate::routes::demo::Demo;
use crate::routes::health::DeliveryStatus;
use crate::routes::stack::StackConfig;

/// How many message ids the inbound webhook route remembers to refuse
/// replays: enough for a busy sender's five minutes of tolerance, bounded
/// so a flood cannot grow memory.
pub const INBOUND_REPLAY_CAPACITY: NonZeroUsize = match NonZeroUsize::new(100_000) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

/// Everything the routes need, cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The health of every layer in the breakers' registry (registered
    /// there, reported here), read by `/health`.
    pub health: HealthRegistry,
    /// The demo client of `/demo/upstream`.
    pub demo: Demo,
    /// The database (the webhook outbox) and its kind (`sqlite`,
    /// `postgres`); `/health/ready` checks it answers. `None` in tests of
    /// routes that need no database.
    pub database: Option<(&'static str, Arc<dyn Store>)>,
    /// Where the API records every change.
    pub audit: Audit,
    /// The webhook engine behind `/api/webhooks`; `None` until
    /// [`with_webhooks`](Self::with_webhooks) (the routes then answer 503).
    pub webhooks: Option<Webhooks>,
    /// Every named circuit breaker, for `/api/breakers`.
    pub breakers: Breakers,
    /// The feature flags of `/api/flags` (and the gated demo route); `None`
    /// when the server runs without a database.
    pub flags: Option<Arc<dyn FlagStore>>,
    /// API keys, tiers and address rules of `/api`. `None`: no key store,
    /// so every `/api` request is refused as unauthenticated.
    pub auth: Option<Auth>,
    /// Body limit and request timeout of every route.
    pub stack: StackConfig,
    /// Whether the webhook delivery workers run (readiness); `None` when
    /// this app delivers nothing.
    pub delivery: Option<DeliveryStatus>,
    /// The verifier of `POST /demo/webhooks/inbound`; `None`: the route is
    /// not mounted.
    pub inbound_webhooks: Option<WebhookVerifier>,
    /// The live events of `/api/events`; [`Events::close`] ends every
    /// stream (the server does on shutdown).
    pub events: Events,
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
        // What the registry lists, `/health` reports: one registration.
        let registry = Registry::with_health(health.clone());
        // A fresh registry holds no name yet, so this cannot be refused;
        // were it, the breaker would still serve, only not be listed.
        if let Err(error) = registry.register_breaker(demo.breaker().clone()) {
            tracing::error!(%error, "the demo breaker is not registered");
        }
        let breakers = Breakers::new(registry);
        Ok(Self {
            health,
            demo,
            database: None,
            audit: Audit::in_memory(),
            webhooks: None,
            breakers,
            flags: None,
            auth: None,
            stack: StackConfig::default(),
            delivery: None,
            inbound_webhooks: None,
            events: Events::default(),
        })
    }

    /// What `/api/events` follows: this state's breakers, flags and queue.
    #[must_use]
    pub fn event_sources(&self) -> Sources {
        Sources {
            breakers: self.breakers.clone(),
            flags: self.flags.clone(),
            queue: self.database.as_ref().map(|(_, store)| Arc::clone(store)),
        }
    }

    /// Uses `store` (a database of `kind`) as the server's database.
    #[must_use]
    pub fn with_database(mut self, kind: &'static str, store: Arc<dyn Store>) -> Self {
        self.database = Some((kind, store));
        self
    }

    /// Serves `/api/webhooks` with `webhooks` (the running engine and the
    /// address policy it was built with), and lists the engine's
    /// per-endpoint breakers in `/api/breakers`.
    #[must_use]
    pub fn with_webhooks(mut self, webhooks: Webhooks) -> Self {
        self.breakers = self.breakers.with_engine(webhooks.engine().clone());
        self.webhooks = Some(webhooks);
        self
    }

    /// Serves `/api/flags` from `store`.
    #[must_use]
    pub fn with_flags(mut self, store: Arc<dyn FlagStore>) -> Self {
        self.flags = Some(store);
        self
    }

    /// Reports the delivery workers' state in readiness.
    #[must_use]
    pub fn with_delivery(mut self, delivery: DeliveryStatus) -> Self {
        self.delivery = Some(delivery);
        self
    }

    /// Serves `POST /demo/webhooks/inbound`, verifying Standard Webhooks
    /// signed with `secret` against the system clock, and refusing a
    /// message id already accepted within the timestamp tolerance (the last
    /// [`INBOUND_REPLAY_CAPACITY`] ids are remembered).
    #[must_use]
    pub fn with_inbound_webhooks(mut self, secret: palisade_webhooks::Secret) -> Self {
        self.inbound_webhooks = Some(
            WebhookVerifier::new(StandardWebhooks::new(secret))
                .replay_protection(INBOUND_REPLAY_CAPACITY),
        );
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
