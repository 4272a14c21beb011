//! `/api/webhooks/endpoints`: where messages are delivered.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::State;
use http::StatusCode;
use palisade_problem::Problem;
use palisade_webhooks::Secret;
use palisade_webhooks::store::{DEFAULT_APPLICATION, DisabledReason, Endpoint, NewEndpoint};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{endpoint_problem, store_problem, unsafe_url};
use super::stats::{DeliveryStats, delivery_stats, endpoint_stats};
use super::{from_millis, millis, now, webhooks};
use crate::api::extract::{Json, Path, Query, nullable};
use crate::api::record;
use crate::api::{Caller, Scope};
use crate::audit::Change;
use crate::state::AppState;

/// How long the previous secret keeps signing after a rotation, unless the
/// request says otherwise: a day, time for receivers to pick up the new one.
const DEFAULT_OVERLAP_SECONDS: u64 = 24 * 60 * 60;
/// The longest overlap a rotation may ask for (30 days).
const MAX_OVERLAP_SECONDS: u64 = 30 * 24 * 60 * 60;
/// The page size of the list when the request names none, and the largest.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 500;

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateEndpoint {
    /// Where messages are POSTed: `http(s)://`, checked against the server's
    /// SSRF rules (`--webhook-allow-net`, `--webhook-allow-host`,
    /// `--webhook-https-only`).
    url: String,
    /// Free text for the people who own it.
    #[serde(default)]
    description: String,
    /// The tenant that owns it (default `default`).
    #[serde(default)]
    application: Option<String>,
    /// Event types it receives; absent or null: every type.
    #[serde(default)]
    event_types: Option<Vec<String>>,
    /// Channels it receives; absent or null: every channel.
    #[serde(default)]
    channels: Option<Vec<String>>,
    /// The signing secret (`whsec_…`); generated when absent.
    #[serde(default)]
    secret: Option<String>,
    /// At most this many requests per second.
    #[serde(default)]
    #[schema(value_type = Option<u32>, minimum = 1)]
    rate_limit: Option<NonZeroU32>,
    /// At most this many requests in flight.
    #[serde(default)]
    #[schema(value_type = Option<u32>, minimum = 1)]
    max_concurrency: Option<NonZeroU32>,
    /// Deliver one at a time, in publish order.
    #[serde(default)]
    ordered: bool,
    /// Extra headers sent with every request.
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// Changes to an endpoint; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateEndpoint {
    /// A new URL (checked like at creation).
    #[serde(default)]
    url: Option<String>,
    /// A new description.
    #[serde(default)]
    description: Option<String>,
    /// New event type filter; null: every type.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    event_types: Option<Option<Vec<String>>>,
    /// New channel filter; null: every channel.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    channels: Option<Option<Vec<String>>>,
    /// New rate limit (requests per second); null: none.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, minimum = 1)]
    rate_limit: Option<Option<NonZeroU32>>,
    /// New concurrency limit; null: none.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, minimum = 1)]
    max_concurrency: Option<Option<NonZeroU32>>,
    /// Deliver one at a time, in publish order.
    #[serde(default)]
    ordered: Option<bool>,
    /// Replaces the extra headers.
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    /// `false` disables the endpoint (nothing is delivered to it), `true`
    /// enables it again and forgets its failure streak.
    #[serde(default)]
    enabled: Option<bool>,
}

/// A secret rotation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RotateSecret {
    /// The new secret (`whsec_…`); generated when absent.
    #[serde(default)]
    secret: Option<String>,
    /// How long the previous secrets keep signing, in seconds (default a
    /// day, at most 30 days).
    #[serde(default)]
    overlap_seconds: Option<u64>,
}

/// Which dead deliveries to queue again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayDead {
    /// Only messages published at or after this time (milliseconds since
    /// the Unix epoch).
    since: i64,
}

/// The list's paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// At most this many endpoints (1 to 500, default 100).
    limit: Option<u32>,
    /// The `next` of the previous page.
    after: Option<String>,
    /// Only this application's endpoints.
    application: Option<String>,
}

