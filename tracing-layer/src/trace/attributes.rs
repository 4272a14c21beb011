//! The OpenTelemetry HTTP semantic-convention attributes of a server request.

use std::fmt;

use http::{Request, Version};

use crate::propagate::{SpanId, TraceContext};
use crate::semconv::{OTHER, method_name, route};

/// The attributes [`TraceLayer`](super::TraceLayer) computes for a request
/// before the span exists, handed to [`MakeSpan`](super::MakeSpan).
///
/// Names follow the OpenTelemetry HTTP semantic conventions (server spans).
#[derive(Debug)]
#[non_exhaustive]
pub struct RequestAttributes<'a> {
    /// `http.request.method`: the method when it is one of the nine the
    /// conventions know (and HTTP defines), else `_OTHER`.
    pub method: &'static str,
    /// `http.request.method_original`: the method as sent, only when
    /// [`method`](Self::method) is `_OTHER`.
    pub method_original: Option<&'a str>,
    /// `http.route`: the matched route template (`/users/{id}`), never the raw path.
    pub route: Option<&'a str>,
    /// `url.scheme`: from the request URI when it has one, else `http`.
    pub scheme: &'a str,
    /// `url.path`: the raw path (an attribute only: never a span name or a metric label).
    pub path: &'a str,
    /// `server.address`: the host of the `Host` header (or the URI's authority), without the port.
    pub server_address: Option<&'a str>,
    /// `server.port`: the port of the `Host` header (or the URI), when given.
    pub server_port: Option<u16>,
    /// `network.protocol.version`: `1.0`, `1.1`, `2`, `3`.
    pub protocol_version: Option<&'static str>,
    /// The trace context of our hop (a new span id; the caller's trace id when
    /// the incoming `traceparent` was valid).
    pub context: &'a TraceContext,
    /// The caller's span id, when the request continued a trace.
    pub parent_span_id: Option<SpanId>,
}

impl RequestAttributes<'_> {
    /// The span name the conventions ask for: `{method} {http.route}`, or
    /// `{method}` without a route; `HTTP` stands for an `_OTHER` method.
    #[must_use]
    pub fn span_name(&self) -> String {
        self.span_name_display().to_string()
    }

    /// [`span_name`](Self::span_name) without the `String`: written straight
    /// into whatever records it, and only when a subscriber does.
    pub(super) fn span_name_display(&self) -> SpanName<'_> {
        SpanName {
            method: if self.method == OTHER {
                "HTTP"
            } else {
                self.method
            },
            route: self.route,
        }
    }
}

/// `{method} {route}`, or `{method}` without a route.
#[derive(Clone, Copy, Debug)]
pub(super) struct SpanName<'a> {
    method: &'a str,
    route: Option<&'a str>,
}

impl fmt::Display for SpanName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method)?;
        if let Some(route) = self.route {
            f.write_str(" ")?;
            f.write_str(route)?;
        }
        Ok(())
    }
}

/// `server.address` and `server.port` from the `Host` header, else the URI.
fn server_address<B>(request: &Request<B>) -> (Option<&str>, Option<u16>) {
    let authority = request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(http::uri::Authority::as_str));
    let Some(authority) = authority else {
        return (None, None);
    };
    // Drop any userinfo, then split host and port; an IPv6 host is in brackets.
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => (host_port, None),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let host = (!host.is_empty()).then_some(host);
    (host, port.and_then(|p| p.parse().ok()))
}

fn protocol_version(version: Version) -> Option<&'static str> {
    match version {
        Version::HTTP_09 => Some("0.9"),
        Version::HTTP_10 => Some("1.0"),
        Version::HTTP_11 => Some("1.1"),
        Version::HTTP_2 => Some("2"),
        Version::HTTP_3 => Some("3"),
        _ => None,
    }
}

impl<'a> RequestAttributes<'a> {
    pub(crate) fn new<B>(
        request: &'a Request<B>,
        context: &'a TraceContext,
        parent_span_id: Option<SpanId>,
        group: Option<&'a str>,
    ) -> Self {
        let method = method_name(request.method());
        let (server_address, server_port) = server_address(request);
        Self {
            method,
            method_original: (method == OTHER).then(|| request.method().as_str()),
            route: group.or_else(|| route(request)),
            scheme: request.uri().scheme_str().unwrap_or("http"),
            path: request.uri().path(),
            server_address,
            server_port,
            protocol_version: protocol_version(request.version()),
            context,
            parent_span_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(host: &str) -> (Option<String>, Option<u16>) {
        let request = Request::builder().header("host", host).body(());
        let request = request.unwrap_or_default();
        let (h, p) = server_address(&request);
        (h.map(str::to_owned), p)
    }

    #[test]
    fn server_address_splits_host_and_port() {
        assert_eq!(address("example.com"), (Some("example.com".into()), None));
        assert_eq!(
            address("example.com:8080"),
            (Some("example.com".into()), Some(8080))
        );
        assert_eq!(address("[::1]:443"), (Some("::1".into()), Some(443)));
        assert_eq!(address("[::1]"), (Some("::1".into()), None));
        assert_eq!(address("host:notaport"), (Some("host".into()), None));
    }
}
