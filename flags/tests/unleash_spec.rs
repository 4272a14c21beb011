//! The Unleash client specification (`tests/unleash-spec/`, copied unchanged
//! with its licence): every file listed in `index.json`, both its `tests`
//! (is the flag enabled?) and `variantTests` (which variant, with which
//! payload?) arrays, through the Unleash importer and the evaluator.
//!
//! Cases are counted per file and in total, so a file or an array that is
//! skipped fails the run instead of passing silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use palisade_flags::unleash::UnleashImport;
use palisade_flags::{Context, Evaluation, Flags};
use serde_json::Value;

/// The number of cases the specification holds (both arrays, all files).
const SPEC_CASES: usize = 279;

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/unleash-spec")
}

/// An Unleash context from the specification's JSON. Strings are borrowed
/// from `json`; `properties` with a `null` value are absent, as in Unleash.
fn context(json: &Value) -> Context<'_> {
    let mut context = Context::new();
    let text = |key: &str| json.get(key).and_then(Value::as_str);
    if let Some(v) = text("userId") {
        context = context.user_id(v);
    }
    if let Some(v) = text("sessionId") {
        context = context.session_id(v);
    }
    if let Some(v) = text("remoteAddress") {
        context = context.remote_address(v);
    }
    if let Some(v) = text("environment") {
        context = context.environment(v);
    }
    if let Some(v) = text("appName") {
        context = context.app_name(v);
    }
    if let Some(v) = text("currentTime") {
        context = context.current_time_text(v);
    }
    if let Some(properties) = json.get("properties").and_then(Value::as_object) {
        for (name, value) in properties {
            match value {
                Value::String(v) => context = context.property(name, v),
                Value::Null => {}
                other => panic!("property {name} is not a string: {other}"),
            }
        }
    }
    let known = [
        "userId",
        "sessionId",
        "remoteAddress",
        "environment",
        "appName",
        "currentTime",
        "properties",
    ];
    for key in json.as_object().expect("context is an object").keys() {
        assert!(
            known.contains(&key.as_str()),
            "context field {key} is not read"
        );
    }
    context
}

/// What the specification expects of a variant, in its own JSON shape.
fn variant_json(flags: &Flags, toggle: &str, context: &Context<'_>) -> Value {
    let evaluation = flags.evaluate(toggle, context);
    let mut json = serde_json::json!({
        "name": evaluation.variant_name(),
        "enabled": evaluation.variant().is_some(),
        "feature_enabled": evaluation.is_enabled(),
    });
    if let Some(payload) = evaluation.payload() {
        json["payload"] = serde_json::json!({ "type": payload.kind(), "value": payload.value() });
    }
    json
}

/// What a user reads off an evaluation.
fn summary(evaluation: &Evaluation) -> impl PartialEq + std::fmt::Debug + '_ {
    (
        evaluation.value().clone(),
        evaluation.is_enabled(),
        evaluation.variant_name(),
        evaluation.reason(),
        evaluation.error_code(),
    )
}

#[test]
fn every_case_of_the_unleash_client_specification_passes() {
    let dir = spec_dir();
    let index: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    // Every specification file on disk is in the index (none skipped).
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json") && name != "index.json")
        .collect();
    on_disk.sort();
    let mut listed = index.clone();
    listed.sort();
    assert_eq!(on_disk, listed, "index.json lists every specification file");

    let mut run = 0;
    let mut failures = Vec::new();
    for file in &index {
        let spec: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let state = serde_json::to_string(&spec["state"]).unwrap();
        // Lenient: the specification expects Unleash's run-time behaviour for an
        // undefined segment (15) and a dependency cycle (17): never matches.
        let imported = UnleashImport::new()
            .lenient()
            .parse(&state)
            .unwrap_or_else(|e| panic!("{file}: import failed: {e}"));
        // Two more evaluators drawing the same random numbers in the same
        // order, for comparing `evaluate` with `explain` below.
        let same_draws = || Flags::new(imported.flags.clone()).with_random_seed(7);
        let (fast, walker) = (same_draws(), same_draws());
        let flags = Flags::new(imported.flags);

        let mut expected_in_file = 0;
        let mut run_in_file = 0;
        for (array, is_variant) in [("tests", false), ("variantTests", true)] {
            let Some(cases) = spec.get(array) else {
                continue;
            };
            let cases = cases
                .as_array()
                .unwrap_or_else(|| panic!("{file}: {array} is not an array"));
            expected_in_file += cases.len();
            for case in cases {
                let description = case["description"].as_str().unwrap();
                let toggle = case["toggleName"].as_str().unwrap();
                let context = context(&case["context"]);
                let expected = &case["expectedResult"];
                let actual = if is_variant {
                    variant_json(&flags, toggle, &context)
                } else {
                    Value::Bool(flags.evaluate(toggle, &context).is_enabled())
                };
                // `evaluate` takes shortcuts (a flag no context can change is
                // looked up); `explain` walks every step: both must agree.
                let (fast, walked) = (
                    fast.evaluate(toggle, &context),
                    walker.explain(toggle, &context).evaluation,
                );
                if summary(&fast) != summary(&walked) {
                    failures.push(format!(
                        "{file} [{array}] {description}: evaluate gave {:?}, explain {:?}",
                        summary(&fast),
                        summary(&walked)
                    ));
                }
                if actual != *expected {
                    failures.push(format!(
                        "{file} [{array}] {description}: expected {expected}, got {actual}\n{}",
                        flags.explain(toggle, &context)
                    ));
                }
                run_in_file += 1;
            }
        }
        let keys: Vec<&String> = spec.as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .all(|k| ["name", "state", "tests", "variantTests"].contains(&k.as_str())),
            "{file}: unexpected top-level keys {keys:?} (a case array we do not run?)"
        );
        assert!(run_in_file > 0, "{file}: no cases ran");
        assert_eq!(run_in_file, expected_in_file, "{file}: cases skipped");
        run += run_in_file;
    }
    assert!(
        failures.is_empty(),
        "{} of {run} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(run, SPEC_CASES, "the specification has {SPEC_CASES} cases");
}
