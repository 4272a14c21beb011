//! Evaluating a Boolean (or Variant) flag allocates nothing: not the snapshot load, not
//! the constraints, not the rollout hash, not the result. The test counts
//! this thread's heap allocations over many evaluations (after a warm-up)
//! with a counting global allocator, and expects none.
#![allow(clippy::unwrap_used)]

use palisade_flags::model::{
    Constraint, ContextField, Flag, FlagKind, FlagSet, Operator, Payload, Segment, Strategy,
    StringValues, Variant,
};
use palisade_flags::{Context, Flags};

fn flags() -> Flags {
    let strategy = Strategy::new("three constraints, half the users")
        .constraint(Constraint::new(
            ContextField::Environment,
            Operator::In(vec!["prod".into()]),
        ))
        .constraint(Constraint::new(
            ContextField::property("email"),
            Operator::EndsWith(StringValues::case_insensitive(["@EXAMPLE.com"])),
        ))
        .constraint(Constraint::new(
            ContextField::RemoteAddress,
            Operator::in_cidr(["10.0.0.0/8"]).unwrap(),
        ))
        .segment(1)
        .rollout(50)
        .unwrap();
    let set = FlagSet::new(
        [
            Flag::new("plain", FlagKind::Boolean),
            Flag::new("targeted", FlagKind::Boolean).strategy(strategy),
            Flag::new("off", FlagKind::Boolean).enabled(false),
            Flag::new("variants", FlagKind::Variant)
                .variant(Variant::new("red", 1).payload(Payload::string("#f00")))
                .variant(Variant::new("green", 1).override_for(ContextField::UserId, ["vip"]))
                .variant(Variant::new("blue", 1)),
            Flag::new("variants-off", FlagKind::Variant)
                .enabled(false)
                .variant(Variant::new("red", 1)),
        ],
        [Segment::new(1).constraint(Constraint::new(
            ContextField::AppName,
            Operator::NotIn(vec!["legacy".into()]),
        ))],
    )
    .unwrap();
    Flags::new(set)
}

fn allocations(flags: &Flags, key: &str, calls: usize) -> u64 {
    let ids: Vec<String> = (0..calls).map(|i| format!("user-{i}")).collect();
    let mut on = 0;
    let mut run = |ids: &[String]| {
        for id in ids {
            let context = Context::new()
                .user_id(id)
                .environment("prod")
                .remote_address("10.1.2.3")
                .app_name("web")
                .property("email", "someone@example.COM");
            on += usize::from(flags.evaluate(key, &context).is_enabled());
        }
    };
    run(&ids[..64]);
    let count = allocation_counter::measure(|| run(&ids)).count_total;
    assert!(
        on > 0 || key.ends_with("off"),
        "the flag was on for some users"
    );
    count
}

#[test]
fn a_boolean_flag_without_rules_allocates_nothing() {
    assert_eq!(allocations(&flags(), "plain", 10_000), 0);
}

#[test]
fn a_boolean_flag_with_constraints_a_segment_and_a_rollout_allocates_nothing() {
    assert_eq!(allocations(&flags(), "targeted", 10_000), 0);
}

#[test]
fn a_disabled_flag_allocates_nothing() {
    assert_eq!(allocations(&flags(), "off", 10_000), 0);
}

#[test]
fn a_variant_flag_on_or_off_allocates_nothing() {
    assert_eq!(allocations(&flags(), "variants", 10_000), 0);
    assert_eq!(allocations(&flags(), "variants-off", 10_000), 0);
}

#[test]
fn the_counter_counts() {
    // A fifth property spills to the heap: the counter sees it, so the zeros
    // above are not a counter that never counts.
    let count = allocation_counter::measure(|| {
        let context = Context::new()
            .property("a", "1")
            .property("b", "2")
            .property("c", "3")
            .property("d", "4")
            .property("e", "5");
        std::hint::black_box(&context);
    })
    .count_total;
    assert!(count > 0);
}
