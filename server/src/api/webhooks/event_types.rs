//! `/api/webhooks/event-types`: the kinds of messages producers publish and
//! endpoints subscribe to. A message names an existing type; its payload is
//! checked against the type's JSON Schema, if it has one.

use axum::extract::State;
use http::StatusCode;
use palisade_problem::Problem;
use palisade_webhooks::deliver::EventTypeError;
use palisade_webhooks::store::EventType;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::store_problem;
use super::webhooks;
use crate::api::extract::Json;
use crate::api::record;
use crate::api::{Caller, Scope};
use crate::audit::Change;
use crate::state::AppState;

/// An event type, as created and as shown.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventTypeView {
    /// The name messages carry: 1 to 128 characters of `A-Z a-z 0-9 _ . -`,
    /// such as `invoice.paid`.
    name: String,
    /// What the event means, for the people who subscribe to it.
    #[serde(default)]
    description: String,
    /// A JSON Schema every payload of this type must satisfy.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    schema: Option<Value>,
}

impl From<EventType> for EventTypeView {
    fn from(e: EventType) -> Self {
        Self {
            name: e.name,
            description: e.description,
            schema: e.schema,
        }
    }
}

/// Every event type.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventTypeList {
    /// By name.
    items: Vec<EventTypeView>,
}

fn event_type_problem(err: &EventTypeError) -> Problem {
    match err {
        EventTypeError::InvalidName(_) => {
            Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "invalid_event_type_name")
                .with_detail(err.to_string())
        }
        EventTypeError::InvalidSchema(_) => {
            Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "invalid_schema")
                .with_detail(err.to_string())
        }
        EventTypeError::Store(e) => store_problem(e),
        other => {
            tracing::error!(error = %other, "event type refused for an unknown reason");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR).with_code("internal")
        }
    }
}

/// Creates an event type.
#[utoipa::path(
    post,
    path = "/webhooks/event-types",
    tag = "webhooks",
    request_body = EventTypeView,
    responses(
        (status = 201, description = "Created", body = EventTypeView),
        (status = 403, description = "`insufficient_scope`: needs `write`"),
        (status = 409, description = "`conflict`: the name exists"),
        (status = 422, description = "`invalid_event_type_name`, `invalid_schema` or `invalid_body`"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<EventTypeView>,
) -> Result<(StatusCode, Json<EventTypeView>), Problem> {
    caller.require(Scope::Write)?;
    let hooks = webhooks(&state)?;
    hooks
        .engine()
        .create_event_type(EventType {
            name: body.name.clone(),
            description: body.description.clone(),
            schema: body.schema.clone(),
        })
        .await
        .map_err(|e| event_type_problem(&e))?;
    record(
        &state,
        &caller,
        Change {
            action: "event_type.create",
            target: body.name.clone(),
            before: None,
            after: Some(serde_json::to_value(&body).unwrap_or_default()),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// Lists every event type by name.
#[utoipa::path(
    get,
    path = "/webhooks/event-types",
    tag = "webhooks",
    responses(
        (status = 200, description = "Every event type", body = EventTypeList),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<EventTypeList>, Problem> {
    caller.require(Scope::Read)?;
    let items = webhooks(&state)?
        .engine()
        .store()
        .event_types()
        .await
        .map_err(|e| store_problem(&e))?
        .into_iter()
        .map(EventTypeView::from)
        .collect();
    Ok(Json(EventTypeList { items }))
}
