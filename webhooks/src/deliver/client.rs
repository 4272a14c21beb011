//! The stack every attempt goes through: per-endpoint circuit breaker →
//! timeout → the HTTP client (whose connector refuses non-public addresses).

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full};
use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, KeyedCircuitBreakerLayer};
use palisade_resilience::classify::ServerErrorsAreFailures;
use palisade_resilience::timeout::TimeoutLayer;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceBuilder, ServiceExt as _};

/// A response body as the engine reads it.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// The HTTP client the engine sends through: any tower service from
/// `http::Request<Full<Bytes>>` to a response, boxed. Build one from a
/// hyper client (or any other) with [`boxed_client`].
pub type HttpClient = BoxCloneSyncService<Request<Full<Bytes>>, Response<ResponseBody>, BoxError>;

/// Boxes an HTTP client service (such as hyper-util's legacy `Client`) for
/// the engine.
pub fn boxed_client<S, B>(client: S) -> HttpClient
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    BoxCloneSyncService::new(
        client
            .map_response(|response: Response<B>| {
                response.map(|body| body.map_err(Into::into).boxed_unsync())
            })
            .map_err(Into::into),
    )
}

/// The endpoint an attempt is for, in the request's extensions: the key of
/// the per-endpoint breaker.
#[derive(Debug, Clone)]
pub(crate) struct EndpointKey(pub(crate) String);

fn endpoint_key(request: &Request<Full<Bytes>>) -> Option<String> {
    request
        .extensions()
        .get::<EndpointKey>()
        .map(|k| k.0.clone())
}

/// The breaker layer, keyed by endpoint id.
pub(crate) type EndpointBreakers = KeyedCircuitBreakerLayer<
    String,
    fn(&Request<Full<Bytes>>) -> Option<String>,
    ServerErrorsAreFailures,
>;

/// The breakers: 5xx answers and transport errors count as failures, 4xx
/// do not (the endpoint is up, it just refused this message).
pub(crate) fn endpoint_breakers(
    open_for: Duration,
    max_endpoints: std::num::NonZeroUsize,
) -> Result<EndpointBreakers, palisade_resilience::ConfigError> {
    CircuitBreakerLayer::builder()
        .name("webhook-endpoints")
        .classifier(ServerErrorsAreFailures)
        .wait_duration_in_open(open_for)
        .keyed(endpoint_key as fn(&Request<Full<Bytes>>) -> Option<String>)
        .max_keys(max_endpoints)
        .build::<String>()
}

/// The whole per-attempt stack, boxed.
pub(crate) fn stack(
    breakers: EndpointBreakers,
    timeout: Duration,
    client: HttpClient,
) -> HttpClient {
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(breakers)
            .layer(TimeoutLayer::new(timeout))
            .service(client)
            .map_err(Into::into),
    )
}

/// A short, low-cardinality name for why an attempt got no answer.
pub(crate) fn error_kind(error: &(dyn std::error::Error + 'static)) -> &'static str {
    if let Some(rejection) = palisade_resilience::rejection::find(error) {
        return rejection.code();
    }
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection_refused",
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    "connection_reset"
                }
                std::io::ErrorKind::TimedOut => "timeout",
                _ => "io",
            };
        }
        source = e.source();
    }
    "transport"
}
