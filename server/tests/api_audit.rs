//! `GET /api/audit` over real HTTP: paging through changes made by the API.
#![allow(clippy::unwrap_used)]

mod support;

use http::{Method, StatusCode};
use support::{TestApp, assert_problem};

#[tokio::test]
async fn the_audit_log_pages_newest_first() {
    let app = TestApp::spawn("audit-pages").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let token = app.create_key("read", None).await;
        ids.push(token[4..20].to_owned());
    }
    let admin_id = &app.admin[4..20];

    let first = app.get("/api/audit?limit=2").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let entries = first.json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["target"], ids[4].as_str());
    assert_eq!(entries[0]["action"], "key.create");
    assert_eq!(entries[0]["actor"], admin_id);
    assert_eq!(entries[0]["after"]["scope"], "read");
    assert_eq!(entries[0]["before"], serde_json::Value::Null);
    assert_eq!(entries[1]["target"], ids[3].as_str());
    let next = first.json["next"].as_i64().unwrap();

    let mut targets = Vec::new();
    let mut before = Some(next);
    while let Some(cursor) = before {
        let page = app
            .get(&format!("/api/audit?limit=2&before={cursor}"))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for e in page.json["entries"].as_array().unwrap() {
            targets.push(e["target"].as_str().unwrap().to_owned());
        }
        before = page.json["next"].as_i64();
    }
    assert_eq!(targets, [ids[2].clone(), ids[1].clone(), ids[0].clone()]);

    let all = app.get("/api/audit").await;
    assert_eq!(all.json["entries"].as_array().unwrap().len(), 5);
    assert_eq!(all.json["next"], serde_json::Value::Null);
}

#[tokio::test]
async fn bad_paging_and_non_admins_are_refused() {
    let app = TestApp::spawn("audit-bad").await;
    for query in ["limit=0", "limit=501", "limit=ten", "before=x", "page=2"] {
        let answer = app.get(&format!("/api/audit?{query}")).await;
        assert_problem(&answer, StatusCode::BAD_REQUEST, "invalid_query");
    }
    let writer = app.create_key("write", None).await;
    let answer = app
        .call(Method::GET, "/api/audit", Some(&writer), None)
        .await;
    assert_problem(&answer, StatusCode::FORBIDDEN, "insufficient_scope");
    let answer = app.call(Method::GET, "/api/audit", None, None).await;
    assert_problem(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
}
