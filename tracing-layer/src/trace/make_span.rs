//! Making the span of a request.

use http::Request;
use tracing::{Level, Span};

use super::RequestAttributes;

/// Makes the span of a request, from the request and the attributes the layer computed.
///
/// Implemented by [`DefaultMakeSpan`] and by closures
/// `FnMut(&Request<B>, &RequestAttributes<'_>) -> Span`. The layer later
/// records `http.response.status_code`, `error.type`, `otel.status_code` and
/// `request_id` on the span by those names; a span made without those fields
/// simply does not receive them.
pub trait MakeSpan<B> {
    /// The span for `request`.
    fn make_span(&mut self, request: &Request<B>, attributes: &RequestAttributes<'_>) -> Span;

    /// Whether [`make_span`](Self::make_span) could make an enabled span at
    /// all; when `false` the layer skips computing the attributes and uses
    /// `Span::none()`. The default, `true`, always asks `make_span`.
    fn enabled(&self) -> bool {
        true
    }
}

impl<B, F> MakeSpan<B> for F
where
    F: FnMut(&Request<B>, &RequestAttributes<'_>) -> Span,
{
    fn make_span(&mut self, request: &Request<B>, attributes: &RequestAttributes<'_>) -> Span {
        self(request, attributes)
    }
}

/// The default span: named `HTTP request` (tracing names are static), with
/// `otel.name` = `{method} {route}` — the name OpenTelemetry bridges such as
/// `tracing-opentelemetry` give the exported span — `otel.kind` = `server`,
/// the HTTP semantic-convention attributes of [`RequestAttributes`], the
/// `trace_id`, `span_id` and `parent_span_id` of our hop, and empty
/// `http.response.status_code`, `error.type`, `otel.status_code` and
/// `request_id` fields filled in later. At `INFO` level unless set otherwise.
#[derive(Clone, Copy, Debug)]
pub struct DefaultMakeSpan {
    level: Level,
}

impl DefaultMakeSpan {
    /// The default, at `INFO` level.
    #[must_use]
    pub const fn new() -> Self {
        Self { level: Level::INFO }
    }

    /// Makes spans at `level` instead.
    #[must_use]
    pub const fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }
}

impl Default for DefaultMakeSpan {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! http_span {
    ($level:expr, $a:ident) => {
        tracing::span!(
            $level,
            "HTTP request",
            // Displayed, not a `String`: no allocation per request.
            "otel.name" = tracing::field::display($a.span_name_display()),
            "otel.kind" = "server",
            "otel.status_code" = tracing::field::Empty,
            "http.request.method" = $a.method,
            "http.request.method_original" = $a.method_original,
            "http.route" = $a.route,
            "url.scheme" = $a.scheme,
            "url.path" = $a.path,
            "server.address" = $a.server_address,
            "server.port" = $a.server_port,
            "network.protocol.version" = $a.protocol_version,
            "http.response.status_code" = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
            "rpc.grpc.status_code" = tracing::field::Empty,
            trace_id = tracing::field::display($a.context.trace_id()),
            span_id = tracing::field::display($a.context.span_id()),
            parent_span_id = $a.parent_span_id.map(tracing::field::display),
            request_id = tracing::field::Empty,
        )
    };
}

impl<B> MakeSpan<B> for DefaultMakeSpan {
    /// `false` when no subscriber takes spans at this level (the global
    /// maximum level, as `tracing`'s own macros check first).
    fn enabled(&self) -> bool {
        tracing::level_enabled!(self.level)
    }

    fn make_span(&mut self, _request: &Request<B>, a: &RequestAttributes<'_>) -> Span {
        // `span!` needs its level as a constant at each call site.
        match self.level {
            Level::ERROR => http_span!(Level::ERROR, a),
            Level::WARN => http_span!(Level::WARN, a),
            Level::INFO => http_span!(Level::INFO, a),
            Level::DEBUG => http_span!(Level::DEBUG, a),
            Level::TRACE => http_span!(Level::TRACE, a),
        }
    }
}
