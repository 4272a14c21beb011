//! Importing Unleash client-API JSON: clear errors for what cannot load,
//! warnings for what Unleash evaluates as "never matches", delta events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palisade_flags::unleash::{ImportError, UnleashImport, UnleashState};
use palisade_flags::{Context, Flags};
use proptest::prelude::*;

const MISSING_SEGMENT: &str = r#"{
  "features": [{ "name": "f", "enabled": true,
                 "strategies": [{ "name": "default", "segments": [1, 404] }] }],
  "segments": [{ "id": 1, "constraints": [] }]
}"#;

const CYCLE: &str = r#"{
  "features": [
    { "name": "a", "enabled": true, "dependencies": [{ "feature": "b" }] },
    { "name": "b", "enabled": true, "dependencies": [{ "feature": "a" }] },
    { "name": "c", "enabled": true }
  ]
}"#;

#[test]
fn an_undefined_segment_is_rejected_with_its_flag_and_id() {
    let err = UnleashImport::new()
        .parse(MISSING_SEGMENT)
        .expect_err("must be rejected");
    assert!(matches!(err, ImportError::UnknownSegment { ref flag, segment: 404 } if flag == "f"));
    assert_eq!(
        err.to_string(),
        "flag \"f\" uses segment 404, which is not defined"
    );
}

#[test]
fn a_dependency_cycle_is_rejected_with_its_path() {
    let err = UnleashImport::new()
        .parse(CYCLE)
        .expect_err("must be rejected");
    assert_eq!(
        err.to_string(),
        "flags depend on each other in a cycle: a -> b -> a"
    );
}

#[test]
fn lenient_imports_evaluate_as_unleash_and_warn() {
    let imported = UnleashImport::new()
        .lenient()
        .parse(MISSING_SEGMENT)
        .unwrap();
    assert_eq!(imported.warnings.len(), 1);
    assert!(
        imported.warnings[0]
            .to_string()
            .contains("segment 404 is not defined")
    );
    let flags = Flags::new(imported.flags);
    assert!(!flags.evaluate("f", &Context::new()).is_enabled());

    let imported = UnleashImport::new().lenient().parse(CYCLE).unwrap();
    assert_eq!(imported.warnings.len(), 2, "{:?}", imported.warnings);
    let flags = Flags::new(imported.flags);
    assert!(!flags.evaluate("a", &Context::new()).is_enabled());
    assert!(flags.evaluate("c", &Context::new()).is_enabled());
}

#[test]
fn what_unleash_ignores_is_reported_not_dropped() {
    let json = r#"{ "features": [{ "name": "f", "enabled": true, "strategies": [
        { "name": "default", "constraints": [
            { "contextName": "x", "operator": "NOT_AN_OPERATOR", "value": "1" } ] },
        { "name": "default", "constraints": [
            { "contextName": "userId", "operator": "REGEX", "value": "(a" } ] },
        { "name": "default", "constraints": [
            { "contextName": "version", "operator": "SEMVER_EQ", "value": "v1.0.0" } ] },
        { "name": "remoteAddress", "parameters": { "IPs": "10.0.0.1, nonsense" } },
        { "name": "myCustomStrategy" }
    ] }] }"#;
    let imported = UnleashImport::new().parse(json).unwrap();
    let messages: Vec<String> = imported.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 5, "{messages:#?}");
    for expected in [
        "unknown operator \"NOT_AN_OPERATOR\"",
        "not a supported regular expression",
        "not a semantic version",
        "ignores invalid value \"nonsense\"",
        "unknown strategy \"myCustomStrategy\"",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "{expected} in {messages:#?}"
        );
    }
    let flags = Flags::new(imported.flags);
    assert!(
        flags
            .evaluate("f", &Context::new().remote_address("10.0.0.1"))
            .is_enabled()
    );
    let explanation = flags.explain("f", &Context::new().user_id("a").property("x", "1"));
    assert!(!explanation.evaluation.is_enabled());
    assert!(
        explanation.to_string().contains("unknown operator"),
        "{explanation}"
    );
}

