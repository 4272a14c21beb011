//! The SQLite flag store on real files.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "store/suite.rs"]
mod suite;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use palisade_flags::model::{Flag, FlagKind};
use palisade_flags::store::{Edit, Expect, FlagStore, SqliteFlagStore};
use palisade_flags::time::{FixedClock, Timestamp};
use palisade_flags::{Context, Value};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-flags-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn sqlite_store_creates_updates_deletes_audits_and_reverts() {
    let dir = temp_dir("sqlite-suite");
    let store = SqliteFlagStore::open(dir.join("flags.db")).await.unwrap();
    suite::crud_audit_and_revert(&store).await;
}

#[tokio::test]
async fn sqlite_store_keeps_segments_with_versions_and_audit() {
    let dir = temp_dir("sqlite-segments");
    let store = SqliteFlagStore::open(dir.join("flags.db")).await.unwrap();
    suite::segments_versions_audit_and_guards(&store).await;
}

#[tokio::test]
async fn a_reopened_store_serves_its_stored_segments() {
    use palisade_flags::model::Strategy;

    let dir = temp_dir("sqlite-segments-reopen");
    let path = dir.join("flags.db");
    {
        let store = SqliteFlagStore::open(&path).await.unwrap();
        store
            .put_segment(
                &suite::staff("@example.com"),
                Expect::Absent,
                &Edit::by("a"),
            )
            .await
            .unwrap();
        let beta = Flag::new("beta", FlagKind::Boolean).strategy(Strategy::new("s").segment(7));
        store
            .put(&beta, Expect::Absent, &Edit::by("a"))
            .await
            .unwrap();
    }
    let store = SqliteFlagStore::open(&path).await.unwrap();
    assert!(suite::on_for(&store, "beta", "ana@example.com"));
    assert!(!suite::on_for(&store, "beta", "eve@elsewhere.org"));
}

#[tokio::test]
async fn reopening_keeps_flags_versions_and_history() {
    let dir = temp_dir("sqlite-reopen");
    let path = dir.join("flags.db");
    {
        let store = SqliteFlagStore::open(&path)
            .await
            .unwrap()
            .with_clock(FixedClock(Timestamp::from_unix_millis(1_700_000_000_000)));
        let flag = Flag::new("kept", FlagKind::KillSwitch);
        store
            .put(&flag, Expect::Absent, &Edit::by("ana"))
            .await
            .unwrap();
        store
            .put(&flag.killed(true), Expect::Version(1), &Edit::by("ana"))
            .await
            .unwrap();
    }
    let store = SqliteFlagStore::open(&path).await.unwrap();
    let flag = store.get("kept").await.unwrap();
    assert_eq!(flag.version, 2);
    assert_eq!(
        flag.updated_at,
        Timestamp::from_unix_millis(1_700_000_000_000)
    );
    assert!(flag.flag().unwrap().is_killed());
    assert!(
        !store
            .live()
            .flags()
            .evaluate("kept", &Context::new())
            .is_enabled(),
        "the reopened store serves what was stored"
    );
    assert_eq!(store.history("kept").await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    let dir = temp_dir("sqlite-append-only");
    let path = dir.join("flags.db");
    let store = SqliteFlagStore::open(&path).await.unwrap();
    store
        .put(
            &Flag::new("a", FlagKind::Boolean),
            Expect::Any,
            &Edit::by("ana"),
        )
        .await
        .unwrap();
    drop(store);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let update = sqlx::query("UPDATE flag_audit SET actor = 'mallory'")
        .execute(&pool)
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM flag_audit").execute(&pool).await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_thread_sees_every_write_in_order_without_torn_reads() {
    let dir = temp_dir("sqlite-live");
    let store = SqliteFlagStore::open(dir.join("flags.db")).await.unwrap();
    let config = |n: u64| {
        Flag::new(
            "settings",
            FlagKind::Config {
                on: serde_json::json!({"version": n, "check": n}).into(),
                off: serde_json::Value::Null.into(),
            },
        )
    };
    store
        .put(&config(1), Expect::Absent, &Edit::by("t"))
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (flags, stop) = (Arc::clone(store.live().flags()), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut highest = 0;
            // One more read after the stop, which comes after the last write.
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
    let mut changes = store.live().subscribe();
    for n in 2..=20 {
        store
            .put(&config(n), Expect::Version(n - 1), &Edit::by("t"))
            .await
            .unwrap();
        assert!(changes.recv().await.is_some());
    }
    stop.store(true, Ordering::SeqCst);
    assert_eq!(reader.join().unwrap(), 20);
}

#[cfg(feature = "file")]
#[tokio::test]
async fn a_backup_follows_the_store_and_serves_when_it_is_unreachable() {
    use palisade_flags::store::Backup;

    let dir = temp_dir("sqlite-backup");
    let backup = Backup::new(dir.join("flags.backup.json"));
    let store = SqliteFlagStore::open(dir.join("flags.db")).await.unwrap();
    let keeping = backup.keep(Arc::clone(store.live()));
    store
        .put(
            &Flag::new("kept", FlagKind::Boolean).enabled(false),
            Expect::Absent,
            &Edit::by("t"),
        )
        .await
        .unwrap();
    // The backup catches up (bounded wait: at most 5 s).
    let mut backed_up = false;
    for _ in 0..500 {
        if backup
            .load()
            .await
            .is_ok_and(|set| set.get("kept").is_some())
        {
            backed_up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(backed_up, "the backup was not written within 5 s");
    drop(keeping);
    drop(store);
    assert!(
        !dir.join("flags.backup.json.tmp").exists(),
        "written by rename"
    );

    // The store is unreachable (its directory is gone): start from the backup.
    let unreachable = SqliteFlagStore::open(dir.join("missing").join("flags.db")).await;
    assert!(unreachable.is_err());
    let live = backup.fallback().await.unwrap();
    let evaluation = live.flags().evaluate("kept", &Context::new());
    assert!(
        evaluation.error_code().is_none(),
        "the flag is known: {evaluation:?}"
    );
    assert!(!evaluation.is_enabled(), "and served as stored");
}
