//! The authentication layer of `/api` over real HTTP: missing, malformed,
//! wrong and revoked tokens, scopes, address rules, and rate-limit tiers.
#![allow(clippy::unwrap_used)]

mod support;

use http::{Method, StatusCode};
use palisade_server::auth::args::ApiArgs;
use support::{LogCapture, TestApp, assert_problem, with_tier};

#[tokio::test]
async fn requests_without_a_valid_key_are_401_with_a_bearer_challenge() {
    let app = TestApp::spawn("auth-401").await;
    let wrong_secret = {
        let (prefix, _) = app.admin.rsplit_once('_').unwrap();
        format!("{prefix}_{}", "0".repeat(64))
    };
    let unknown = format!("pal_{}_{}", "f".repeat(16), "0".repeat(64));
    for token in [
        None,
        Some("not-a-token"),
        Some(unknown.as_str()),
        Some(wrong_secret.as_str()),
    ] {
        let answer = app.call(Method::GET, "/api/keys", token, None).await;
        assert_problem(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
        assert_eq!(answer.headers[http::header::WWW_AUTHENTICATE], "Bearer");
        assert!(
            !answer.text.contains(&"0".repeat(64)),
            "never echo a secret"
        );
    }
    // A non-bearer scheme is no token either.
    let basic = app
        .send(
            http::Request::get(format!("{}/api/keys", app.base))
                .header("authorization", "Basic YWRtaW46YWRtaW4=")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_problem(&basic, StatusCode::UNAUTHORIZED, "unauthenticated");
    // The admin's own token passes.
    assert_eq!(app.get("/api/keys").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    let app = TestApp::spawn("auth-revoked").await;
    let token = app.create_key("admin", None).await;
    assert_eq!(
        app.call(Method::GET, "/api/keys", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    let id = &token[4..20];
    let revoked = app
        .call(
            Method::DELETE,
            &format!("/api/keys/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let answer = app.call(Method::GET, "/api/keys", Some(&token), None).await;
    assert_problem(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(answer.json["detail"].as_str().unwrap().contains("revoked"));
}

#[tokio::test]
async fn a_read_key_may_not_create_keys() {
    let app = TestApp::spawn("auth-scope").await;
    let reader = app.create_key("read", None).await;
    let answer = app
        .call(
            Method::POST,
            "/api/keys",
            Some(&reader),
            Some(r#"{"name":"escalate","scope":"admin"}"#),
        )
        .await;
    assert_problem(&answer, StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(app.db.key_count().await.unwrap(), 2, "nothing was created");
}

#[tokio::test]
async fn a_scope_refusal_is_logged_with_the_key_and_the_client_address() {
    let logs = LogCapture::default();
    let _installed = logs.install();
    let app = TestApp::spawn("auth-scope-log").await;
    let reader = app.create_key("read", None).await;
    let answer = app
        .call(Method::GET, "/api/audit", Some(&reader), None)
        .await;
    assert_problem(&answer, StatusCode::FORBIDDEN, "insufficient_scope");
    let refused: Vec<_> = logs
        .target("security")
        .into_iter()
        .filter(|line| line["fields"]["kind"] == "scope_refused")
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let fields = &refused[0]["fields"];
    assert_eq!(fields["client"], "127.0.0.1", "{fields}");
    assert_eq!(fields["scope"], "read", "{fields}");
    let key_id = reader.trim_start_matches("pal_").split('_').next().unwrap();
    assert_eq!(fields["key_id"], key_id, "{fields}");
    assert!(
        !logs.text().contains(&reader),
        "the token leaked into the log"
    );
}

#[tokio::test]
async fn a_key_over_its_tier_gets_429_and_other_keys_do_not() {
    let app = TestApp::spawn_with("auth-429", with_tier("tiny", 2)).await;
    let tiny = app.create_key("admin", Some("tiny")).await;
    for _ in 0..2 {
        let answer = app.call(Method::GET, "/api/keys", Some(&tiny), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    let answer = app.call(Method::GET, "/api/keys", Some(&tiny), None).await;
    assert_problem(&answer, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(answer.headers.contains_key(http::header::RETRY_AFTER));
    // Another key has its own bucket.
    assert_eq!(app.get("/api/keys").await.status, StatusCode::OK);
}

#[tokio::test]
async fn denied_addresses_never_reach_the_key_check() {
    let args = ApiArgs {
        api_deny: vec!["127.0.0.0/8".parse().unwrap()],
        ..ApiArgs::default()
    };
    let app = TestApp::spawn_with("auth-ip-deny", args).await;
    let answer = app.get("/api/keys").await;
    assert_problem(&answer, StatusCode::FORBIDDEN, "ip_denied");

    let args = ApiArgs {
        api_allow: vec!["10.0.0.0/8".parse().unwrap()],
        ..ApiArgs::default()
    };
    let app = TestApp::spawn_with("auth-ip-allow", args).await;
    assert_problem(
        &app.get("/api/keys").await,
        StatusCode::FORBIDDEN,
        "ip_denied",
    );

    let args = ApiArgs {
        api_allow: vec!["127.0.0.1/32".parse().unwrap()],
        ..ApiArgs::default()
    };
    let app = TestApp::spawn_with("auth-ip-ok", args).await;
    assert_eq!(app.get("/api/keys").await.status, StatusCode::OK);
}
