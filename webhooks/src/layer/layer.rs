//! [`VerifyWebhookLayer`].

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::{VerifyWebhook, WebhookVerifier};
use crate::verify::{Clock, Scheme};

/// Verifies webhook signatures before a request reaches the service.
///
/// Reads the body up to a limit, verifies the raw bytes with the [`Scheme`]
/// and passes the request on with the body intact and the
/// [`Verified`](crate::Verified) proof in its extensions; otherwise answers
/// 400, 401, 409 or 413 with an `application/problem+json` body (see
/// [`Rejection`](super::Rejection)) without calling the service. See the
/// [module docs](super) for an example.
#[derive(Clone, Debug)]
#[must_use]
pub struct VerifyWebhookLayer {
    verifier: WebhookVerifier,
}

impl VerifyWebhookLayer {
    /// A layer verifying with `scheme` against the system clock, with a 1 MiB
    /// body limit and no replay protection.
    pub fn new(scheme: impl Scheme) -> Self {
        Self::from_verifier(WebhookVerifier::new(scheme))
    }

    /// Like [`new`](Self::new), for a scheme that is already shared.
    pub fn from_shared(scheme: Arc<dyn Scheme>) -> Self {
        Self::from_verifier(WebhookVerifier::from_shared(scheme))
    }

    /// A layer checking with an existing verifier (sharing its replay cache,
    /// for example with an extractor on another route).
    pub fn from_verifier(verifier: WebhookVerifier) -> Self {
        Self { verifier }
    }

    /// Refuses bodies larger than `limit` bytes with 413 (default 1 MiB);
    /// see [`WebhookVerifier::max_body_bytes`].
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.verifier = self.verifier.max_body_bytes(limit);
        self
    }

    /// Checks timestamps against `clock`; see [`WebhookVerifier::clock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.verifier = self.verifier.clock(clock);
        self
    }

    /// Refuses a repeated `webhook-id` with 409; see
    /// [`WebhookVerifier::replay_protection`].
    pub fn replay_protection(mut self, capacity: NonZeroUsize) -> Self {
        self.verifier = self.verifier.replay_protection(capacity);
        self
    }

    /// How long seen ids are remembered; see
    /// [`WebhookVerifier::replay_window`].
    pub fn replay_window(mut self, window: Duration) -> Self {
        self.verifier = self.verifier.replay_window(window);
        self
    }

    /// The verifier the services check with.
    pub fn verifier(&self) -> &WebhookVerifier {
        &self.verifier
    }
}

impl<S> Layer<S> for VerifyWebhookLayer {
    type Service = VerifyWebhook<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifyWebhook::new(inner, self.verifier.clone())
    }
}
