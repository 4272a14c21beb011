//! [`OutlierDetector`] and its builder.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::discover::OutlierDiscover;
use super::handle::OutlierHandle;
use super::service::Endpoint;
use super::shared::{Settings, Shared, SuccessRate};
use crate::ConfigError;
use crate::classify::ErrorsAreFailures;
use crate::config::check_range;

/// Watches a pool of endpoints and ejects the outliers; see the
/// [module docs](super).
///
/// Each endpoint is wrapped in an [`Endpoint`] — by
/// [`endpoint`](Self::endpoint), by this detector as a [`Layer`] (endpoints
/// named `#0`, `#1`, … in order), or by [`discover`](Self::discover) for a
/// `tower::discover::Discover`. Clones share the pool.
#[must_use]
pub struct OutlierDetector<C = ErrorsAreFailures> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) classify: C,
}

impl OutlierDetector {
    /// A builder with Envoy's defaults but the ejection cap: eject after 5
    /// consecutive errors, or when a success rate falls below
    /// `mean − 1.9 × stdev` of the rates of at least 5 endpoints with 100
    /// calls each in a 10 s interval; for 30 s × the times ejected, at most
    /// 300 s; never more than 50 % of the pool (Envoy: 10 %, but at least
    /// one endpoint — which can be far more than 10 % of a small pool).
    /// Every `Err` is a failure.
    pub fn builder() -> OutlierDetectorBuilder {
        OutlierDetectorBuilder {
            name: Arc::from("outlier"),
            consecutive_errors: NonZeroU32::new(5),
            success_rate: Some((5, 100, 1.9)),
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 50,
            classify: ErrorsAreFailures,
        }
    }
}

impl<C> OutlierDetector<C> {
    /// A handle reporting ejections (and, with the `health` feature, a
    /// [`HealthSource`](crate::health::HealthSource)).
    #[must_use]
    pub fn handle(&self) -> OutlierHandle {
        OutlierHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Adds `service` to the pool as the endpoint `name`.
    pub fn endpoint<S>(&self, name: impl Into<Arc<str>>, service: S) -> Endpoint<S, C>
    where
        C: Clone,
    {
        self.join(Some(name.into()), service)
    }

    /// Wraps a `Discover`: each service it inserts joins the pool, named by
    /// its key's `Debug` form.
    pub fn discover<D>(&self, discover: D) -> OutlierDiscover<D, C>
    where
        C: Clone,
    {
        OutlierDiscover::new(discover, self.clone())
    }

    fn join<S>(&self, name: Option<Arc<str>>, service: S) -> Endpoint<S, C>
    where
        C: Clone,
    {
        Endpoint {
            inner: service,
            host: self.shared.join(name),
            classify: self.classify.clone(),
            wait: None,
        }
    }
}

impl<C: Clone> Clone for OutlierDetector<C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            classify: self.classify.clone(),
        }
    }
}

impl<C> fmt::Debug for OutlierDetector<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutlierDetector")
            .field("name", &self.shared.name)
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

/// Each service layered joins the pool as a new endpoint.
impl<S, C: Clone> Layer<S> for OutlierDetector<C> {
    type Service = Endpoint<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        self.join(None, inner)
    }
}

/// Settings for an [`OutlierDetector`].
#[must_use]
#[derive(Debug, Clone)]
pub struct OutlierDetectorBuilder<C = ErrorsAreFailures> {
    name: Arc<str>,
    consecutive_errors: Option<NonZeroU32>,
    /// Minimum hosts, request volume, stdev factor.
    success_rate: Option<(usize, u64, f64)>,
    interval: Duration,
    base_ejection_time: Duration,
    max_ejection_time: Duration,
    max_ejection_percent: u8,
    classify: C,
}

impl<C> OutlierDetectorBuilder<C> {
    /// Names the detector in tracing events and in the `name` label of its
    /// metrics (default `outlier`).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Ejects an endpoint after this many failures in a row (default 5).
    pub const fn consecutive_errors(mut self, errors: NonZeroU32) -> Self {
        self.consecutive_errors = Some(errors);
        self
    }

