//! `/api/flags`: create, read, update, delete and list feature flags;
//! evaluate them for a context; their history and revert; import Unleash
//! client-API JSON; the segments they use (`segments`).
//!
//! The flags live in the server's database through palisade-flags'
//! [`FlagStore`]; every write is validated against the whole set, committed,
//! and served at once by the store's live evaluator (on Postgres, by every
//! instance), so a change takes effect without a restart. Each change is
//! recorded twice on purpose: in the flag's own versioned history (what a
//! revert goes back to) and in the server's audit log (every API change).

// Handlers answer a problem as their response straight away; boxing it on
// this path would buy nothing.
#![allow(clippy::result_large_err)]

mod error;
pub(crate) mod model;
mod segments;

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use palisade_flags::model::{Flag, FlagSet, Segment};
use palisade_flags::native;
use palisade_flags::store::{Edit, Expect, FlagStore, StoreError, StoredFlag};
use palisade_flags::unleash::UnleashImport;
use palisade_problem::Problem;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::error::{no_store, store_problem};
use self::model::{
    EvaluateRequest, EvaluationAnswer, Evaluations, FlagAnswer, FlagList, FlagPatch, History,
    ImportAnswer, RevertRequest,
};
use crate::api::extract::{Json, Path};
use crate::api::{Caller, Scope, record};
use crate::audit::Change;
use crate::state::AppState;

/// A handler's answer: JSON, or a problem.
type Answer<T> = Result<T, Problem>;

/// The routes, relative to `/api`.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_flags))
        .routes(routes!(get_flag, put_flag, patch_flag, delete_flag))
        .routes(routes!(flag_history))
        .routes(routes!(revert_flag))
        .routes(routes!(evaluate_flags))
        .routes(routes!(import_unleash))
        .routes(routes!(segments::list_segments))
        .routes(routes!(segments::put_segment, segments::delete_segment))
}

fn store(state: &AppState) -> Answer<&Arc<dyn FlagStore>> {
    state.flags.as_ref().ok_or_else(no_store)
}

/// List every flag.
#[utoipa::path(get, path = "/flags", tag = "flags",
    responses((status = 200, body = FlagList)),
    security(("bearer" = [])))]
async fn list_flags(caller: Caller, State(state): State<AppState>) -> Answer<Json<FlagList>> {
    caller.require(Scope::Read)?;
    let flags = store(&state)?.list().await.map_err(|e| store_problem(&e))?;
    Ok(Json(FlagList {
        flags: flags.into_iter().map(FlagAnswer::from).collect(),
    }))
}

/// Read one flag.
#[utoipa::path(get, path = "/flags/{key}", tag = "flags",
    params(("key" = String, Path, description = "The flag's key")),
    responses((status = 200, body = FlagAnswer), (status = 404, description = "No such flag")),
    security(("bearer" = [])))]
async fn get_flag(
    caller: Caller,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Answer<Json<FlagAnswer>> {
    caller.require(Scope::Read)?;
    let flag = store(&state)?
        .get(&key)
        .await
        .map_err(|e| store_problem(&e))?;
    Ok(Json(flag.into()))
}

/// Create or replace a flag with a definition in the native format.
///
/// `If-Match: <version>` replaces only that version, `If-None-Match: *`
/// only creates; without either the write is unconditional.
#[utoipa::path(put, path = "/flags/{key}", tag = "flags",
    params(("key" = String, Path, description = "The flag's key"),
        ("If-Match" = Option<String>, Header, description = "Replace only this version"),
        ("If-None-Match" = Option<String>, Header, description = "`*`: create only")),
    request_body(content = Object, description = "The flag in the native format; `key` may be left out"),
    responses((status = 200, body = FlagAnswer, description = "Replaced"),
        (status = 201, body = FlagAnswer, description = "Created"),
        (status = 409, description = "Not at the expected version"),
        (status = 422, description = "Not a valid flag, or the set would not be valid with it")),
    security(("bearer" = [])))]
