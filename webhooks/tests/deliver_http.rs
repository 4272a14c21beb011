//! The delivery engine over real HTTP on 127.0.0.1, with a real SQLite
//! outbox: signatures, the retry schedule, 410, 429 + Retry-After, and a
//! failing endpoint's breaker not slowing the others.
#![cfg(all(feature = "deliver", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "deliver/harness.rs"]
mod harness;

use std::sync::atomic::Ordering;
use std::time::Duration;

use harness::{setup, setup_with};
use palisade_webhooks::Secret;
use palisade_webhooks::deliver::{Engine, RetrySchedule};
use palisade_webhooks::store::{
    AttemptResult, DeliveryState, DisabledReason, EventType, NewEndpoint, NewMessage, Store,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_arrives_signed_and_verified() {
    let s = setup("all", RetrySchedule::default()).await;
    s.endpoint("ok").await;
    let running = s.engine.start();
    let mut ids = Vec::new();
    for n in 0..200 {
        ids.push(s.publish(n).await);
    }
    s.wait_for("ok", 200).await;
    let mut seen = s.seen("ok");
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "each message exactly once, under its message id");
    assert_eq!(
        s.seen.rejected.load(Ordering::SeqCst),
        0,
        "every signature verified"
    );
    for id in &ids {
        s.wait_state(id, DeliveryState::Succeeded).await;
    }
    let attempts = s.store.attempts(&ids[0]).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].result, AttemptResult::Status(200));
    assert_eq!(attempts[0].response_excerpt, "thanks");
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.released, 0, "nothing was left claimed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_it_after_exactly_n_plus_one_attempts_on_the_schedule() {
    let schedule = RetrySchedule::new(
        [0, 10, 60, 600, 3600]
            .into_iter()
            .map(Duration::from_secs)
            .collect(),
    )
    .jitter(0.0);
    let s = setup("fail3", schedule).await;
    s.endpoint("fail3").await;
    let running = s.engine.start();
    let id = s.publish(1).await;
    let t0 = s.clock.now();
    // Each failure schedules the next attempt exactly; nothing is sent
    // before the clock reaches it.
    for (k, wait) in [10, 60, 600].into_iter().enumerate() {
        s.wait_for("fail3", k + 1).await;
        s.wait_state(&id, DeliveryState::FailedRetrying).await;
        let d = s.store.deliveries(&id).await.unwrap().remove(0);
        assert_eq!(d.attempts, u32::try_from(k).unwrap() + 1);
        assert_eq!(
            d.next_attempt_at,
            Some(s.clock.now() + Duration::from_secs(wait))
        );
        s.clock
            .advance(Duration::from_secs(wait) - Duration::from_millis(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(s.seen("fail3").len(), k + 1, "not a moment early");
        s.clock.advance(Duration::from_millis(1));
    }
    s.wait_state(&id, DeliveryState::Succeeded).await;
    assert_eq!(
        s.seen("fail3"),
        vec![id.clone(); 4],
        "N+1 = 4 attempts, one webhook-id"
    );
    let attempts = s.store.attempts(&id).await.unwrap();
    let statuses: Vec<_> = attempts.iter().map(|a| a.result.clone()).collect();
    assert_eq!(
        statuses,
        [500, 500, 500, 204].map(AttemptResult::Status).to_vec()
    );
    let offsets: Vec<_> = attempts
        .iter()
        .map(|a| a.at.duration_since(t0).unwrap().as_secs())
        .collect();
    assert_eq!(offsets, vec![0, 10, 70, 670]);
    running.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_endpoint() {
    let s = setup("gone", RetrySchedule::default()).await;
    let ep = s.endpoint("gone").await;
    let running = s.engine.start();
    let id = s.publish(1).await;
    s.wait_state(&id, DeliveryState::Dead).await;
    let endpoint = s.store.endpoint(&ep).await.unwrap();
    assert_eq!(endpoint.disabled.map(|d| d.0), Some(DisabledReason::Gone));
    // Later messages are not fanned out to it.
    let p = s
        .engine
        .publish(NewMessage {
            application: "app".into(),
            event_type: "order.paid".into(),
            channels: vec![],
            payload: "{}".into(),
            idempotency_key: None,
        })
        .await
        .unwrap();
    assert_eq!(p.deliveries, 0);
    assert_eq!(s.seen("gone").len(), 1);
    running.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_for_retry_after() {
    let schedule = RetrySchedule::new(vec![
        Duration::ZERO,
        Duration::from_secs(5),
        Duration::from_secs(5),
    ])
    .jitter(0.0);
    let s = setup("busy", schedule).await;
    s.endpoint("busy").await;
    let running = s.engine.start();
    let id = s.publish(1).await;
    s.wait_state(&id, DeliveryState::FailedRetrying).await;
    let d = s.store.deliveries(&id).await.unwrap().remove(0);
    assert_eq!(
        d.next_attempt_at,
        Some(s.clock.now() + Duration::from_secs(120)),
        "Retry-After beats the 5 s schedule"
    );
    s.clock.advance(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(s.seen("busy").len(), 1);
    s.clock.advance(Duration::from_secs(60));
    s.wait_state(&id, DeliveryState::Succeeded).await;
    assert_eq!(s.seen("busy").len(), 2);
    running.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_opens_its_breaker_and_the_others_keep_flowing() {
    let s = setup(
        "breaker",
        RetrySchedule::new(vec![Duration::ZERO; 3]).jitter(0.0),
    )
    .await;
    let down = s.endpoint("down").await;
    s.endpoint("ok").await;
    let running = s.engine.start();
    let mut ids = Vec::new();
    for n in 0..300 {
        ids.push(s.publish(n).await);
    }
    s.wait_for("ok", 300).await;
    // Let the down endpoint's deliveries settle (attempted or postponed).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let hits = s.seen("down").len();
    assert!(hits >= 20, "the breaker needs its minimum calls: {hits}");
    assert!(
        hits < 300,
        "the open breaker stopped the hammering: {hits} requests for 300 messages x 3 attempts"
    );
    // Postponed deliveries kept their attempts: none of them is dead for it.
    let mut unspent = 0;
    for id in &ids {
        for d in s.store.deliveries(id).await.unwrap() {
            if d.endpoint_id == down && d.attempts == 0 {
                assert_ne!(d.state, DeliveryState::Dead);
                unspent += 1;
            }
        }
    }
    assert!(
        unspent > 0,
        "deliveries behind the open breaker were postponed, not failed"
    );
    running.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_clear_errors_and_nothing_stored() {
    let s = setup("bad", RetrySchedule::default()).await;
    s.endpoint("ok").await;
    let before = s.store.stats(s.clock.now()).await.unwrap();
    let message = |event: &str, payload: &str| NewMessage {
        application: "app".into(),
        event_type: event.into(),
        channels: vec![],
        payload: payload.to_owned().into(),
        idempotency_key: None,
    };
    let err = s
        .engine
        .publish(message("nope.nope", "{}"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "unknown_event_type");
    let err = s
        .engine
        .publish(message("order.paid", "not json"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_json");
    let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(1024 * 1024));
    let err = s
        .engine
        .publish(message("order.paid", &big))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "payload_too_large");
    assert!(
        err.to_string().contains("over the limit of 1048576 bytes"),
        "{err}"
    );
    assert_eq!(s.store.stats(s.clock.now()).await.unwrap(), before);

    // Event types with a JSON Schema: bad names and schemas are refused, and
    // payloads are checked at publish without echoing their values.
    let typed = |name: &str, schema: serde_json::Value| EventType {
        name: name.into(),
        description: String::new(),
        schema: Some(schema),
    };
    let err = s
        .engine
        .create_event_type(typed("has space", serde_json::json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_event_type_name");
    let err = s
        .engine
        .create_event_type(typed(
            "bad.schema",
            serde_json::json!({"type": "no-such-type"}),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_schema");
    let schema = serde_json::json!({
        "type": "object",
        "required": ["amount"],
        "properties": {"amount": {"type": "integer", "minimum": 0}}
    });
    s.engine
        .create_event_type(typed("invoice.paid", schema))
        .await
        .unwrap();
    let err = s
        .engine
        .create_event_type(typed("invoice.paid", serde_json::json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "event_type_exists");
    let err = s
        .engine
        .publish(message("invoice.paid", r#"{"amount":"secret-value"}"#))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "schema_mismatch");
    let text = err.to_string();
    assert!(text.contains("at /amount"), "{text}");
    assert!(
        !text.contains("secret-value"),
        "payload values stay out of errors: {text}"
    );
    let err = s
        .engine
        .publish(message("invoice.paid", "{}"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("amount"), "{err}");
    assert_eq!(
        s.store.stats(s.clock.now()).await.unwrap(),
        before,
        "nothing stored"
    );
    let ok = s
        .engine
        .publish(message("invoice.paid", r#"{"amount":5}"#))
        .await
        .unwrap();
    assert!(ok.created);

    let endpoint = |url: &str, headers: Vec<(String, String)>| NewEndpoint {
        application: "app".into(),
        url: url.into(),
        description: String::new(),
        event_types: None,
        channels: None,
        secret: Secret::generate(),
        rate_limit: None,
        max_concurrency: None,
        ordered: false,
        headers,
    };
    for url in [
        "not a url",
        "ftp://example.com/",
        "/relative",
        "http://user:pw@example.com/",
    ] {
        let err = s
            .engine
            .create_endpoint(endpoint(url, vec![]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "invalid_url", "{url}");
    }
    let err = s
        .engine
        .create_endpoint(endpoint(
            "https://example.com/",
            vec![("webhook-signature".into(), "x".into())],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "forbidden_header");
    // Without the test's allow-list, loopback and private targets are refused
    // when the endpoint is saved.
    let strict = Engine::builder(s.store.clone()).build().unwrap();
    for url in [
        "http://127.0.0.1:9/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest",
    ] {
        let err = strict
            .create_endpoint(endpoint(url, vec![]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "invalid_url", "{url}");
    }
    assert_eq!(
        s.store.endpoints(Some("app")).await.unwrap().len(),
        1,
        "only the first endpoint exists"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_hear_about_failing_exhausted_recovered_and_disabled_endpoints() {
    let schedule = RetrySchedule::new(vec![Duration::ZERO; 4]).jitter(0.0);
    let s = setup_with("ops", schedule, |b| {
        b.operational_events("ops").failing_after(2)
    })
    .await;
    let running = s.engine.start();
    // The operator subscribes in its own application (the event types are
    // created when the engine starts).
    for _ in 0..200 {
        if s.store
            .event_type("endpoint.disabled")
            .await
            .unwrap()
            .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    s.endpoint_in("ops", "ops").await;
    s.endpoint("fail3").await;
    s.endpoint("gone").await;
    s.endpoint("down").await;
    s.publish(1).await;
    s.wait_for("fail3", 4).await;
    s.wait_for("down", 4).await;
    s.wait_for("ops", 4).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let bodies = s
        .seen
        .bodies
        .lock()
        .unwrap()
        .get("ops")
        .cloned()
        .unwrap_or_default();
    let events: Vec<serde_json::Value> = bodies
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let of_type = |t: &str| {
        events
            .iter()
            .filter(|e| e["type"] == t)
            .cloned()
            .collect::<Vec<_>>()
    };
    let failing = of_type("message.attempt.failing");
    assert_eq!(
        failing.len(),
        2,
        "fail3 and down each failed twice: {events:?}"
    );
    assert!(failing.iter().all(|e| e["data"]["attempts"] == 2));
    let recovered = of_type("message.attempt.recovered");
    assert_eq!(recovered.len(), 1, "{events:?}");
    assert_eq!(
        recovered[0]["data"]["message_id"],
        exhausted_message(&events)
    );
    let exhausted = of_type("message.attempt.exhausted");
    assert_eq!(exhausted.len(), 1, "down died after 4 attempts: {events:?}");
    assert_eq!(exhausted[0]["data"]["last_attempt"]["status"], 500);
    let disabled = of_type("endpoint.disabled");
    assert_eq!(disabled.len(), 1, "{events:?}");
    assert_eq!(disabled[0]["data"]["reason"], "gone");
    running.shutdown(Duration::from_secs(5)).await;
}

fn exhausted_message(events: &[serde_json::Value]) -> serde_json::Value {
    events
        .iter()
        .find(|e| e["type"] == "message.attempt.failing")
        .unwrap()["data"]["message_id"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cuts_off_at_its_deadline_and_loses_nothing() {
    let s = setup("shutdown", RetrySchedule::default()).await;
    s.endpoint("slow-once").await;
    let running = s.engine.start();
    let id = s.publish(1).await;
    // The receiver has the request and sits on it.
    s.wait_for("slow-once", 1).await;
    let report = running.shutdown(Duration::from_millis(100)).await;
    assert_eq!(report.cut_off, 1, "{report:?}");
    assert_eq!(report.released, 1, "{report:?}");
    let d = s.store.deliveries(&id).await.unwrap().remove(0);
    assert_eq!(
        d.state,
        DeliveryState::Pending,
        "handed back, attempt unspent"
    );
    assert_eq!(d.attempts, 0);
    assert_eq!(
        d.next_attempt_at,
        Some(s.clock.now()),
        "due at once for any worker"
    );
    // The next engine (here: the same one restarted) delivers it.
    let running = s.engine.start();
    s.wait_state(&id, DeliveryState::Succeeded).await;
    assert_eq!(s.seen("slow-once").len(), 2, "sent again: at least once");
    running.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoints_concurrency_limit_holds() {
    let s = setup("concurrency", RetrySchedule::default()).await;
    s.endpoint_with("app", "slow20", None, Some(2)).await;
    let running = s.engine.start();
    // Deliveries over the limit are postponed by 50 ms of the engine's
    // clock; move it along so they come due again.
    let clock = s.clock.clone();
    let ticker = tokio::spawn(async move {
        loop {
            clock.advance(Duration::from_millis(50));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    for n in 0..30 {
        s.publish(n).await;
    }
    s.wait_for("slow20", 30).await;
    ticker.abort();
    assert_eq!(
        s.seen.max_in_flight.load(Ordering::SeqCst),
        2,
        "never more than two at once, and two were used"
    );
    running.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoints_rate_limit_postpones_without_spending_attempts() {
    let s = setup("rate", RetrySchedule::default()).await;
    s.endpoint_with("app", "limited", Some(1), None).await;
    let running = s.engine.start();
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(s.publish(n).await);
    }
    s.wait_for("limited", 1).await;
    // The hand-moved clock stays put, so what was postponed stays postponed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        s.seen("limited").len(),
        1,
        "one request per second, and the second has not come"
    );
    let mut postponed = 0;
    for id in &ids {
        let d = s.store.deliveries(id).await.unwrap().remove(0);
        if d.state == DeliveryState::Pending {
            assert_eq!(d.attempts, 0);
            assert!(d.next_attempt_at.unwrap() > s.clock.now());
            postponed += 1;
        }
    }
    assert_eq!(postponed, 9);
    running.shutdown(Duration::from_secs(5)).await;
}
