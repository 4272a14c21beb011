//! `GET /api/audit`: the audit log, newest first, paged by id.

// Handlers answer with the problem straight away (as `Caller::require`).
#![allow(clippy::result_large_err)]

use axum::extract::State;
use http::StatusCode;
use palisade_problem::Problem;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Query};
use super::{Caller, Scope};
use crate::audit::Entry;
use crate::state::AppState;
use crate::store::to_millis;

/// The most entries one page holds.
pub(crate) const MAX_LIMIT: u32 = 500;
/// The entries of a page when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: u32 = 100;

/// The `/api/audit` routes.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// Which page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    /// Entries with ids below this (the previous page's `next`).
    before: Option<i64>,
    /// At most this many entries, 1 to 500 (default 100).
    limit: Option<u32>,
}

/// One recorded change.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EntryView {
    /// Increasing id.
    id: i64,
    /// The API key id that made the change.
    actor: String,
    /// When, Unix milliseconds.
    at: i64,
    /// `noun.verb`, e.g. `key.create`.
    action: String,
    /// What was changed.
    target: String,
    /// Before the change (`null` when created).
    #[schema(value_type = Option<Object>)]
    before: Option<Value>,
    /// After the change (`null` when deleted).
    #[schema(value_type = Option<Object>)]
    after: Option<Value>,
}

impl From<Entry> for EntryView {
    fn from(e: Entry) -> Self {
        Self {
            id: e.id,
            actor: e.actor,
            at: to_millis(e.at),
            action: e.change.action.to_owned(),
            target: e.change.target,
            before: e.change.before,
            after: e.change.after,
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditPage {
    /// Newest first.
    entries: Vec<EntryView>,
    /// Pass as `before` for the next (older) page; `null` on the last page.
    next: Option<i64>,
}

/// The audit log, newest first (admin).
#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    params(Page),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 400, description = "Bad paging parameters", content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<Page>,
) -> Result<Json<AuditPage>, Problem> {
    caller.require(Scope::Admin)?;
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(Problem::palisade(StatusCode::BAD_REQUEST, "invalid_query")
            .with_detail(format!("`limit` must be 1 to {MAX_LIMIT}")));
    }
    // Ask for one more than the page, to know whether an older page exists.
    let mut entries = state
        .audit
        .list(page.before, limit + 1)
        .await
        .map_err(|error| {
            tracing::error!(%error, "cannot read the audit log");
            Problem::palisade(StatusCode::INTERNAL_SERVER_ERROR, "internal")
                .with_detail("cannot read the audit log; see the server log")
        })?;
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next = if more {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(AuditPage {
        entries: entries.into_iter().map(EntryView::from).collect(),
        next,
    }))
}
