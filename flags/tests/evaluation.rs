//! What a user of `Flags` sees: values, variants, OpenFeature reasons and
//! error codes, the kill switch, config values, `explain`, and updates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use palisade_flags::model::{
    Comparison, Constraint, ContextField, Dependency, Flag, FlagKind, FlagSet, Operator, Payload,
    Segment, Stickiness, Strategy, Variant,
};
use palisade_flags::time::{FixedClock, Timestamp};
use palisade_flags::{Context, ErrorCode, Flags, Reason, Step, Value};

fn flags(list: impl IntoIterator<Item = Flag>) -> Flags {
    Flags::new(FlagSet::new(list, []).unwrap()).with_random_seed(1)
}

fn in_env(env: &str) -> Constraint {
    Constraint::new(ContextField::Environment, Operator::In(vec![env.into()]))
}

#[test]
fn reasons_follow_openfeature() {
    let flags = flags([
        Flag::new("everyone", FlagKind::Boolean),
        Flag::new("prod-only", FlagKind::Boolean)
            .strategy(Strategy::new("prod").constraint(in_env("prod"))),
        Flag::new("half", FlagKind::Percentage).strategy(
            Strategy::new("half")
                .rollout(50)
                .unwrap()
                .stickiness(Stickiness::Field(ContextField::UserId)),
        ),
        Flag::new("off", FlagKind::Boolean).enabled(false),
    ]);
    let prod = Context::new().environment("prod").user_id("a");
    let dev = Context::new().environment("dev");

    assert_eq!(flags.evaluate("everyone", &dev).reason(), Reason::Static);
    let targeted = flags.evaluate("prod-only", &prod);
    assert_eq!(
        (targeted.as_bool(), targeted.reason()),
        (Ok(true), Reason::TargetingMatch)
    );
    let missed = flags.evaluate("prod-only", &dev);
    assert_eq!(
        (missed.as_bool(), missed.reason()),
        (Ok(false), Reason::Default)
    );
    let off = flags.evaluate("off", &prod);
    assert_eq!((off.as_bool(), off.reason()), (Ok(false), Reason::Disabled));
    let missing = flags.evaluate("nope", &prod);
    assert_eq!(missing.reason(), Reason::Error);
    assert_eq!(missing.error_code(), Some(ErrorCode::FlagNotFound));
    assert_eq!(missing.as_bool(), Err(ErrorCode::FlagNotFound));
    assert_eq!(ErrorCode::FlagNotFound.as_str(), "FLAG_NOT_FOUND");

    // Of 200 users, those inside the 50% rollout are a SPLIT, the rest DEFAULT.
    let ids: Vec<String> = (0..200).map(|i| format!("user-{i}")).collect();
    let on = ids
        .iter()
        .map(|id| flags.evaluate("half", &Context::new().user_id(id)))
        .inspect(|e| {
            let expected = if e.is_enabled() {
                Reason::Split
            } else {
                Reason::Default
            };
            assert_eq!(e.reason(), expected);
        })
        .filter(|e| e.is_enabled())
        .count();
    assert!(
        (70..=130).contains(&on),
        "about half of 200 users are on, got {on}"
    );
}

#[test]
fn the_kill_switch_wins_over_every_rule() {
    let flag = Flag::new("payments", FlagKind::KillSwitch).strategy(Strategy::new("all"));
    let live = flags([flag.clone()]);
    assert_eq!(
        live.evaluate("payments", &Context::new()).as_bool(),
        Ok(true)
    );
    let killed = flags([flag.killed(true)]);
    let evaluation = killed.evaluate("payments", &Context::new());
    assert_eq!(
        (evaluation.as_bool(), evaluation.reason()),
        (Ok(false), Reason::Disabled)
    );
    assert_eq!(
        killed.explain("payments", &Context::new()).steps,
        vec![Step::Killed]
    );
}

#[test]
fn a_boolean_request_on_another_kind_is_a_type_mismatch() {
    let flags = flags([Flag::new("theme", FlagKind::Variant).variant(Variant::new("dark", 1))]);
    let evaluation = flags.evaluate_bool("theme", &Context::new().user_id("1"));
    assert_eq!(evaluation.reason(), Reason::Error);
    assert_eq!(evaluation.error_code(), Some(ErrorCode::TypeMismatch));
    let as_variant = flags.evaluate("theme", &Context::new().user_id("1"));
    assert_eq!(as_variant.as_bool(), Err(ErrorCode::TypeMismatch));
    assert_eq!(as_variant.value(), &Value::String("dark".into()));
}

