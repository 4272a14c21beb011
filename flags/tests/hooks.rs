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