async fn put_flag(
    caller: Caller,
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(mut definition): Json<Value>,
) -> Answer<Response> {
    caller.require(Scope::Write)?;
    let store = store(&state)?;
    let expect = expectation(&headers)?;
    let Some(fields) = definition.as_object_mut() else {
        return Err(invalid_flag("the definition must be a JSON object"));
    };
    match fields.get("key") {
        None => {
            fields.insert("key".into(), Value::String(key.clone()));
        }
        Some(Value::String(named)) if *named == key => {}
        Some(named) => {
            return Err(invalid_flag(format!(
                "the definition names the key {named}, the path {key:?}"
            )));
        }
    }
    let flag = native::flag_from_value(&definition).map_err(|e| invalid_flag(e.to_string()))?;
    let before = current(store.as_ref(), &key).await?;
    let stored = store
        .put(&flag, expect, &Edit::by(&caller.key_id))
        .await
        .map_err(|e| store_problem(&e))?;
    let created = before.is_none();
    let after = stored.definition.clone();
    record(
        &state,
        &caller,
        Change {
            action: if created {
                "flag.create"
            } else {
                "flag.update"
            },
            target: key,
            before,
            after: Some(after),
        },
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(FlagAnswer::from(stored))).into_response())
}

/// Turn a flag on or off, throw its kill switch, or change its rollout.
#[utoipa::path(patch, path = "/flags/{key}", tag = "flags",
    params(("key" = String, Path, description = "The flag's key")),
    request_body = FlagPatch,
    responses((status = 200, body = FlagAnswer), (status = 404, description = "No such flag"),
        (status = 409, description = "Changed by someone else meanwhile; read it again")),
    security(("bearer" = [])))]
async fn patch_flag(
    caller: Caller,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Json(patch): Json<FlagPatch>,
) -> Answer<Json<FlagAnswer>> {
    caller.require(Scope::Write)?;
    let store = store(&state)?;
    let stored = store.get(&key).await.map_err(|e| store_problem(&e))?;
    let before = stored.definition.clone();
    let mut definition = stored.definition.clone();
    apply_patch(&mut definition, &patch)?;
    let flag = native::flag_from_value(&definition).map_err(|e| invalid_flag(e.to_string()))?;
    let mut edit = Edit::by(&caller.key_id);
    if let Some(reason) = patch.reason {
        edit = edit.because(reason);
    }
    // Only the version read: a concurrent change is a 409, not lost.
    let stored = store
        .put(&flag, Expect::Version(stored.version), &edit)
        .await
        .map_err(|e| store_problem(&e))?;
    record(
        &state,
        &caller,
        Change {
            action: "flag.update",
            target: key,
            before: Some(before),
            after: Some(stored.definition.clone()),
        },
    )
    .await?;
    Ok(Json(stored.into()))
}

/// Delete a flag (its history stays, so it can be reverted).
#[utoipa::path(delete, path = "/flags/{key}", tag = "flags",
    params(("key" = String, Path, description = "The flag's key")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such flag"),
        (status = 422, description = "Other flags depend on it")),
    security(("bearer" = [])))]
