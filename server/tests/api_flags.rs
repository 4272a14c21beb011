//! `/api/flags` over real HTTP on 127.0.0.1, on a real SQLite file.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

mod api_hooks_support;

use std::sync::Arc;

use api_hooks_support::{Api, serve};
use http::{Method, StatusCode};
use palisade_flags::store::{FlagStore, SqliteFlagStore};
use palisade_server::AppState;
use serde_json::{Value, json};

/// A running server with a fresh flag store.
struct Server {
    api: Api,
    store: Arc<dyn FlagStore>,
    state: AppState,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(name: &str) -> Server {
    let dir = std::env::temp_dir().join(format!(
        "palisade-server-flags-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn FlagStore> =
        Arc::new(SqliteFlagStore::open(dir.join("flags.db")).await.unwrap());
    let state = AppState::new().unwrap().with_flags(store.clone());
    Server {
        api: serve(state.clone()).await,
        store,
        state,
        _dir: TempDir(dir),
    }
}

impl Server {
    async fn call(
        &self,
        scope: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with(scope, method, path, body, &[]).await
    }

    async fn call_with(
        &self,
        scope: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let answer = self
            .api
            .call(method, path, Some(scope), body.as_ref(), headers)
            .await;
        (answer.status, answer.body)
    }
}

/// Sends raw HTTP/1.1 bytes and reads the status and JSON body.
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> (StatusCode, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8(answer).unwrap();
    let status = text[9..12].parse::<u16>().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    let json = serde_json::from_str(body).unwrap_or(Value::Null);
    (StatusCode::from_u16(status).unwrap(), json)
}

fn boolean(enabled: bool) -> Value {
    json!({ "kind": "boolean", "enabled": enabled })
}

fn rollout(percent: u8) -> Value {
    json!({
        "kind": "percentage",
        "strategies": [{ "name": "flexibleRollout", "rollout": percent, "stickiness": "userId" }]
    })
}

#[tokio::test]
async fn create_read_list_update_and_delete_a_flag() {
    let server = start("crud").await;
    let (status, created) = server
        .call("write", "PUT", "/api/flags/checkout", Some(boolean(true)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["key"], "checkout");
    assert_eq!(created["version"], 1);
    assert_eq!(created["kind"], "boolean");
    assert_eq!(created["enabled"], true);

    let (status, read) = server
        .call("read", "GET", "/api/flags/checkout", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["definition"]["key"], "checkout");

    let (status, replaced) = server
        .call("write", "PUT", "/api/flags/checkout", Some(boolean(false)))
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["version"], 2);
    assert_eq!(replaced["enabled"], false);

    let (_, list) = server.call("read", "GET", "/api/flags", None).await;
    assert_eq!(list["flags"].as_array().unwrap().len(), 1);

    let (status, _) = server
        .call("write", "DELETE", "/api/flags/checkout", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, problem) = server
        .call("read", "GET", "/api/flags/checkout", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["code"], "not_found");
}

#[tokio::test]
async fn a_toggle_takes_effect_at_once_for_evaluation() {
    let server = start("toggle").await;
    server
        .call("write", "PUT", "/api/flags/new-ui", Some(boolean(false)))
        .await;
    let evaluate = || async {
        let (status, answer) = server
            .call(
                "read",
                "POST",
                "/api/flags/evaluate",
                Some(json!({ "context": { "userId": "u1" }, "keys": ["new-ui", "missing"] })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    };
    let before = evaluate().await;
    assert_eq!(before["evaluations"]["new-ui"]["value"], false);
    assert_eq!(
        before["evaluations"]["missing"]["error_code"],
        "FLAG_NOT_FOUND"
    );

    let (status, patched) = server
        .call(
            "write",
            "PATCH",
            "/api/flags/new-ui",
            Some(json!({ "enabled": true, "reason": "launch" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["enabled"], true);
    // The store's live evaluator serves the write before the answer returns.
    assert!(
        server
            .store
            .live()
            .flags()
            .evaluate("new-ui", &palisade_flags::Context::new())
            .is_enabled()
    );
    let after = evaluate().await;
    assert_eq!(after["evaluations"]["new-ui"]["value"], true);
    assert_eq!(after["evaluations"]["new-ui"]["reason"], "STATIC");
}

#[tokio::test]
async fn a_rollout_change_moves_users_in() {
    let server = start("rollout").await;
    server
        .call("write", "PUT", "/api/flags/beta", Some(rollout(0)))
        .await;
    let on_for_everyone = |answer: &Value| {
        answer["evaluations"]
            .as_object()
            .unwrap()
            .values()
            .all(|e| e["value"] == true)
    };
    let evaluate_for = |user: String| {
        let server = &server;
        async move {
            server
                .call(
                    "read",
                    "POST",
                    "/api/flags/evaluate",
                    Some(json!({ "context": { "userId": user }, "keys": ["beta"] })),
                )
                .await
                .1
        }
    };
    assert!(!on_for_everyone(&evaluate_for("u7".into()).await));
    let (status, patched) = server
        .call(
            "write",
            "PATCH",
            "/api/flags/beta",
            Some(json!({ "rollout": 100 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["rollout"], 100);
    for user in ["u1", "u7", "someone"] {
        assert!(on_for_everyone(&evaluate_for(user.into()).await), "{user}");
    }
    let (status, problem) = server
        .call(
            "write",
            "PATCH",
            "/api/flags/beta",
            Some(json!({ "rollout": 101 })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "invalid_flag");
}

#[tokio::test]
async fn history_and_revert_bring_an_old_version_back() {
    let server = start("revert").await;
    server
        .call("write", "PUT", "/api/flags/banner", Some(boolean(true)))
        .await;
    server
        .call(
            "write",
            "PATCH",
            "/api/flags/banner",
            Some(json!({ "enabled": false, "reason": "incident" })),
        )
        .await;
    let (status, history) = server
        .call("read", "GET", "/api/flags/banner/history", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["action"], "update");
    assert_eq!(entries[1]["actor"], server.api.actor("write"));
    assert_eq!(entries[1]["reason"], "incident");

    let (status, reverted) = server
        .call(
            "write",
            "POST",
            "/api/flags/banner/revert",
            Some(json!({ "version": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reverted}");
    assert_eq!(reverted["version"], 3);
    assert_eq!(reverted["enabled"], true);

    let (status, problem) = server
        .call(
            "write",
            "POST",
            "/api/flags/banner/revert",
            Some(json!({ "version": 42 })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["code"], "not_found");

    // Every change is in the server's audit log too, with before and after.
    let entries = server.state.audit.list(None, 10).await.unwrap();
    let actions: Vec<_> = entries.iter().map(|e| e.change.action).collect();
    assert_eq!(actions, ["flag.revert", "flag.update", "flag.create"]);
    assert_eq!(entries[1].change.before.as_ref().unwrap()["key"], "banner");
}

#[tokio::test]
async fn concurrent_edits_conflict_instead_of_overwriting() {
    let server = start("conflict").await;
    server
        .call("write", "PUT", "/api/flags/pricing", Some(boolean(true)))
        .await;
    let (status, problem) = server
        .call_with(
            "write",
            "PUT",
            "/api/flags/pricing",
            Some(boolean(false)),
            &[("if-match", "7")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "conflict");
    assert_eq!(problem["current_version"], 1);
    let (status, problem) = server
        .call_with(
            "write",
            "PUT",
            "/api/flags/pricing",
            Some(boolean(false)),
            &[("if-none-match", "*")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    // Nothing was written by either.
    let (_, read) = server.call("read", "GET", "/api/flags/pricing", None).await;
    assert_eq!(read["version"], 1);
    assert_eq!(read["enabled"], true);
}

#[tokio::test]
async fn bad_definitions_are_refused_with_a_problem_and_write_nothing() {
    let server = start("invalid").await;
    let cases = [
        (
            json!({ "kind": "boolean", "colour": "red" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_flag",
        ),
        (
            json!({ "kind": "sometimes" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_flag",
        ),
        (
            json!({ "key": "other", "kind": "boolean" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_flag",
        ),
        (
            json!([1, 2]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_flag",
        ),
        (
            json!({ "kind": "boolean", "dependencies": [{ "flag": "no-such-parent" }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_flag",
        ),
    ];
    for (body, status, code) in cases {
        let (got, problem) = server
            .call("write", "PUT", "/api/flags/broken", Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body} → {problem}");
        assert_eq!(problem["code"], code, "{body}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{problem}"
        );
    }
    // Malformed JSON never reaches the store.
    let request = format!(
        "PUT /api/flags/broken HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{{\"kind\":,",
        server.api.token("write")
    );
    let (status, problem) = raw(server.api.addr, request.as_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["code"], "invalid_json");
    let (status, problem) = server
        .call(
            "write",
            "PATCH",
            "/api/flags/absent",
            Some(json!({ "enabled": "yes" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["code"], "invalid_body");

    let (_, list) = server.call("read", "GET", "/api/flags", None).await;
    assert_eq!(list["flags"], json!([]));
    assert!(server.state.audit.list(None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn scopes_are_enforced() {
    let server = start("scopes").await;
    let (status, problem) = server
        .call("read", "PUT", "/api/flags/x", Some(boolean(true)))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["code"], "insufficient_scope");
    let (status, _) = server.call("read", "DELETE", "/api/flags/x", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server.call("read", "GET", "/api/flags", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_unleash_import_creates_every_feature_or_nothing() {
    let server = start("import").await;
    let features = json!({
        "version": 2,
        "features": [
            { "name": "parent", "enabled": true, "strategies": [{ "name": "default" }] },
            {
                "name": "child", "enabled": true,
                "strategies": [{ "name": "flexibleRollout", "parameters": { "rollout": "100", "stickiness": "default", "groupId": "child" } }],
                "dependencies": [{ "feature": "parent" }]
            }
        ]
    });
    let (status, answer) = server
        .call("write", "POST", "/api/flags/import", Some(features))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let mut imported: Vec<_> = answer["imported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    imported.sort_unstable();
    assert_eq!(imported, ["child", "parent"]);
    let (_, evaluated) = server
        .call(
            "read",
            "POST",
            "/api/flags/evaluate",
            Some(json!({ "context": { "userId": "u" } })),
        )
        .await;
    assert_eq!(evaluated["evaluations"]["child"]["value"], true);

    // A dependency cycle, or not Unleash JSON at all: refused, nothing written.
    let cycle = json!({
        "version": 2,
        "features": [
            { "name": "fine", "enabled": true, "strategies": [] },
            { "name": "a", "enabled": true, "strategies": [], "dependencies": [{ "feature": "b" }] },
            { "name": "b", "enabled": true, "strategies": [], "dependencies": [{ "feature": "a" }] }
        ]
    });
    for broken in [cycle, json!({ "features": "none" })] {
        let (status, problem) = server
            .call("write", "POST", "/api/flags/import", Some(broken))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["code"], "invalid_import");
    }
    let (_, list) = server.call("read", "GET", "/api/flags", None).await;
    assert_eq!(list["flags"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_flag_toggled_through_the_api_changes_the_gated_route_at_once() {
    let server = start("gate").await;
    let flagged = || async {
        let answer = server
            .api
            .call(
                Method::GET,
                "/demo/flagged",
                None,
                None,
                &[("x-user-id", "u1")],
            )
            .await;
        (answer.status, answer.body)
    };
    let (status, problem) = flagged().await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_eq!(problem["code"], "feature_disabled");

    server
        .call(
            "write",
            "PUT",
            "/api/flags/demo-flagged",
            Some(boolean(true)),
        )
        .await;
    let (status, body) = flagged().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["flag"], "demo-flagged");

    server
        .call(
            "write",
            "PATCH",
            "/api/flags/demo-flagged",
            Some(json!({ "enabled": false })),
        )
        .await;
    let (status, _) = flagged().await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The actors of flag `key`'s versions, oldest first.
async fn actors(server: &Server, key: &str) -> Vec<String> {
    let (status, history) = server
        .call("read", "GET", &format!("/api/flags/{key}/history"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls (bounded, 10 s) until flag `key` has `versions` versions.
async fn wait_for_versions(server: &Server, key: &str, versions: usize) -> Vec<String> {
    for _ in 0..200 {
        let actors = actors(server, key).await;
        if actors.len() >= versions {
            return actors;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{key} never reached {versions} versions: {:?}",
        actors(server, key).await
    );
}

#[tokio::test]
async fn the_server_applies_scheduled_changes_as_versions_by_schedule() {
    use palisade_flags::time::{Clock, SystemClock, Timestamp};
    let server = start("schedule").await;
    // What `palisade serve` starts next to the routes.
    let _schedule = palisade_server::serve::schedule_flags(&server.state).unwrap();
    let flagged = || async {
        server
            .api
            .call(
                Method::GET,
                "/demo/flagged",
                None,
                None,
                &[("x-user-id", "u1")],
            )
            .await
            .status
    };
    // The scheduler runs on the wall clock: one change already past, one a
    // few seconds ahead (real time, bounded by the polling below; far enough
    // that a slow machine still sees the two as separate versions).
    let now = SystemClock::default().now().unix_millis();
    let past = Timestamp::from_unix_millis(now - 60_000);
    let soon = Timestamp::from_unix_millis(now + 3_000);
    let definition = json!({
        "kind": "boolean", "enabled": false,
        "schedule": [
            { "at": past.to_string(), "enabled": true },
            { "at": soon.to_string(), "killed": true }
        ]
    });
    let (status, body) = server
        .call("write", "PUT", "/api/flags/demo-flagged", Some(definition))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The past change applies at once, as a version by `schedule`.
    let after_past = wait_for_versions(&server, "demo-flagged", 2).await;
    assert_eq!(after_past[1], "schedule");
    let (_, flag) = server
        .call("read", "GET", "/api/flags/demo-flagged", None)
        .await;
    assert_eq!(flag["enabled"], true, "{flag}");
    assert_eq!(
        flag["definition"]["schedule"].as_array().map(Vec::len),
        Some(1),
        "{flag}"
    );
    assert_eq!(flagged().await, StatusCode::OK);

    // The near-future one at its time.
    let after_soon = wait_for_versions(&server, "demo-flagged", 3).await;
    assert_eq!(
        after_soon,
        [server.api.actor("write"), "schedule", "schedule"]
    );
    assert_eq!(flagged().await, StatusCode::NOT_FOUND);
    let (_, flag) = server
        .call("read", "GET", "/api/flags/demo-flagged", None)
        .await;
    assert_eq!(flag["killed"], true, "{flag}");
}

/// Whether flag `key` is on for user `user`, through `/api/flags/evaluate`.
async fn on_for(server: &Server, key: &str, user: &str) -> bool {
    let (status, evaluated) = server
        .call(
            "read",
            "POST",
            "/api/flags/evaluate",
            Some(json!({ "context": { "userId": user }, "keys": [key] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{evaluated}");
    evaluated["evaluations"][key]["value"] == true
}

fn users_segment(users: &[&str]) -> Value {
    json!({ "name": "testers", "constraints": [{ "field": "userId", "operator": "IN", "values": users }] })
}

#[tokio::test]
async fn segments_are_stored_change_their_flags_and_cannot_be_deleted_in_use() {
    let server = start("segments").await;
    let (status, created) = server
        .call(
            "write",
            "PUT",
            "/api/flags/segments/7",
            Some(users_segment(&["u1"])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], 7);
    assert_eq!(created["version"], 1);
    let flag = json!({ "kind": "boolean", "strategies": [{ "name": "default", "segments": [7] }] });
    let (status, body) = server
        .call("write", "PUT", "/api/flags/beta", Some(flag))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(on_for(&server, "beta", "u1").await);
    assert!(!on_for(&server, "beta", "u2").await);

    // Changing the segment changes the flag at once.
    let (status, updated) = server
        .call_with(
            "write",
            "PUT",
            "/api/flags/segments/7",
            Some(users_segment(&["u2"])),
            &[("if-match", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert!(on_for(&server, "beta", "u2").await);
    assert!(!on_for(&server, "beta", "u1").await);
    let (_, list) = server
        .call("read", "GET", "/api/flags/segments", None)
        .await;
    assert_eq!(
        list["segments"][0]["definition"]["constraints"][0]["values"],
        json!(["u2"])
    );

    // A stale version, a mismatched id, a read key: refused, nothing written.
    let refused = [
        (
            "write",
            "/api/flags/segments/7",
            &[("if-match", "1")][..],
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            "write",
            "/api/flags/segments/8",
            &[("if-none-match", "*")][..],
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_segment",
        ),
        (
            "read",
            "/api/flags/segments/7",
            &[][..],
            StatusCode::FORBIDDEN,
            "",
        ),
    ];
    for (scope, path, headers, status, code) in refused {
        let mut body = users_segment(&["u3"]);
        if path.ends_with('8') {
            body["id"] = json!(7);
        }
        let (got, problem) = server
            .call_with(scope, "PUT", path, Some(body), headers)
            .await;
        assert_eq!(got, status, "{path}: {problem}");
        if !code.is_empty() {
            assert_eq!(problem["code"], code, "{problem}");
        }
    }
    assert!(on_for(&server, "beta", "u2").await);

    // In use: 409 naming the flag; once the flag is gone, deleted.
    let (status, problem) = server
        .call("write", "DELETE", "/api/flags/segments/7", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "segment_in_use");
    assert_eq!(problem["flags"], json!(["beta"]));
    server
        .call("write", "DELETE", "/api/flags/beta", None)
        .await;
    let (status, body) = server
        .call("write", "DELETE", "/api/flags/segments/7", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, problem) = server
        .call("write", "DELETE", "/api/flags/segments/7", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (_, list) = server
        .call("read", "GET", "/api/flags/segments", None)
        .await;
    assert_eq!(list["segments"], json!([]));

    // Every segment change is in the server's audit log.
    let entries = server.state.audit.list(None, 20).await.unwrap();
    let actions: Vec<_> = entries
        .iter()
        .map(|e| e.change.action)
        .filter(|a| a.starts_with("segment."))
        .collect();
    assert_eq!(
        actions,
        ["segment.delete", "segment.update", "segment.create"]
    );
}

#[tokio::test]
async fn an_unleash_import_stores_its_segments_or_writes_nothing() {
    let server = start("import-segments").await;
    let features = |rollout_segment: u64| {
        json!({
            "version": 2,
            "segments": [{ "id": 3, "name": "staff", "constraints": [{ "contextName": "userId", "operator": "IN", "values": ["u1"] }] }],
            "features": [
                { "name": "staff-only", "enabled": true, "strategies": [{ "name": "default", "segments": [rollout_segment] }] }
            ]
        })
    };
    // A feature naming a segment the import does not carry: nothing written.
    let (status, problem) = server
        .call("write", "POST", "/api/flags/import", Some(features(4)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["code"], "invalid_import");
    let (_, list) = server
        .call("read", "GET", "/api/flags/segments", None)
        .await;
    assert_eq!(list["segments"], json!([]));
    let (_, flags) = server.call("read", "GET", "/api/flags", None).await;
    assert_eq!(flags["flags"], json!([]));

    let (status, answer) = server
        .call("write", "POST", "/api/flags/import", Some(features(3)))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["segments"], json!([3]));
    assert_eq!(answer["imported"], json!(["staff-only"]));
    assert!(on_for(&server, "staff-only", "u1").await);
    assert!(!on_for(&server, "staff-only", "u2").await);
    let (_, list) = server
        .call("read", "GET", "/api/flags/segments", None)
        .await;
    assert_eq!(list["segments"][0]["definition"]["name"], "staff");
}

#[tokio::test]
async fn an_import_naming_a_flag_segments_is_refused_as_it_could_never_be_reached() {
    let server = start("import-segments-key").await;
    let document = json!({
        "version": 2,
        "features": [
            { "name": "fine", "enabled": true, "strategies": [] },
            { "name": "segments", "enabled": true, "strategies": [] }
        ]
    });
    let (status, problem) = server
        .call("write", "POST", "/api/flags/import", Some(document))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["code"], "invalid_import");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("`segments`"),
        "{problem}"
    );
    // Nothing of the import was written.
    let (_, flags) = server.call("read", "GET", "/api/flags", None).await;
    assert_eq!(flags["flags"], json!([]));
}
