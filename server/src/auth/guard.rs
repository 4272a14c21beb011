//! The authentication layer of `/api`: client address rules, then the
//! bearer token, then the key's rate-limit tier; the request reaches the
//! handler with its [`Caller`] in the extensions, or is answered with a
//! problem.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use palisade_problem::Problem;
use palisade_resilience::rate_limit::error::RateLimited;

use super::events::SecurityEvent;
use super::token::ApiToken;
use crate::api::Caller;
use crate::state::AppState;

fn unauthenticated(detail: &'static str) -> Response {
    Problem::palisade(StatusCode::UNAUTHORIZED, "unauthenticated")
        .with_detail(detail)
        .with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
        .into_response()
}

/// The middleware (`axum::middleware::from_fn_with_state`).
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let Some(auth) = &state.auth else {
        // No key store (an embedder without a database): nobody can
        // authenticate, so nothing under /api is reachable.
        return unauthenticated("this server has no API keys configured");
    };
    if !auth.ip_rules.allows(client.map(|c| c.ip())) {
        SecurityEvent::IpDenied.emit(
            None,
            client,
            "client address refused by --api-allow/--api-deny",
        );
        return Problem::palisade(StatusCode::FORBIDDEN, "ip_denied")
            .with_detail("this client address may not call the API")
            .into_response();
    }
    let bearer = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let Some(bearer) = bearer else {
        SecurityEvent::AuthFailed.emit(None, client, "no bearer token");
        return unauthenticated("send an API key: `Authorization: Bearer pal_…`");
    };
    let Ok(token) = ApiToken::parse(bearer) else {
        SecurityEvent::AuthFailed.emit(None, client, "malformed bearer token");
        return unauthenticated("the bearer token is not a Palisade API key");
    };
    let key = match auth.keys.verify(&auth.db, &token).await {
        Ok(Some(key)) => key,
        Ok(None) => {
            SecurityEvent::AuthFailed.emit(Some(token.id()), client, "unknown key or wrong secret");
            return unauthenticated("this API key is not valid");
        }
        Err(error) => {
            tracing::error!(%error, "authentication: cannot read the API keys");
            return Problem::palisade(StatusCode::SERVICE_UNAVAILABLE, "auth_unavailable")
                .with_detail("API keys cannot be checked right now; try again")
                .into_response();
        }
    };
    if key.revoked_at.is_some() {
        SecurityEvent::KeyRevoked.emit(Some(&key.id), client, "revoked key presented");
        return unauthenticated("this API key has been revoked");
    }
    if let Err(error) = auth.limiters.check(&key.tier, &key.id).await {
        if error.downcast_ref::<RateLimited>().is_some() {
            SecurityEvent::RateLimited.emit(
                Some(&key.id),
                client,
                "rate limit of the key's tier reached",
            );
        }
        return palisade_resilience::edge::problem_for(&*error).into_response();
    }
    request.extensions_mut().insert(Caller {
        key_id: key.id.clone(),
        scope: key.scope,
        client: client.map(|c| c.ip()),
    });
    next.run(request).await
}
