//! `GET /demo/flagged`: a route behind the feature flag `demo-flagged`, so a
//! newcomer can watch a flag change the server's behaviour live.
//!
//! ```text
//! curl -i http://127.0.0.1:8080/demo/flagged            # 404 feature_disabled
//! curl -X PUT http://127.0.0.1:8080/api/flags/demo-flagged \
//!      -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
//!      -d '{"kind":"boolean"}'
//! curl http://127.0.0.1:8080/demo/flagged                # 200, at once
//! ```
//!
//! The gate is palisade-flags' `FlagGateLayer` over the flag store's live
//! evaluator: a write through `/api/flags` is served by the next request.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use http::HeaderName;
use palisade_flags::Flags;
use palisade_flags::extract::Gated;
use palisade_flags::gate::{FlagGateLayer, FromHeader};
use palisade_flags::model::FlagSet;
use serde_json::{Value, json};

use crate::api::extract::Json;
use crate::state::AppState;

/// The flag in front of the route.
pub const FLAG: &str = "demo-flagged";

/// The header whose value is the user id flags are evaluated for.
const USER_ID: HeaderName = HeaderName::from_static("x-user-id");

/// The gated route, reading the flag store's live evaluator (or, without
/// one, an empty set: the route then answers 404 `feature_disabled`).
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let flags = state.flags.as_ref().map_or_else(
        || Arc::new(Flags::new(FlagSet::default())),
        |store| store.live().flags().clone(),
    );
    Router::new().route(
        "/demo/flagged",
        get(flagged).layer(FlagGateLayer::new(flags, FLAG).context(FromHeader::user_id(USER_ID))),
    )
}

async fn flagged(Gated(evaluation): Gated) -> Json<Value> {
    Json(json!({
        "flag": FLAG,
        "variant": evaluation.variant_name(),
        "reason": evaluation.reason().as_str(),
    }))
}
