//! The label sets a layer records, each with its metric handle, up to a bound.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::{PoisonError, RwLock};

use metrics::{Gauge, Histogram, Label};

use super::names::OVERFLOW_LABEL;

/// One label as the layer knows it before it is owned: a static key and a
/// borrowed value.
pub(super) type Part<'a> = (&'static str, &'a str);

#[derive(Clone, Debug)]
enum Handle {
    Histogram(Histogram),
    Gauge(Gauge),
}

/// The handles of the label sets a layer has recorded, up to `max` sets;
/// a new set beyond that gets the metric's `otel.metric.overflow="true"` handle.
///
/// A known set costs one hash of its borrowed parts, a read lock and a
/// handle clone: no label is allocated and the recorder is not asked again.
/// Handles come from the recorder installed when a set is first seen, so the
/// recorder must be installed before the layer serves (as for the metric
/// descriptions the layer registers when it is built).
///
/// Sets are keyed by a 64-bit hash (foldhash) of the metric name and the labels: a
/// collision can only record a sample under the colliding set's labels.
#[derive(Debug)]
pub(super) struct SeriesCap {
    max: usize,
    /// foldhash, seeded per layer: fast, and not predictable from outside.
    seed: foldhash::fast::RandomState,
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    handles: HashMap<u64, Handle, BuildHasherDefault<NoHash>>,
    /// Label sets counted against the bound (the overflow series are not).
    counted: usize,
}

impl SeriesCap {
    pub(super) fn new(max: usize) -> Self {
        Self {
            max,
            seed: foldhash::fast::RandomState::default(),
            state: RwLock::new(State::default()),
        }
    }

    /// The histogram `name` with `parts` as labels (or the overflow series).
    pub(super) fn histogram(&self, name: &'static str, parts: &[Part<'_>]) -> Histogram {
        match self.handle(name, parts, |labels| {
            Handle::Histogram(metrics::histogram!(name, labels))
        }) {
            Handle::Histogram(histogram) => histogram,
            Handle::Gauge(_) => Histogram::noop(),
        }
    }

    /// The gauge `name` with `parts` as labels (or the overflow series).
    pub(super) fn gauge(&self, name: &'static str, parts: &[Part<'_>]) -> Gauge {
        match self.handle(name, parts, |labels| {
            Handle::Gauge(metrics::gauge!(name, labels))
        }) {
            Handle::Gauge(gauge) => gauge,
            Handle::Histogram(_) => Gauge::noop(),
        }
    }

    fn handle(
        &self,
        name: &'static str,
        parts: &[Part<'_>],
        register: impl Fn(Vec<Label>) -> Handle,
    ) -> Handle {
        let key = hash(&self.seed, name, parts);
        // A poisoned lock only means another thread panicked while inserting
        // a handle, which cannot leave the map inconsistent.
        if let Some(handle) = self
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .handles
            .get(&key)
        {
            return handle.clone();
        }
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = state.handles.get(&key) {
            return handle.clone();
        }
        if state.counted < self.max {
            let labels = parts
                .iter()
                .map(|&(k, v)| Label::new(k, v.to_owned()))
                .collect();
            let handle = register(labels);
            state.handles.insert(key, handle.clone());
            state.counted += 1;
            return handle;
        }
        let overflow = hash(&self.seed, name, &[(OVERFLOW_LABEL, "true")]);
        state
            .handles
            .entry(overflow)
            .or_insert_with(|| register(vec![Label::new(OVERFLOW_LABEL, "true")]))
            .clone()
    }
}

fn hash(seed: &foldhash::fast::RandomState, name: &str, parts: &[Part<'_>]) -> u64 {
    let mut hasher = seed.build_hasher();
    name.hash(&mut hasher);
    for (key, value) in parts {
        key.hash(&mut hasher);
        value.hash(&mut hasher);
    }
    hasher.finish()
}

/// The keys are already hashes.
#[derive(Default)]
pub(super) struct NoHash(u64);

impl Hasher for NoHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
