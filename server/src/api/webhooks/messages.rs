//! `/api/webhooks/messages`: publishing, and what became of a message.

use axum::extract::State;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use palisade_problem::Problem;
use palisade_webhooks::store::{
    Attempt, AttemptResult, DEFAULT_APPLICATION, Delivery, Message, NewMessage, RecentMessage,
    StoreError,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::endpoints::Replayed;
use super::error::{publish_problem, store_problem};
use super::{millis, now, webhooks};
use crate::api::extract::{Json, Path, Query};
use crate::api::record;
use crate::api::{Caller, Scope};
use crate::audit::Change;
use crate::state::AppState;

/// The header naming a publish, so that a retried request stores nothing new.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The longest idempotency key accepted.
const MAX_IDEMPOTENCY_KEY: usize = 255;
/// The page size of the message list when the request names none, and the
/// largest.
const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 200;

/// A message to publish.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishMessage {
    /// Its event type (it must exist; its JSON Schema, if any, is checked).
    event_type: String,
    /// Channels it is published on.
    #[serde(default)]
    channels: Vec<String>,
    /// The JSON every subscribed endpoint receives.
    payload: Value,
    /// The tenant whose endpoints receive it (default `default`).
    #[serde(default)]
    application: Option<String>,
}

/// What a publish did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PublishedView {
    /// The message id, `msg_…` (the `webhook-id` endpoints receive).
    id: String,
    /// `false` when the `Idempotency-Key` was used before for this same
    /// message: nothing new was stored.
    created: bool,
    /// How many endpoints it is delivered to.
    deliveries: u64,
}

/// Which messages to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// The endpoint whose messages are listed, `ep_…`.
    endpoint_id: String,
    /// At most this many messages (1 to 200, default 20).
    limit: Option<u32>,
    /// The `next` of the previous page: only messages published before it.
    before: Option<String>,
}

/// A message as the endpoint's list shows it, with its delivery there.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageSummary {
    /// `msg_…`.
    id: String,
    /// Its event type.
    event_type: String,
    /// When it was published (ms since the Unix epoch).
    created_at: i64,
    /// Its delivery to the endpoint.
    delivery: DeliveryView,
}

impl From<&RecentMessage> for MessageSummary {
    fn from(m: &RecentMessage) -> Self {
        Self {
            id: m.message_id.clone(),
            event_type: m.event_type.clone(),
            created_at: millis(m.created_at),
            delivery: DeliveryView::from(&m.delivery),
        }
    }
}

/// A page of an endpoint's messages, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessagePage {
    /// The messages.
    items: Vec<MessageSummary>,
    /// Pass as `before` for the next page; null on the last.
    next: Option<String>,
}

/// One delivery of a message to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    /// The delivery's id.
    id: i64,
    /// The endpoint.
    endpoint_id: String,
    /// `pending`, `delivering`, `succeeded`, `failed_retrying` or `dead`.
    state: String,
    /// Attempts made.
    attempts: u32,
    /// When the next attempt is due (ms since the Unix epoch); null once finished.
    next_attempt_at: Option<i64>,
    /// When it last changed (ms since the Unix epoch).
    updated_at: i64,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id,
            endpoint_id: d.endpoint_id.clone(),
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at.map(millis),
            updated_at: millis(d.updated_at),
        }
    }
}

/// One attempt to deliver a message.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttemptView {
    /// The delivery it belongs to.
    delivery_id: i64,
    /// The endpoint.
    endpoint_id: String,
    /// When it started (ms since the Unix epoch).
    at: i64,
    /// The endpoint's status code; null when it did not answer.
    status: Option<u16>,
    /// Why there was no answer (`timeout`, `connect`, `blocked_address`, …).
    error: Option<String>,
    /// Milliseconds to the answer (or the failure).
    latency_ms: u64,
    /// The start of the answer's body.
    response_excerpt: String,
}

impl From<&Attempt> for AttemptView {
    fn from(a: &Attempt) -> Self {
        let (status, error) = match &a.result {
            AttemptResult::Status(code) => (Some(*code), None),
            AttemptResult::Transport(kind) => (None, Some(kind.clone())),
        };
        Self {
            delivery_id: a.delivery_id,
            endpoint_id: a.endpoint_id.clone(),
            at: millis(a.at),
            status,
            error,
            latency_ms: u64::try_from(a.latency.as_millis()).unwrap_or(u64::MAX),
            response_excerpt: a.response_excerpt.clone(),
        }
    }
}

/// A message with its deliveries and attempts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageView {
    /// `msg_…`.
    id: String,
    /// The tenant.
    application: String,
    /// Its event type.
    event_type: String,
    /// Its channels.
    channels: Vec<String>,
    /// The payload; null once removed by the retention policy.
    payload: Option<Value>,
    /// The key it was published with.
    idempotency_key: Option<String>,
    /// When it was stored (ms since the Unix epoch).
    created_at: i64,
    /// One per endpoint it fanned out to.
    deliveries: Vec<DeliveryView>,
    /// Every attempt, oldest first.
    attempts: Vec<AttemptView>,
}

fn message_view(message: Message, deliveries: &[Delivery], attempts: &[Attempt]) -> MessageView {
    // The payload was checked to be JSON at publish; should a stored one not
    // parse, it is shown as text rather than hidden.
    let payload = message.payload.map(|bytes| {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    });
    MessageView {
        id: message.id,
        application: message.application,
        event_type: message.event_type,
        channels: message.channels,
        payload,
        idempotency_key: message.idempotency_key,
        created_at: millis(message.created_at),
        deliveries: deliveries.iter().map(DeliveryView::from).collect(),
        attempts: attempts.iter().map(AttemptView::from).collect(),
    }
}

