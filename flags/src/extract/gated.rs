//! [`Gated`]: the gate's evaluation, in the handler.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use palisade_problem::Problem;

use crate::Evaluation;

/// The [`Evaluation`] of the flag a [`FlagGateLayer`](crate::gate::FlagGateLayer)
/// gated this request on (the innermost gate's, when there are several):
/// which variant to serve. Behind a gate with the default answer it is always
/// enabled; behind a fallback it may not be.
///
/// A handler that is not behind a gate is a set-up mistake: it is rejected
/// with 500 problem+json `flag_gate_missing` (use `Option<Gated>` where the
/// gate is optional).
#[derive(Debug, Clone)]
pub struct Gated(pub Evaluation);

impl<S: Send + Sync> FromRequestParts<S> for Gated {
    type Rejection = GateMissing;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Evaluation>()
            .cloned()
            .map(Gated)
            .ok_or(GateMissing)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Gated {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Evaluation>().cloned().map(Gated))
    }
}

/// [`Gated`] was used in a handler that no flag gate is in front of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GateMissing;

impl std::fmt::Display for GateMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "no flag gate evaluated this request: add a `FlagGateLayer` in front of the handler",
        )
    }
}

impl std::error::Error for GateMissing {}

impl IntoResponse for GateMissing {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        Problem::palisade(StatusCode::INTERNAL_SERVER_ERROR, "flag_gate_missing")
            .with_title("Flag gate missing")
            .with_detail("the server cannot evaluate a feature flag for this request")
            .into_response()
    }
}
