//! The receiver's configuration, shared by the layer and the extractor.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use http_body::Body;

use super::Rejection;
use super::body::Collect;
use super::replay::{ReplayCache, ReplayGuard};
use crate::verify::{Clock, Scheme, SystemClock, Verified};

/// What a receiver checks: the signature [`Scheme`], the [`Clock`] it checks
/// timestamps against, the body size limit and, optionally, replay
/// protection.
///
/// [`VerifyWebhookLayer`](super::VerifyWebhookLayer) is built from one, and
/// the axum extractor reads one from the router state. Clones share the
/// scheme and the replay cache, so one verifier can serve several routes
/// and still recognise a replay sent to any of them.
///
/// ```
/// use std::num::NonZeroUsize;
/// use palisade_webhooks::layer::WebhookVerifier;
/// use palisade_webhooks::{Secret, Signer, StandardWebhooks};
///
/// let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
/// let verifier = WebhookVerifier::new(StandardWebhooks::new(secret.clone()))
///     .clock(|| 1_700_000_000)
///     .max_body_bytes(64 * 1024)
///     .replay_protection(NonZeroUsize::new(10_000).unwrap());
///
/// let mut headers = http::HeaderMap::new();
/// Signer::new(secret).sign("msg_1", 1_700_000_000, b"{}")?.apply(&mut headers);
/// let verified = verifier.verify(&headers, b"{}")?;
/// assert_eq!(verified.id.as_deref(), Some("msg_1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct WebhookVerifier {
    scheme: Arc<dyn Scheme>,
    clock: Arc<dyn Clock>,
    max_body_bytes: usize,
    replay_window: Option<Duration>,
    replay: Option<Arc<ReplayCache>>,
}

impl WebhookVerifier {
    /// The body size limit unless [`max_body_bytes`](Self::max_body_bytes)
    /// says otherwise: 1 MiB.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

    /// How long a seen id is remembered when neither
    /// [`replay_window`](Self::replay_window) nor the scheme's
    /// [`tolerance`](Scheme::tolerance) says: 5 minutes.
    pub const DEFAULT_REPLAY_WINDOW: Duration = Duration::from_secs(300);

    /// A verifier for `scheme`, reading the system clock, with a 1 MiB body
    /// limit and no replay protection.
    pub fn new(scheme: impl Scheme) -> Self {
        Self::from_shared(Arc::new(scheme))
    }

    /// Like [`new`](Self::new), for a scheme that is already shared.
    pub fn from_shared(scheme: Arc<dyn Scheme>) -> Self {
        Self {
            scheme,
            clock: Arc::new(SystemClock),
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            replay_window: None,
            replay: None,
        }
    }

    /// Refuses bodies larger than `limit` bytes with 413 Payload Too Large.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Checks timestamps against `clock` instead of the system clock (tests
    /// inject a fixed time: closures `Fn() -> i64` are clocks).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Refuses a second delivery of the same `webhook-id` with 409 Conflict,
    /// remembering up to `capacity` ids (the oldest is forgotten first when
    /// full) for the [replay window](Self::replay_window): by default the
    /// scheme's [`tolerance`](Scheme::tolerance), after which the timestamp
    /// check refuses a replay by itself.
    ///
    /// Only messages whose scheme proves an id (Standard Webhooks) are
    /// checked. With the layer, an id is remembered only once the inner
    /// service answers with a 2xx, so a sender's retry of a failed delivery
    /// goes through; with the extractor it is remembered once extracted.
    pub fn replay_protection(mut self, capacity: NonZeroUsize) -> Self {
        self.replay = Some(Arc::new(ReplayCache::new(
            capacity,
            self.effective_window(),
        )));
        self
    }

    /// How long a seen id is remembered (from first sight, longer for a
    /// timestamp in the future, up to twice this), instead of the scheme's
    /// [`tolerance`](Scheme::tolerance). Shorter than the tolerance leaves
    /// room for replays of old messages; a zero window remembers nothing. Has
    /// an effect only with [`replay_protection`](Self::replay_protection), in
    /// either order.
    pub fn replay_window(mut self, window: Duration) -> Self {
        self.replay_window = Some(window);
        if let Some(cache) = &self.replay {
            self.replay = Some(Arc::new(ReplayCache::new(cache.capacity(), window)));
        }
        self
    }

    fn effective_window(&self) -> Duration {
        self.replay_window
            .or_else(|| self.scheme.tolerance())
            .unwrap_or(Self::DEFAULT_REPLAY_WINDOW)
    }

    /// The body size limit in bytes.
    #[must_use]
    pub fn body_limit(&self) -> usize {
        self.max_body_bytes
    }

    /// Verifies a buffered request against the scheme at the clock's time,
    /// without replay protection (which needs to know whether the delivery
    /// was handled, see [`replay_protection`](Self::replay_protection)).
    ///
    /// # Errors
    ///
    /// The [`Rejection`] to send when the signature does not hold.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, Rejection> {
        let now = self.clock.now_unix();
        Ok(self.scheme.verify(headers, body, now)?)
    }

    /// Reads the body up to the limit.
    pub(crate) fn read_body<B: Body>(&self, headers: &HeaderMap, body: B) -> Collect<B> {
        Collect::new(headers, body, self.max_body_bytes)
    }

    /// Verifies, then reserves the id if replay protection is on.
    pub(crate) fn check(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(Verified, Option<ReplayGuard>), Rejection> {
        let now = self.clock.now_unix();
        let verified = self.scheme.verify(headers, body, now)?;
        let guard = match (&self.replay, &verified.id) {
            (Some(cache), Some(id)) => Some(
                cache
                    .reserve(id, verified.timestamp, now)
                    .ok_or_else(|| Rejection::Replayed { id: id.clone() })?,
            ),
            _ => None,
        };
        Ok((verified, guard))
    }
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("WebhookVerifier");
        debug.field("max_body_bytes", &self.max_body_bytes);
        match &self.replay {
            Some(cache) => debug.field("replay_capacity", &cache.capacity()),
            None => debug.field("replay_capacity", &None::<NonZeroUsize>),
        };
        debug.field("replay_window", &self.effective_window());
        debug.finish_non_exhaustive()
    }
}
