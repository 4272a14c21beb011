//! `/api/keys`: create (the secret is shown once), list (never a secret),
//! revoke. Admin scope only; every change is audited.

// Handlers answer with the problem straight away, so its size on the error
// path is not worth a box (as `Caller::require`).
#![allow(clippy::result_large_err)]

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use palisade_problem::Problem;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Path};
use super::{Caller, Scope};
use crate::audit::Change;
use crate::auth::{Auth, DEFAULT_TIER};
use crate::state::AppState;
use crate::store::keys::StoredKey;
use crate::store::to_millis;

/// The `/api/keys` routes.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(revoke_key))
}

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    /// A name for humans ("ci", "grafana"), 1 to 100 characters.
    name: String,
    /// What the key may do.
    scope: Scope,
    /// The rate-limit tier (default `standard`).
    #[serde(default)]
    tier: Option<String>,
}

/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyView {
    /// The public id.
    id: String,
    /// The name.
    name: String,
    /// What the key may do.
    scope: Scope,
    /// The rate-limit tier.
    tier: String,
    /// When it was created, Unix milliseconds.
    created_at: i64,
    /// When it was revoked, Unix milliseconds (`null` while valid).
    revoked_at: Option<i64>,
}

impl From<&StoredKey> for KeyView {
    fn from(key: &StoredKey) -> Self {
        Self {
            id: key.id.clone(),
            name: key.name.clone(),
            scope: key.scope,
            tier: key.tier.clone(),
            created_at: to_millis(key.created_at),
            revoked_at: key.revoked_at.map(to_millis),
        }
    }
}

/// A key just created: the only answer that ever holds its token.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedKey {
    #[serde(flatten)]
    key: KeyView,
    /// The whole token, `pal_<id>_<secret>`: store it now, it is never shown again.
    token: String,
}

/// The list of keys.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyList {
    /// Every key, revoked ones included, oldest first.
    keys: Vec<KeyView>,
}

fn auth_of(state: &AppState) -> Result<&Auth, Problem> {
    state.auth.as_ref().ok_or_else(|| {
        Problem::palisade(StatusCode::SERVICE_UNAVAILABLE, "auth_unavailable")
            .with_detail("this server has no key store")
    })
}

fn internal(what: &str, error: &dyn std::error::Error) -> Problem {
    tracing::error!(%error, "{what}");
    Problem::palisade(StatusCode::INTERNAL_SERVER_ERROR, "internal")
        .with_detail(format!("{what}; see the server log"))
}

async fn audit(state: &AppState, caller: &Caller, change: Change) -> Result<(), Problem> {
    state
        .audit
        .record(caller, change)
        .await
        .map_err(|e| internal("the change was made but the audit log failed", &e))
}

/// Create an API key (admin). The token is in this answer only.
#[utoipa::path(
    post,
    path = "/keys",
    tag = "keys",
    request_body = NewKey,
    responses(
        (status = 201, description = "Created; the token is shown only here", body = CreatedKey),
        (status = 422, description = "Invalid body or unknown tier", content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewKey>,
) -> Result<Response, Problem> {
    caller.require(Scope::Admin)?;
    let auth = auth_of(&state)?;
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(
            Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
                .with_detail("`name` must be 1 to 100 characters"),
        );
    }
    let tier = new.tier.unwrap_or_else(|| DEFAULT_TIER.to_owned());
    if !auth.tiers().contains(&tier) {
        let known: Vec<_> = auth.tiers().names().collect();
        return Err(
            Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "unknown_tier").with_detail(
                format!("tier `{tier}` is not configured; use one of {known:?}"),
            ),
        );
    }
    let (key, token) = auth
        .create_key(name, new.scope, tier)
        .await
        .map_err(|e| internal("cannot create the API key", &e))?;
    let view = KeyView::from(&key);
    audit(
        &state,
        &caller,
        Change {
            action: "key.create",
            target: key.id.clone(),
            before: None,
            after: Some(json!(view)),
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: view,
            token: token.reveal(),
        }),
    )
        .into_response())
}

/// List API keys (admin). Never shows a secret.
#[utoipa::path(
    get,
    path = "/keys",
    tag = "keys",
    responses((status = 200, description = "Every key", body = KeyList)),
    security(("bearer" = []))
)]
pub(crate) async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<KeyList>, Problem> {
    caller.require(Scope::Admin)?;
    let keys = auth_of(&state)?
        .db()
        .list_keys()
        .await
        .map_err(|e| internal("cannot list the API keys", &e))?;
    Ok(Json(KeyList {
        keys: keys.iter().map(KeyView::from).collect(),
    }))
}

/// Revoke an API key (admin). Revoking a revoked key changes nothing.
#[utoipa::path(
    delete,
    path = "/keys/{id}",
    tag = "keys",
    params(("id" = String, Path, description = "The key's public id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such key", content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    caller.require(Scope::Admin)?;
    // Revocation time is a record for humans, not a timer.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    let before = auth_of(&state)?
        .revoke_key(&id, now)
        .await
        .map_err(|e| internal("cannot revoke the API key", &e))?;
    let Some(before) = before else {
        return Err(Problem::palisade(StatusCode::NOT_FOUND, "key_not_found")
            .with_detail(format!("no API key has the id `{id}`")));
    };
    if before.revoked_at.is_none() {
        tracing::warn!(target: "security", key_id = %id, by = %caller.key_id, "API key revoked");
        let mut after = before.clone();
        after.revoked_at = Some(now);
        audit(
            &state,
            &caller,
            Change {
                action: "key.revoke",
                target: id,
                before: Some(json!(KeyView::from(&before))),
                after: Some(json!(KeyView::from(&after))),
            },
        )
        .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
