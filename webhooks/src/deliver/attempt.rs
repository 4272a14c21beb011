//! One attempt: sign, send through the endpoint's stack, classify.

use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use palisade_resilience::rejection::{self, Rejection};
use tower::ServiceExt as _;

use super::Shared;
use super::client::EndpointKey;
use crate::store::{Attempt, AttemptResult, Claimed, Endpoint, Finished, Next};
use crate::{Secret, Signer};

/// Sends one claimed delivery and says what happens next.
pub(super) async fn deliver(
    shared: &Shared,
    claimed: &Claimed,
    endpoint: Option<&Endpoint>,
) -> Finished {
    let now = shared.clock.now();
    let finished = |attempt, next| Finished {
        delivery_id: claimed.delivery_id,
        endpoint_id: claimed.endpoint_id.clone(),
        attempt,
        next,
    };
    let Some(endpoint) = endpoint else {
        // Deleted between claim and send: its deliveries go with it.
        return finished(None, Next::Dead);
    };
    if endpoint.disabled.is_some() {
        return finished(None, Next::Postpone(now + shared.config.disabled_recheck));
    }
    let Some(payload) = claimed.payload.clone() else {
        // Expunged by the retention policy before it could be delivered.
        return finished(None, Next::Dead);
    };
    let _admitted = match shared.limits.admit(endpoint) {
        Ok(admitted) => admitted,
        Err(wait) => return finished(None, Next::Postpone(now + wait)),
    };
    let request = match build_request(shared, endpoint, claimed, payload, now) {
        Ok(request) => request,
        Err(kind) => {
            let attempt = record(
                claimed,
                now,
                AttemptResult::Transport(kind.into()),
                Duration::ZERO,
                String::new(),
            );
            return finished(Some(attempt), Next::Dead);
        }
    };
    let started = tokio::time::Instant::now();
    let outcome = shared.stack.clone().oneshot(request).await;
    let latency = started.elapsed();
    let attempts_made = claimed.attempts + 1;
    match outcome {
        Err(error) => {
            if let Some(open @ Rejection::CircuitOpen(_)) = rejection::find(error.as_ref()) {
                // The endpoint's breaker is open: no request was made, so no
                // attempt is spent.
                let wait = open
                    .retry_after()
                    .unwrap_or(shared.config.breaker_open_recheck);
                return finished(None, Next::Postpone(now + wait));
            }
            let kind = super::client::error_kind(error.as_ref());
            let next = shared.next_after_failure(claimed, attempts_made, now, None);
            finished(
                Some(record(
                    claimed,
                    now,
                    AttemptResult::Transport(kind.into()),
                    latency,
                    String::new(),
                )),
                next,
            )
        }
        Ok(response) => {
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| palisade_resilience::retry::http::parse_retry_after(v, now));
            let excerpt = read_excerpt(response.into_body(), shared.config.response_excerpt).await;
            let next = if status.is_success() {
                Next::Succeeded
            } else if status == StatusCode::GONE {
                Next::Gone
            } else {
                let honoured = match status {
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                        retry_after.map(|wait| wait.min(shared.config.max_retry_after))
                    }
                    _ => None,
                };
                shared.next_after_failure(claimed, attempts_made, now, honoured)
            };
            let attempt = record(
                claimed,
                now,
                AttemptResult::Status(status.as_u16()),
                latency,
                excerpt,
            );
            finished(Some(attempt), next)
        }
    }
}

fn record(
    claimed: &Claimed,
    at: SystemTime,
    result: AttemptResult,
    latency: Duration,
    excerpt: String,
) -> Attempt {
    Attempt {
        delivery_id: claimed.delivery_id,
        message_id: claimed.message_id.clone(),
        endpoint_id: claimed.endpoint_id.clone(),
        at,
        result,
        latency,
        response_excerpt: excerpt,
    }
}

/// The secrets an attempt is signed with: the current one and those still
/// in their rotation overlap.
fn active_secrets(endpoint: &Endpoint, now: SystemTime) -> Vec<Secret> {
    endpoint
        .secrets
        .iter()
        .filter(|s| s.expires_at.is_none_or(|end| end > now))
        .map(|s| s.secret.clone())
        .collect()
}

fn build_request(
    shared: &Shared,
    endpoint: &Endpoint,
    claimed: &Claimed,
    payload: Bytes,
    now: SystemTime,
) -> Result<Request<Full<Bytes>>, &'static str> {
    let signer = Signer::with_secrets(active_secrets(endpoint, now)).map_err(|_| "no_secret")?;
    // A fresh timestamp per attempt (receivers reject stale ones); the id
    // stays the message's, so receivers can de-duplicate.
    let timestamp = crate::store::to_millis(now) / 1000;
    let signed = signer
        .sign(&claimed.message_id, timestamp, &payload)
        .map_err(|_| "signing")?;
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(endpoint.url.as_str())
        .body(Full::new(payload))
        .map_err(|_| "invalid_url")?;
    let headers = request.headers_mut();
    for (name, value) in &endpoint.headers {
        // Checked when the endpoint was saved; a bad one is skipped, never sent half-way.
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.insert(name, value);
        }
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, shared.config.user_agent.clone());
    signed.apply(headers);
    request
        .extensions_mut()
        .insert(EndpointKey(endpoint.id.clone()));
    Ok(request)
}

/// The first `limit` bytes of the body as text (lossy), reading no more than
/// that from the network.
async fn read_excerpt<B>(mut body: B, limit: usize) -> String
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let mut excerpt = BytesMut::new();
    while excerpt.len() < limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = limit - excerpt.len();
                    excerpt.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            _ => break,
        }
    }
    let mut text = String::from_utf8_lossy(&excerpt).into_owned();
    // Never cut a character in half when the limit falls inside one.
    while text.len() > limit {
        text.pop();
    }
    text
}
