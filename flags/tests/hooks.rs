//! Hooks around evaluation (OpenFeature's stages and order) and impression
//! events.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use palisade_flags::hooks::{EvaluationFailure, Hook, HookError, Impression, impressions};
use palisade_flags::model::{
    Constraint, ContextField, Flag, FlagKind, FlagSet, Operator, Strategy, Variant,
};
use palisade_flags::{Context, ErrorCode, Flags, Reason};

type Log = Arc<Mutex<Vec<String>>>;

/// flag, enabled, variant, context key.
type Seen = (String, bool, String, Option<String>);

/// Records every stage it sees as `name:stage:detail`.
#[derive(Debug)]
struct Recorder {
    name: &'static str,
    log: Log,
    fail_before: bool,
    fail_after: bool,
}

impl Recorder {
    fn new(name: &'static str, log: &Log) -> Self {
        Self {
            name,
            log: log.clone(),
            fail_before: false,
            fail_after: false,
        }
    }

    fn push(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }
}

impl Hook for Recorder {
    fn before(&self, flag: &str, context: &Context<'_>) -> Result<(), HookError> {
        self.push(format!(
            "{}:before:{flag}:{}",
            self.name,
            context.get_user_id().unwrap_or("-")
        ));
        if self.fail_before {
            return Err(HookError::new("refused"));
        }
        Ok(())
    }

    fn after(
        &self,
        flag: &str,
        _: &Context<'_>,
        evaluation: &palisade_flags::Evaluation,
    ) -> Result<(), HookError> {
        self.push(format!(
            "{}:after:{flag}:{}",
            self.name,
            evaluation.is_enabled()
        ));
        if self.fail_after {
            return Err(HookError::new("rejected the result"));
        }
        Ok(())
    }

    fn error(&self, flag: &str, _: &Context<'_>, error: &EvaluationFailure<'_>) {
        let what = match error {
            EvaluationFailure::Evaluation(code) => code.to_string(),
            EvaluationFailure::Hook(error) => error.message().to_owned(),
            _ => "other".to_owned(),
        };
        self.push(format!("{}:error:{flag}:{what}", self.name));
    }

    fn finally(&self, flag: &str, _: &Context<'_>, evaluation: &palisade_flags::Evaluation) {
        self.push(format!(
            "{}:finally:{flag}:{}",
            self.name,
            evaluation.reason()
        ));
    }
}

fn set() -> FlagSet {
    let alice = Strategy::new("alice").constraint(Constraint::new(
        ContextField::UserId,
        Operator::In(vec!["alice".into()]),
    ));
    FlagSet::new(
        [
            Flag::new("beta", FlagKind::Boolean).strategy(alice),
            Flag::new("layout", FlagKind::Variant)
                .variant(Variant::new("grid", 1))
                .variant(Variant::new("list", 1).override_for(ContextField::UserId, ["bob"])),
        ],
        [],
    )
    .unwrap()
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn stages_run_before_in_order_then_after_and_finally_in_reverse() {
    let log = Log::default();
    let flags = Flags::new(set())
        .with_hook(Recorder::new("a", &log))
        .with_hook(Recorder::new("b", &log));

    let evaluation = flags.evaluate("beta", &Context::new().user_id("alice"));
    assert!(evaluation.is_enabled());
    assert_eq!(
        take(&log),
        [
            "a:before:beta:alice",
            "b:before:beta:alice",
            "b:after:beta:true",
            "a:after:beta:true",
            "b:finally:beta:TARGETING_MATCH",
            "a:finally:beta:TARGETING_MATCH",
        ]
    );
}

#[test]
fn an_unknown_flag_runs_the_error_stage_not_after() {
    let log = Log::default();
    let flags = Flags::new(set()).with_hook(Recorder::new("a", &log));

    let evaluation = flags.evaluate("nope", &Context::new());
    assert_eq!(evaluation.error_code(), Some(ErrorCode::FlagNotFound));
    assert_eq!(
        take(&log),
        [
            "a:before:nope:-",
            "a:error:nope:FLAG_NOT_FOUND",
            "a:finally:nope:ERROR"
        ]
    );
}

#[test]
fn a_failing_before_hook_stops_the_evaluation() {
    let log = Log::default();
    let flags = Flags::new(set())
        .with_hook(Recorder {
            fail_before: true,
            ..Recorder::new("a", &log)
        })
        .with_hook(Recorder::new("b", &log));

    let evaluation = flags.evaluate("beta", &Context::new().user_id("alice"));
    assert!(!evaluation.is_enabled());
    assert_eq!(evaluation.reason(), Reason::Error);
    assert_eq!(evaluation.error_code(), Some(ErrorCode::General));
    // `b` never saw `before` (the chain stopped at `a`), but every hook hears
    // the error and the final result.
    assert_eq!(
        take(&log),
        [
            "a:before:beta:alice",
            "b:error:beta:refused",
            "a:error:beta:refused",
            "b:finally:beta:ERROR",
            "a:finally:beta:ERROR",
        ]
    );
}

#[test]
fn a_failing_after_hook_turns_the_result_into_an_error() {
    let log = Log::default();
    let flags = Flags::new(set()).with_hook(Recorder {
        fail_after: true,
        ..Recorder::new("a", &log)
    });

    let evaluation = flags.evaluate("beta", &Context::new().user_id("alice"));
    assert_eq!(evaluation.as_bool(), Err(ErrorCode::General));
    assert_eq!(
        take(&log),
        [
            "a:before:beta:alice",
            "a:after:beta:true",
            "a:error:beta:rejected the result",
            "a:finally:beta:ERROR",
        ]
    );
}

#[test]
fn impressions_report_flag_variant_and_context_key() {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let sink = seen.clone();
    let flags = Flags::new(set()).with_hook(impressions(move |i: &Impression<'_>| {
        sink.lock().unwrap().push((
            i.flag.to_owned(),
            i.enabled,
            i.variant.to_owned(),
            i.context_key.map(str::to_owned),
        ));
    }));

    let _ = flags.evaluate("layout", &Context::new().user_id("bob"));
    let _ = flags.evaluate("beta", &Context::new().user_id("carol"));
    let _ = flags.evaluate("missing", &Context::new());
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (
                "layout".to_owned(),
                true,
                "list".to_owned(),
                Some("bob".to_owned())
            ),
            (
                "beta".to_owned(),
                false,
                "disabled".to_owned(),
                Some("carol".to_owned())
            ),
            ("missing".to_owned(), false, "disabled".to_owned(), None),
        ]
    );
    // `explain` is a debugging tool: no impression.
    let _ = flags.explain("beta", &Context::new());
    assert_eq!(seen.lock().unwrap().len(), 3);
}

