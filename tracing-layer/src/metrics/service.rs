use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use metrics::{Label, SharedString};
use tokio::time::Instant;
use tower_service::Service;

use super::MetricsBody;
use super::cap::SeriesCap;
use super::future::ResponseFuture;
use super::names::{
    CLIENT_ACTIVE, CLIENT_DURATION, METHOD, ROUTE, SCHEME, SERVER_ACTIVE, SERVER_ADDRESS,
    SERVER_DURATION, UNMATCHED_ROUTE,
};
use super::record::{Active, Pending, Side, capped};
use crate::semconv::{method_name, route};

/// Measures each request of the inner service; built by
/// [`MetricsLayer`](super::MetricsLayer) (server) or
/// [`ClientMetricsLayer`](super::ClientMetricsLayer) (client).
#[derive(Clone, Debug)]
#[must_use]
pub struct Metrics<S> {
    pub(super) inner: S,
    pub(super) side: Side,
    pub(super) cap: Arc<SeriesCap>,
}

impl<S> Metrics<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Metrics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<MetricsBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let start = Instant::now();
        let method = Label::new(METHOD, method_name(request.method()));
        let (histogram, gauge, labels, active_labels) = match self.side {
            Side::Server => {
                let route = route(&request).unwrap_or(UNMATCHED_ROUTE).to_owned();
                let scheme: SharedString = match request.uri().scheme_str() {
                    None | Some("http") => "http".into(),
                    Some("https") => "https".into(),
                    Some(other) => other.to_owned().into(),
                };
                (
                    SERVER_DURATION,
                    SERVER_ACTIVE,
                    vec![method.clone(), Label::new(ROUTE, route)],
                    vec![method, Label::new(SCHEME, scheme)],
                )
            }
            Side::Client => {
                let mut labels = vec![method];
                if let Some(host) = request.uri().host() {
                    labels.push(Label::new(SERVER_ADDRESS, host.to_owned()));
                }
                (CLIENT_DURATION, CLIENT_ACTIVE, labels.clone(), labels)
            }
        };
        let active = metrics::gauge!(gauge, capped(&self.cap, active_labels));
        active.increment(1.0);
        let pending = Pending {
            side: self.side,
            histogram,
            start,
            labels,
            cap: Arc::clone(&self.cap),
            status: None,
            done: false,
            _active: Active(active),
        };
        ResponseFuture::new(self.inner.call(request), pending)
    }
}
