//! Operational events: what happens to endpoints and deliveries, published
//! as webhooks to an operator's application (as Svix's operational
//! webhooks), so operators hear about trouble the way their users' systems
//! hear about everything else.
//!
//! | event type                  | when                                                    |
//! |-----------------------------|---------------------------------------------------------|
//! | `endpoint.disabled`         | the engine disabled an endpoint (410 Gone, or failing)  |
//! | `message.attempt.failing`   | a delivery's `failing_after`-th attempt failed           |
//! | `message.attempt.exhausted` | a delivery died after its last attempt                  |
//! | `message.attempt.recovered` | an endpoint that was failing answered 2xx again         |
//!
//! Events about the operator application's own endpoints are not sent (an
//! operator endpoint that fails must not feed itself).

use bytes::Bytes;
use serde_json::json;

use super::Shared;
use crate::store::{
    AttemptResult, Claimed, Endpoint, EventType, Finished, NewMessage, Next, StoreError,
};

/// The event types, with what they mean.
pub const EVENT_TYPES: [(&str, &str); 4] = [
    (
        "endpoint.disabled",
        "The engine disabled an endpoint; `reason` says why.",
    ),
    (
        "message.attempt.failing",
        "A delivery has failed several attempts in a row.",
    ),
    (
        "message.attempt.exhausted",
        "A delivery failed its last attempt and is dead.",
    ),
    (
        "message.attempt.recovered",
        "An endpoint that was failing delivered successfully again.",
    ),
];

/// Creates the event types in the store (once; existing ones are kept).
pub(super) async fn ensure_event_types(shared: &Shared) -> Result<(), StoreError> {
    for (name, description) in EVENT_TYPES {
        let event_type = EventType {
            name: name.to_owned(),
            description: description.to_owned(),
            schema: None,
        };
        match shared
            .store
            .create_event_type(event_type, shared.clock.now())
            .await
        {
            Ok(()) | Err(StoreError::EventTypeExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The event an attempt's outcome calls for, if any.
pub(super) fn after_attempt(
    shared: &Shared,
    claimed: &Claimed,
    endpoint: Option<&Endpoint>,
    finished: &Finished,
) -> Option<(&'static str, serde_json::Value)> {
    let app = shared.config.operational_app.as_deref()?;
    let endpoint = endpoint?;
    let attempt = finished.attempt.as_ref()?;
    if endpoint.application == app {
        return None;
    }
    let attempts = claimed.attempts + 1;
    let last = match &attempt.result {
        AttemptResult::Status(code) => json!({ "status": code }),
        AttemptResult::Transport(kind) => json!({ "error": kind }),
    };
    let body = |extra: serde_json::Value| {
        let mut data = json!({
            "application": endpoint.application,
            "endpoint_id": endpoint.id,
            "message_id": claimed.message_id,
            "attempts": attempts,
            "last_attempt": last,
        });
        if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
            data.extend(extra.clone());
        }
        data
    };
    match finished.next {
        Next::Dead => Some(("message.attempt.exhausted", body(json!({})))),
        Next::RetryAt(_) if attempts == shared.config.failing_after => {
            Some(("message.attempt.failing", body(json!({}))))
        }
        _ => None,
    }
}

/// The event for an endpoint that succeeded again after failing.
pub(super) fn recovered(
    shared: &Shared,
    endpoint: &Endpoint,
    message_id: &str,
) -> Option<(&'static str, serde_json::Value)> {
    let app = shared.config.operational_app.as_deref()?;
    if endpoint.application == app {
        return None;
    }
    Some((
        "message.attempt.recovered",
        json!({
            "application": endpoint.application,
            "endpoint_id": endpoint.id,
            "message_id": message_id,
        }),
    ))
}

/// The event for an endpoint the engine disabled.
pub(super) fn disabled(
    shared: &Shared,
    endpoint: &Endpoint,
) -> Option<(&'static str, serde_json::Value)> {
    let app = shared.config.operational_app.as_deref()?;
    if endpoint.application == app {
        return None;
    }
    let reason = endpoint
        .disabled
        .as_ref()
        .map(|(reason, _)| reason.as_str());
    Some((
        "endpoint.disabled",
        json!({
            "application": endpoint.application,
            "endpoint_id": endpoint.id,
            "url": endpoint.url,
            "reason": reason,
        }),
    ))
}

/// Publishes an operational event (failures are logged: an operator
/// notification must never fail a delivery).
pub(super) async fn publish(
    shared: &Shared,
    (event_type, data): (&'static str, serde_json::Value),
) {
    let Some(app) = shared.config.operational_app.clone() else {
        return;
    };
    let payload = json!({ "type": event_type, "data": data });
    let message = NewMessage {
        application: app,
        event_type: event_type.to_owned(),
        channels: vec![],
        payload: Bytes::from(payload.to_string()),
        idempotency_key: None,
    };
    match shared.store.publish(message, shared.clock.now()).await {
        Ok(published) if published.deliveries > 0 => shared.wake.notify_one(),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, event_type, "publishing an operational event failed"),
    }
}
