//! `/api/breakers`: every circuit breaker of the server, and manual control
//! (force open, close, reset) for operators.
//!
//! Listing needs `read`; control needs `admin` and is audited.

use axum::extract::State;
use http::StatusCode;
use palisade_flags::time::Timestamp;
use palisade_problem::Problem;
use palisade_resilience::circuit_breaker::{CircuitBreakerHandle, LastTransition};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::extract::{Json, Path};
use crate::api::record;
use crate::api::{Caller, Scope};
use crate::audit::Change;
use crate::state::AppState;

/// The `/breakers` routes.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(force_open))
        .routes(routes!(close))
        .routes(routes!(reset))
}

/// One breaker as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub(crate) struct BreakerView {
    /// Its name: `demo-upstream`, or `webhook:<endpoint id>` for a webhook
    /// endpoint's.
    name: String,
    /// `closed`, `open`, `half_open`, `forced_open` or `disabled`.
    state: String,
    /// Failed calls as a percentage of the calls in the window.
    failure_rate: f64,
    /// Calls in the sliding window.
    calls: u64,
    /// Failed calls in the sliding window.
    failures: u64,
    /// Slow calls in the sliding window.
    slow_calls: u64,
    /// Calls rejected since the breaker was built.
    rejected: u64,
    /// Its last change of state; `null` while it never changed.
    last_transition: Option<TransitionView>,
}

/// A breaker's change of state, as the API (and the `breaker` event of
/// `/api/events`) shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct TransitionView {
    /// The state it left.
    #[schema(example = "closed")]
    pub(crate) from: String,
    /// The state it entered.
    #[schema(example = "open")]
    pub(crate) to: String,
    /// When, RFC 3339 in UTC to the millisecond.
    #[schema(example = "2026-11-27T03:04:05.678Z")]
    pub(crate) at: String,
}

impl From<LastTransition> for TransitionView {
    fn from(last: LastTransition) -> Self {
        Self {
            from: last.from.as_str().to_owned(),
            to: last.to.as_str().to_owned(),
            at: Timestamp::from_system_time(last.at).to_string(),
        }
    }
}

impl BreakerView {
    fn new(name: String, handle: &CircuitBreakerHandle) -> Self {
        let snapshot = handle.snapshot();
        Self {
            name,
            state: snapshot.state.as_str().to_owned(),
            failure_rate: snapshot.failure_rate(),
            calls: snapshot.calls,
            failures: snapshot.failures,
            slow_calls: snapshot.slow_calls,
            rejected: snapshot.rejected,
            last_transition: handle.last_transition().map(TransitionView::from),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Every breaker.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BreakerList {
    /// The server's own breakers first, then the webhook endpoints' by name.
    items: Vec<BreakerView>,
}

/// Lists every breaker with its state and counts.
#[utoipa::path(
    get,
    path = "/breakers",
    tag = "breakers",
    responses((status = 200, description = "Every breaker", body = BreakerList))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<BreakerList>, Problem> {
    caller.require(Scope::Read)?;
    let items = state
        .breakers
        .list()
        .into_iter()
        .map(|(name, handle)| BreakerView::new(name, &handle))
        .collect();
    Ok(Json(BreakerList { items }))
}

/// What an operator does to a breaker.
#[derive(Debug, Clone, Copy)]
enum Control {
    ForceOpen,
    Close,
    Reset,
}

impl Control {
    fn action(self) -> &'static str {
        match self {
            Self::ForceOpen => "breaker.force_open",
            Self::Close => "breaker.close",
            Self::Reset => "breaker.reset",
        }
    }
}

async fn control(
    state: &AppState,
    caller: &Caller,
    name: String,
    control: Control,
) -> Result<Json<BreakerView>, Problem> {
    caller.require(Scope::Admin)?;
    let handle = state.breakers.get(&name).ok_or_else(|| {
        Problem::palisade(StatusCode::NOT_FOUND, "not_found").with_detail(format!(
            "no breaker named `{name}`; GET /api/breakers lists them"
        ))
    })?;
    let before = BreakerView::new(name.clone(), &handle);
    match control {
        Control::ForceOpen => handle.force_open(),
        // The handle has one way back to Closed: `reset`, which also empties
        // the window. `close` names the operator's intent (end a forced
        // open or an outage now); `reset` the bookkeeping one.
        Control::Close | Control::Reset => handle.reset(),
    }
    let after = BreakerView::new(name.clone(), &handle);
    tracing::warn!(
        breaker = %name,
        from = %before.state,
        to = %after.state,
        key_id = %caller.key_id,
        action = control.action(),
        "circuit breaker changed by hand"
    );
    record(
        state,
        caller,
        Change {
            action: control.action(),
            target: name,
            before: Some(before.json()),
            after: Some(after.json()),
        },
    )
    .await?;
    Ok(Json(after))
}

/// Opens a breaker until it is closed or reset: every call through it is
/// refused.
#[utoipa::path(
    post,
    path = "/breakers/{name}/force-open",
    tag = "breakers",
    params(("name" = String, Path, description = "The breaker's name")),
    responses(
        (status = 200, description = "The breaker as it is now", body = BreakerView),
        (status = 403, description = "`insufficient_scope`: needs `admin`"),
        (status = 404, description = "`not_found`"),
    )
)]
pub(crate) async fn force_open(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<BreakerView>, Problem> {
    control(&state, &caller, name, Control::ForceOpen).await
}

/// Closes a breaker now, whatever its state (a forced open, an outage).
#[utoipa::path(
    post,
    path = "/breakers/{name}/close",
    tag = "breakers",
    params(("name" = String, Path, description = "The breaker's name")),
    responses(
        (status = 200, description = "The breaker as it is now", body = BreakerView),
        (status = 403, description = "`insufficient_scope`: needs `admin`"),
        (status = 404, description = "`not_found`"),
    )
)]
pub(crate) async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<BreakerView>, Problem> {
    control(&state, &caller, name, Control::Close).await
}

/// Resets a breaker: Closed, with an empty window and the initial wait.
#[utoipa::path(
    post,
    path = "/breakers/{name}/reset",
    tag = "breakers",
    params(("name" = String, Path, description = "The breaker's name")),
    responses(
        (status = 200, description = "The breaker as it is now", body = BreakerView),
        (status = 403, description = "`insufficient_scope`: needs `admin`"),
        (status = 404, description = "`not_found`"),
    )
)]
pub(crate) async fn reset(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<BreakerView>, Problem> {
    control(&state, &caller, name, Control::Reset).await
}
