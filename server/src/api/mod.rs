//! The `/api` routes: JSON in and out, every error RFC 9457 problem+json.
//!
//! Contract shared by every API module:
//! - each module exposes `pub(crate) fn routes() -> OpenApiRouter<AppState>`
//!   built with `utoipa_axum::routes!`, so every handler is in the OpenAPI
//!   document by construction, and [`router`] merges them;
//! - handlers take [`extract::Json`], [`extract::Query`] and [`extract::Path`]
//!   (problem+json rejections), never axum's own;
//! - a handler that needs a caller takes a [`Caller`] argument (inserted into
//!   the request's extensions by the authentication layer) and calls
//!   [`Caller::require`] with the scope it needs before doing anything;
//! - every change is recorded once it has succeeded with
//!   [`Audit::record`](crate::audit::Audit::record), naming the caller, the
//!   action, the target and the before/after JSON.

mod audit;
pub(crate) mod breakers;
mod caller;
mod events;
pub mod extract;
pub(crate) mod flags;
mod keys;
pub mod webhooks;

pub use caller::{Caller, Scope};
use http::StatusCode;
use palisade_problem::Problem;
use utoipa_axum::router::OpenApiRouter;

use crate::audit::Change;

use crate::state::AppState;

/// Every `/api` route with its OpenAPI description, paths relative to `/api`.
#[must_use]
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(webhooks::routes())
        .merge(breakers::routes())
        .merge(events::routes())
        .merge(flags::routes())
        .merge(keys::routes())
        .merge(audit::routes())
}

/// Records a change made by `caller` in the audit log. The change has been
/// made already, so a failure to record it is a 500 `audit_failed` (logged),
/// never a silent success.
///
/// # Errors
///
/// The 500 problem.
#[allow(clippy::result_large_err)] // returned straight away as the response
pub(crate) async fn record(
    state: &AppState,
    caller: &Caller,
    change: Change,
) -> Result<(), Problem> {
    let action = change.action;
    let target = change.target.clone();
    state.audit.record(caller, change).await.map_err(|e| {
        tracing::error!(error = %e, action, %target, key_id = %caller.key_id, "audit record failed");
        Problem::palisade(StatusCode::INTERNAL_SERVER_ERROR, "audit_failed")
            .with_detail("the change was made but could not be written to the audit log")
    })
}
