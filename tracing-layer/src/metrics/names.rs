//! Metric and label names (OpenTelemetry HTTP semantic conventions), the
//! histogram buckets, and the special label values.

/// `http.server.request.duration`: histogram, seconds, one sample per request,
/// from its arrival to the end of the response body.
pub const SERVER_DURATION: &str = "http.server.request.duration";
/// `http.server.active_requests`: gauge of requests in flight (arrived, body not yet ended).
pub const SERVER_ACTIVE: &str = "http.server.active_requests";
/// `http.client.request.duration`: histogram, seconds, one sample per
/// outgoing request, until its response body ends.
pub const CLIENT_DURATION: &str = "http.client.request.duration";
/// `http.client.active_requests`: gauge of outgoing requests in flight.
pub const CLIENT_ACTIVE: &str = "http.client.active_requests";

/// `http.server.response.body.size`: histogram, bytes, the response body as
/// streamed (opt-in: [`MetricsLayer::body_sizes`](super::MetricsLayer::body_sizes)).
pub const SERVER_RESPONSE_BODY_SIZE: &str = "http.server.response.body.size";
/// `http.client.response.body.size`: histogram, bytes, the response body as
/// read (opt-in: [`ClientMetricsLayer::body_sizes`](super::ClientMetricsLayer::body_sizes)).
pub const CLIENT_RESPONSE_BODY_SIZE: &str = "http.client.response.body.size";

/// `http.server.request.body.size`: histogram, bytes, the request body as the
/// service read it by the end of the response (opt-in:
/// [`MetricsLayer::request_body_sizes`](super::MetricsLayer::request_body_sizes)).
pub const SERVER_REQUEST_BODY_SIZE: &str = "http.server.request.body.size";
/// `http.client.request.body.size`: histogram, bytes, the request body as the
/// client sent it by the end of the response (opt-in:
/// [`ClientMetricsLayer::request_body_sizes`](super::ClientMetricsLayer::request_body_sizes)).
pub const CLIENT_REQUEST_BODY_SIZE: &str = "http.client.request.body.size";

/// The bucket boundaries, in seconds, OpenTelemetry advises for the HTTP
/// duration histograms. The `metrics` facade has no notion of buckets: give
/// these to your exporter, for example
/// `PrometheusBuilder::set_buckets_for_metric(Matcher::Prefix("http_".into()), &DURATION_BUCKETS)`.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The `http.route` value of a request no route matched (a 404 from the
/// router's fallback, a scanner's probe): one series for all of them, never the raw path.
pub const UNMATCHED_ROUTE: &str = "_UNMATCHED";

/// The label that alone marks the overflow series once a layer has seen its
/// maximum number of distinct label sets (OpenTelemetry's cardinality-limit convention).
pub const OVERFLOW_LABEL: &str = "otel.metric.overflow";

pub(super) const METHOD: &str = "http.request.method";
pub(super) const ROUTE: &str = "http.route";
pub(super) const STATUS: &str = "http.response.status_code";
pub(super) const ERROR_TYPE: &str = "error.type";
pub(super) const SCHEME: &str = "url.scheme";
pub(super) const SERVER_ADDRESS: &str = "server.address";