/// An endpoint as the API shows it: everything but its secrets and the
/// values of its extra headers (which often carry credentials).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub(crate) struct EndpointView {
    /// `ep_…`.
    id: String,
    /// The tenant that owns it.
    application: String,
    /// Where messages are POSTed.
    url: String,
    /// Free text.
    description: String,
    /// Event types it receives; null: every type.
    event_types: Option<Vec<String>>,
    /// Channels it receives; null: every channel.
    channels: Option<Vec<String>>,
    /// Requests per second at most.
    rate_limit: Option<u32>,
    /// Requests in flight at most.
    max_concurrency: Option<u32>,
    /// One at a time, in publish order.
    ordered: bool,
    /// The names of the extra headers.
    header_names: Vec<String>,
    /// Whether messages are delivered to it.
    enabled: bool,
    /// Why it is disabled: `manual`, `gone` (it answered 410) or `failing`.
    disabled_reason: Option<String>,
    /// Since when it is disabled (ms since the Unix epoch).
    disabled_at: Option<i64>,
    /// Since when every attempt has failed (ms since the Unix epoch).
    failing_since: Option<i64>,
    /// How many secrets sign its messages (more than one during a rotation).
    active_secrets: usize,
    /// When it was created (ms since the Unix epoch).
    created_at: i64,
}

impl From<&Endpoint> for EndpointView {
    fn from(e: &Endpoint) -> Self {
        Self {
            id: e.id.clone(),
            application: e.application.clone(),
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e.event_types.clone(),
            channels: e.channels.clone(),
            rate_limit: e.rate_limit,
            max_concurrency: e.max_concurrency,
            ordered: e.ordered,
            header_names: e.headers.iter().map(|(name, _)| name.clone()).collect(),
            enabled: e.disabled.is_none(),
            disabled_reason: e.disabled.as_ref().map(|(r, _)| r.as_str().to_owned()),
            disabled_at: e.disabled.as_ref().map(|(_, at)| millis(*at)),
            failing_since: e.failing_since.map(millis),
            active_secrets: e.secrets.len(),
            created_at: millis(e.created_at),
        }
    }
}

impl EndpointView {
    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A new endpoint with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedEndpoint {
    /// The endpoint.
    #[serde(flatten)]
    endpoint: EndpointView,
    /// The signing secret (`whsec_…`): keep it, it is not shown again.
    secret: String,
}

/// How an endpoint is doing right now, from its circuit breaker's window.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EndpointBreaker {
    /// The breaker's state: `closed`, `open`, `half_open`, `forced_open`,
    /// `disabled`.
    breaker_state: String,
    /// Attempts in the breaker's window.
    calls_in_window: u64,
    /// Failed attempts in the breaker's window.
    failures_in_window: u64,
    /// Successful attempts as a percentage of the window; null before the
    /// first attempt.
    success_rate: Option<f64>,
}

/// An endpoint with how it is doing.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EndpointDetail {
    /// The endpoint.
    #[serde(flatten)]
    endpoint: EndpointView,
    /// Its deliveries and its last hour of attempts, as in the list.
    stats: DeliveryStats,
    /// Its circuit breaker's current window.
    breaker: EndpointBreaker,
}

/// An endpoint in the list, with its delivery statistics.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EndpointListItem {
    /// The endpoint.
    #[serde(flatten)]
    endpoint: EndpointView,
    /// Its deliveries and its last hour of attempts.
    stats: DeliveryStats,
}

/// A page of endpoints, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EndpointPage {
    /// The endpoints, each with its statistics.
    items: Vec<EndpointListItem>,
    /// Pass as `after` for the next page; null on the last.
    next: Option<String>,
}

/// A rotation's new secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RotatedSecret {
    /// The new signing secret (`whsec_…`).
    secret: String,
    /// Until when the previous secrets keep signing (ms since the Unix epoch).
    previous_until: i64,
}

/// How many deliveries were queued again.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Replayed {
    /// Deliveries queued again.
    pub(super) replayed: u64,
}

