use std::num::NonZeroUsize;
use std::sync::Arc;

use tower_layer::Layer;

use super::Metrics;
use super::cap::SeriesCap;
use super::names::{
    CLIENT_ACTIVE, CLIENT_DURATION, CLIENT_RESPONSE_BODY_SIZE, SERVER_ACTIVE, SERVER_DURATION,
    SERVER_RESPONSE_BODY_SIZE,
};
use super::record::Side;
use crate::PathRules;

/// The default bound on distinct label sets per layer.
pub const DEFAULT_MAX_SERIES: usize = 1000;

/// Applies [`Metrics`] to a server: `http.server.request.duration` and
/// `http.server.active_requests`. See the [module docs](super).
#[derive(Clone, Debug)]
#[must_use]
pub struct MetricsLayer {
    cap: Arc<SeriesCap>,
    paths: PathRules,
    body_sizes: bool,
}

/// Applies [`Metrics`] to a client: `http.client.request.duration` and
/// `http.client.active_requests`, labelled by `server.address` instead of a route.
/// See the [module docs](super).
#[derive(Clone, Debug)]
#[must_use]
pub struct ClientMetricsLayer {
    cap: Arc<SeriesCap>,
    body_sizes: bool,
}

fn describe(side: Side) {
    match side {
        Side::Server => {
            metrics::describe_histogram!(
                SERVER_DURATION,
                metrics::Unit::Seconds,
                "Duration of HTTP server requests."
            );
            metrics::describe_gauge!(SERVER_ACTIVE, "Number of active HTTP server requests.");
        }
        Side::Client => {
            metrics::describe_histogram!(
                CLIENT_DURATION,
                metrics::Unit::Seconds,
                "Duration of HTTP client requests."
            );
            metrics::describe_gauge!(CLIENT_ACTIVE, "Number of active HTTP client requests.");
        }
    }
}

fn cap(max: usize) -> Arc<SeriesCap> {
    Arc::new(SeriesCap::new(max))
}

impl MetricsLayer {
    /// At most [`DEFAULT_MAX_SERIES`] label sets. Describes the metrics (unit
    /// and help text) to the recorder installed now.
    pub fn new() -> Self {
        describe(Side::Server);
        Self {
            cap: cap(DEFAULT_MAX_SERIES),
            paths: PathRules::default(),
            body_sizes: false,
        }
    }

    /// At most `max` distinct label sets per metric family of this layer and
    /// its clones; further sets go to the `otel.metric.overflow="true"` series.
    pub fn max_series(mut self, max: NonZeroUsize) -> Self {
        self.cap = cap(max.get());
        self
    }

    /// Also records the response body's size in bytes as `http.server.response.body.size`
    /// (histogram, same labels as the duration), counted frame by frame as
    /// the body streams. Off by default. Describes the metric to the recorder
    /// installed now.
    pub fn body_sizes(mut self, on: bool) -> Self {
        if on {
            metrics::describe_histogram!(
                SERVER_RESPONSE_BODY_SIZE,
                metrics::Unit::Bytes,
                "Size of HTTP server response bodies."
            );
        }
        self.body_sizes = on;
        self
    }

    /// Skips or groups requests by path: a skipped request is not measured
    /// at all (not even as active); a grouped one is labelled with its group
    /// as `http.route`. See [`PathRules`].
    pub fn paths(mut self, rules: PathRules) -> Self {
        self.paths = rules;
        self
    }
}

impl Default for MetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientMetricsLayer {
    /// At most [`DEFAULT_MAX_SERIES`] label sets. Describes the metrics to the
    /// recorder installed now.
    pub fn new() -> Self {
        describe(Side::Client);
        Self {
            cap: cap(DEFAULT_MAX_SERIES),
            body_sizes: false,
        }
    }

    /// At most `max` distinct label sets (a crawler calling many hosts makes
    /// many `server.address` values); further sets go to the overflow series.
    pub fn max_series(mut self, max: NonZeroUsize) -> Self {
        self.cap = cap(max.get());
        self
    }

    /// Also records the response body's size in bytes as `http.client.response.body.size`
    /// (histogram, same labels as the duration), counted frame by frame as
    /// the body streams. Off by default. Describes the metric to the recorder
    /// installed now.
    pub fn body_sizes(mut self, on: bool) -> Self {
        if on {
            metrics::describe_histogram!(
                CLIENT_RESPONSE_BODY_SIZE,
                metrics::Unit::Bytes,
                "Size of HTTP client response bodies."
            );
        }
        self.body_sizes = on;
        self
    }
}

impl Default for ClientMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics {
            inner,
            side: Side::Server,
            cap: Arc::clone(&self.cap),
            paths: self.paths.clone(),
            body_sizes: self.body_sizes,
        }
    }
}

impl<S> Layer<S> for ClientMetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics {
            inner,
            side: Side::Client,
            cap: Arc::clone(&self.cap),
            paths: PathRules::default(),
            body_sizes: self.body_sizes,
        }
    }
}
