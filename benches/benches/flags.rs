//! Flag evaluation: palisade-flags next to `unleash-yggdrasil` (Unleash's own
//! Rust engine) on the same Unleash client-API definitions, in the same groups.
//! Every iteration builds the context too (each library's own context type),
//! as a request handler would.
//!
//! Run: `cargo bench -p palisade-benches --bench flags -- --warm-up-time 1 --measurement-time 3`

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_flags::unleash::UnleashImport;
use palisade_flags::{Context, Flags};
use unleash_yggdrasil::{EngineState, UpdateMessage};

/// The three cases of issue 9, as the Unleash server would send them.
const DEFINITIONS: &str = r#"{
  "version": 2,
  "features": [
    { "name": "boolean", "enabled": true, "strategies": [{ "name": "default" }] },
    { "name": "targeted", "enabled": true, "strategies": [{
        "name": "flexibleRollout",
        "parameters": { "rollout": "50", "stickiness": "default", "groupId": "targeted" },
        "constraints": [
          { "contextName": "environment", "operator": "IN", "values": ["production", "staging"] },
          { "contextName": "email", "operator": "STR_ENDS_WITH", "values": ["@example.com"], "caseInsensitive": true },
          { "contextName": "appVersion", "operator": "SEMVER_GTE", "value": "2.0.0" }
        ] }] },
    { "name": "variants", "enabled": true, "strategies": [{ "name": "default" }],
      "variants": [
        { "name": "red", "weight": 333, "stickiness": "default", "payload": { "type": "string", "value": "ff0000" } },
        { "name": "green", "weight": 333, "stickiness": "default", "payload": { "type": "string", "value": "00ff00" } },
        { "name": "blue", "weight": 334, "stickiness": "default", "payload": { "type": "string", "value": "0000ff" } }
      ] }
  ]
}"#;

/// In bucket 18 of `targeted` (inside its 50%), checked by `same_answers`.
const USER: &str = "user-2";

fn ours() -> Flags {
    let imported = UnleashImport::new()
        .parse(DEFINITIONS)
        .expect("valid definitions");
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    Flags::new(imported.flags)
}

fn yggdrasil() -> EngineState {
    let engine = EngineState::default();
    let message: UpdateMessage = serde_json::from_str(DEFINITIONS).expect("valid definitions");
    engine.take_state(message);
    engine
}

fn ygg_context(properties: bool) -> unleash_yggdrasil::Context {
    unleash_yggdrasil::Context {
        user_id: Some(black_box(USER).to_owned()),
        environment: Some(black_box("production").to_owned()),
        properties: properties.then(|| {
            HashMap::from([
                (
                    "email".to_owned(),
                    black_box("Someone@Example.com").to_owned(),
                ),
                ("appVersion".to_owned(), black_box("2.3.1").to_owned()),
            ])
        }),
        ..Default::default()
    }
}

fn our_context(properties: bool) -> Context<'static> {
    let context = Context::new()
        .user_id(black_box(USER))
        .environment(black_box("production"));
    if properties {
        context
            .property("email", black_box("Someone@Example.com"))
            .property("appVersion", black_box("2.3.1"))
    } else {
        context
    }
}

/// Both engines agree on the answers before anything is timed.
fn same_answers(ours: &Flags, ygg: &EngineState) {
    for (key, properties) in [("boolean", false), ("targeted", true)] {
        let mine = ours.evaluate(key, &our_context(properties)).is_enabled();
        let theirs = ygg.is_enabled(key, &ygg_context(properties), &None);
        assert_eq!(mine, theirs, "{key}");
    }
    let mine = ours.evaluate("variants", &our_context(false));
    let theirs = ygg.get_variant("variants", &ygg_context(false), &None);
    assert_eq!(mine.variant_name(), theirs.name, "variants");
    assert!(
        ours.evaluate("targeted", &our_context(true)).is_enabled(),
        "the user is inside the 50%"
    );
}

fn evaluation(c: &mut Criterion) {
    let ours = ours();
    let ygg = yggdrasil();
    same_answers(&ours, &ygg);

    let mut group = c.benchmark_group("flags/boolean");
    group.bench_function("palisade-flags", |b| {
        b.iter(|| {
            ours.evaluate(black_box("boolean"), &our_context(false))
                .is_enabled()
        });
    });
    group.bench_function("unleash-yggdrasil", |b| {
        b.iter(|| ygg.is_enabled(black_box("boolean"), &ygg_context(false), &None));
    });
    group.finish();

    let mut group = c.benchmark_group("flags/3_constraints_50pct");
    group.bench_function("palisade-flags", |b| {
        b.iter(|| {
            ours.evaluate(black_box("targeted"), &our_context(true))
                .is_enabled()
        });
    });
    group.bench_function("unleash-yggdrasil", |b| {
        b.iter(|| ygg.is_enabled(black_box("targeted"), &ygg_context(true), &None));
    });
    group.finish();

    let mut group = c.benchmark_group("flags/3_variants");
    group.bench_function("palisade-flags", |b| {
        b.iter(|| {
            ours.evaluate(black_box("variants"), &our_context(false))
                .variant()
                .map(|v| v.weight())
        });
    });
    group.bench_function("unleash-yggdrasil", |b| {
        b.iter(|| {
            ygg.get_variant(black_box("variants"), &ygg_context(false), &None)
                .enabled
        });
    });
    group.finish();

    // The context alone, to separate its cost from evaluation.
    let mut group = c.benchmark_group("flags/context_only");
    group.bench_function("palisade-flags", |b| {
        b.iter(|| black_box(our_context(true)))
    });
    group.bench_function("unleash-yggdrasil", |b| {
        b.iter(|| black_box(ygg_context(true)))
    });
    group.finish();
}

/// Four threads evaluating the 3-constraint flag while a writer keeps
/// replacing the definitions (our `Flags::replace`; yggdrasil's `take_state`).
/// One iteration is one evaluation on the measuring thread; three more
/// threads evaluate in the background.
fn under_swaps(c: &mut Criterion) {
    let mut group = c.benchmark_group("flags/4_readers_1_writer");
    let ours = Arc::new(ours());
    let ygg = Arc::new(yggdrasil());
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for _ in 0..3 {
        let (ours, ygg, stop) = (ours.clone(), ygg.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                black_box(ours.evaluate("targeted", &our_context(true)).is_enabled());
                black_box(ygg.is_enabled("targeted", &ygg_context(true), &None));
            }
        }));
    }
    {
        let (ours, ygg, stop) = (ours.clone(), ygg.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let ours_set = UnleashImport::new()
                .parse(DEFINITIONS)
                .expect("valid")
                .flags;
            let message = || serde_json::from_str::<UpdateMessage>(DEFINITIONS).expect("valid");
            while !stop.load(Ordering::Relaxed) {
                ours.replace(ours_set.clone());
                ygg.take_state(message());
                std::thread::yield_now();
            }
        }));
    }
    group.bench_function("palisade-flags", |b| {
        b.iter(|| {
            ours.evaluate(black_box("targeted"), &our_context(true))
                .is_enabled()
        });
    });
    group.bench_function("unleash-yggdrasil", |b| {
        b.iter(|| ygg.is_enabled(black_box("targeted"), &ygg_context(true), &None));
    });
    group.finish();
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().expect("no panic");
    }
}

criterion_group!(benches, evaluation, under_swaps);
criterion_main!(benches);