/// Parses a given secret, or generates one.
#[allow(clippy::result_large_err)] // returned straight away as the response
fn secret_or_generate(given: Option<&str>) -> Result<Secret, Problem> {
    match given {
        None => Secret::try_generate().map_err(|e| {
            tracing::error!(error = %e, "cannot generate a webhook secret");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR).with_code("internal")
        }),
        Some(text) => text.parse().map_err(|e| {
            Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "invalid_secret").with_detail(
                format!(
                    "secret: {e}; write whsec_ and base64, or leave it out to have one generated"
                ),
            )
        }),
    }
}

/// Creates an endpoint; its secret is in the answer once.
#[utoipa::path(
    post,
    path = "/webhooks/endpoints",
    tag = "webhooks",
    request_body = CreateEndpoint,
    responses(
        (status = 201, description = "Created; the secret is shown this once", body = CreatedEndpoint),
        (status = 403, description = "`insufficient_scope`: needs `write`"),
        (status = 422, description = "`unsafe_url` (with `reason`), `invalid_secret`, `invalid_header` or `invalid_body`"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateEndpoint>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), Problem> {
    caller.require(Scope::Write)?;
    let hooks = webhooks(&state)?;
    hooks
        .policy()
        .validate_endpoint_url(&body.url)
        .map_err(|e| unsafe_url(&e))?;
    let secret = secret_or_generate(body.secret.as_deref())?;
    let shown = secret.to_string();
    let endpoint = hooks
        .engine()
        .create_endpoint(NewEndpoint {
            application: body
                .application
                .unwrap_or_else(|| DEFAULT_APPLICATION.to_owned()),
            url: body.url,
            description: body.description,
            event_types: body.event_types,
            channels: body.channels,
            secret,
            rate_limit: body.rate_limit.map(NonZeroU32::get),
            max_concurrency: body.max_concurrency.map(NonZeroU32::get),
            ordered: body.ordered,
            headers: body.headers.into_iter().collect(),
        })
        .await
        .map_err(|e| endpoint_problem(&e))?;
    let view = EndpointView::from(&endpoint);
    record(
        &state,
        &caller,
        Change {
            action: "endpoint.create",
            target: endpoint.id.clone(),
            before: None,
            after: Some(view.json()),
        },
    )
    .await?;
    tracing::info!(endpoint = %endpoint.id, key_id = %caller.key_id, "webhook endpoint created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpoint {
            endpoint: view,
            secret: shown,
        }),
    ))
}

/// Lists endpoints, oldest first, a page at a time, each with its delivery
/// statistics (queue counts and the last hour of attempts).
#[utoipa::path(
    get,
    path = "/webhooks/endpoints",
    tag = "webhooks",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of endpoints", body = EndpointPage),
        (status = 400, description = "`invalid_query`"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<EndpointPage>, Problem> {
    caller.require(Scope::Read)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::palisade(StatusCode::BAD_REQUEST, "invalid_query")
            .with_detail(format!("limit must be within 1..={MAX_PAGE}")));
    }
    let hooks = webhooks(&state)?;
    let all = hooks
        .engine()
        .store()
        .endpoints(query.application.as_deref())
        .await
        .map_err(|e| store_problem(&e))?;
    // Oldest first: the page starts after the cursor's endpoint. A cursor
    // whose endpoint was deleted meanwhile cannot be placed: say so rather
    // than start over silently.
    let start = match &query.after {
        None => 0,
        Some(after) => all
            .iter()
            .position(|e| &e.id == after)
            .map(|i| i + 1)
            .ok_or_else(|| {
                Problem::palisade(StatusCode::BAD_REQUEST, "invalid_query").with_detail(format!(
                    "after: no endpoint `{after}` (deleted?); list again from the start"
                ))
            })?,
    };
    let limit = limit as usize;
    let page: Vec<&Endpoint> = all.iter().skip(start).take(limit).collect();
    let ids: Vec<String> = page.iter().map(|e| e.id.clone()).collect();
    // The whole page's statistics at once: two queries, whatever its size.
    let mut stats = delivery_stats(hooks.engine().store().as_ref(), &ids).await?;
    let next = (start + limit < all.len())
        .then(|| ids.last().cloned())
        .flatten();
    let items = page
        .into_iter()
        .filter_map(|e| {
            let stats = stats.remove(&e.id)?;
            Some(EndpointListItem {
                endpoint: EndpointView::from(e),
                stats,
            })
        })
        .collect();
    Ok(Json(EndpointPage { items, next }))
}

