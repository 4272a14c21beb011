//! What the trace and metrics layers share: the OpenTelemetry HTTP
//! semantic-convention values that must stay low-cardinality.

#![cfg_attr(
    not(any(feature = "trace", feature = "propagate", feature = "metrics")),
    allow(dead_code, reason = "used by the trace, propagate and metrics layers")
)]

use http::Method;

/// The value of `http.request.method` for a method outside the known set.
pub(crate) const OTHER: &str = "_OTHER";

/// `http.request.method`: the method when known, else `_OTHER` ("the
/// instrumentation MUST set `http.request.method` to `_OTHER`" for methods it
/// does not know, so a client cannot create unbounded values).
pub(crate) fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => OTHER,
    }
}

/// The route template a router recorded for this request, when there is one.
///
/// With the `axum` feature, axum's `MatchedPath` (present when the layer is
/// added with `Router::layer` or `route_layer`, so it runs after routing);
/// otherwise, or with other routers, an [`HttpRoute`] extension.
#[cfg(feature = "trace")]
pub(crate) fn route<B>(request: &http::Request<B>) -> Option<&str> {
    #[cfg(feature = "axum")]
    if let Some(matched) = request.extensions().get::<axum::extract::MatchedPath>() {
        return Some(matched.as_str());
    }
    request
        .extensions()
        .get::<HttpRoute>()
        .map(HttpRoute::as_str)
}

/// The route of a request, kept past the request for labelling its duration:
/// a cheap clone (axum's `MatchedPath` is an `Arc`, an [`HttpRoute`] usually
/// a `&'static str`), never a copy of the path.
#[cfg(feature = "metrics")]
#[derive(Clone, Debug)]
pub(crate) enum RouteOf {
    #[cfg(feature = "axum")]
    Matched(axum::extract::MatchedPath),
    Given(HttpRoute),
    /// A group of [`PathRules`](crate::PathRules): its label.
    Grouped(std::sync::Arc<str>),
    Unmatched,
}

#[cfg(feature = "metrics")]
impl RouteOf {
    /// The route `route` would read from `request`, kept.
    pub(crate) fn of<B>(request: &http::Request<B>) -> Self {
        #[cfg(feature = "axum")]
        if let Some(matched) = request.extensions().get::<axum::extract::MatchedPath>() {
            return Self::Matched(matched.clone());
        }
        match request.extensions().get::<HttpRoute>() {
            Some(route) => Self::Given(route.clone()),
            None => Self::Unmatched,
        }
    }

    /// The template, or `None` when no route matched.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            #[cfg(feature = "axum")]
            Self::Matched(matched) => Some(matched.as_str()),
            Self::Given(route) => Some(route.as_str()),
            Self::Grouped(label) => Some(label),
            Self::Unmatched => None,
        }
    }
}

/// A route template put in the request's extensions by a router other than
/// axum's (or by a layer that knows the route), read by the trace and metrics
/// layers as `http.route`.
///
/// ```
/// use palisade_tracing_layer::HttpRoute;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(HttpRoute::new("/users/{id}"));
/// # assert_eq!(request.extensions().get::<HttpRoute>().map(HttpRoute::as_str), Some("/users/{id}"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRoute(std::borrow::Cow<'static, str>);

impl HttpRoute {
    /// A route template, such as `/users/{id}`.
    #[must_use]
    pub fn new(template: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self(template.into())
    }

    /// The template.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_are_other() {
        assert_eq!(method_name(&Method::GET), "GET");
        let custom = Method::from_bytes(b"PURGE").unwrap_or_default();
        assert_eq!(method_name(&custom), "_OTHER");
    }
}
