//! Live updates: `LiveFlags` swaps validated updates in whole, keeps the
//! last good snapshot on a broken one, and tells subscribers what changed;
//! `FileSource` feeds it from a watched file.
#![cfg(feature = "live")]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use palisade_flags::Context;
use palisade_flags::model::{Flag, FlagKind, FlagSet};
use palisade_flags::native;
use palisade_flags::store::{Applied, Change, LiveFlags};

fn doc(enabled_a: bool, enabled_b: bool) -> String {
    format!(
        r#"{{"segments": [{{"id": 1, "constraints": [{{"field": "tier", "operator": "IN", "values": ["gold"]}}]}}],
            "flags": [
              {{"key": "a", "kind": "boolean", "enabled": {enabled_a}}},
              {{"key": "b", "kind": "boolean", "enabled": {enabled_b}, "strategies": [{{"segments": [1]}}]}},
              {{"key": "c", "kind": "boolean"}}
            ]}}"#
    )
}

#[tokio::test]
async fn updates_announce_exactly_the_changed_keys() {
    let live = LiveFlags::new(native::from_json(&doc(true, true)).unwrap());
    let mut changes = live.subscribe();

    let applied = live.apply("test", native::from_json(&doc(false, true)));
    assert_eq!(applied.unwrap(), Applied::Changed(vec!["a".into()].into()));
    assert_eq!(
        changes.recv().await,
        Some(Change::Flags(vec!["a".into()].into()))
    );

    // The same definitions again: nothing to announce.
    assert_eq!(
        live.apply("test", native::from_json(&doc(false, true)))
            .unwrap(),
        Applied::Unchanged
    );
    assert_eq!(changes.try_recv(), None);

    // A changed segment changes the flags that use it; a removed flag is a change.
    let text = doc(false, true).replace("gold", "platinum").replace(
        r#",
              {"key": "c", "kind": "boolean"}"#,
        "",
    );
    let applied = live.apply("test", native::from_json(&text)).unwrap();
    assert_eq!(
        applied,
        Applied::Changed(vec!["b".into(), "c".into()].into())
    );
    assert_eq!(live.snapshot().len(), 2);
}

#[test]
fn a_broken_update_keeps_the_last_good_snapshot_and_is_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let live = LiveFlags::new(native::from_json(&doc(true, true)).unwrap());
        let cycle = r#"{"flags": [
            {"key": "a", "kind": "boolean", "enabled": false, "dependencies": [{"flag": "b"}]},
            {"key": "b", "kind": "boolean", "dependencies": [{"flag": "a"}]}]}"#;
        let error = live.apply("test", native::from_json(cycle)).unwrap_err();
        assert!(error.to_string().contains("cycle: a -> b -> a"));
        assert_eq!(
            live.last_error().as_deref(),
            Some("flags depend on each other in a cycle: a -> b -> a")
        );
        assert!(
            live.flags().evaluate("a", &Context::new()).is_enabled(),
            "old snapshot kept"
        );
        assert_eq!(live.snapshot().len(), 3);

        live.apply("test", native::from_json(&doc(false, false)))
            .unwrap();
        assert_eq!(live.last_error(), None, "a good update clears the error");
    });
    let metrics: Vec<_> = snapshotter.snapshot().into_vec();
    let find = |name: &str, label: Option<&str>| {
        metrics.iter().find_map(|(key, _, _, value)| {
            let key = key.key();
            (key.name() == name && label.is_none_or(|l| key.labels().any(|x| x.value() == l)))
                .then_some(value)
        })
    };
    assert_eq!(
        find("palisade_flags_reloads_total", Some("rejected")),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        find("palisade_flags_reloads_total", Some("applied")),
        Some(&DebugValue::Counter(1))
    );
    assert!(
        matches!(find("palisade_flags_count", None), Some(DebugValue::Gauge(n)) if n.into_inner() == 3.0)
    );
    assert!(matches!(
        find("palisade_flags_last_reload_timestamp_seconds", None),
        Some(DebugValue::Gauge(at)) if at.into_inner() > 1.6e9
    ));
}

#[tokio::test]
async fn a_lagging_subscriber_is_told_to_re_read() {
    let live = LiveFlags::new(FlagSet::default());
    let mut slow = live.subscribe();
    for i in 0..300 {
        let set = FlagSet::new([Flag::new(format!("f{i}"), FlagKind::Boolean)], []).unwrap();
        live.apply("test", Ok::<_, std::convert::Infallible>(set))
            .unwrap();
    }
    assert!(matches!(slow.recv().await, Some(Change::Lagged { missed }) if missed > 0));
    // After the notice, it follows the newest changes again.
    assert!(matches!(slow.recv().await, Some(Change::Flags(_))));
    drop(live);
    let mut drained = 0;
    while let Some(change) = slow.recv().await {
        assert!(matches!(change, Change::Flags(_)));
        drained += 1;
    }
    assert!(
        drained < 300,
        "the channel is closed once LiveFlags is gone"
    );
}

