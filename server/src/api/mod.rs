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
mod caller;
pub mod extract;
mod keys;

pub use caller::{Caller, Scope};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every `/api` route with its OpenAPI description, paths relative to `/api`.
#[must_use]
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(keys::routes())
        .merge(audit::routes())
}
