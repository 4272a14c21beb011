//! `GET /api/events`: the server's live events as server-sent events, for
//! the dashboard and for other processes that follow flag changes.
//!
//! Needs `read`. Events (each `data:` is JSON):
//!
//! - `flag`: `{"key": "new-checkout", "version": 4}` (`version` is `null`
//!   once the flag is deleted);
//! - `breaker`: `{"name": "demo-upstream", "from": "closed", "to":
//!   "forced_open", "at": "2026-11-27T03:04:05.678Z"}`;
//! - `stats`: `{"waiting": 3, "dead": 0, "oldest_due_at": null}` every few
//!   seconds (with a database);
//! - `lagged`: `{"missed": 12}`: events were dropped for this client, which
//!   re-reads the API.
//!
//! A comment is sent every [`KEEP_ALIVE`] so proxies keep the connection
//! open; the stream ends when the server shuts down (clients reconnect).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use palisade_problem::Problem;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{Caller, Scope};
use crate::events::{Event, Subscriber};
use crate::state::AppState;

/// How often an idle stream sends a keep-alive comment.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The `/events` route.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// Follows the server live: flag changes, breaker transitions, queue stats.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    responses(
        (status = 200, description = "A `text/event-stream` of `flag`, `breaker`, `config`, `stats` and `lagged` events, each with JSON data", content_type = "text/event-stream", body = String),
        (status = 401, description = "`unauthenticated`", content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, Problem> {
    caller.require(Scope::Read)?;
    // Subscribed before the watcher starts, so its first stats reach us.
    let subscriber = state.events.subscribe();
    state.events.watch(state.event_sources());
    let stream = futures_util::stream::unfold(subscriber, next_frame);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

async fn next_frame(
    mut subscriber: Subscriber,
) -> Option<(Result<SseEvent, Infallible>, Subscriber)> {
    let event = subscriber.next().await?;
    Some((Ok(frame(&event)), subscriber))
}

/// The SSE frame of `event`: its name and its JSON.
fn frame(event: &Event) -> SseEvent {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned());
    SseEvent::default().event(event.name()).data(data)
}
