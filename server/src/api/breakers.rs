//! `/api/breakers`: every circuit breaker of the server, manual control
//! (force open, close, reset) for operators, and run-time settings of the
//! registered ones (`PATCH`, through the resilience `Registry`).
//!
//! Listing needs `read`; control and changes need `admin` and are audited.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::State;
use http::StatusCode;
use palisade_flags::time::Timestamp;
use palisade_problem::Problem;
use palisade_resilience::ConfigError;
use palisade_resilience::circuit_breaker::{CircuitBreakerHandle, LastTransition, SlidingWindow};
use palisade_resilience::registry::{BreakerConfig, LayerConfig, RegistryError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::extract::{Json, Path, nullable};
use crate::api::record;
use crate::api::{Caller, Scope};
use crate::audit::Change;
use crate::state::AppState;

/// The `/breakers` routes.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(reconfigure))
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
    /// The settings `PATCH /api/breakers/{name}` changes; `null` for a
    /// webhook endpoint's breaker, whose settings are the endpoint's.
    config: Option<BreakerSettings>,
}

/// A registered breaker's settings that can change while it serves.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub(crate) struct BreakerSettings {
    /// The failure rate (percent, 0 to 100) at or above which it opens.
    #[schema(example = 50.0)]
    failure_rate_threshold: f64,
    /// How many calls the window must hold before its rate is judged.
    #[schema(example = 10)]
    minimum_calls: u32,
    /// Opens after this many failures in a row, whatever the rate; `null`:
    /// off.
    #[schema(example = 5)]
    consecutive_failures: Option<u32>,
    /// How long it stays open before probing, in milliseconds.
    #[schema(example = 10_000)]
    wait_duration_in_open_ms: u64,
    /// Which calls the rate is judged on.
    sliding_window: WindowSettings,
}

/// A breaker's sliding window: `{"count": n}`, the last `n` calls, or
/// `{"duration_ms": d, "buckets": b}`, the calls of the last `d` ms kept in
/// `b` equal buckets (the oldest bucket leaves as a whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum WindowSettings {
    /// The last `count` calls.
    Count(CountWindow),
    /// The calls of the last `duration_ms`, in `buckets` buckets.
    Time(TimeWindow),
}

/// The last `count` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CountWindow {
    /// How many calls (1 to 1,000,000).
    #[schema(example = 20, minimum = 1, maximum = 1_000_000)]
    count: u32,
}

/// The calls of the last `duration_ms` milliseconds, in `buckets` buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimeWindow {
    /// How far back the window reaches, in milliseconds.
    #[schema(example = 60_000, minimum = 1)]
    duration_ms: u64,
    /// How many equal buckets it is kept in (1 to 10,000).
    #[schema(example = 12, minimum = 1, maximum = 10_000)]
    buckets: u32,
}

impl From<SlidingWindow> for WindowSettings {
    fn from(window: SlidingWindow) -> Self {
        match window {
            SlidingWindow::Time { duration, buckets } => Self::Time(TimeWindow {
                duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                buckets,
            }),
            SlidingWindow::Count(count) => Self::Count(CountWindow { count }),
            // `SlidingWindow` is non-exhaustive; a kind added later shows
            // as an impossible count (0) until the API learns it.
            _ => Self::Count(CountWindow { count: 0 }),
        }
    }
}

impl From<WindowSettings> for SlidingWindow {
    fn from(window: WindowSettings) -> Self {
        match window {
            WindowSettings::Count(CountWindow { count }) => Self::count(count),
            WindowSettings::Time(TimeWindow {
                duration_ms,
                buckets,
            }) => Self::time(Duration::from_millis(duration_ms), buckets),
        }
    }
}

impl From<BreakerConfig> for BreakerSettings {
    fn from(config: BreakerConfig) -> Self {
        Self {
            failure_rate_threshold: config.failure_rate_threshold,
            minimum_calls: config.minimum_calls,
            consecutive_failures: config.consecutive_failures.map(NonZeroU32::get),
            wait_duration_in_open_ms: u64::try_from(config.wait_duration_in_open.as_millis())
                .unwrap_or(u64::MAX),
            sliding_window: config.sliding_window.into(),
        }
    }
}

/// A registered layer's settings as the API shows them (in the audit log
/// and the `config` event of `/api/events`): a breaker's as
/// [`BreakerSettings`]; `null` for a kind the server does not register.
pub(crate) fn settings_json(config: LayerConfig) -> serde_json::Value {
    match config {
        LayerConfig::Breaker(config) => {
            serde_json::to_value(BreakerSettings::from(config)).unwrap_or_default()
        }
        _ => serde_json::Value::Null,
    }
}

/// The settings to change; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BreakerChange {
    /// A new failure rate threshold (percent, 0 to 100).
    #[serde(default)]
    failure_rate_threshold: Option<f64>,
    /// A new minimum of calls (at least 1; capped to the window's size).
    #[serde(default)]
    #[schema(minimum = 1)]
    minimum_calls: Option<u32>,
    /// A new consecutive-failure threshold; null: turn that model off.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, minimum = 1)]
    consecutive_failures: Option<Option<NonZeroU32>>,
    /// A new wait in open, in milliseconds (at least 1).
    #[serde(default)]
    #[schema(minimum = 1)]
    wait_duration_in_open_ms: Option<u64>,
    /// A new sliding window, `{"count": n}` or `{"duration_ms": d,
    /// "buckets": b}`. Another window than the current one starts over,
    /// empty; the same one keeps its counts.
    #[serde(default)]
    sliding_window: Option<WindowSettings>,
}