/// Reads one endpoint with its delivery statistics.
#[utoipa::path(
    get,
    path = "/webhooks/endpoints/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id, `ep_…`")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointDetail),
        (status = 404, description = "`not_found`"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EndpointDetail>, Problem> {
    caller.require(Scope::Read)?;
    let hooks = webhooks(&state)?;
    let endpoint = hooks
        .engine()
        .store()
        .endpoint(&id)
        .await
        .map_err(|e| store_problem(&e))?;
    let breaker = hooks
        .engine()
        .breakers()
        .into_iter()
        .find_map(|(key, handle)| (key == id).then_some(handle));
    let breaker = match breaker {
        None => EndpointBreaker {
            breaker_state: "closed".to_owned(),
            calls_in_window: 0,
            failures_in_window: 0,
            success_rate: None,
        },
        Some(handle) => {
            let snapshot = handle.snapshot();
            EndpointBreaker {
                breaker_state: snapshot.state.as_str().to_owned(),
                calls_in_window: snapshot.calls,
                failures_in_window: snapshot.failures,
                success_rate: (snapshot.calls > 0).then(|| 100.0 - snapshot.failure_rate()),
            }
        }
    };
    let stats = endpoint_stats(hooks.engine().store().as_ref(), &id).await?;
    Ok(Json(EndpointDetail {
        endpoint: EndpointView::from(&endpoint),
        stats,
        breaker,
    }))
}

/// Changes an endpoint's settings, or disables / enables it.
#[utoipa::path(
    patch,
    path = "/webhooks/endpoints/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id, `ep_…`")),
    request_body = UpdateEndpoint,
    responses(
        (status = 200, description = "The endpoint as it is now", body = EndpointView),
        (status = 403, description = "`insufficient_scope`: needs `write`"),
        (status = 404, description = "`not_found`"),
        (status = 422, description = "`unsafe_url` (with `reason`), `invalid_header` or `invalid_body`"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateEndpoint>,
) -> Result<Json<EndpointView>, Problem> {
    caller.require(Scope::Write)?;
    let hooks = webhooks(&state)?;
    let store = hooks.engine().store();
    let current = store.endpoint(&id).await.map_err(|e| store_problem(&e))?;
    let mut changed = current.clone();
    if let Some(url) = body.url {
        hooks
            .policy()
            .validate_endpoint_url(&url)
            .map_err(|e| unsafe_url(&e))?;
        changed.url = url;
    }
    if let Some(description) = body.description {
        changed.description = description;
    }
    if let Some(event_types) = body.event_types {
        changed.event_types = event_types;
    }
    if let Some(channels) = body.channels {
        changed.channels = channels;
    }
    if let Some(rate_limit) = body.rate_limit {
        changed.rate_limit = rate_limit.map(NonZeroU32::get);
    }
    if let Some(max_concurrency) = body.max_concurrency {
        changed.max_concurrency = max_concurrency.map(NonZeroU32::get);
    }
    if let Some(ordered) = body.ordered {
        changed.ordered = ordered;
    }
    if let Some(headers) = body.headers {
        changed.headers = headers.into_iter().collect();
    }
    if changed != current {
        hooks
            .engine()
            .update_endpoint(&changed)
            .await
            .map_err(|e| endpoint_problem(&e))?;
    }
    if let Some(enabled) = body.enabled
        && enabled == current.disabled.is_some()
    {
        let reason = (!enabled).then_some(DisabledReason::Manual);
        store
            .set_disabled(&id, reason, now())
            .await
            .map_err(|e| store_problem(&e))?;
    }
    let after = store.endpoint(&id).await.map_err(|e| store_problem(&e))?;
    let (before, after) = (EndpointView::from(&current), EndpointView::from(&after));
    if before != after {
        record(
            &state,
            &caller,
            Change {
                action: "endpoint.update",
                target: id,
                before: Some(before.json()),
                after: Some(after.json()),
            },
        )
        .await?;
    }
    Ok(Json(after))
}

/// Gives the endpoint a new secret; the previous ones keep signing for the
/// overlap, so receivers can switch without missing a message.
#[utoipa::path(
    post,
    path = "/webhooks/endpoints/{id}/rotate",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id, `ep_…`")),
    request_body = RotateSecret,
    responses(
        (status = 200, description = "The new secret, shown this once", body = RotatedSecret),
        (status = 403, description = "`insufficient_scope`: needs `write`"),
        (status = 404, description = "`not_found`"),
        (status = 422, description = "`invalid_secret` or `invalid_body`"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<RotateSecret>,
) -> Result<Json<RotatedSecret>, Problem> {
    caller.require(Scope::Write)?;
    let overlap = body.overlap_seconds.unwrap_or(DEFAULT_OVERLAP_SECONDS);
    if overlap > MAX_OVERLAP_SECONDS {
        return Err(
            Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").with_detail(
                format!("overlap_seconds must be at most {MAX_OVERLAP_SECONDS} (30 days)"),
            ),
        );
    }
    let hooks = webhooks(&state)?;
    let store = hooks.engine().store();
    let before = store.endpoint(&id).await.map_err(|e| store_problem(&e))?;
    let secret = secret_or_generate(body.secret.as_deref())?;
    let shown = secret.to_string();
    let at = now();
    let overlap = Duration::from_secs(overlap);
    store
        .rotate_secret(&id, secret, overlap, at)
        .await
        .map_err(|e| store_problem(&e))?;
    let after = store.endpoint(&id).await.map_err(|e| store_problem(&e))?;
    record(
        &state,
        &caller,
        Change {
            action: "endpoint.rotate_secret",
            target: id.clone(),
            before: Some(EndpointView::from(&before).json()),
            after: Some(EndpointView::from(&after).json()),
        },
    )
    .await?;
    tracing::info!(endpoint = %id, key_id = %caller.key_id, ?overlap, "webhook endpoint secret rotated");
    Ok(Json(RotatedSecret {
        secret: shown,
        previous_until: millis(at + overlap),
    }))
}

/// Deletes an endpoint with its deliveries and attempts.
#[utoipa::path(
    delete,
    path = "/webhooks/endpoints/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id, `ep_…`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`insufficient_scope`: needs `write`"),
        (status = 404, description = "`not_found`"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    caller.require(Scope::Write)?;
    let hooks = webhooks(&state)?;
    let store = hooks.engine().store();
    let before = store.endpoint(&id).await.map_err(|e| store_problem(&e))?;
    store
        .delete_endpoint(&id)
        .await
        .map_err(|e| store_problem(&e))?;
    record(
        &state,
        &caller,
        Change {
            action: "endpoint.delete",
            target: id.clone(),
            before: Some(EndpointView::from(&before).json()),
            after: None,
        },
    )
    .await?;
    tracing::info!(endpoint = %id, key_id = %caller.key_id, "webhook endpoint deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Queues again the endpoint's dead deliveries of messages published since
/// a time.
#[utoipa::path(
    post,
    path = "/webhooks/endpoints/{id}/replay",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id, `ep_…`")),
    request_body = ReplayDead,
    responses(
        (status = 200, description = "How many were queued again", body = Replayed),
        (status = 403, description = "`insufficient_scope`: needs `write`"),
        (status = 404, description = "`not_found`"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn replay_dead(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<ReplayDead>,
) -> Result<Json<Replayed>, Problem> {
    caller.require(Scope::Write)?;
    let hooks = webhooks(&state)?;
    let store = hooks.engine().store();
    // The store replays nothing for an unknown id; the caller is told so.
    store.endpoint(&id).await.map_err(|e| store_problem(&e))?;
    let replayed = store
        .replay_dead(&id, from_millis(body.since), now())
        .await
        .map_err(|e| store_problem(&e))?;
    record(
        &state,
        &caller,
        Change {
            action: "endpoint.replay_dead",
            target: id,
            before: None,
            after: Some(serde_json::json!({ "since": body.since, "replayed": replayed })),
        },
    )
    .await?;
    Ok(Json(Replayed { replayed }))
}
