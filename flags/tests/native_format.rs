//! The native definition format: every kind of flag survives a round trip,
//! bad documents are rejected with errors that say where and which flag.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use palisade_flags::model::{
    Comparison, Constraint, ContextField, Dependency, Flag, FlagKind, FlagSet, Operator, Payload,
    Segment, Stickiness, Strategy, StringValues, Variant,
};
use palisade_flags::native::{self, Format, NativeError};
use palisade_flags::{Context, Flags};

fn everything() -> FlagSet {
    let staff = Segment::new(3).named("staff").constraint(Constraint::new(
        ContextField::property("email"),
        Operator::EndsWith(StringValues::case_insensitive(["@Example.com"])),
    ));
    let targeted = Strategy::new("targeted")
        .constraint(Constraint::new(
            ContextField::Environment,
            Operator::In(vec!["prod".into(), "staging".into()]),
        ))
        .constraint(
            Constraint::new(ContextField::UserId, Operator::NotIn(vec!["banned".into()]))
                .inverted(true),
        )
        .constraint(Constraint::new(
            ContextField::property("age"),
            Operator::number(Comparison::Gte, "18.5").unwrap(),
        ))
        .constraint(Constraint::new(
            ContextField::property("appVersion"),
            Operator::semver(Comparison::Lt, "3.0.0-rc.1").unwrap(),
        ))
        .constraint(Constraint::new(
            ContextField::CurrentTime,
            Operator::DateAfter("2024-02-29T12:30:00.250Z".parse().unwrap()),
        ))
        .constraint(Constraint::new(
            ContextField::property("name"),
            Operator::regex("^ali", true).unwrap(),
        ))
        .constraint(Constraint::new(
            ContextField::RemoteAddress,
            Operator::in_cidr(["10.0.0.0/8", "::1"]).unwrap(),
        ))
        .constraint(Constraint::new(
            ContextField::property("x"),
            Operator::Never("imported from elsewhere".into()),
        ))
        .segment(3)
        .rollout(40)
        .unwrap()
        .stickiness(Stickiness::Field(ContextField::property("tenant")))
        .group_id("g1")
        .variant(Variant::new("only", 1));
    let flags = [
        Flag::new("plain", FlagKind::Boolean),
        Flag::new("off", FlagKind::Boolean).enabled(false),
        Flag::new("rollout", FlagKind::Percentage)
            .strategy(Strategy::new("half").rollout(50).unwrap()),
        Flag::new("colour", FlagKind::Variant)
            .variant(
                Variant::new("blue", 2)
                    .payload(Payload::string("#00f"))
                    .override_for(ContextField::UserId, ["42"]),
            )
            .variant(Variant::new("green", 1).payload(Payload::new("json", r#"{"g":1}"#)))
            .variant_stickiness(Stickiness::Random),
        Flag::new(
            "limits",
            FlagKind::Config {
                on: serde_json::json!({"max": 10}).into(),
                off: serde_json::json!({"max": 1}).into(),
            },
        ),
        Flag::new("panic-button", FlagKind::KillSwitch).killed(true),
        Flag::new("targeted", FlagKind::Boolean).strategy(targeted),
        Flag::new("child", FlagKind::Boolean)
            .depends_on(Dependency::in_variants("colour", ["blue"]))
            .depends_on(Dependency::disabled("off"))
            .depends_on(Dependency::unsatisfiable("gone", "parent was removed")),
    ];
    FlagSet::new(flags, [staff]).unwrap()
}

fn contexts() -> Vec<Context<'static>> {
    vec![
        Context::new(),
        Context::new().user_id("42"),
        Context::new().user_id("7").session_id("s"),
        Context::new()
            .user_id("9")
            .environment("prod")
            .remote_address("10.1.1.1")
            .property("email", "me@EXAMPLE.com")
            .property("age", "30")
            .property("appVersion", "2.0.0")
            .property("name", "Alice")
            .property("tenant", "t1"),
    ]
}

#[test]
fn json_round_trip_keeps_every_kind_and_rule() {
    let set = everything();
    let json = native::to_json(&set);
    let again = native::from_json(&json).unwrap();
    assert_eq!(
        native::to_json(&again),
        json,
        "a second trip changes nothing"
    );
    assert_eq!(again.len(), 8);

    // The regex keeps ignoring case, the string values keep their rule.
    assert!(json.contains(r#""value": "(?i)^ali""#), "{json}");
    assert!(json.contains(r#""case_insensitive": true"#));
    assert!(json.contains(r#""value": "2024-02-29T12:30:00.250Z""#));
    assert!(json.contains(r#""kind": "kill_switch""#));

    // Both sets answer alike, for the fields that do not need randomness.
    let (before, after) = (
        Flags::new(set).with_random_seed(1),
        Flags::new(again).with_random_seed(1),
    );
    for key in [
        "plain",
        "off",
        "rollout",
        "limits",
        "panic-button",
        "targeted",
        "child",
    ] {
        for context in contexts() {
            assert_eq!(
                format!("{:?}", before.evaluate(key, &context)),
                format!("{:?}", after.evaluate(key, &context)),
                "{key} for {context:?}"
            );
        }
    }
    assert_eq!(
        after
            .evaluate("colour", &Context::new().user_id("42"))
            .variant_name(),
        "blue",
        "the override survived"
    );
}

#[cfg(feature = "yaml")]
#[test]
fn yaml_round_trip_matches_json() {
    let set = everything();
    let yaml = native::to_yaml(&set).unwrap();
    let again = native::from_yaml(&yaml).unwrap();
    assert_eq!(native::to_json(&again), native::to_json(&set));
    assert_eq!(native::parse(&yaml, Format::Yaml).unwrap().len(), 8);
}

#[cfg(feature = "yaml")]
#[test]
fn yaml_syntax_errors_carry_line_and_column() {
    let yaml = "flags:\n  - key: a\n    kind: boolean\n    enabeld: true\n";
    let error = native::from_yaml(yaml).unwrap_err();
    assert_eq!(error.location().map(|(line, _)| line), Some(4), "{error}");
    assert!(error.to_string().contains("enabeld"), "{error}");

    let error = native::from_yaml("flags: [ {key: a, kind: boolean\n").unwrap_err();
    assert!(error.location().is_some(), "{error}");
}

#[test]
fn json_syntax_errors_carry_line_and_column() {
    let text = "{\n  \"flags\": [\n    {\"key\": \"a\", \"kind\": \"bool\"}\n  ]\n}";
    let error = native::from_json(text).unwrap_err();
    assert_eq!(error.location().map(|(line, _)| line), Some(3), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("JSON error at line 3, column"),
        "{error}"
    );
    assert!(error.to_string().contains("bool"), "{error}");

    let error = native::from_json("{\"flags\": [").unwrap_err();
    assert!(matches!(
        error,
        NativeError::Syntax {
            format: Format::Json,
            line: 1,
            ..
        }
    ));
}

#[test]
fn an_unknown_segment_is_rejected_naming_the_flag() {
    let text = r#"{"flags": [{"key": "beta", "kind": "boolean",
        "strategies": [{"name": "s", "segments": [9]}]}]}"#;
    let error = native::from_json(text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "flag \"beta\" uses segment 9, which is not defined"
    );
}

#[test]
fn a_dependency_cycle_is_rejected_naming_the_flags() {
    let text = r#"{"flags": [
        {"key": "a", "kind": "boolean", "dependencies": [{"flag": "b"}]},
        {"key": "b", "kind": "boolean", "dependencies": [{"flag": "a", "enabled": false}]}
    ]}"#;
    let error = native::from_json(text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "flags depend on each other in a cycle: a -> b -> a"
    );
}

#[test]
fn bad_values_name_their_flag_or_segment() {
    let cases = [
        (
            r#"{"flags": [{"key": "f", "kind": "boolean", "strategies": [{"constraints": [
                {"field": "v", "operator": "SEMVER_EQ", "value": "v1"}]}]}]}"#,
            "flag \"f\": invalid value \"v1\": not a semantic version",
        ),
        (
            r#"{"flags": [{"key": "f", "kind": "boolean", "strategies": [{"constraints": [
                {"field": "v", "operator": "LIKE", "values": ["x"]}]}]}]}"#,
            "flag \"f\": invalid value \"LIKE\": unknown operator",
        ),
        (
            r#"{"flags": [{"key": "f", "kind": "config"}]}"#,
            "flag \"f\": invalid value \"config\": a config flag needs a `config` section",
        ),
        (
            r#"{"flags": [{"key": "f", "kind": "boolean", "strategies": [{"rollout": 101}]}]}"#,
            "flag \"f\": invalid value \"101\": a rollout percentage is at most 100",
        ),
        (
            r#"{"flags": [{"key": "f", "kind": "boolean", "strategies": [{"constraints": [
                {"field": "v", "operator": "IN", "values": ["x"], "case_insensitive": true}]}]}]}"#,
            "flag \"f\": invalid value \"IN\": `case_insensitive` applies only",
        ),
        (
            r#"{"segments": [{"id": 2, "constraints": [
                {"field": "ip", "operator": "IN_CIDR", "values": ["10.0.0/8"]}]}]}"#,
            "segment 2: invalid value \"10.0.0/8\"",
        ),
        (
            r#"{"version": 2, "flags": []}"#,
            "definition format version 2 is not supported",
        ),
    ];
    for (text, expected) in cases {
        let error = native::from_json(text).unwrap_err().to_string();
        assert!(
            error.starts_with(expected),
            "{error:?} should start with {expected:?}"
        );
    }
}