async fn delete_flag(
    caller: Caller,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Answer<StatusCode> {
    caller.require(Scope::Write)?;
    let store = store(&state)?;
    let stored = store.get(&key).await.map_err(|e| store_problem(&e))?;
    store
        .delete(
            &key,
            Expect::Version(stored.version),
            &Edit::by(&caller.key_id),
        )
        .await
        .map_err(|e| store_problem(&e))?;
    record(
        &state,
        &caller,
        Change {
            action: "flag.delete",
            target: key,
            before: Some(stored.definition),
            after: None,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A flag's versioned history, oldest first.
#[utoipa::path(get, path = "/flags/{key}/history", tag = "flags",
    params(("key" = String, Path, description = "The flag's key")),
    responses((status = 200, body = History)),
    security(("bearer" = [])))]
async fn flag_history(
    caller: Caller,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Answer<Json<History>> {
    caller.require(Scope::Read)?;
    let entries = store(&state)?
        .history(&key)
        .await
        .map_err(|e| store_problem(&e))?;
    Ok(Json(History {
        entries: entries.into_iter().map(Into::into).collect(),
    }))
}

/// Make a flag what it was at an earlier version, as a new version.
#[utoipa::path(post, path = "/flags/{key}/revert", tag = "flags",
    params(("key" = String, Path, description = "The flag's key")),
    request_body = RevertRequest,
    responses((status = 200, body = FlagAnswer),
        (status = 204, description = "Reverted to a version that deleted the flag"),
        (status = 404, description = "No such version")),
    security(("bearer" = [])))]
async fn revert_flag(
    caller: Caller,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Json(request): Json<RevertRequest>,
) -> Answer<Response> {
    caller.require(Scope::Write)?;
    let store = store(&state)?;
    let before = current(store.as_ref(), &key).await?;
    let mut edit = Edit::by(&caller.key_id);
    if let Some(reason) = request.reason {
        edit = edit.because(reason);
    }
    let stored = store
        .revert(&key, request.version, &edit)
        .await
        .map_err(|e| store_problem(&e))?;
    record(
        &state,
        &caller,
        Change {
            action: "flag.revert",
            target: key,
            before,
            after: stored.as_ref().map(|s| s.definition.clone()),
        },
    )
    .await?;
    Ok(match stored {
        Some(stored) => Json(FlagAnswer::from(stored)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Evaluate some or all flags for a context, as an SDK would in-process.
#[utoipa::path(post, path = "/flags/evaluate", tag = "flags",
    request_body = EvaluateRequest,
    responses((status = 200, body = Evaluations)),
    security(("bearer" = [])))]
async fn evaluate_flags(
    caller: Caller,
    State(state): State<AppState>,
    Json(request): Json<EvaluateRequest>,
) -> Answer<Json<Evaluations>> {
    caller.require(Scope::Read)?;
    let live = store(&state)?.live();
    let flags = live.flags();
    let context = request.context.context();
    let evaluate = |key: &str| {
        (
            key.to_owned(),
            EvaluationAnswer::from(&flags.evaluate(key, &context)),
        )
    };
    let evaluations = match &request.keys {
        // An unknown key is answered too, with FLAG_NOT_FOUND, as SDKs do.
        Some(keys) => keys.iter().map(|key| evaluate(key)).collect(),
        None => live
            .snapshot()
            .flags()
            .map(|flag| evaluate(flag.key()))
            .collect(),
    };
    Ok(Json(Evaluations { evaluations }))
}

/// Import Unleash client-API JSON (`GET /api/client/features`): every
/// segment, then every feature, is created or replaced.
#[utoipa::path(post, path = "/flags/import", tag = "flags",
    request_body(content = Object, description = "Unleash client-API features JSON"),
    responses((status = 200, body = ImportAnswer),
        (status = 422, description = "Not valid Unleash JSON, or not importable")),
    security(("bearer" = [])))]
async fn import_unleash(
    caller: Caller,
    State(state): State<AppState>,
    Json(document): Json<Value>,
) -> Answer<Json<ImportAnswer>> {
    caller.require(Scope::Write)?;
    let store = store(&state)?;
    let imported = UnleashImport::new()
        .parse(&document.to_string())
        .map_err(|e| invalid_import(e.to_string()))?;
    // `PUT /api/flags/segments` is the segments' route, so such a flag could
    // be created only here and then never read, changed or deleted.
    if imported.flags.get(SEGMENTS_PATH).is_some() {
        return Err(invalid_import(format!(
            "a flag keyed `{SEGMENTS_PATH}` could not be reached at /api/flags/{SEGMENTS_PATH} (the segments' path); rename it"
        )));
    }
    // Check the whole result first, so a rejected import writes nothing.
    let current_set = store.live().snapshot();
    let merged = current_set
        .flags()
        .filter(|flag| imported.flags.get(flag.key()).is_none())
        .chain(imported.flags.flags())
        .cloned();
    let imported_ids: Vec<u64> = imported.flags.segments().map(Segment::id).collect();
    let merged_segments = current_set
        .segments()
        .filter(|segment| !imported_ids.contains(&segment.id()))
        .chain(imported.flags.segments())
        .cloned();
    FlagSet::new(merged, merged_segments).map_err(|e| invalid_import(e.to_string()))?;
    let edit = Edit::by(&caller.key_id).because("Unleash import");
    // Segments first: the flags refer to them.
    let mut written_segments = Vec::with_capacity(imported_ids.len());
    for segment in imported.flags.segments() {
        let before = segments::current(store.as_ref(), segment.id()).await?;
        let stored = store
            .put_segment(segment, Expect::Any, &edit)
            .await
            .map_err(|e| store_problem(&e))?;
        record(
            &state,
            &caller,
            Change {
                action: if before.is_some() {
                    "segment.update"
                } else {
                    "segment.create"
                },
                target: stored.id.to_string(),
                before: before.map(|s| s.definition),
                after: Some(stored.definition),
            },
        )
        .await?;
        written_segments.push(stored.id);
    }
    let mut pending: Vec<&Flag> = imported.flags.flags().collect();
    let mut written = Vec::with_capacity(pending.len());
    // A flag is valid only once the flags it depends on exist: write in
    // passes, each taking what has become writable. The set was checked
    // above, so a pass without progress means a concurrent change.
    while !pending.is_empty() {
        let attempted = pending.len();
        let mut blocked = Vec::new();
        let mut first_error = None;
        for flag in pending {
            let before = current(store.as_ref(), flag.key()).await?;
            match store.put(flag, Expect::Any, &edit).await {
                Ok(stored) => {
                    record(
                        &state,
                        &caller,
                        Change {
                            action: if before.is_some() {
                                "flag.update"
                            } else {
                                "flag.create"
                            },
                            target: stored.key.clone(),
                            before,
                            after: Some(stored.definition.clone()),
                        },
                    )
                    .await?;
                    written.push(stored.key);
                }
                Err(StoreError::Invalid(error)) => {
                    first_error.get_or_insert(error);
                    blocked.push(flag);
                }
                Err(error) => return Err(store_problem(&error)),
            }
        }
        if blocked.len() == attempted
            && let Some(error) = first_error
        {
            return Err(store_problem(&StoreError::Invalid(error)));
        }
        pending = blocked;
    }
    Ok(Json(ImportAnswer {
        imported: written,
        segments: written_segments,
        warnings: imported.warnings.iter().map(ToString::to_string).collect(),
    }))
}

/// The flag's definition now, or `None` when it does not exist.
async fn current(store: &dyn FlagStore, key: &str) -> Answer<Option<Value>> {
    match store.get(key).await {
        Ok(StoredFlag { definition, .. }) => Ok(Some(definition)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(error) => Err(store_problem(&error)),
    }
}

/// What a `PUT` expects to find, from its conditional headers.
fn expectation(headers: &HeaderMap) -> Answer<Expect> {
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == b"*")
    {
        return Ok(Expect::Absent);
    }
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(Expect::Any);
    };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_matches('"'))
        .and_then(|v| v.parse().ok())
        .map(Expect::Version)
        .ok_or_else(|| {
            Problem::palisade(StatusCode::BAD_REQUEST, "invalid_precondition")
                .with_detail("If-Match must be a flag version, e.g. `If-Match: 3`")
        })
}

