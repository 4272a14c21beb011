//! Scheduled changes: applied at their time, once, and at start when their
//! time passed while nothing ran; through a store, as audited versions.
#![cfg(feature = "live")]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::sync::Arc;
use std::time::Duration;

use palisade_flags::model::{Flag, FlagKind, FlagSet, ScheduledChange, Strategy};
use palisade_flags::store::{Change, LiveFlags, ScheduleTask};
use palisade_flags::time::{Clock, Timestamp};
use palisade_flags::{Context, native};

/// Wall time that moves with tokio's (paused) clock.
#[derive(Debug)]
struct TokioClock {
    start: tokio::time::Instant,
    base: Timestamp,
}

impl TokioClock {
    fn at(base: Timestamp) -> Self {
        Self {
            start: tokio::time::Instant::now(),
            base,
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = i64::try_from(self.start.elapsed().as_millis()).unwrap();
        Timestamp::from_unix_millis(self.base.unix_millis() + elapsed)
    }
}

const BASE: Timestamp = Timestamp::from_unix_millis(1_900_000_000_000);
const HOUR: i64 = 3_600_000;

fn after(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(BASE.unix_millis() + millis)
}

fn on(live: &LiveFlags, user: &str) -> bool {
    live.flags()
        .evaluate("search", &Context::new().user_id(user))
        .is_enabled()
}

/// A rollout from 0 % to 100 % in an hour, then a kill in two.
fn rollout_then_kill() -> Flag {
    Flag::new("search", FlagKind::Percentage)
        .strategy(Strategy::new("everyone").rollout(0).unwrap())
        .scheduled(ScheduledChange::at(after(HOUR)).rollout(100).unwrap())
        .scheduled(ScheduledChange::at(after(2 * HOUR)).killed(true))
}

#[tokio::test(start_paused = true)]
async fn a_rollout_step_and_a_kill_take_effect_at_their_times_once_each() {
    let live = Arc::new(LiveFlags::new(
        FlagSet::new([rollout_then_kill()], []).unwrap(),
    ));
    let clock = Arc::new(TokioClock::at(BASE));
    let mut changes = live.subscribe();
    let _task = ScheduleTask::live(Arc::clone(&live), SharedClock(Arc::clone(&clock)));

    // A minute early, nothing has changed.
    tokio::time::advance(Duration::from_millis(u64::try_from(HOUR - 60_000).unwrap())).await;
    tokio::task::yield_now().await;
    assert!(!on(&live, "u1"));
    assert_eq!(changes.try_recv(), None);

    // The rollout step: announced once, at (not before) its time.
    assert_eq!(
        changes.recv().await,
        Some(Change::Flags(vec!["search".into()].into()))
    );
    assert!(clock.now() >= after(HOUR));
    assert!(on(&live, "u1") && on(&live, "u2"));
    assert_eq!(live.snapshot().get("search").unwrap().schedule().len(), 1);

    // The kill, an hour later.
    assert!(changes.recv().await.is_some());
    assert!(clock.now() >= after(2 * HOUR));
    assert!(!on(&live, "u1"));
    let flag = live.snapshot().get("search").unwrap().clone();
    assert!(flag.is_killed() && flag.schedule().is_empty());

    // Nothing is applied twice.
    tokio::time::advance(Duration::from_secs(24 * 3600)).await;
    tokio::task::yield_now().await;
    assert_eq!(changes.try_recv(), None);
}

#[tokio::test(start_paused = true)]
async fn a_change_whose_time_passed_while_nothing_ran_applies_at_start() {
    let live = Arc::new(LiveFlags::new(
        FlagSet::new([rollout_then_kill()], []).unwrap(),
    ));
    let mut changes = live.subscribe();
    // Started 90 minutes late: the rollout step is due, the kill is not.
    let _task = ScheduleTask::live(Arc::clone(&live), TokioClock::at(after(HOUR + HOUR / 2)));
    assert!(changes.recv().await.is_some());
    assert!(on(&live, "u1"));
    assert!(!live.snapshot().get("search").unwrap().is_killed());
}

#[tokio::test(start_paused = true)]
async fn a_change_added_by_an_update_is_scheduled_too() {
    let live = Arc::new(LiveFlags::new(FlagSet::default()));
    let clock = Arc::new(TokioClock::at(BASE));
    let _task = ScheduleTask::live(Arc::clone(&live), SharedClock(Arc::clone(&clock)));
    let mut changes = live.subscribe();
    live.apply(
        "test",
        native::from_json(
            r#"{"flags": [{ "key": "search", "kind": "boolean", "enabled": false,
                "schedule": [{ "at": "2030-03-17T18:46:40.000Z", "enabled": true }] }]}"#,
        ),
    )
    .unwrap();
    assert!(changes.recv().await.is_some(), "the update itself");
    assert!(!on(&live, "u1"));
    assert!(changes.recv().await.is_some(), "the scheduled change");
    assert!(clock.now() >= after(HOUR));
    assert_eq!(after(HOUR), "2030-03-17T18:46:40.000Z".parse().unwrap());
    assert!(on(&live, "u1"));
}

