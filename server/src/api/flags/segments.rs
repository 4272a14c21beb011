//! `/api/flags/segments`: the reusable constraint sets flag strategies refer
//! to by id. Stored, versioned and audited by the flag store like flags; a
//! change re-evaluates every flag using the segment at once.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use palisade_flags::native;
use palisade_flags::store::{Edit, Expect, FlagStore, StoredSegment};
use palisade_problem::Problem;
use serde_json::Value;

use super::error::store_problem;
use super::model::{SegmentAnswer, SegmentList};
use super::{Answer, expectation, store};
use crate::api::extract::{Json, Path};
use crate::api::{Caller, Scope, record};
use crate::audit::Change;
use crate::state::AppState;

/// List every segment.
#[utoipa::path(get, path = "/flags/segments", tag = "flags",
    responses((status = 200, body = SegmentList)),
    security(("bearer" = [])))]
pub(super) async fn list_segments(
    caller: Caller,
    State(state): State<AppState>,
) -> Answer<Json<SegmentList>> {
    caller.require(Scope::Read)?;
    let segments = store(&state)?
        .list_segments()
        .await
        .map_err(|e| store_problem(&e))?;
    Ok(Json(SegmentList {
        segments: segments.into_iter().map(SegmentAnswer::from).collect(),
    }))
}

/// Create or replace a segment with a definition in the native format
/// (`{"id": 7, "name": "…", "constraints": […]}`); the flags using it
/// change at once.
///
/// `If-Match: <version>` replaces only that version, `If-None-Match: *`
/// only creates; without either the write is unconditional.
#[utoipa::path(put, path = "/flags/segments/{id}", tag = "flags",
    params(("id" = u64, Path, description = "The segment's id"),
        ("If-Match" = Option<String>, Header, description = "Replace only this version"),
        ("If-None-Match" = Option<String>, Header, description = "`*`: create only")),
    request_body(content = Object, description = "The segment in the native format; `id` may be left out"),
    responses((status = 200, body = SegmentAnswer, description = "Replaced"),
        (status = 201, body = SegmentAnswer, description = "Created"),
        (status = 409, description = "Not at the expected version"),
        (status = 422, description = "Not a valid segment")),
    security(("bearer" = [])))]
pub(super) async fn put_segment(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    Json(mut definition): Json<Value>,
) -> Answer<Response> {
    caller.require(Scope::Write)?;
    let store = store(&state)?;
    let expect = expectation(&headers)?;
    let Some(fields) = definition.as_object_mut() else {
        return Err(invalid_segment("the definition must be a JSON object"));
    };
    match fields.get("id") {
        None => {
            fields.insert("id".into(), Value::from(id));
        }
        Some(named) if named.as_u64() == Some(id) => {}
        Some(named) => {
            return Err(invalid_segment(format!(
                "the definition names the id {named}, the path {id}"
            )));
        }
    }
    let segment =
        native::segment_from_value(&definition).map_err(|e| invalid_segment(e.to_string()))?;
    let before = current(store.as_ref(), id).await?;
    let stored = store
        .put_segment(&segment, expect, &Edit::by(&caller.key_id))
        .await
        .map_err(|e| store_problem(&e))?;
    let created = before.is_none();
    record(
        &state,
        &caller,
        Change {
            action: if created {
                "segment.create"
            } else {
                "segment.update"
            },
            target: id.to_string(),
            before: before.map(|s| s.definition),
            after: Some(stored.definition.clone()),
        },
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(SegmentAnswer::from(stored))).into_response())
}

/// Delete a segment no flag uses (its history stays).
#[utoipa::path(delete, path = "/flags/segments/{id}", tag = "flags",
    params(("id" = u64, Path, description = "The segment's id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such segment"),
        (status = 409, description = "Flags still use it (named in `flags`), or changed meanwhile")),
    security(("bearer" = [])))]
pub(super) async fn delete_segment(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Answer<StatusCode> {
    caller.require(Scope::Write)?;
    let store = store(&state)?;
    let Some(stored) = current(store.as_ref(), id).await? else {
        return Err(store_problem(
            &palisade_flags::store::StoreError::SegmentNotFound { segment: id },
        ));
    };
    store
        .delete_segment(
            id,
            Expect::Version(stored.version),
            &Edit::by(&caller.key_id),
        )
        .await
        .map_err(|e| store_problem(&e))?;
    record(
        &state,
        &caller,
        Change {
            action: "segment.delete",
            target: id.to_string(),
            before: Some(stored.definition),
            after: None,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Segment `id` as stored now, or `None` when there is none.
pub(super) async fn current(store: &dyn FlagStore, id: u64) -> Answer<Option<StoredSegment>> {
    let segments = store.list_segments().await.map_err(|e| store_problem(&e))?;
    Ok(segments.into_iter().find(|s| s.id == id))
}

fn invalid_segment(detail: impl Into<String>) -> Problem {
    Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "invalid_segment")
        .with_detail(detail.into())
}
