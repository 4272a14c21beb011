//! `POST /demo/webhooks/inbound` over real HTTP: signed deliveries are
//! accepted once (a replay is refused), every failed verification is
//! refused with a problem and shows up as a security event (log line with
//! the client address, counter in `/metrics`), and the route is absent
//! without a secret.
#![allow(clippy::unwrap_used)]

mod support;

use axum::body::Body;
use http::{Method, Request, StatusCode};
use palisade_server::auth::args::ApiArgs;
use palisade_webhooks::{Clock as _, Secret, Signer, SystemClock};
use support::{Answer, LogCapture, TestApp, assert_problem};

const PATH: &str = "/demo/webhooks/inbound";
const BODY: &str = r#"{"type":"invoice.paid"}"#;

/// A POST of `body` to the receiver, carrying the signature of `BODY` by
/// `secret` as message `id` sent at `timestamp` (Unix seconds).
fn signed(app: &TestApp, secret: &Secret, id: &str, timestamp: i64, body: &str) -> Request<Body> {
    let mut request = Request::post(format!("{}{PATH}", app.base))
        .body(Body::from(body.to_owned()))
        .unwrap();
    Signer::new(secret.clone())
        .sign(id, timestamp, BODY.as_bytes())
        .unwrap()
        .apply(request.headers_mut());
    request
}

/// The security events of `kind` counted so far (the recorder is the
/// process's, so tests compare before and after).
async fn events(app: &TestApp, kind: &str) -> u64 {
    let metrics = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let prefix = format!(r#"palisade_security_events_total{{kind="{kind}"}} "#);
    metrics
        .text
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |count| count.trim().parse().unwrap())
}

#[tokio::test]
async fn signed_deliveries_pass_once_and_failed_verifications_are_security_events() {
    let logs = LogCapture::default();
    let _installed = logs.install();
    let secret = Secret::generate();
    let app = TestApp::spawn_configured("inbound", ApiArgs::default(), |state| {
        state.with_inbound_webhooks(secret.clone())
    })
    .await;
    let before = events(&app, "webhook_signature").await;
    let now = SystemClock.now_unix();

    let answer = app.send(signed(&app, &secret, "msg_1", now, BODY)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    // The same delivery again is a replay, not a second message.
    let before_replays = events(&app, "webhook_replayed").await;
    let replayed = app.send(signed(&app, &secret, "msg_1", now, BODY)).await;
    assert_problem(&replayed, StatusCode::CONFLICT, "replayed");
    assert_eq!(events(&app, "webhook_replayed").await - before_replays, 1);

    let refused: [(&str, Answer); 4] = [
        (
            "invalid_signature",
            app.send(signed(&app, &Secret::generate(), "msg_2", now, BODY))
                .await,
        ),
        (
            "invalid_signature",
            app.send(signed(&app, &secret, "msg_3", now, r#"{"type":"forged"}"#))
                .await,
        ),
        ("timestamp_too_old", {
            app.send(signed(&app, &secret, "msg_4", now - 3600, BODY))
                .await
        }),
        ("missing_header", {
            let mut request = signed(&app, &secret, "msg_5", now, BODY);
            request.headers_mut().remove("webhook-signature");
            app.send(request).await
        }),
    ];
    for (code, answer) in &refused {
        assert_problem(answer, StatusCode::UNAUTHORIZED, code);
    }

    assert_eq!(events(&app, "webhook_signature").await - before, 4);
    let events: Vec<_> = logs
        .target("security")
        .into_iter()
        .filter(|line| line["fields"]["kind"] == "webhook_signature")
        .collect();
    assert_eq!(events.len(), 4, "{events:?}");
    for event in &events {
        assert_eq!(event["fields"]["client"], "127.0.0.1", "{event}");
    }
    let text = logs.text();
    assert!(text.contains("timestamp_too_old"), "the cause is logged");
    assert!(!text.contains(&secret.to_string()), "the secret leaked");
    let signature = Signer::new(secret)
        .sign("msg_1", now, BODY.as_bytes())
        .unwrap();
    let mut headers = http::HeaderMap::new();
    signature.apply(&mut headers);
    let signature = headers["webhook-signature"].to_str().unwrap();
    assert!(!text.contains(signature), "a signature leaked");
}

#[tokio::test]
async fn without_a_secret_the_route_is_not_served() {
    let app = TestApp::spawn("inbound-off").await;
    let answer = app.call(Method::POST, PATH, None, Some(BODY)).await;
    assert_problem(&answer, StatusCode::NOT_FOUND, "not_found");
}
