//! The engine's settings, with production defaults.

use std::time::Duration;

use http::HeaderValue;

use super::RetrySchedule;

/// How the engine delivers. Every field has a default suited to production;
/// set them through [`EngineBuilder`](super::EngineBuilder).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) schedule: RetrySchedule,
    /// One attempt, response head and excerpt included.
    pub(crate) attempt_timeout: Duration,
    /// How long a claim lasts: longer than an attempt, so only a crashed
    /// worker's claims expire.
    pub(crate) lease: Duration,
    pub(crate) batch_size: u32,
    pub(crate) max_in_flight: usize,
    /// How often an idle worker looks for due deliveries (publishes through
    /// this engine wake it at once).
    pub(crate) poll_interval: Duration,
    pub(crate) max_retry_after: Duration,
    pub(crate) disable_after: Option<Duration>,
    pub(crate) response_excerpt: usize,
    pub(crate) max_payload: usize,
    pub(crate) breaker_open_for: Duration,
    pub(crate) breaker_open_recheck: Duration,
    pub(crate) disabled_recheck: Duration,
    pub(crate) user_agent: HeaderValue,
    /// The application operational events are published to.
    pub(crate) operational_app: Option<String>,
    /// After how many failed attempts `message.attempt.failing` is sent.
    pub(crate) failing_after: u32,
    /// How long payloads are kept once their deliveries are finished.
    pub(crate) retention: Option<Duration>,
    pub(crate) upkeep_interval: Duration,
    /// Export a breaker-state gauge per endpoint (one series each).
    pub(crate) breaker_metrics: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            attempt_timeout: Duration::from_secs(15),
            lease: Duration::from_secs(60),
            batch_size: 64,
            max_in_flight: 256,
            poll_interval: Duration::from_millis(250),
            max_retry_after: Duration::from_secs(60 * 60),
            disable_after: Some(Duration::from_secs(5 * 24 * 60 * 60)),
            response_excerpt: 1024,
            max_payload: 1024 * 1024,
            breaker_open_for: Duration::from_secs(30),
            breaker_open_recheck: Duration::from_secs(5),
            disabled_recheck: Duration::from_secs(60),
            user_agent: HeaderValue::from_static(concat!(
                "palisade-webhooks/",
                env!("CARGO_PKG_VERSION")
            )),
            operational_app: None,
            failing_after: 3,
            retention: Some(Duration::from_secs(30 * 24 * 60 * 60)),
            upkeep_interval: Duration::from_secs(5),
            breaker_metrics: false,
        }
    }
}
