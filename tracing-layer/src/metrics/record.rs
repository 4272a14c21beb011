//! One request's measurement, from arrival to the end of its response body.

use std::sync::Arc;

use http::StatusCode;
use metrics::{Gauge, Label};
use tokio::time::Instant;

use super::cap::SeriesCap;
use super::names::{ERROR_TYPE, OVERFLOW_LABEL, STATUS};

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

/// `labels` when the cap admits them, else the overflow series.
pub(super) fn capped(cap: &SeriesCap, labels: Vec<Label>) -> Vec<Label> {
    if cap.admit(&labels) {
        labels
    } else {
        vec![Label::new(OVERFLOW_LABEL, "true")]
    }
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
    pub(super) labels: Vec<Label>,
    pub(super) cap: Arc<SeriesCap>,
    pub(super) status: Option<StatusCode>,
    pub(super) done: bool,
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
        let mut labels = std::mem::take(&mut self.labels);
        if let Some(status) = self.status {
            labels.push(Label::new(STATUS, status.as_str().to_owned()));
        }
        let error = match (error, self.status) {
            (Some(error), _) => Some(error.to_owned()),
            (None, Some(status)) if self.side.is_failure(status) => {
                Some(status.as_str().to_owned())
            }
            (None, _) => None,
        };
        if let Some(error) = error {
            labels.push(Label::new(ERROR_TYPE, error));
        }
        let labels = capped(&self.cap, labels);
        metrics::histogram!(self.histogram, labels).record(self.start.elapsed().as_secs_f64());
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.status.is_some() {
            self.finish(None);
        }
    }
}
