//! [`ThrottleLayer`] and its builders.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tower_layer::Layer;

use super::handle::ThrottleHandle;
use super::partition::{Global, PerKey};
use super::service::Throttle;
use super::window::{AcceptWindow, BUCKETS, WindowSettings};
use crate::ConfigError;
use crate::classify::ErrorsAreFailures;
use crate::clock::Clock;
use crate::config::check_range;
use crate::key::DEFAULT_MAX_KEYS;

/// The SRE book's default K.
const DEFAULT_K: f64 = 2.0;
/// The SRE book's default window.
const DEFAULT_WINDOW: Duration = Duration::from_secs(120);

/// Applies [`Throttle`]: client-side adaptive throttling over one window
/// ([`Global`]) or one per key ([`PerKey`]).
///
/// Every service this layer (or a clone of it) wraps shares its windows.
#[must_use]
pub struct ThrottleLayer<P = Global, C = ErrorsAreFailures> {
    pub(crate) shared: Arc<Shared<P>>,
    pub(crate) classify: C,
}

/// What the services of one layer share.
pub(crate) struct Shared<P> {
    pub(crate) settings: WindowSettings,
    pub(crate) random: Random,
    pub(crate) name: Arc<str>,
    pub(crate) partition: P,
    pub(crate) rejected: AtomicU64,
}

impl ThrottleLayer {
    /// A global throttle with the SRE book's defaults: K = 2 over a sliding
    /// window of 2 minutes; every `Err` is a refusal, every `Ok` an accept.
    pub fn new() -> Self {
        // The defaults are valid: no need to check them.
        let settings = WindowSettings {
            k: DEFAULT_K,
            step_nanos: step_nanos(DEFAULT_WINDOW),
            clock: Clock::new(),
        };
        let partition = Global {
            window: Arc::new(AcceptWindow::new(&settings)),
        };
        Self::builder().finish(settings, partition)
    }

    /// A builder starting from K = 2, a 2-minute window and
    /// [`ErrorsAreFailures`].
    pub fn builder() -> ThrottleLayerBuilder {
        ThrottleLayerBuilder {
            k: DEFAULT_K,
            window: DEFAULT_WINDOW,
            classify: ErrorsAreFailures,
            random: None,
            seed: None,
            name: Arc::from("throttle"),
        }
    }
}

impl Default for ThrottleLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<P, C> ThrottleLayer<P, C> {
    /// A handle reporting this throttle's windows and rejections.
    #[must_use]
    pub fn handle(&self) -> ThrottleHandle<P> {
        ThrottleHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<P, C: Clone> Clone for ThrottleLayer<P, C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            classify: self.classify.clone(),
        }
    }
}

impl<P, C: fmt::Debug> fmt::Debug for ThrottleLayer<P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottleLayer")
            .field("name", &self.shared.name)
            .field("k", &self.shared.settings.k)
            .field("classify", &self.classify)
            .finish_non_exhaustive()
    }
}

impl<S, P, C: Clone> Layer<S> for ThrottleLayer<P, C> {
    type Service = Throttle<S, P, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Throttle {
            inner,
            shared: Arc::clone(&self.shared),
            classify: self.classify.clone(),
        }
    }
}

/// Settings for a [`ThrottleLayer`].
#[must_use]
pub struct ThrottleLayerBuilder<C = ErrorsAreFailures> {
    k: f64,
    window: Duration,
    classify: C,
    random: Option<Arc<dyn Fn() -> f64 + Send + Sync>>,
    seed: Option<u64>,
    name: Arc<str>,
}

impl<C> ThrottleLayerBuilder<C> {
    /// The SRE book's K (default 2): the upstream may refuse up to
    /// `1 − 1/K` of the requests before anything is rejected locally; lower
    /// is more aggressive. Within `1..=100`.
    pub fn k(mut self, k: f64) -> Self {
        self.k = k;
        self
    }

    /// The sliding window requests and accepts are counted over (default 2
    /// minutes); it slides in 60 steps.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Decides which results are accepts (a [`Classify`](crate::classify::Classify)):
    /// for example `ServerErrorsAreFailures` (feature `http`), under which a
    /// `4xx` still shows the upstream is up.
    pub fn classify<C2>(self, classify: C2) -> ThrottleLayerBuilder<C2> {
        ThrottleLayerBuilder {
            k: self.k,
            window: self.window,
            classify,
            random: self.random,
            seed: self.seed,
            name: self.name,
        }
    }

