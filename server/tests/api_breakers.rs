//! `/api/breakers` over real HTTP on 127.0.0.1: listing, forcing open,
//! closing, resetting and reconfiguring the server's breakers, and what
//! `/demo/upstream` answers meanwhile.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

mod api_hooks_support;

use api_hooks_support::{Api, serve};
use http::{Method, StatusCode};
use palisade_server::AppState;
use serde_json::{Value, json};

fn demo(list: &Value) -> &Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "demo-upstream")
        .unwrap_or_else(|| panic!("demo-upstream in {list}"))
}

async fn upstream(api: &Api, fail_percent: u32) -> api_hooks_support::Answer {
    api.call(
        Method::GET,
        &format!("/demo/upstream?fail_percent={fail_percent}"),
        None,
        None,
        &[],
    )
    .await
}

#[tokio::test]
async fn the_demo_breaker_is_listed_with_its_counts() {
    let state = AppState::new().unwrap();
    let api = serve(state).await;
    // Two calls: the first succeeds, the second fails once and its retry
    // succeeds.
    assert_eq!(upstream(&api, 50).await.status, StatusCode::OK);
    assert_eq!(upstream(&api, 50).await.status, StatusCode::OK);
    let list = api.get("/api/breakers", "read").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let breaker = demo(&list.body);
    assert_eq!(breaker["state"], "closed");
    assert_eq!(breaker["calls"], 3);
    assert_eq!(breaker["failures"], 1);
    let rate = breaker["failure_rate"].as_f64().unwrap();
    assert!((rate - 100.0 / 3.0).abs() < 0.01, "{rate}");
}

#[tokio::test]
async fn forcing_the_demo_breaker_open_refuses_upstream_calls_until_closed() {
    let state = AppState::new().unwrap();
    let api = serve(state.clone()).await;
    assert_eq!(upstream(&api, 0).await.status, StatusCode::OK);

    let forced = api
        .post(
            "/api/breakers/demo-upstream/force-open",
            "admin",
            &json!({}),
        )
        .await;
    assert_eq!(forced.status, StatusCode::OK, "{}", forced.body);
    assert_eq!(forced.body["state"], "forced_open");
    // A healthy upstream, and still refused: the breaker is held open. It
    // schedules no probe, so the route suggests the breaker's usual wait.
    let refused = upstream(&api, 0).await;
    refused.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "circuit_open");
    assert_eq!(refused.headers["retry-after"], "10");
    let list = api.get("/api/breakers", "read").await;
    assert_eq!(demo(&list.body)["state"], "forced_open");

    let closed = api
        .post("/api/breakers/demo-upstream/close", "admin", &json!({}))
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    assert_eq!(closed.body["state"], "closed");
    assert_eq!(upstream(&api, 0).await.status, StatusCode::OK);

    let entries = state.audit.list(None, 10).await.unwrap();
    let log: Vec<_> = entries
        .iter()
        .rev()
        .map(|e| (e.actor.as_str(), e.change.action, e.change.target.as_str()))
        .collect();
    assert_eq!(
        log,
        [
            (api.actor("admin"), "breaker.force_open", "demo-upstream"),
            (api.actor("admin"), "breaker.close", "demo-upstream"),
        ]
    );
    let force = &entries[1].change;
    assert_eq!(force.before.as_ref().unwrap()["state"], "closed");
    assert_eq!(force.after.as_ref().unwrap()["state"], "forced_open");
}

#[tokio::test]
async fn the_last_transition_is_null_until_the_breaker_moves() {
    let state = AppState::new().unwrap();
    let api = serve(state).await;
    let list = api.get("/api/breakers", "read").await;
    assert_eq!(demo(&list.body)["last_transition"], Value::Null);

    api.post(
        "/api/breakers/demo-upstream/force-open",
        "admin",
        &json!({}),
    )
    .await;
    let list = api.get("/api/breakers", "read").await;
    let last = &demo(&list.body)["last_transition"];
    assert_eq!(last["from"], "closed", "{last}");
    assert_eq!(last["to"], "forced_open");
    // RFC 3339 in UTC, to the millisecond: `2026-11-27T03:04:05.678Z`.
    let at = last["at"].as_str().unwrap();
    assert!(
        at.parse::<palisade_flags::time::Timestamp>().is_ok()
            && at.ends_with('Z')
            && at.len() == 24,
        "{at}"
    );

    let closed = api
        .post("/api/breakers/demo-upstream/close", "admin", &json!({}))
        .await;
    let last = &closed.body["last_transition"];
    assert_eq!(
        (&last["from"], &last["to"]),
        (&json!("forced_open"), &json!("closed"))
    );
}

