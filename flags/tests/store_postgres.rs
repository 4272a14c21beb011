//! The Postgres flag store on a real, fresh database per test; skipped
//! (with a `SKIPPED:` line) when Postgres does not answer, unless
//! `PALISADE_REQUIRE_SERVICES=1`.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "../../webhooks/tests/services/postgres.rs"]
mod services;
#[path = "store/suite.rs"]
mod suite;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use palisade_flags::model::{Flag, FlagKind};
use palisade_flags::store::{AuditAction, Edit, Expect, FlagStore, PostgresFlagStore};
use palisade_flags::{Context, Value};

#[tokio::test]
async fn postgres_store_creates_updates_deletes_audits_and_reverts() {
    let Some(db) = services::fresh_database("postgres_store_suite").await else {
        return;
    };
    let store = PostgresFlagStore::connect(db.url()).await.unwrap();
    suite::crud_audit_and_revert(&store).await;
}

#[tokio::test]
async fn postgres_store_keeps_segments_with_versions_and_audit() {
    let Some(db) = services::fresh_database("postgres_store_segments").await else {
        return;
    };
    let store = PostgresFlagStore::connect(db.url()).await.unwrap();
    suite::segments_versions_audit_and_guards(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_changed_on_one_instance_changes_its_flags_on_another() {
    use palisade_flags::model::Strategy;

    let Some(db) = services::fresh_database("postgres_store_segment_notify").await else {
        return;
    };
    let a = PostgresFlagStore::connect(db.url()).await.unwrap();
    let b = PostgresFlagStore::connect(db.url()).await.unwrap();
    a.put_segment(
        &suite::staff("@example.com"),
        Expect::Absent,
        &Edit::by("a"),
    )
    .await
    .unwrap();
    let beta = Flag::new("beta", FlagKind::Boolean).strategy(Strategy::new("s").segment(7));
    a.put(&beta, Expect::Absent, &Edit::by("a")).await.unwrap();
    eventually("B to serve the flag using the segment", || {
        suite::on_for(&b, "beta", "ana@example.com")
    })
    .await;
    assert!(!suite::on_for(&b, "beta", "eve@elsewhere.org"));
    a.put_segment(
        &suite::staff("@elsewhere.org"),
        Expect::Version(1),
        &Edit::by("a"),
    )
    .await
    .unwrap();
    eventually("B to serve the changed segment", || {
        suite::on_for(&b, "beta", "eve@elsewhere.org")
    })
    .await;
    assert!(!suite::on_for(&b, "beta", "ana@example.com"));
}

fn config(n: u64) -> Flag {
    Flag::new(
        "settings",
        FlagKind::Config {
            on: serde_json::json!({"version": n, "check": n}).into(),
            off: serde_json::Value::Null.into(),
        },
    )
}

fn version(store: &PostgresFlagStore) -> Option<u64> {
    match store
        .live()
        .flags()
        .evaluate("settings", &Context::new())
        .value()
    {
        Value::Json(v) => v["version"].as_u64(),
        _ => None,
    }
}

/// Waits (at most 5 s, in short steps) for `done`.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..250 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not happen within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_instance_is_served_by_another() {
    let Some(db) = services::fresh_database("postgres_store_notify").await else {
        return;
    };
    let a = PostgresFlagStore::connect(db.url()).await.unwrap();
    let b = PostgresFlagStore::connect(db.url()).await.unwrap();
    a.put(&config(1), Expect::Absent, &Edit::by("a"))
        .await
        .unwrap();
    eventually("B to see the flag created on A", || version(&b) == Some(1)).await;

    // A reader thread on instance B never sees a torn or older state.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (flags, stop) = (Arc::clone(b.live().flags()), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut highest = 0;
            let mut last_round = false;
            while !last_round {
                last_round = stop.load(Ordering::SeqCst);
                let evaluation = flags.evaluate("settings", &Context::new());
                let Value::Json(v) = evaluation.value() else {
                    panic!("not a config value");
                };
                let (version, check) =
                    (v["version"].as_u64().unwrap(), v["check"].as_u64().unwrap());
                assert_eq!(version, check, "torn read");
                assert!(version >= highest, "went back from {highest} to {version}");
                highest = version;
            }
            highest
        })
    };
    let mut changes = b.live().subscribe();
    for n in 2..=5 {
        a.put(&config(n), Expect::Version(n - 1), &Edit::by("a"))
            .await
            .unwrap();
        eventually("B to serve A's write", || version(&b) == Some(n)).await;
    }
    assert!(
        changes.try_recv().is_some(),
        "B's subscribers hear of A's writes"
    );

    // B writes on top of A's version, and A follows.
    b.put(
        &config(6),
        Expect::Version(5),
        &Edit::by("b").because("from b"),
    )
    .await
    .unwrap();
    eventually("A to serve B's write", || version(&a) == Some(6)).await;
    stop.store(true, Ordering::SeqCst);
    assert_eq!(reader.join().unwrap(), 6);

    // One audit log for both.
    let history = a.history("settings").await.unwrap();
    assert_eq!(history.len(), 6);
    assert_eq!(history[0].action, AuditAction::Create);
    assert_eq!(history[5].actor, "b");

    // A delete on A disappears from B too.
    a.delete("settings", Expect::Version(6), &Edit::by("a"))
        .await
        .unwrap();
    eventually("B to drop the deleted flag", || version(&b).is_none()).await;
}

#[tokio::test]
async fn concurrent_writers_on_two_instances_conflict_instead_of_overwriting() {
    let Some(db) = services::fresh_database("postgres_store_conflict").await else {
        return;
    };
    let a = PostgresFlagStore::connect(db.url()).await.unwrap();
    let b = PostgresFlagStore::connect(db.url()).await.unwrap();
    a.put(&config(1), Expect::Absent, &Edit::by("a"))
        .await
        .unwrap();
    let (two, three, by_a, by_b) = (config(2), config(3), Edit::by("a"), Edit::by("b"));
    let (ra, rb) = tokio::join!(
        a.put(&two, Expect::Version(1), &by_a),
        b.put(&three, Expect::Version(1), &by_b),
    );
    assert!(ra.is_ok() != rb.is_ok(), "exactly one wins: {ra:?} {rb:?}");
    assert_eq!(a.get("settings").await.unwrap().version, 2);
}