    /// No ejection for consecutive errors.
    pub const fn no_consecutive_errors(mut self) -> Self {
        self.consecutive_errors = None;
        self
    }

    /// Envoy's success-rate rule, judged at the end of every interval: among
    /// the endpoints with at least `request_volume` calls in it — when there
    /// are at least `minimum_hosts` of them — eject those whose success rate
    /// is below `mean − stdev × stdev_factor` of their rates (defaults 5,
    /// 100, 1.9).
    pub const fn success_rate(
        mut self,
        minimum_hosts: usize,
        request_volume: u64,
        stdev_factor: f64,
    ) -> Self {
        self.success_rate = Some((minimum_hosts, request_volume, stdev_factor));
        self
    }

    /// No success-rate ejection.
    pub const fn no_success_rate(mut self) -> Self {
        self.success_rate = None;
        self
    }

    /// How often success rates are judged (default 10 s). The judgement
    /// runs in the first call that completes after the interval ended.
    pub const fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// An endpoint's `n`th ejection lasts `base × n` (default 30 s), at most
    /// [`max_ejection_time`](Self::max_ejection_time). Each base ejection
    /// time an endpoint stays in the pool forgives one past ejection.
    pub const fn base_ejection_time(mut self, base: Duration) -> Self {
        self.base_ejection_time = base;
        self
    }

    /// The longest ejection (default 300 s).
    pub const fn max_ejection_time(mut self, max: Duration) -> Self {
        self.max_ejection_time = max;
        self
    }

    /// Never more than this percentage of the pool is ejected at once
    /// (default 50), and never its last endpoint.
    pub const fn max_ejection_percent(mut self, percent: u8) -> Self {
        self.max_ejection_percent = percent;
        self
    }

    /// Decides which results are failures (a
    /// [`Classify`](crate::classify::Classify); default every `Err`). For
    /// HTTP, `ServerErrorsAreFailures` counts 5xx answers too.
    pub fn classify<C2>(self, classify: C2) -> OutlierDetectorBuilder<C2> {
        OutlierDetectorBuilder {
            name: self.name,
            consecutive_errors: self.consecutive_errors,
            success_rate: self.success_rate,
            interval: self.interval,
            base_ejection_time: self.base_ejection_time,
            max_ejection_time: self.max_ejection_time,
            max_ejection_percent: self.max_ejection_percent,
            classify,
        }
    }

    /// Builds the detector.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a zero interval, base ejection time, minimum
    /// hosts or request volume, a maximum ejection time below the base, a
    /// percentage over 100, or a negative or non-finite stdev factor.
    pub fn build(self) -> Result<OutlierDetector<C>, ConfigError> {
        if self.interval.is_zero() {
            return Err(ConfigError::Zero { field: "interval" });
        }
        if self.base_ejection_time.is_zero() {
            return Err(ConfigError::Zero {
                field: "base_ejection_time",
            });
        }
        if self.max_ejection_time < self.base_ejection_time {
            return Err(ConfigError::Inverted {
                lower: "base_ejection_time",
                upper: "max_ejection_time",
            });
        }
        check_range(
            "max_ejection_percent",
            f64::from(self.max_ejection_percent),
            0.0,
            100.0,
        )?;
        let success_rate = match self.success_rate {
            None => None,
            Some((minimum_hosts, request_volume, stdev_factor)) => {
                if minimum_hosts == 0 {
                    return Err(ConfigError::Zero {
                        field: "minimum_hosts",
                    });
                }
                if request_volume == 0 {
                    return Err(ConfigError::Zero {
                        field: "request_volume",
                    });
                }
                let stdev_factor = check_range("stdev_factor", stdev_factor, 0.0, f64::MAX)?;
                Some(SuccessRate {
                    minimum_hosts,
                    request_volume,
                    stdev_factor,
                })
            }
        };
        let settings = Settings {
            consecutive_errors: self.consecutive_errors,
            success_rate,
            interval: self.interval,
            base_ejection_time: self.base_ejection_time,
            max_ejection_time: self.max_ejection_time,
            max_ejection_percent: self.max_ejection_percent,
        };
        Ok(OutlierDetector {
            shared: Shared::new(self.name, settings),
            classify: self.classify,
        })
    }
}