/// The `Idempotency-Key` header, if given: 1 to 255 visible ASCII characters.
#[allow(clippy::result_large_err)] // returned straight away as the response
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let refuse = || {
        Problem::palisade(StatusCode::BAD_REQUEST, "invalid_idempotency_key").with_detail(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
        ))
    };
    let key = value.to_str().map_err(|_| refuse())?;
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(refuse());
    }
    Ok(Some(key.to_owned()))
}

/// Publishes a message to every subscribed, enabled endpoint.
///
/// With an `Idempotency-Key`, publishing the same message again answers 200
/// with the first message and stores nothing; the same key with another
/// message is a 409.
#[utoipa::path(
    post,
    path = "/webhooks/messages",
    tag = "webhooks",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried publish store nothing new")),
    request_body = PublishMessage,
    responses(
        (status = 202, description = "Stored and queued", body = PublishedView),
        (status = 200, description = "Published before with this Idempotency-Key", body = PublishedView),
        (status = 400, description = "`invalid_idempotency_key`"),
        (status = 403, description = "`insufficient_scope`: needs `write`"),
        (status = 409, description = "`idempotency_conflict`: the key was used for another message"),
        (status = 413, description = "`payload_too_large`"),
        (status = 422, description = "`unknown_event_type`, `schema_mismatch` or `invalid_body`"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<PublishMessage>,
) -> Result<(StatusCode, Json<PublishedView>), Problem> {
    caller.require(Scope::Write)?;
    let key = idempotency_key(&headers)?;
    let hooks = webhooks(&state)?;
    let payload = Bytes::from(serde_json::to_vec(&body.payload).unwrap_or_default());
    let published = hooks
        .engine()
        .publish(NewMessage {
            application: body
                .application
                .unwrap_or_else(|| DEFAULT_APPLICATION.to_owned()),
            event_type: body.event_type.clone(),
            channels: body.channels.clone(),
            payload,
            idempotency_key: key,
        })
        .await
        .map_err(|e| publish_problem(&e))?;
    let view = PublishedView {
        id: published.message_id,
        created: published.created,
        deliveries: published.deliveries,
    };
    if !view.created {
        return Ok((StatusCode::OK, Json(view)));
    }
    record(
        &state,
        &caller,
        Change {
            action: "message.publish",
            target: view.id.clone(),
            before: None,
            // The payload is the producer's data, not a setting: not copied
            // into the audit log.
            after: Some(serde_json::json!({
                "event_type": body.event_type,
                "channels": body.channels,
                "deliveries": view.deliveries,
            })),
        },
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Lists the messages delivered to an endpoint, newest first, a page at a
/// time.
#[utoipa::path(
    get,
    path = "/webhooks/messages",
    tag = "webhooks",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of messages", body = MessagePage),
        (status = 400, description = "`invalid_query` (a missing `endpoint_id`, a bad `limit`, or a `before` that is not one of the endpoint's messages)"),
        (status = 404, description = "`not_found`: no such endpoint"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<MessagePage>, Problem> {
    caller.require(Scope::Read)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::palisade(StatusCode::BAD_REQUEST, "invalid_query")
            .with_detail(format!("limit must be within 1..={MAX_PAGE}")));
    }
    let store = webhooks(&state)?.engine().store();
    // One more than the page tells whether there is a next one.
    let mut found = store
        .recent_messages(&query.endpoint_id, query.before.as_deref(), limit + 1)
        .await
        .map_err(|e| match e {
            StoreError::UnknownMessage(id) => {
                Problem::palisade(StatusCode::BAD_REQUEST, "invalid_query").with_detail(format!(
                    "before: `{id}` is not a message of this endpoint; list again from the start"
                ))
            }
            other => store_problem(&other),
        })?;
    let more = found.len() > limit as usize;
    found.truncate(limit as usize);
    let items: Vec<MessageSummary> = found.iter().map(MessageSummary::from).collect();
    let next = more.then(|| items.last().map(|m| m.id.clone())).flatten();
    Ok(Json(MessagePage { items, next }))
}

/// Reads a message with its deliveries and every attempt.
#[utoipa::path(
    get,
    path = "/webhooks/messages/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "The message id, `msg_…`")),
    responses(
        (status = 200, description = "The message", body = MessageView),
        (status = 404, description = "`not_found`"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, Problem> {
    caller.require(Scope::Read)?;
    let store = webhooks(&state)?.engine().store();
    let message = store.message(&id).await.map_err(|e| store_problem(&e))?;
    let deliveries = store.deliveries(&id).await.map_err(|e| store_problem(&e))?;
    let attempts = store.attempts(&id).await.map_err(|e| store_problem(&e))?;
    Ok(Json(message_view(message, &deliveries, &attempts)))
}

/// Queues every delivery of a message again, with a fresh retry schedule.
#[utoipa::path(
    post,
    path = "/webhooks/messages/{id}/replay",
    tag = "webhooks",
    params(("id" = String, Path, description = "The message id, `msg_…`")),
    responses(
        (status = 200, description = "How many deliveries were queued again", body = Replayed),
        (status = 403, description = "`insufficient_scope`: needs `write`"),
        (status = 404, description = "`not_found`"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Replayed>, Problem> {
    caller.require(Scope::Write)?;
    let store = webhooks(&state)?.engine().store();
    // The store replays nothing for an unknown id; the caller is told so.
    store.message(&id).await.map_err(|e| store_problem(&e))?;
    let replayed = store
        .replay_message(&id, now())
        .await
        .map_err(|e| store_problem(&e))?;
    record(
        &state,
        &caller,
        Change {
            action: "message.replay",
            target: id,
            before: None,
            after: Some(serde_json::json!({ "replayed": replayed })),
        },
    )
    .await?;
    Ok(Json(Replayed { replayed }))
}
