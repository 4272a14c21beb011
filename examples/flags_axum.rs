//! Feature flags in an axum app: flags loaded from Unleash JSON, a handler
//! that branches on `Flags::evaluate`, and a kill switch applied live.
//!
//! ```sh
//! cargo run -p palisade-examples --bin flags_axum
//! ```
//!
//! It serves the app on 127.0.0.1 (a free port), asks it for the checkout
//! page as different shoppers, pulls the kill switch, asks again, and exits.
#![allow(clippy::print_stdout)] // An example shows what happens by printing it.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::{Router, http::StatusCode, routing::get, routing::post};
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use palisade_flags::model::FlagSet;
use palisade_flags::unleash::UnleashImport;
use palisade_flags::{Context, Flags};
use palisade_problem::Problem;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Unleash client-API JSON, as an Unleash server (or a file) serves it: the
/// new checkout for Norway and Sweden, with two button colours half and half.
const DEFINITIONS: &str = r##"{
  "version": 2,
  "features": [{
    "name": "new-checkout",
    "enabled": true,
    "strategies": [{
      "name": "flexibleRollout",
      "parameters": { "rollout": "100", "stickiness": "default", "groupId": "checkout" },
      "constraints": [{ "contextName": "country", "operator": "IN", "values": ["NO", "SE"] }]
    }],
    "variants": [
      { "name": "blue", "weight": 500, "payload": { "type": "string", "value": "#0000ff" } },
      { "name": "green", "weight": 500, "payload": { "type": "string", "value": "#00ff00" } }
    ]
  }]
}"##;

#[derive(serde::Deserialize)]
struct Shopper {
    user: String,
    country: String,
}

/// Branches on the flag. The same user always lands in the same variant
/// (Unleash's bucketing), and evaluation takes no lock.
async fn checkout(State(flags): State<Arc<Flags>>, Query(shopper): Query<Shopper>) -> String {
    let context = Context::new()
        .user_id(&shopper.user)
        .property("country", &shopper.country);
    let flag = flags.evaluate("new-checkout", &context);
    if flag.is_enabled() {
        let colour = flag.payload().map_or("?", |payload| payload.value());
        format!(
            "new checkout, {} button {colour} (reason {})",
            flag.variant_name(),
            flag.reason()
        )
    } else {
        format!("classic checkout (reason {})", flag.reason())
    }
}

/// Turns a flag off for everyone, at once, without a restart: the new
/// definitions replace the old ones atomically while requests evaluate.
async fn kill(State(flags): State<Arc<Flags>>, Path(key): Path<String>) -> Result<String, Problem> {
    let current = flags.snapshot();
    if current.get(&key).is_none() {
        return Err(
            Problem::new(StatusCode::NOT_FOUND).with_detail(format!("no flag named {key:?}"))
        );
    }
    let flags_now = current
        .flags()
        .map(|flag| flag.clone().killed(flag.key() == key));
    let updated = FlagSet::new(flags_now, current.segments().cloned()).map_err(|error| {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR).with_detail(error.to_string())
    })?;
    flags.replace(updated);
    Ok(format!("{key} is off for everyone"))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // A bad definition (an unknown segment, a cycle) is an error here, at
    // start, naming the culprit; `warnings` lists rules that never match.
    let imported = UnleashImport::new().parse(DEFINITIONS)?;
    for warning in &imported.warnings {
        println!("warning: {warning}");
    }
    let flags = Arc::new(Flags::new(imported.flags));

    let app = Router::new()
        .route("/checkout", get(checkout))
        .route("/admin/flags/{key}/kill", post(kill))
        .with_state(flags);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    for shopper in [
        "user=123&country=NO",
        "user=alice&country=SE",
        "user=123&country=US",
    ] {
        println!(
            "{shopper}: {}",
            send(Method::GET, &format!("{base}/checkout?{shopper}")).await?
        );
    }
    println!(
        "kill: {}",
        send(
            Method::POST,
            &format!("{base}/admin/flags/new-checkout/kill")
        )
        .await?
    );
    println!(
        "user=123&country=NO: {}",
        send(Method::GET, &format!("{base}/checkout?user=123&country=NO")).await?
    );
    println!(
        "kill: {}",
        send(
            Method::POST,
            &format!("{base}/admin/flags/no-such-flag/kill")
        )
        .await?
    );
    Ok(())
}

/// Sends a request without a body and returns the status and body.
async fn send(method: Method, url: &str) -> Result<String, BoxError> {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let request = Request::builder()
        .method(method)
        .uri(url)
        .body(Empty::<Bytes>::new())?;
    let response = client.request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(format!("{status} {}", String::from_utf8_lossy(&body)))
}
