//! One request's measurement, from arrival to the end of its response body.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;
use http::uri::Authority;
use metrics::Gauge;
use tokio::time::Instant;

use super::cap::{Part, SeriesCap};
use super::names::{ERROR_TYPE, METHOD, ROUTE, SERVER_ADDRESS, STATUS, UNMATCHED_ROUTE};
use crate::semconv::RouteOf;

/// Which side of the exchange a layer measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    Server,
    Client,
}

impl Side {
    /// Whether a response status is a failure: 5xx for a server; 4xx and 5xx
    /// for a client (OpenTelemetry's span-status rules, used for `error.type`).
    fn is_failure(self, status: StatusCode) -> bool {
        match self {
            Self::Server => status.is_server_error(),
            Self::Client => status.is_client_error() || status.is_server_error(),
        }
    }
}

/// What the second label of a duration is: the route (server) or the
/// address called (client). Both are cheap clones, not copies of text.
#[derive(Debug)]
pub(super) enum Target {
    Route(RouteOf),
    Address(Option<Authority>),
}

/// Decrements the active-requests gauge when the request is over, however it ends.
#[derive(Debug)]
pub(super) struct Active(pub(super) Gauge);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// What is known of a request until its duration is recorded.
///
/// Dropped with a status (the response body was dropped before its end) it
/// records the duration up to the drop; dropped without one (the response
/// future was cancelled) it records nothing but still leaves the active gauge.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) side: Side,
    pub(super) histogram: &'static str,
    pub(super) start: Instant,
    pub(super) method: &'static str,
    pub(super) target: Target,
    pub(super) cap: Arc<SeriesCap>,
    pub(super) status: Option<StatusCode>,
    pub(super) done: bool,
    /// The body-size histogram to record, when the layer measures sizes.
    pub(super) body_size: Option<&'static str>,
    /// Response body bytes seen so far.
    pub(super) body_bytes: u64,
    /// The request body-size histogram and the bytes the request body has
    /// yielded so far, when the layer counts them.
    pub(super) request_body: Option<(&'static str, Arc<AtomicU64>)>,
    pub(super) _active: Active,
}

impl Pending {
    /// Records the duration now, with `error` as `error.type` when given, else
    /// the status code when it is a failure for this side.
    pub(super) fn finish(&mut self, error: Option<&'static str>) {
        if self.done {
            return;
        }
        self.done = true;
        let target = match &self.target {
            Target::Route(route) => Some((ROUTE, route.as_str().unwrap_or(UNMATCHED_ROUTE))),
            Target::Address(Some(authority)) => Some((SERVER_ADDRESS, authority.host())),
            Target::Address(None) => None,
        };
        let error = match (error, &self.status) {
            (Some(error), _) => Some(error),
            (None, Some(status)) if self.side.is_failure(*status) => Some(status.as_str()),
            (None, _) => None,
        };
        let labels: [Option<Part<'_>>; 4] = [
            Some((METHOD, self.method)),
            target,
            self.status.as_ref().map(|status| (STATUS, status.as_str())),
            error.map(|error| (ERROR_TYPE, error)),
        ];
        // The labels present, in order, without allocating.
        let mut parts: [Part<'_>; 4] = [("", ""); 4];
        let mut n = 0;
        for (slot, part) in parts.iter_mut().zip(labels.into_iter().flatten()) {
            *slot = part;
            n += 1;
        }
        let parts = parts.get(..n).unwrap_or_default();
        let histogram = self.cap.histogram(self.histogram, parts);
        histogram.record(self.start.elapsed().as_secs_f64());
        if let Some(name) = self.body_size {
            #[allow(
                clippy::cast_precision_loss,
                reason = "sizes above 2^53 bytes lose precision, which a histogram tolerates"
            )]
            self.cap
                .histogram(name, parts)
                .record(self.body_bytes as f64);
        }
        if let Some((name, bytes)) = &self.request_body {
            #[allow(
                clippy::cast_precision_loss,
                reason = "sizes above 2^53 bytes lose precision, which a histogram tolerates"
            )]
            self.cap
                .histogram(name, parts)
                .record(bytes.load(Ordering::Relaxed) as f64);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.status.is_some() {
            self.finish(None);
        }
    }
}
