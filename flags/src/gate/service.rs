//! [`FlagGate`]: evaluates the flag and routes the request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use tower_service::Service;

use super::disabled::OnDisabled;
use super::extract::{ExtractContext, MissingContext, Scratch};
use super::future::ResponseFuture;
use crate::{Evaluation, Flags};

/// A service gated on a flag; made by [`FlagGateLayer`](super::FlagGateLayer).
#[must_use]
#[derive(Debug, Clone)]
pub struct FlagGate<S, X, O> {
    pub(super) inner: S,
    pub(super) on_disabled: O,
    /// Shared by every clone, so a clone per request costs one reference
    /// count.
    pub(super) gate: Arc<Gate<X>>,
}

#[derive(Debug)]
pub(super) struct Gate<X> {
    pub(super) flags: Arc<Flags>,
    pub(super) key: Arc<str>,
    pub(super) extract: X,
    /// A set-up problem is logged once, not once per request.
    pub(super) reported_missing_context: AtomicBool,
}

impl<X: ExtractContext> Gate<X> {
    /// The flag for this request, from a context that borrows the request
    /// head and lives on this stack frame only.
    fn evaluate(&self, request: &http::request::Parts) -> Result<Evaluation, MissingContext> {
        let scratch = Scratch::new();
        let context = self
            .extract
            .extract(request, &scratch, crate::Context::new())?;
        Ok(self.flags.evaluate(&self.key, &context))
    }

    fn report(&self, missing: &MissingContext) {
        if !self.reported_missing_context.swap(true, Ordering::Relaxed) {
            tracing::error!(
                flag = %self.key,
                cause = missing.cause(),
                "flag gate cannot build the evaluation context; answering 500"
            );
        }
    }
}

impl<S, X, O> FlagGate<S, X, O> {
    /// The gated service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The gated service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The gated service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, X, O, B, ResBody> Service<Request<B>> for FlagGate<S, X, O>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    O: OnDisabled<Request<B>, Response<ResBody>, S::Error>,
    X: ExtractContext,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, O::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Which of the two answers is known only in `call`: both must be
        // ready (as tower's `Steer` does).
        ready!(self.inner.poll_ready(cx))?;
        self.on_disabled.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (mut head, body) = request.into_parts();
        let evaluation = match self.gate.evaluate(&head) {
            Ok(evaluation) => evaluation,
            Err(missing) => {
                self.gate.report(&missing);
                return ResponseFuture::refused(missing.to_problem().into_http_response());
            }
        };
        if let Some(code) = evaluation.error_code() {
            tracing::debug!(flag = %self.gate.key, error = %code, "flag gate: evaluation failed, treated as off");
        }
        let enabled = evaluation.is_enabled();
        head.extensions.insert(evaluation);
        let request = Request::from_parts(head, body);
        if enabled {
            ResponseFuture::enabled(self.inner.call(request))
        } else {
            ResponseFuture::disabled(self.on_disabled.call(request))
        }
    }
}