#[test]
fn invalid_json_names_the_line_and_column() {
    let err = UnleashImport::new()
        .parse("{\n  \"features\": [ { \"enabled\": true } ]\n}")
        .expect_err("no name");
    let text = err.to_string();
    assert!(
        text.starts_with("invalid Unleash client-API JSON: missing field `name`"),
        "{text}"
    );
    assert!(text.contains("line 2"), "{text}");
}

#[test]
fn delta_events_update_the_state_in_order() {
    let mut state = UnleashState::from_json(
        r#"{"events":[{"eventId":1,"type":"hydration","features":[
            {"name":"a","enabled":true,"strategies":[{"name":"default","segments":[1]}]},
            {"name":"b","enabled":true}],
          "segments":[{"id":1,"constraints":[{"contextName":"appName","operator":"IN","values":["web"]}]}]}]}"#,
    )
    .unwrap();
    let evaluate = |state: &UnleashState, key: &str, app: &str| {
        let flags = Flags::new(UnleashImport::new().convert(state).unwrap().flags);
        flags
            .evaluate(key, &Context::new().app_name(app))
            .is_enabled()
    };
    assert!(evaluate(&state, "a", "web"));
    assert!(!evaluate(&state, "a", "ios"));

    state
        .apply_json(
            r#"{"events":[
            {"eventId":2,"type":"segment-updated","segment":{"id":1,"constraints":[{"contextName":"appName","operator":"IN","values":["ios"]}]}},
            {"eventId":3,"type":"feature-removed","featureName":"b","project":"default"},
            {"eventId":4,"type":"feature-updated","feature":{"name":"c","enabled":false}}]}"#,
        )
        .unwrap();
    assert!(evaluate(&state, "a", "ios"));
    assert!(!evaluate(&state, "a", "web"));
    assert_eq!(state.len(), 2);
    assert!(!evaluate(&state, "c", "ios"));

    // A rejected delta leaves the state as it was.
    let before = state.len();
    assert!(
        state
            .apply_json(r#"{"events":[{"type":"feature-removed"}]}"#)
            .is_err()
    );
    assert_eq!(state.len(), before);

    state
        .apply_json(r#"{"events":[{"eventId":5,"type":"segment-removed","segmentId":1}]}"#)
        .unwrap();
    let err = UnleashImport::new()
        .convert(&state)
        .expect_err("a uses the removed segment");
    assert!(matches!(
        err,
        ImportError::UnknownSegment { segment: 1, .. }
    ));
}

fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("name".to_owned()),
            Just("default".to_owned()),
            Just("flexibleRollout".to_owned()),
            Just("IN".to_owned()),
            Just("REGEX".to_owned()),
            Just("hydration".to_owned()),
            ".{0,8}"
        ]
        .prop_map(serde_json::Value::from),
    ];
    let keys = prop_oneof![
        Just("features"),
        Just("segments"),
        Just("events"),
        Just("name"),
        Just("enabled"),
        Just("strategies"),
        Just("constraints"),
        Just("parameters"),
        Just("variants"),
        Just("dependencies"),
        Just("feature"),
        Just("type"),
        Just("operator"),
        Just("contextName"),
        Just("values"),
        Just("value"),
        Just("id"),
        Just("rollout"),
        Just("weight"),
        Just("payload"),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

proptest! {
    /// Whatever the document, the importer answers with flags or an error,
    /// and evaluating what it accepted never panics either.
    #[test]
    fn arbitrary_documents_never_panic_the_loader(json in arbitrary_json(), text in ".{0,40}") {
        let document = json.to_string();
        for lenient in [false, true] {
            let import = if lenient { UnleashImport::new().lenient() } else { UnleashImport::new() };
            if let Ok(imported) = import.parse(&document) {
                let flags = Flags::new(imported.flags);
                let keys: Vec<String> = flags.snapshot().flags().map(|f| f.key().to_owned()).collect();
                for key in keys {
                    let _ = flags.evaluate(&key, &Context::new().user_id("u").property("x", "1"));
                    let _ = flags.explain(&key, &Context::new());
                }
            }
        }
        let _ = UnleashImport::new().parse(&text);
    }
}