    /// Draws the random numbers (uniform within `0..1`) from `random`
    /// instead of a generator: for tests. A call is rejected when the number
    /// drawn is below the reject probability; nothing is drawn while it is 0.
    pub fn random(mut self, random: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.random = Some(Arc::new(random));
        self
    }

    /// Seeds the generator, for a reproducible sequence of rejections.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Names the throttle in tracing events (default `throttle`).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Builds a throttle with one window for every request.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when K is not within `1..=100` or the window is zero.
    pub fn build(self) -> Result<ThrottleLayer<Global, C>, ConfigError> {
        let settings = self.settings()?;
        let partition = Global {
            window: Arc::new(AcceptWindow::new(&settings)),
        };
        Ok(self.finish(settings, partition))
    }

    /// Continues as a keyed throttle: one window per key `key` (any
    /// [`ExtractKey`](crate::key::ExtractKey), say
    /// [`AuthorityKey`](crate::key::AuthorityKey) for one per upstream)
    /// finds; a request without a key fails with
    /// [`MissingKey`](crate::key::MissingKey).
    pub fn keyed<X>(self, key: X) -> KeyedThrottleLayerBuilder<X, C> {
        KeyedThrottleLayerBuilder {
            base: self,
            key,
            max_keys: DEFAULT_MAX_KEYS,
        }
    }

    fn settings(&self) -> Result<WindowSettings, ConfigError> {
        let k = check_range("k", self.k, 1.0, 100.0)?;
        if self.window.is_zero() {
            return Err(ConfigError::Zero { field: "window" });
        }
        Ok(WindowSettings {
            k,
            step_nanos: step_nanos(self.window),
            clock: Clock::new(),
        })
    }

    fn finish<P>(self, settings: WindowSettings, partition: P) -> ThrottleLayer<P, C> {
        let random = match self.random {
            Some(custom) => Random::Custom(custom),
            None => Random::seeded(self.seed),
        };
        ThrottleLayer {
            shared: Arc::new(Shared {
                settings,
                random,
                name: self.name,
                partition,
                rejected: AtomicU64::new(0),
            }),
            classify: self.classify,
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for ThrottleLayerBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottleLayerBuilder")
            .field("k", &self.k)
            .field("window", &self.window)
            .field("classify", &self.classify)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Settings for a keyed [`ThrottleLayer`] (one window per key).
#[must_use]
#[derive(Debug)]
pub struct KeyedThrottleLayerBuilder<X, C = ErrorsAreFailures> {
    base: ThrottleLayerBuilder<C>,
    key: X,
    max_keys: NonZeroUsize,
}

impl<X, C> KeyedThrottleLayerBuilder<X, C> {
    /// The most keys tracked at once (default
    /// [`DEFAULT_MAX_KEYS`]); beyond that the least recently used of a few
    /// sampled keys is forgotten.
    pub const fn max_keys(mut self, max_keys: NonZeroUsize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Builds the layer.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when K is not within `1..=100` or the window is zero.
    pub fn build<K: std::hash::Hash + Eq>(
        self,
    ) -> Result<ThrottleLayer<PerKey<X, K>, C>, ConfigError> {
        let settings = self.base.settings()?;
        let partition = PerKey::new(self.key, self.max_keys);
        Ok(self.base.finish(settings, partition))
    }
}

/// The window's step: a 60th of it, at least a nanosecond.
fn step_nanos(window: Duration) -> u64 {
    let nanos = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
    (nanos / BUCKETS as u64).max(1)
}

/// Where the random numbers come from.
pub(crate) enum Random {
    Seeded(Mutex<SmallRng>),
    Custom(Arc<dyn Fn() -> f64 + Send + Sync>),
}

impl Random {
    fn seeded(seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::try_from_rng(&mut rand::rngs::SysRng).unwrap_or_else(|_| {
                // Spreading rejections protects no secret: an address
                // (randomised by ASLR) is a good enough seed.
                let marker = 0u8;
                SmallRng::seed_from_u64(std::ptr::from_ref(&marker) as usize as u64)
            }),
        };
        Self::Seeded(Mutex::new(rng))
    }

    /// A number within `0..1`.
    pub(crate) fn draw(&self) -> f64 {
        match self {
            Self::Seeded(rng) => rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .random::<f64>(),
            Self::Custom(random) => random(),
        }
    }
}