mod stale {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::Duration;

    use palisade_flags::stale::{Staleness, Usage};
    use palisade_flags::time::{Clock, Timestamp};

    use super::*;

    const DAY: i64 = 86_400_000;

    /// A clock the test moves.
    #[derive(Debug, Clone, Default)]
    struct TestClock(Arc<AtomicI64>);

    impl Clock for TestClock {
        fn now(&self) -> Timestamp {
            Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst))
        }
    }

    impl TestClock {
        fn set_day(&self, day: i64) {
            self.0.store(day * DAY, Ordering::SeqCst);
        }
    }

    fn stale_set() -> FlagSet {
        let alice = Strategy::new("alice").constraint(Constraint::new(
            ContextField::UserId,
            Operator::In(vec!["alice".into()]),
        ));
        FlagSet::new(
            [
                Flag::new("mixed", FlagKind::Boolean).strategy(alice),
                Flag::new("everyone", FlagKind::Boolean),
                Flag::new("forgotten", FlagKind::Boolean),
                Flag::new("kill", FlagKind::KillSwitch),
            ],
            [],
        )
        .unwrap()
    }

    #[test]
    fn evaluations_are_counted_per_flag_and_answer() {
        let usage = Usage::new();
        let flags = Flags::new(stale_set()).with_hook(usage.clone());
        for user in ["alice", "bob", "carol"] {
            let _ = flags.evaluate("mixed", &Context::new().user_id(user));
        }
        let _ = flags.evaluate("no-such-flag", &Context::new());
        assert_eq!(usage.evaluations("mixed"), 3);
        assert_eq!(usage.served("mixed", true, "disabled"), 1);
        assert_eq!(usage.served("mixed", false, "disabled"), 2);
        assert_eq!(usage.evaluations("no-such-flag"), 0);
        assert_eq!(usage.evaluations("forgotten"), 0);
    }

    #[test]
    fn the_report_names_idle_and_one_answer_flags_but_no_kill_switch() {
        let clock = TestClock::default();
        let usage = Usage::new().with_clock(clock.clone());
        let flags = Flags::new(stale_set()).with_hook(usage.clone());
        let week = Duration::from_secs(7 * 86_400);

        // Days 0..10: `mixed` answers both ways, `everyone` always on,
        // `kill` evaluated on day 0 only, `forgotten` never.
        let _ = flags.evaluate("kill", &Context::new());
        for day in 0..10 {
            clock.set_day(day);
            let _ = flags.evaluate("mixed", &Context::new().user_id("alice"));
            let _ = flags.evaluate("mixed", &Context::new().user_id("bob"));
            let _ = flags.evaluate("everyone", &Context::new().user_id("bob"));
        }

        // Day 3: nothing has run for a week yet.
        let day3 = Timestamp::from_unix_millis(3 * DAY);
        assert_eq!(usage.report(&flags.snapshot(), day3, week, week), []);

        let day10 = Timestamp::from_unix_millis(10 * DAY);
        let report = usage.report(&flags.snapshot(), day10, week, week);
        let keys: Vec<&str> = report.iter().map(|s| &*s.key).collect();
        assert_eq!(keys, ["everyone", "forgotten"]);
        assert_eq!(
            report[0].staleness,
            Staleness::OneAnswer {
                enabled: true,
                variant: "disabled".into(),
                since: Timestamp::from_unix_millis(0),
            }
        );
        assert_eq!(report[1].staleness, Staleness::NotEvaluated { last: None });

        // Day 20: `mixed` went idle on day 9.
        let day20 = Timestamp::from_unix_millis(20 * DAY);
        let report = usage.report(&flags.snapshot(), day20, week, week);
        let mixed = report.iter().find(|s| &*s.key == "mixed").unwrap();
        assert_eq!(
            mixed.staleness,
            Staleness::NotEvaluated {
                last: Some(Timestamp::from_unix_millis(9 * DAY))
            }
        );
        assert!(report.iter().all(|s| &*s.key != "kill"));
    }
}
