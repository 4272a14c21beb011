//! Two server instances sharing one per-key limit through Redis (skipped,
//! visibly, when Redis is down).
#![allow(clippy::unwrap_used)]

#[path = "../../resilience/tests/services/redis.rs"]
mod services;
mod support;

use http::StatusCode;
use palisade_server::auth::TierArg;
use palisade_server::auth::args::ApiArgs;
use support::{TestApp, assert_problem};

#[tokio::test]
async fn two_instances_share_a_keys_limit_through_redis() {
    let Some(url) = services::redis_url("two_instances_share_a_keys_limit_through_redis").await
    else {
        return;
    };
    let args = ApiArgs {
        // The admin key's tier, made tiny: two requests, then one per 30 s.
        rate_tiers: vec!["high=2".parse::<TierArg>().unwrap()],
        redis_url: Some(url),
        redis_prefix: format!("palisade:test:{}:{}:", std::process::id(), line!()),
        ..ApiArgs::default()
    };
    let one = TestApp::spawn_with("redis-one", args.clone()).await;
    // The second instance knows the same admin key.
    let two = TestApp::spawn_with(
        "redis-two",
        ApiArgs {
            admin_token: Some(one.admin.clone()),
            ..args
        },
    )
    .await;
    assert_eq!(one.get("/api/keys").await.status, StatusCode::OK);
    assert_eq!(two.get("/api/keys").await.status, StatusCode::OK);
    // Each instance alone would still admit one more; together the key is done.
    assert_problem(
        &one.get("/api/keys").await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    assert_problem(
        &two.get("/api/keys").await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    // Readiness includes the Redis.
    let ready = one.get("/health/ready").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    assert!(ready.text.contains(r#""name":"redis""#), "{}", ready.text);
}