#[test]
fn one_flag_reads_and_writes_as_a_json_value() {
    let set = everything();
    let flag = set.get("colour").unwrap();
    let value = native::flag_to_value(flag);
    assert_eq!(value["kind"], "variant");
    let back = native::flag_from_value(&value).unwrap();
    assert_eq!(native::flag_to_value(&back), value);
    assert!(native::flag_from_json("{\"key\": \"x\"}").is_err());
}

#[test]
fn format_follows_the_file_extension() {
    assert_eq!(Format::from_path("flags.yaml"), Format::Yaml);
    assert_eq!(Format::from_path("flags.YML"), Format::Yaml);
    assert_eq!(Format::from_path("flags.json"), Format::Json);
}

mod never_panics {
    use proptest::prelude::*;

    use super::{everything, native};

    /// JSON values shaped like definition documents, with wrong types and
    /// odd values mixed in.
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number)),
            prop_oneof![
                Just("IN".to_owned()),
                Just("REGEX".to_owned()),
                Just("SEMVER_GT".to_owned()),
                Just("DATE_AFTER".to_owned()),
                Just("boolean".to_owned()),
                Just("config".to_owned()),
                ".{0,12}",
            ]
            .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("key".to_owned()),
                            Just("kind".to_owned()),
                            Just("flags".to_owned()),
                            Just("strategies".to_owned()),
                            Just("constraints".to_owned()),
                            Just("operator".to_owned()),
                            Just("value".to_owned()),
                            Just("values".to_owned()),
                            Just("field".to_owned()),
                            Just("rollout".to_owned()),
                            Just("dependencies".to_owned()),
                            Just("flag".to_owned()),
                            Just("config".to_owned()),
                            "[a-z]{1,6}",
                        ],
                        inner,
                    ),
                    0..5,
                )
                .prop_map(|pairs| serde_json::Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_json_never_panics_the_loader(value in json_value()) {
            let text = value.to_string();
            let _ = native::from_json(&text);
            let _ = native::flag_from_value(&value);
        }

        #[test]
        fn a_valid_document_cut_anywhere_is_an_error_not_a_panic(cut in 0usize..400) {
            let text = native::to_json(&everything());
            let end = (0..=cut.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            let _ = native::from_json(&text[..end]);
        }
    }
}
