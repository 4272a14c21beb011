//! gRPC status classification: `grpc-status` from the response head (a
//! trailers-only response) or the body's trailers, for tonic-style services.

use http::HeaderMap;
use tracing::Span;

use super::{Failure, OnFailure};

/// The gRPC codes as text, so `error.type` borrows a static string.
const CODES: [&str; 17] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
];

/// The `grpc-status` of `headers`, when present and a number.
pub(super) fn grpc_status(headers: &HeaderMap) -> Option<u16> {
    headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The code as `error.type`: its number, or `_OTHER` beyond the known 17.
pub(super) fn code_str(code: u16) -> &'static str {
    CODES.get(usize::from(code)).copied().unwrap_or("_OTHER")
}

/// Whether a gRPC code is a server failure, by the OpenTelemetry RPC
/// conventions: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
/// UNAVAILABLE, DATA_LOSS (and any code we do not know). The rest
/// (NOT_FOUND, INVALID_ARGUMENT, …) are the caller's.
pub(super) fn is_server_failure(code: u16) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15) || code > 16
}

/// Records `rpc.grpc.status_code`, and on a server failure `error.type`,
/// `otel.status_code` and the failure hook.
pub(super) fn record<OnFail: OnFailure>(
    span: &Span,
    code: u16,
    on_failure: Option<&mut OnFail>,
    latency: std::time::Duration,
) {
    span.record("rpc.grpc.status_code", code);
    if is_server_failure(code) {
        span.record("error.type", code_str(code));
        span.record("otel.status_code", "ERROR");
        if let Some(on_failure) = on_failure {
            let _entered = span.enter();
            on_failure.on_failure(Failure::Grpc(code), latency, span);
        }
    }
}