impl BreakerChange {
    /// `config` with this change's fields in place of its own.
    fn apply_to(&self, mut config: BreakerConfig) -> BreakerConfig {
        if let Some(threshold) = self.failure_rate_threshold {
            config.failure_rate_threshold = threshold;
        }
        if let Some(minimum) = self.minimum_calls {
            config.minimum_calls = minimum;
        }
        if let Some(consecutive) = self.consecutive_failures {
            config.consecutive_failures = consecutive;
        }
        if let Some(wait) = self.wait_duration_in_open_ms {
            config.wait_duration_in_open = Duration::from_millis(wait);
        }
        if let Some(window) = self.sliding_window {
            config.sliding_window = window.into();
        }
        config
    }
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

/// The registered breaker's settings, if `name` is registered.
fn registered_config(state: &AppState, name: &str) -> Option<BreakerConfig> {
    match state.breakers.registry().config(name)? {
        LayerConfig::Breaker(config) => Some(config),
        // The server registers only breakers; another kind is not one.
        _ => None,
    }
}

impl BreakerView {
    fn new(state: &AppState, name: String, handle: &CircuitBreakerHandle) -> Self {
        let config = registered_config(state, &name).map(BreakerSettings::from);
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
            config,
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
        .map(|(name, handle)| BreakerView::new(&state, name, &handle))
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
    let handle = state
        .breakers
        .get(&name)
        .ok_or_else(|| unknown_breaker(&name))?;
    let before = BreakerView::new(state, name.clone(), &handle);
    match control {
        Control::ForceOpen => handle.force_open(),
        // The handle has one way back to Closed: `reset`, which also empties
        // the window. `close` names the operator's intent (end a forced
        // open or an outage now); `reset` the bookkeeping one.
        Control::Close | Control::Reset => handle.reset(),
    }
    let after = BreakerView::new(state, name.clone(), &handle);
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

fn unknown_breaker(name: &str) -> Problem {
    Problem::palisade(StatusCode::NOT_FOUND, "not_found").with_detail(format!(
        "no breaker named `{name}`; GET /api/breakers lists them"
    ))
}

/// Changes a registered breaker's settings while it serves: the next call
/// to complete is judged by them. Absent fields stay as they are; a value
/// out of range changes nothing.
#[utoipa::path(
    patch,
    path = "/breakers/{name}",
    tag = "breakers",
    params(("name" = String, Path, description = "The breaker's name")),
    request_body = BreakerChange,
    responses(
        (status = 200, description = "The breaker with its new settings", body = BreakerView),
        (status = 403, description = "`insufficient_scope`: needs `admin`"),
        (status = 404, description = "`not_found`: no breaker, or a webhook endpoint's, whose settings are the endpoint's"),
        (status = 422, description = "`invalid_body`: a field of the wrong type or out of range, named in `detail` and `field`"),
    )
)]
pub(crate) async fn reconfigure(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(change): Json<BreakerChange>,
) -> Result<Json<BreakerView>, Problem> {
    caller.require(Scope::Admin)?;
    let registry = state.breakers.registry();
    let (Some(current), Some(handle)) =
        (registered_config(&state, &name), state.breakers.get(&name))
    else {
        return Err(unknown_breaker(&name));
    };
    let changed = registry
        .reconfigure(&name, LayerConfig::Breaker(change.apply_to(current)))
        .map_err(|error| refused(&name, error))?;
    record(
        &state,
        &caller,
        Change {
            action: "breaker.reconfigure",
            target: name.clone(),
            before: Some(settings_json(changed.before)),
            after: Some(settings_json(changed.after)),
        },
    )
    .await?;
    Ok(Json(BreakerView::new(&state, name, &handle)))
}

/// The problem for a change the registry refused.
fn refused(name: &str, error: RegistryError) -> Problem {
    match error {
        RegistryError::Invalid { error, .. } => {
            let problem = Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
            match config_field(&error) {
                // The registry names the setting as the library does; the
                // detail leads with the body's name for it.
                Some(field) => problem
                    .with_detail(format!("`{field}`: {error}; the settings were not changed"))
                    .with_extension("field", field),
                None => problem.with_detail(format!("{error}; the settings were not changed")),
            }
        }
        // Registered between the lookup and the change is impossible (the
        // server never unregisters, and registers only breakers), but a
        // refusal is still an answer: this name is no breaker of ours.
        RegistryError::UnknownName { .. }
        | RegistryError::KindMismatch { .. }
        | RegistryError::NotReconfigurable { .. } => unknown_breaker(name),
        other => Problem::palisade(StatusCode::INTERNAL_SERVER_ERROR, "internal")
            .with_detail(other.to_string()),
    }
}

/// The API's name of the setting a [`ConfigError`] is about.
fn config_field(error: &ConfigError) -> Option<&'static str> {
    let field = match error {
        ConfigError::Zero { field }
        | ConfigError::OutOfRange { field, .. }
        | ConfigError::NotFinite { field } => *field,
        _ => return None,
    };
    Some(match field {
        "wait_duration_in_open" => "wait_duration_in_open_ms",
        "sliding_window" => "sliding_window.count",
        "sliding_window.duration" => "sliding_window.duration_ms",
        other => other,
    })
}
