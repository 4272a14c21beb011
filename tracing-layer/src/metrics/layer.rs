use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::Arc;

use tower_layer::Layer;

use super::cap::SeriesCap;
use super::names::{
    CLIENT_ACTIVE, CLIENT_DURATION, CLIENT_REQUEST_BODY_SIZE, CLIENT_RESPONSE_BODY_SIZE,
    SERVER_ACTIVE, SERVER_DURATION, SERVER_REQUEST_BODY_SIZE, SERVER_RESPONSE_BODY_SIZE,
};
use super::record::Side;
use super::{CountRequestBody, Metrics, PassRequestBody, RequestBodyMode};
use crate::PathRules;

/// The default bound on distinct label sets per layer.
pub const DEFAULT_MAX_SERIES: usize = 1000;

/// Applies [`Metrics`] to a server: `http.server.request.duration` and
/// `http.server.active_requests`. See the [module docs](super).
///
/// `M` is [`PassRequestBody`] until
/// [`request_body_sizes`](Self::request_body_sizes) makes it [`CountRequestBody`].
#[derive(Clone, Debug)]
#[must_use]
pub struct MetricsLayer<M: RequestBodyMode = PassRequestBody> {
    cap: Arc<SeriesCap>,
    paths: PathRules,
    body_sizes: bool,
    request_body: PhantomData<M>,
}

/// Applies [`Metrics`] to a client: `http.client.request.duration` and
/// `http.client.active_requests`, labelled by `server.address` instead of a route.
/// See the [module docs](super).
#[derive(Clone, Debug)]
#[must_use]
pub struct ClientMetricsLayer<M: RequestBodyMode = PassRequestBody> {
    cap: Arc<SeriesCap>,
    body_sizes: bool,
    request_body: PhantomData<M>,
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
            request_body: PhantomData,
        }
    }
}

impl<M: RequestBodyMode> MetricsLayer<M> {
    /// Also records the request body's size in bytes as
    /// `http.server.request.body.size` (histogram, same labels as the
    /// duration): the inner service gets the body as a
    /// [`MetricsRequestBody`](super::MetricsRequestBody) that counts the
    /// bytes it reads, and the size is recorded with the duration, when the
    /// response ends (a body not read by then counts what was read).
    /// Describes the metric to the recorder installed now.
    ///
    /// ```
    /// use axum::{Router, routing::post};
    /// use palisade_tracing_layer::metrics::MetricsLayer;
    ///
    /// // axum's routes accept any body, so the wrapped body needs no change.
    /// let app: Router = Router::new()
    ///     .route("/orders", post(|body: String| async move { body.len().to_string() }))
    ///     .layer(MetricsLayer::new().request_body_sizes());
    /// # let _ = app;
    /// ```
    pub fn request_body_sizes(self) -> MetricsLayer<CountRequestBody> {
        metrics::describe_histogram!(
            SERVER_REQUEST_BODY_SIZE,
            metrics::Unit::Bytes,
            "Size of HTTP server request bodies."
        );
        MetricsLayer {
            cap: self.cap,
            paths: self.paths,
            body_sizes: self.body_sizes,
            request_body: PhantomData,
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
            request_body: PhantomData,
        }
    }
}

impl<M: RequestBodyMode> ClientMetricsLayer<M> {
    /// Also records the size of the request body the client sent, in bytes,
    /// as `http.client.request.body.size` (histogram, same labels as the
    /// client duration), counted as the client reads the body to send it and
    /// recorded when the response ends. The inner client gets a
    /// [`MetricsRequestBody`](super::MetricsRequestBody). Describes the metric
    /// to the recorder installed now.
    pub fn request_body_sizes(self) -> ClientMetricsLayer<CountRequestBody> {
        metrics::describe_histogram!(
            CLIENT_REQUEST_BODY_SIZE,
            metrics::Unit::Bytes,
            "Size of HTTP client request bodies."
        );
        ClientMetricsLayer {
            cap: self.cap,
            body_sizes: self.body_sizes,
            request_body: PhantomData,
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

impl<S, M: RequestBodyMode> Layer<S> for MetricsLayer<M> {
    type Service = Metrics<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics {
            inner,
            side: Side::Server,
            cap: Arc::clone(&self.cap),
            paths: self.paths.clone(),
            body_sizes: self.body_sizes,
            request_body: PhantomData,
        }
    }
}

impl<S, M: RequestBodyMode> Layer<S> for ClientMetricsLayer<M> {
    type Service = Metrics<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics {
            inner,
            side: Side::Client,
            cap: Arc::clone(&self.cap),
            paths: PathRules::default(),
            body_sizes: self.body_sizes,
            request_body: PhantomData,
        }
    }
}