#[test]
fn the_native_format_reads_and_writes_schedules_and_validates_them() {
    let json = r#"{"flags": [{ "key": "search", "kind": "percentage",
        "strategies": [{ "name": "all", "rollout": 10 }],
        "schedule": [
          { "at": "2030-03-04T09:00:00Z", "rollout": 50, "strategy": "all" },
          { "at": "2030-03-11T09:00:00+01:00", "killed": true }
        ] }]}"#;
    let set = native::from_json(json).unwrap();
    let schedule = set.get("search").unwrap().schedule();
    assert_eq!(schedule.len(), 2);
    assert_eq!(
        schedule[1].time(),
        "2030-03-11T08:00:00Z".parse::<Timestamp>().unwrap()
    );
    let again = native::from_json(&native::to_json(&set)).unwrap();
    assert_eq!(
        native::flag_to_value(again.get("search").unwrap()),
        native::flag_to_value(set.get("search").unwrap())
    );

    let bad_time = native::from_json(
        r#"{"flags": [{ "key": "a", "kind": "boolean",
            "schedule": [{ "at": "next monday", "enabled": true }] }]}"#,
    )
    .unwrap_err();
    assert!(
        bad_time.to_string().contains("\"next monday\""),
        "{bad_time}"
    );
    let no_rollout = native::from_json(
        r#"{"flags": [{ "key": "a", "kind": "boolean",
            "schedule": [{ "at": "2030-01-01T00:00:00Z", "rollout": 50 }] }]}"#,
    )
    .unwrap_err();
    assert_eq!(
        no_rollout.to_string(),
        "flag \"a\" has a scheduled change at 2030-01-01T00:00:00.000Z that cannot apply: \
         a scheduled rollout needs a strategy with a rollout"
    );
    let typo = native::from_json(
        r#"{"flags": [{ "key": "a", "kind": "boolean",
            "schedule": [{ "at": "2030-01-01T00:00:00Z", "enable": true }] }]}"#,
    )
    .unwrap_err();
    assert!(typo.location().is_some(), "{typo}");
}

/// One clock shared between the scheduler and the test.
#[derive(Debug)]
struct SharedClock(Arc<TokioClock>);

impl Clock for SharedClock {
    fn now(&self) -> Timestamp {
        self.0.now()
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use palisade_flags::store::{AuditAction, Edit, Expect, FlagStore, SqliteFlagStore};
    use palisade_flags::time::FixedClock;

    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("palisade-flags-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Waits (at most 5 s) for the next change notice.
    async fn next_change(changes: &mut palisade_flags::store::Subscription) {
        tokio::time::timeout(Duration::from_secs(5), changes.recv())
            .await
            .expect("no change within 5 s")
            .expect("the flags are still there");
    }

    #[tokio::test]
    async fn a_store_records_the_scheduled_change_as_a_version_by_schedule_surviving_a_restart() {
        let dir = temp_dir("schedule-sqlite");
        let path = dir.join("flags.db");
        {
            // Written while no scheduler runs; then the process stops.
            let store = SqliteFlagStore::open(&path).await.unwrap();
            store
                .put(&rollout_then_kill(), Expect::Absent, &Edit::by("ana"))
                .await
                .unwrap();
        }
        // Restarted after the rollout step's time (before the kill's).
        let store: Arc<dyn FlagStore> = Arc::new(SqliteFlagStore::open(&path).await.unwrap());
        assert!(
            !on(store.live(), "u1"),
            "not applied until a scheduler runs"
        );
        let mut changes = store.live().subscribe();
        let _task = ScheduleTask::store(Arc::clone(&store), FixedClock(after(HOUR + 1)));
        next_change(&mut changes).await;
        assert!(on(store.live(), "u1"));

        let history = store.history("search").await.unwrap();
        let summary: Vec<_> = history
            .iter()
            .map(|e| (e.version, e.action, e.actor.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (1, AuditAction::Create, "ana"),
                (2, AuditAction::Update, "schedule")
            ]
        );
        assert_eq!(
            history[1].reason.as_deref(),
            Some("scheduled for 2030-03-17T18:46:40.000Z")
        );
        let stored = store.get("search").await.unwrap().flag().unwrap();
        assert_eq!(stored.schedule().len(), 1, "the kill is still to come");
        assert!(!stored.is_killed());
    }
}

#[cfg(feature = "postgres")]
#[path = "../../webhooks/tests/services/postgres.rs"]
mod services;

#[cfg(feature = "postgres")]
mod postgres {
    use palisade_flags::store::{AuditAction, Edit, Expect, FlagStore, PostgresFlagStore};
    use palisade_flags::time::FixedClock;

    use super::services;
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_apply_a_scheduled_change_once() {
        let Some(db) = services::fresh_database("flags_schedule_once").await else {
            return;
        };
        let a: Arc<dyn FlagStore> = Arc::new(PostgresFlagStore::connect(db.url()).await.unwrap());
        let b: Arc<dyn FlagStore> = Arc::new(PostgresFlagStore::connect(db.url()).await.unwrap());
        let late = FixedClock(after(3 * HOUR));
        let _on_a = ScheduleTask::store(Arc::clone(&a), late);
        let _on_b = ScheduleTask::store(Arc::clone(&b), late);
        a.put(&rollout_then_kill(), Expect::Absent, &Edit::by("ana"))
            .await
            .unwrap();
        let settled = |store: &Arc<dyn FlagStore>| {
            store
                .live()
                .snapshot()
                .get("search")
                .is_some_and(|f| f.schedule().is_empty() && f.is_killed())
        };
        let mut done = false;
        for _ in 0..250 {
            if settled(&a) && settled(&b) {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(done, "both instances serve the applied schedule within 5 s");
        // Both schedulers saw the change due; one version records it.
        let history = a.history("search").await.unwrap();
        let by_schedule: Vec<_> = history
            .iter()
            .filter(|e| e.actor == "schedule")
            .map(|e| (e.version, e.action))
            .collect();
        assert_eq!(by_schedule, [(2, AuditAction::Update)]);
    }
}