#[test]
fn variants_split_by_weight_and_overrides_pin() {
    let flags = flags([Flag::new("button", FlagKind::Variant)
        .variant(Variant::new("red", 1).payload(Payload::string("#f00")))
        .variant(Variant::new("green", 1).override_for(ContextField::UserId, ["vip"]))
        .variant(Variant::new("blue", 1))]);
    let vip = flags.evaluate("button", &Context::new().user_id("vip"));
    assert_eq!(
        (vip.variant_name(), vip.reason()),
        ("green", Reason::TargetingMatch)
    );
    let mut seen = std::collections::BTreeMap::new();
    for i in 0..300 {
        let id = i.to_string();
        let e = flags.evaluate("button", &Context::new().user_id(&id));
        assert_eq!(e.reason(), Reason::Split);
        // Sticky: the same user gets the same variant every time.
        assert_eq!(
            flags
                .evaluate("button", &Context::new().user_id(&id))
                .variant_name(),
            e.variant_name()
        );
        *seen.entry(e.variant_name().to_owned()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 3, "all three variants are served: {seen:?}");
    assert!(
        seen.values().all(|&n| n > 60),
        "roughly a third each: {seen:?}"
    );
    let red = (0..300)
        .map(|i| flags.evaluate("button", &Context::new().user_id(&i.to_string())))
        .find(|e| e.variant_name() == "red")
        .unwrap();
    assert_eq!(red.payload().map(Payload::value), Some("#f00"));
}

#[test]
fn config_flags_serve_json_varied_by_rules() {
    let on = Arc::new(serde_json::json!({ "limit": 10 }));
    let off = Arc::new(serde_json::json!({ "limit": 1 }));
    let flags = flags([Flag::new(
        "limits",
        FlagKind::Config {
            on: on.clone(),
            off: off.clone(),
        },
    )
    .strategy(
        Strategy::new("enterprise")
            .constraint(Constraint::new(
                ContextField::property("plan"),
                Operator::In(vec!["enterprise".into()]),
            ))
            .variant(Variant::new("big", 1).payload(Payload::new("json", r#"{"limit":1000}"#))),
    )
    .strategy(Strategy::new("prod").constraint(in_env("prod")))]);
    let enterprise = flags.evaluate("limits", &Context::new().property("plan", "enterprise"));
    assert_eq!(
        enterprise.value(),
        &Value::Json(Arc::new(serde_json::json!({ "limit": 1000 })))
    );
    assert_eq!(
        flags
            .evaluate("limits", &Context::new().environment("prod"))
            .value(),
        &Value::Json(on)
    );
    assert_eq!(
        flags.evaluate("limits", &Context::new()).value(),
        &Value::Json(off)
    );
}

#[test]
fn dependencies_gate_the_child() {
    let flags = flags([
        Flag::new("parent", FlagKind::Boolean)
            .strategy(Strategy::new("prod").constraint(in_env("prod"))),
        Flag::new("child", FlagKind::Boolean).depends_on(Dependency::enabled("parent")),
        Flag::new("fallback", FlagKind::Boolean).depends_on(Dependency::disabled("parent")),
        Flag::new("grandchild", FlagKind::Boolean).depends_on(Dependency::enabled("child")),
    ]);
    let prod = Context::new().environment("prod");
    let dev = Context::new().environment("dev");
    assert!(flags.evaluate("child", &prod).is_enabled());
    assert!(
        flags.evaluate("grandchild", &prod).is_enabled(),
        "our model allows several levels"
    );
    assert!(!flags.evaluate("child", &dev).is_enabled());
    assert_eq!(flags.evaluate("child", &dev).reason(), Reason::Default);
    assert!(flags.evaluate("fallback", &dev).is_enabled());
    assert!(!flags.evaluate("fallback", &prod).is_enabled());
}

#[test]
fn explain_names_the_failed_constraint_and_the_bucket() {
    let flags = Flags::new(
        FlagSet::new(
            [Flag::new("beta", FlagKind::Boolean)
                .strategy(Strategy::new("internal").segment(1))
                .strategy(
                    Strategy::new("semver")
                        .constraint(Constraint::new(
                            ContextField::property("version"),
                            Operator::semver(Comparison::Gte, "2.0.0").unwrap(),
                        ))
                        .rollout(100)
                        .unwrap()
                        .group_id("gr1"),
                )],
            [Segment::new(1).named("staff").constraint(Constraint::new(
                ContextField::property("email"),
                Operator::EndsWith(palisade_flags::model::StringValues::new(["@example.com"])),
            ))],
        )
        .unwrap(),
    );
    let context = Context::new().user_id("123").property("version", "2.1.0");
    let explanation = flags.explain("beta", &context);
    assert!(explanation.evaluation.is_enabled());
    assert_eq!(explanation.evaluation.reason(), Reason::TargetingMatch);
    assert_eq!(
        explanation.steps[0],
        Step::SegmentFailed {
            strategy: 0,
            segment: 1,
            constraint: "email STR_ENDS_WITH [\"@example.com\"]".into()
        }
    );
    // `gr1:123` is in bucket 73 (Unleash's published vector).
    assert_eq!(
        explanation.steps[1],
        Step::StrategyMatched {
            strategy: 1,
            name: "semver".into(),
            rollout: Some((73, 100))
        }
    );
    let text = explanation.to_string();
    assert!(
        text.contains("segment 1 failed on email STR_ENDS_WITH"),
        "{text}"
    );
    assert!(text.contains("bucket 73 within 100%"), "{text}");
    // explain and evaluate agree.
    assert_eq!(
        flags.evaluate("beta", &context).reason(),
        explanation.evaluation.reason()
    );
}

#[test]
fn date_constraints_read_the_injected_clock() {
    let launch: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    let set = || {
        FlagSet::new(
            [Flag::new("launch", FlagKind::Boolean).strategy(
                Strategy::new("after launch").constraint(Constraint::new(
                    ContextField::CurrentTime,
                    Operator::DateAfter(launch),
                )),
            )],
            [],
        )
        .unwrap()
    };
    let before = Flags::new(set()).with_clock(FixedClock(Timestamp::from_unix_millis(
        launch.unix_millis() - 1,
    )));
    let after = Flags::new(set()).with_clock(FixedClock(Timestamp::from_unix_millis(
        launch.unix_millis() + 1,
    )));
    assert!(!before.evaluate("launch", &Context::new()).is_enabled());
    assert!(after.evaluate("launch", &Context::new()).is_enabled());
    // A time in the context wins over the clock.
    assert!(
        !after
            .evaluate("launch", &Context::new().current_time(launch))
            .is_enabled()
    );
}

/// A reader evaluating in a loop sees every update whole: the two flags of
/// one snapshot are always both on or both off, never one of each.
#[test]
fn readers_see_whole_snapshots_while_a_writer_swaps_them() {
    let set = |on: bool| {
        FlagSet::new(
            [
                Flag::new("a", FlagKind::Boolean).enabled(on),
                Flag::new("b", FlagKind::Boolean).enabled(on),
            ],
            [],
        )
        .unwrap()
    };
    let flags = Arc::new(Flags::new(set(false)));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (flags, done) = (flags.clone(), done.clone());
        std::thread::spawn(move || {
            let mut saw_on = false;
            let context = Context::new();
            while !done.load(Ordering::Acquire) || !saw_on {
                let snapshot = flags.snapshot();
                let a = snapshot.get("a").unwrap().is_enabled();
                let b = snapshot.get("b").unwrap().is_enabled();
                assert_eq!(a, b, "a torn snapshot");
                saw_on |= flags.evaluate("a", &context).is_enabled();
            }
            saw_on
        })
    };
    for i in 0..1_000 {
        flags.replace(set(i % 2 == 0));
    }
    flags.replace(set(true));
    done.store(true, Ordering::Release);
    assert!(
        reader.join().unwrap(),
        "the reader saw the final definition"
    );
}

#[test]
fn constraints_and_overrides_name_a_context_kind_and_fall_back_to_the_property() {
    use palisade_flags::model::Variant;

    let enterprise = Strategy::new("enterprise").constraint(Constraint::new(
        ContextField::from_unleash_name("organization.plan"),
        Operator::In(vec!["enterprise".into()]),
    ));
    let flag = Flag::new("sso", FlagKind::Variant)
        .strategy(enterprise)
        .variant(Variant::new("okta", 1))
        .variant(Variant::new("saml", 1).override_for(
            ContextField::kind_attribute("organization", "key"),
            ["acme"],
        ));
    let flags = Flags::new(FlagSet::new([flag], []).unwrap());
    let org = |key, plan| {
        Context::new()
            .user_id("u1")
            .kind("organization", key)
            .kind_attribute("organization", "plan", plan)
    };
    assert!(
        flags
            .evaluate("sso", &org("globex", "enterprise"))
            .is_enabled()
    );
    assert!(!flags.evaluate("sso", &org("globex", "free")).is_enabled());
    assert_eq!(
        flags
            .evaluate("sso", &org("acme", "enterprise"))
            .variant_name(),
        "saml"
    );
    // The user's own `plan` property is not the organization's.
    let user_plan = Context::new().user_id("u1").property("plan", "enterprise");
    assert!(!flags.evaluate("sso", &user_plan).is_enabled());
    // A single-kind context with the dotted property name works as before.
    let legacy = Context::new().property("organization.plan", "enterprise");
    assert!(flags.evaluate("sso", &legacy).is_enabled());
    // And the explanation names the field as written.
    let explanation = flags.explain("sso", &org("globex", "free")).to_string();
    assert!(
        explanation.contains("organization.plan IN"),
        "{explanation}"
    );
}