/// Applies a PATCH to a definition in the native format.
fn apply_patch(definition: &mut Value, patch: &FlagPatch) -> Answer<()> {
    let Some(fields) = definition.as_object_mut() else {
        return Err(invalid_flag("the stored definition is not a JSON object"));
    };
    if let Some(enabled) = patch.enabled {
        fields.insert("enabled".into(), Value::Bool(enabled));
    }
    if let Some(killed) = patch.killed {
        fields.insert("killed".into(), Value::Bool(killed));
    }
    if let Some(rollout) = patch.rollout {
        if rollout > 100 {
            return Err(invalid_flag("rollout is a percentage, 0 to 100"));
        }
        let strategies = fields
            .get_mut("strategies")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(|s| s.get_mut("rollout"));
        let mut changed = 0;
        for strategy_rollout in strategies {
            *strategy_rollout = Value::from(rollout);
            changed += 1;
        }
        if changed == 0 {
            return Err(invalid_flag(
                "this flag has no strategy with a rollout to change",
            ));
        }
    }
    Ok(())
}

/// The path segment of `/api/flags/segments`, which no flag key may take.
const SEGMENTS_PATH: &str = "segments";

fn invalid_flag(detail: impl Into<String>) -> Problem {
    Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "invalid_flag").with_detail(detail.into())
}

fn invalid_import(detail: impl Into<String>) -> Problem {
    Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "invalid_import").with_detail(detail.into())
}