#[cfg(feature = "file")]
mod file {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use palisade_flags::Value;
    use palisade_flags::store::{FileError, FileSource};

    use super::*;

    fn config_doc(version: u32) -> String {
        format!(
            r#"{{"flags": [{{"key": "settings", "kind": "config",
                "config": {{"on": {{"version": {version}, "check": {version}}}, "off": null}}}}]}}"#
        )
    }

    fn temp_file(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("palisade-flags-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("flags.json")
    }

    fn version(live: &LiveFlags) -> u64 {
        match live.flags().evaluate("settings", &Context::new()).value() {
            Value::Json(v) => v["version"].as_u64().unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Waits (a bounded number of short sleeps) for `done`.
    async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{what} did not happen within 5 s");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_sees_the_edit_and_never_a_torn_or_older_state() {
        let path = temp_file("edit");
        std::fs::write(&path, config_doc(1)).unwrap();
        let source = FileSource::new(&path).interval(Duration::from_millis(5));
        let live = Arc::new(LiveFlags::new(source.load().await.unwrap()));
        let _watch = source.watch(Arc::clone(&live));

        // A reader on its own OS thread evaluates in a loop.
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (flags, stop) = (Arc::clone(live.flags()), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut highest = 0;
                let mut reads = 0u64;
                // One more read after the stop, which comes after the last edit.
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
                    reads += 1;
                }
                (highest, reads)
            })
        };

        for next in 2..=4 {
            std::fs::write(&path, config_doc(next)).unwrap();
            eventually("the edit to be served", || {
                version(&live) == u64::from(next)
            })
            .await;
        }
        // A broken edit is rejected with its error; version 4 stays.
        std::fs::write(&path, "{\"flags\": [ {\"key\": ").unwrap();
        eventually("the broken edit to be rejected", || {
            live.last_error().is_some()
        })
        .await;
        let error = live.last_error().unwrap();
        assert!(
            error.contains("flags.json: JSON error at line 1"),
            "{error}"
        );
        assert_eq!(version(&live), 4);

        // Fixing the file brings updates back.
        std::fs::write(&path, config_doc(5)).unwrap();
        eventually("the fixed file to be served", || version(&live) == 5).await;
        assert_eq!(live.last_error(), None);

        stop.store(true, Ordering::SeqCst);
        let (highest, reads) = reader.join().unwrap();
        assert_eq!(highest, 5);
        assert!(reads > 0);
    }

    #[tokio::test]
    async fn a_missing_or_invalid_file_fails_to_load_clearly() {
        let path = temp_file("missing");
        let error = FileSource::new(&path).load().await.unwrap_err();
        assert!(matches!(error, FileError::Read { .. }));
        assert!(error.to_string().starts_with("cannot read "), "{error}");

        std::fs::write(
            &path,
            r#"{"flags": [{"key": "x", "kind": "boolean", "strategies": [{"segments": [4]}]}]}"#,
        )
        .unwrap();
        let error = FileSource::new(&path).load().await.unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("flags.json: flag \"x\" uses segment 4, which is not defined"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_deleted_file_keeps_the_definitions() {
        let path = temp_file("deleted");
        std::fs::write(&path, config_doc(1)).unwrap();
        let source = FileSource::new(&path).interval(Duration::from_millis(5));
        let live = Arc::new(LiveFlags::new(source.load().await.unwrap()));
        let watch = source.watch(Arc::clone(&live));
        std::fs::remove_file(&path).unwrap();
        eventually("the missing file to be reported", || {
            live.last_error().is_some()
        })
        .await;
        assert!(live.last_error().unwrap().starts_with("cannot read "));
        assert_eq!(version(&live), 1);
        drop(watch);
    }

    #[cfg(feature = "yaml")]
    #[tokio::test]
    async fn a_yaml_file_is_read_as_yaml() {
        let path = temp_file("yaml").with_extension("yaml");
        std::fs::write(
            &path,
            "flags:\n  - key: y\n    kind: kill_switch\n    killed: true\n",
        )
        .unwrap();
        let set = FileSource::new(&path).load().await.unwrap();
        assert!(set.get("y").unwrap().is_killed());
    }
}
