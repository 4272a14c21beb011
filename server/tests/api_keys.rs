//! `/api/keys` over real HTTP: create (token shown once), list (never a
//! secret), revoke; bad bodies; every change audited.
#![allow(clippy::unwrap_used)]

mod support;

use http::{Method, StatusCode};
use support::{TestApp, assert_problem};

#[tokio::test]
async fn a_created_key_works_is_listed_without_secret_and_can_be_revoked() {
    let app = TestApp::spawn("keys-happy").await;
    let created = app
        .call(
            Method::POST,
            "/api/keys",
            Some(&app.admin),
            Some(r#"{"name":"ci","scope":"write","tier":"high"}"#),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let token = created.json["token"].as_str().unwrap().to_owned();
    let id = created.json["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with(&format!("pal_{id}_")), "{token}");
    assert_eq!(created.json["scope"], "write");
    assert_eq!(created.json["tier"], "high");
    assert_eq!(created.json["revoked_at"], serde_json::Value::Null);

    // The new key authenticates (write may not manage keys, but it is known).
    let refused = app.call(Method::GET, "/api/keys", Some(&token), None).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "insufficient_scope");

    let listed = app.get("/api/keys").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let keys = listed.json["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "the first-start admin key and ours");
    assert!(
        keys.iter()
            .any(|k| k["id"] == id.as_str() && k["name"] == "ci")
    );
    let secret = token.rsplit('_').next().unwrap();
    assert!(!listed.text.contains(secret), "a list never shows a secret");
    assert!(keys.iter().all(|k| k.get("token").is_none()));

    let revoked = app
        .call(
            Method::DELETE,
            &format!("/api/keys/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text);
    let after = app.call(Method::GET, "/api/keys", Some(&token), None).await;
    assert_problem(&after, StatusCode::UNAUTHORIZED, "unauthenticated");
    let listed = app.get("/api/keys").await;
    let ours = listed.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap()
        .clone();
    assert!(ours["revoked_at"].is_i64(), "{ours}");

    // Revoking again changes nothing and records nothing.
    let again = app
        .call(
            Method::DELETE,
            &format!("/api/keys/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    let audit = app.db.clone();
    let entries = palisade_server::audit::Audit::new(std::sync::Arc::new(audit))
        .list(None, 10)
        .await
        .unwrap();
    let actions: Vec<_> = entries.iter().map(|e| e.change.action).collect();
    assert_eq!(actions, ["key.revoke", "key.create"]);
    assert_eq!(entries[1].change.target, id);
    assert!(
        !serde_json::to_string(&entries).unwrap().contains(secret),
        "the audit log never holds a secret"
    );
}

#[tokio::test]
async fn revoking_an_unknown_key_is_a_404_problem() {
    let app = TestApp::spawn("keys-404").await;
    let answer = app
        .call(
            Method::DELETE,
            "/api/keys/0123456789abcdef",
            Some(&app.admin),
            None,
        )
        .await;
    assert_problem(&answer, StatusCode::NOT_FOUND, "key_not_found");
}

#[tokio::test]
async fn bad_bodies_are_problems_and_write_nothing() {
    let app = TestApp::spawn("keys-bad").await;
    let cases: [(&str, StatusCode, &str); 6] = [
        (
            r#"{"name":"x","scope":"write""#,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            r#"{"name":"x","scope":"root"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            r#"{"name":7,"scope":"read"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            r#"{"name":"x","scope":"read","admin":true}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            r#"{"name":"  ","scope":"read"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            r#"{"name":"x","scope":"read","tier":"platinum"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_tier",
        ),
    ];
    for (body, status, code) in cases {
        let answer = app
            .call(Method::POST, "/api/keys", Some(&app.admin), Some(body))
            .await;
        assert_problem(&answer, status, code);
    }
    // Without a JSON content type.
    let answer = app
        .send(
            http::Request::post(format!("{}/api/keys", app.base))
                .header("authorization", format!("Bearer {}", app.admin))
                .body(axum::body::Body::from(r#"{"name":"x","scope":"read"}"#))
                .unwrap(),
        )
        .await;
    assert_problem(
        &answer,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_eq!(app.db.key_count().await.unwrap(), 1, "only the admin key");
}

#[tokio::test]
async fn the_first_admin_key_comes_from_the_environment_or_once_from_first_start() {
    use palisade_server::auth::{ApiToken, Auth, IpRules, RateTiers};
    use palisade_server::database::Database;

    let dir = std::env::temp_dir().join(format!("palisade-api-bootstrap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let database = Database::parse(&format!("sqlite://{}", dir.join("p.db").display())).unwrap();
    let (_, db) = database
        .open_with_server(palisade_webhooks::store::SecretKeyring::default())
        .await
        .unwrap();
    let auth = Auth::new(db.clone(), RateTiers::default(), IpRules::default());

    assert!(auth.bootstrap_admin(Some("pal_nope")).await.is_err());
    let given = ApiToken::generate().unwrap();
    assert!(
        auth.bootstrap_admin(Some(&given.reveal()))
            .await
            .unwrap()
            .is_none()
    );
    let (key, hash) = db.key_with_hash(given.id()).await.unwrap().unwrap();
    assert_eq!(key.scope, palisade_server::api::Scope::Admin);
    assert!(given.matches(&hash));
    // Registering it again (every restart) changes nothing.
    assert!(
        auth.bootstrap_admin(Some(&given.reveal()))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(db.key_count().await.unwrap(), 1);
    // Keys exist, so no start creates another.
    assert!(auth.bootstrap_admin(None).await.unwrap().is_none());

    // A fresh database gets one admin key at its first start only.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (_, db) = database
        .open_with_server(palisade_webhooks::store::SecretKeyring::default())
        .await
        .unwrap();
    let auth = Auth::new(db.clone(), RateTiers::default(), IpRules::default());
    let first = auth.bootstrap_admin(None).await.unwrap().unwrap();
    assert!(auth.bootstrap_admin(None).await.unwrap().is_none());
    let (key, hash) = db.key_with_hash(first.id()).await.unwrap().unwrap();
    assert_eq!(key.scope, palisade_server::api::Scope::Admin);
    assert!(first.matches(&hash));
    let _ = std::fs::remove_dir_all(&dir);
}