#[tokio::test]
async fn reset_ends_an_outage_at_once() {
    let state = AppState::new().unwrap();
    let api = serve(state).await;
    // Three failing requests (three attempts each) fill the window; the
    // fourth's first attempt opens the breaker and it is refused with the
    // time of the next probe.
    for _ in 0..3 {
        assert_eq!(upstream(&api, 100).await.status, StatusCode::BAD_GATEWAY);
    }
    let refused = upstream(&api, 100).await;
    refused.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "circuit_open");
    assert!(refused.headers.contains_key("retry-after"));

    let reset = api
        .post("/api/breakers/demo-upstream/reset", "admin", &json!({}))
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert_eq!(reset.body["state"], "closed");
    assert_eq!(reset.body["calls"], 0, "the window is emptied");
    assert_eq!(upstream(&api, 0).await.status, StatusCode::OK);
}

#[tokio::test]
async fn control_needs_admin_and_a_known_breaker() {
    let state = AppState::new().unwrap();
    let api = serve(state.clone()).await;
    for scope in ["read", "write"] {
        api.post("/api/breakers/demo-upstream/force-open", scope, &json!({}))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    }
    api.call(Method::GET, "/api/breakers", None, None, &[])
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    api.post("/api/breakers/no-such-breaker/reset", "admin", &json!({}))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    api.post(
        "/api/breakers/webhook:ep_missing/force-open",
        "admin",
        &json!({}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
    // Nothing changed, nothing was audited.
    assert_eq!(upstream(&api, 0).await.status, StatusCode::OK);
    assert!(state.audit.list(None, 10).await.unwrap().is_empty());
}

#[test]
fn every_breaker_route_is_in_the_openapi_document() {
    let (_, doc) = palisade_server::api::router().split_for_parts();
    let doc: Value = serde_json::from_str(&doc.to_json().unwrap()).unwrap();
    assert!(doc["paths"]["/breakers"]["get"].is_object());
    for action in ["force-open", "close", "reset"] {
        let operation = &doc["paths"][format!("/breakers/{{name}}/{action}")]["post"];
        assert_eq!(
            operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/BreakerView",
            "{action}: {operation}"
        );
    }
    let patch = &doc["paths"]["/breakers/{name}"]["patch"];
    assert_eq!(
        patch["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/BreakerChange",
        "{patch}"
    );
    assert!(patch["responses"]["422"].is_object(), "{patch}");
    let schemas = &doc["components"]["schemas"];
    let change = &schemas["BreakerChange"]["properties"];
    assert!(change["sliding_window"].is_object(), "{change}");
    let window = &schemas["WindowSettings"]["oneOf"];
    assert_eq!(window.as_array().map(Vec::len), Some(2), "{window}");
    assert!(schemas["BreakerSettings"]["properties"]["sliding_window"].is_object());
    assert!(doc["components"]["schemas"]["BreakerList"].is_object());
    let view = &doc["components"]["schemas"]["BreakerView"];
    assert!(view["properties"]["last_transition"].is_object(), "{view}");
    assert!(view["properties"]["config"].is_object(), "{view}");
    assert!(doc["components"]["schemas"]["TransitionView"]["properties"]["at"].is_object());
}

/// The demo breaker's settings as `GET /api/breakers` shows them.
async fn demo_config(api: &Api) -> Value {
    let list = api.get("/api/breakers", "read").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    demo(&list.body)["config"].clone()
}

#[tokio::test]
async fn the_demo_breaker_is_listed_with_its_settings() {
    let api = serve(AppState::new().unwrap()).await;
    assert_eq!(
        demo_config(&api).await,
        json!({
            "failure_rate_threshold": 50.0,
            "minimum_calls": 10,
            "consecutive_failures": null,
            "wait_duration_in_open_ms": 10_000,
            "sliding_window": {"count": 20},
        })
    );
}

#[tokio::test]
async fn a_lower_consecutive_failure_threshold_opens_the_demo_breaker_sooner() {
    let state = AppState::new().unwrap();
    let api = serve(state.clone()).await;
    // Under the settings it starts with, one failing request (three failed
    // attempts) is below the minimum of ten calls: the breaker stays closed.
    assert_eq!(upstream(&api, 100).await.status, StatusCode::BAD_GATEWAY);
    let list = api.get("/api/breakers", "read").await;
    assert_eq!(demo(&list.body)["state"], "closed");

    let changed = api
        .patch(
            "/api/breakers/demo-upstream",
            "admin",
            &json!({"consecutive_failures": 2}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["config"]["consecutive_failures"], 2);
    assert_eq!(
        changed.body["config"]["minimum_calls"], 10,
        "absent fields stay"
    );

    // Two more failing requests would still be six calls short of judging
    // the rate; with two failures in a row enough, the breaker opens on
    // the next failure and the request after it is refused at once.
    let _ = upstream(&api, 100).await;
    upstream(&api, 100)
        .await
        .assert_problem(StatusCode::SERVICE_UNAVAILABLE, "circuit_open");
    let list = api.get("/api/breakers", "read").await;
    assert_eq!(demo(&list.body)["state"], "open");

    let entries = state.audit.list(None, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(
        (
            entry.actor.as_str(),
            entry.change.action,
            entry.change.target.as_str()
        ),
        (api.actor("admin"), "breaker.reconfigure", "demo-upstream")
    );
    let change = &entry.change;
    assert_eq!(
        change.before.as_ref().unwrap()["consecutive_failures"],
        Value::Null
    );
    assert_eq!(change.after.as_ref().unwrap()["consecutive_failures"], 2);
    assert_eq!(
        change.after.as_ref().unwrap()["failure_rate_threshold"],
        50.0
    );
}

#[tokio::test]
async fn a_smaller_sliding_window_opens_the_demo_breaker_after_one_failing_request() {
    let state = AppState::new().unwrap();
    let api = serve(state.clone()).await;
    let path = "/api/breakers/demo-upstream";
    // A window of the last three calls: the minimum of ten is capped to it.
    let changed = api
        .patch(path, "admin", &json!({"sliding_window": {"count": 3}}))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(
        changed.body["config"]["sliding_window"],
        json!({"count": 3})
    );
    assert_eq!(changed.body["config"]["minimum_calls"], 3);

    // One failing request (three failed attempts) fills the window and
    // opens the breaker, where ten calls were needed before.
    assert_eq!(upstream(&api, 100).await.status, StatusCode::BAD_GATEWAY);
    upstream(&api, 0)
        .await
        .assert_problem(StatusCode::SERVICE_UNAVAILABLE, "circuit_open");

    // A time window is shown as it was given, and audited with the rest.
    let minute = json!({"duration_ms": 60_000, "buckets": 12});
    let changed = api
        .patch(path, "admin", &json!({"sliding_window": minute}))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(demo_config(&api).await["sliding_window"], minute);
    let entries = state.audit.list(None, 10).await.unwrap();
    assert_eq!(entries.len(), 2);
    let last = &entries[0].change;
    assert_eq!(
        last.before.as_ref().unwrap()["sliding_window"],
        json!({"count": 3})
    );
    assert_eq!(last.after.as_ref().unwrap()["sliding_window"], minute);
}

#[tokio::test]
async fn null_turns_the_consecutive_failure_threshold_off_again() {
    let api = serve(AppState::new().unwrap()).await;
    let path = "/api/breakers/demo-upstream";
    api.patch(path, "admin", &json!({"consecutive_failures": 3}))
        .await;
    let off = api
        .patch(path, "admin", &json!({"consecutive_failures": null}))
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert_eq!(off.body["config"]["consecutive_failures"], Value::Null);
    // Three failing requests (nine failures in a row) stay below the
    // minimum of calls: closed, as before any change.
    for _ in 0..3 {
        assert_eq!(upstream(&api, 100).await.status, StatusCode::BAD_GATEWAY);
    }
}

#[tokio::test]
async fn an_invalid_setting_is_refused_by_name_and_changes_nothing() {
    let state = AppState::new().unwrap();
    let api = serve(state.clone()).await;
    let before = demo_config(&api).await;
    let path = "/api/breakers/demo-upstream";
    for (body, field) in [
        (
            json!({"failure_rate_threshold": 150.0}),
            "failure_rate_threshold",
        ),
        (json!({"minimum_calls": 0}), "minimum_calls"),
        (
            json!({"wait_duration_in_open_ms": 0}),
            "wait_duration_in_open_ms",
        ),
        (
            json!({"sliding_window": {"count": 0}}),
            "sliding_window.count",
        ),
        (
            json!({"sliding_window": {"duration_ms": 60_000, "buckets": 0}}),
            "sliding_window.buckets",
        ),
        (
            json!({"sliding_window": {"duration_ms": 1_000, "buckets": 20_000}}),
            "sliding_window.buckets",
        ),
    ] {
        let refused = api.patch(path, "admin", &body).await;
        refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        assert_eq!(refused.body["field"], field, "{}", refused.body);
        assert!(
            refused.body["detail"].as_str().unwrap().contains(field),
            "{}",
            refused.body
        );
    }
    // Refused by the body's own shape: zero is no threshold, and an
    // unknown field is not silently ignored.
    for (body, named) in [
        (json!({"consecutive_failures": 0}), "consecutive_failures"),
        (json!({"failure_rate": 10.0}), "failure_rate"),
        // A window of neither shape.
        (
            json!({"sliding_window": {"count": 5, "buckets": 2}}),
            "sliding_window",
        ),
    ] {
        let refused = api.patch(path, "admin", &body).await;
        refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        assert!(
            refused.body["detail"].as_str().unwrap().contains(named),
            "{}",
            refused.body
        );
    }
    assert_eq!(demo_config(&api).await, before);
    assert!(state.audit.list(None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn reconfiguring_needs_admin_and_a_registered_breaker() {
    let state = AppState::new().unwrap();
    let api = serve(state.clone()).await;
    let body = json!({"consecutive_failures": 1});
    for scope in ["read", "write"] {
        api.patch("/api/breakers/demo-upstream", scope, &body)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    }
    for name in ["no-such-breaker", "webhook:ep_missing"] {
        api.patch(&format!("/api/breakers/{name}"), "admin", &body)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    assert_eq!(demo_config(&api).await["consecutive_failures"], Value::Null);
    assert!(state.audit.list(None, 10).await.unwrap().is_empty());
}
