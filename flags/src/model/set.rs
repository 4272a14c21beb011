//! A validated, immutable set of flags and segments: what one snapshot of
//! the evaluator holds.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

use super::flag::DependencyKind;
use super::{DefinitionError, Flag, Segment};
use crate::eval::Reason;
use crate::eval::engine::context_free;
use crate::time::Timestamp;

/// Flags and segments that refer to each other consistently: every segment
/// a strategy names exists, every parent a flag depends on exists, and no
/// flags depend on each other in a cycle.
#[derive(Debug, Clone, Default)]
pub struct FlagSet {
    pub(crate) flags: Vec<Flag>,
    pub(crate) segments: Vec<Segment>,
    index: HashMap<Arc<str>, usize, RandomState>,
    /// Per slot, the outcome of a flag no context can change (see
    /// [`context_free`]).
    fixed: Vec<Option<(bool, Reason)>>,
}

impl FlagSet {
    /// Validate `flags` and `segments` together.
    ///
    /// # Errors
    /// A [`DefinitionError`] for a duplicate key or segment id, a strategy
    /// naming an unknown segment, a dependency on an unknown flag, or a
    /// dependency cycle.
    pub fn new(
        flags: impl IntoIterator<Item = Flag>,
        segments: impl IntoIterator<Item = Segment>,
    ) -> Result<Self, DefinitionError> {
        let mut flags: Vec<Flag> = flags.into_iter().collect();
        let segments: Vec<Segment> = segments.into_iter().collect();

        let mut segment_index = HashMap::with_capacity(segments.len());
        for (slot, segment) in segments.iter().enumerate() {
            if segment_index.insert(segment.id, slot).is_some() {
                return Err(DefinitionError::DuplicateSegment {
                    segment: segment.id,
                });
            }
        }
        let mut index = HashMap::with_capacity_and_hasher(flags.len(), RandomState::default());
        for (slot, flag) in flags.iter().enumerate() {
            if index.insert(flag.key.clone(), slot).is_some() {
                return Err(DefinitionError::DuplicateFlag {
                    flag: flag.key.to_string(),
                });
            }
        }
        for flag in &mut flags {
            if let Some((change, reason)) = flag
                .schedule
                .iter()
                .find_map(|c| c.problem(flag).map(|reason| (c, reason)))
            {
                return Err(DefinitionError::InvalidSchedule {
                    flag: flag.key.to_string(),
                    at: change.at,
                    reason: reason.to_owned(),
                });
            }
            for strategy in &mut flag.strategies {
                strategy.segment_slots = strategy
                    .segments
                    .iter()
                    .map(|id| {
                        segment_index.get(id).copied().ok_or_else(|| {
                            DefinitionError::UnknownSegment {
                                flag: flag.key.to_string(),
                                segment: *id,
                            }
                        })
                    })
                    .collect::<Result<_, _>>()?;
            }
            for dependency in &mut flag.dependencies {
                match index.get(&dependency.parent) {
                    Some(&slot) => dependency.slot = slot,
                    None if matches!(dependency.kind, DependencyKind::Unsatisfiable(_)) => {}
                    None => {
                        return Err(DefinitionError::UnknownParent {
                            flag: flag.key.to_string(),
                            parent: dependency.parent.to_string(),
                        });
                    }
                }
            }
        }
        let set = Self {
            fixed: flags.iter().map(context_free).collect(),
            flags,
            segments,
            index,
        };
        set.reject_cycles()?;
        Ok(set)
    }

    /// The flag with `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Flag> {
        self.slot(key).map(|slot| &self.flags[slot])
    }

    /// All flags, in definition order.
    #[must_use]
    pub fn flags(&self) -> impl ExactSizeIterator<Item = &Flag> {
        self.flags.iter()
    }

    /// All segments.
    #[must_use]
    pub fn segments(&self) -> impl ExactSizeIterator<Item = &Segment> {
        self.segments.iter()
    }

    /// The number of flags.
    #[must_use]
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// Whether there are no flags.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// When the next scheduled change of any flag is due.
    #[must_use]
    pub fn next_scheduled(&self) -> Option<Timestamp> {
        self.flags
            .iter()
            .flat_map(|f| f.schedule.iter().map(|c| c.at))
            .min()
    }

    /// The set with every change due at `now` applied (see
    /// [`Flag::apply_due`]) and the keys of the flags that changed; `None`
    /// when nothing is due.
    #[must_use]
    pub fn apply_due(&self, now: Timestamp) -> Option<(FlagSet, Vec<Arc<str>>)> {
        let mut changed = Vec::new();
        let flags: Vec<Flag> = self
            .flags
            .iter()
            .map(|flag| match flag.apply_due(now) {
                Some(after) => {
                    changed.push(flag.key.clone());
                    after
                }
                None => flag.clone(),
            })
            .collect();
        if changed.is_empty() {
            return None;
        }
        // A scheduled change sets a switch or a percentage validated at
        // load; keys, segments and dependencies (and so the slots resolved
        // by validation) stay as they were.
        Some((
            FlagSet {
                fixed: flags.iter().map(context_free).collect(),
                flags,
                segments: self.segments.clone(),
                index: self.index.clone(),
            },
            changed,
        ))
    }

    pub(crate) fn slot(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// The outcome of the flag in `slot` when no context can change it.
    #[inline]
    pub(crate) fn fixed(&self, slot: usize) -> Option<(bool, Reason)> {
        self.fixed.get(slot).copied().flatten()
    }

    /// Depth-first search over satisfiable dependencies, colouring flags
    /// as unvisited / on the current path / done.
    fn reject_cycles(&self) -> Result<(), DefinitionError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        let parents = |slot: usize| {
            self.flags[slot]
                .dependencies
                .iter()
                .filter(|d| !matches!(d.kind, DependencyKind::Unsatisfiable(_)))
                .map(|d| d.slot)
        };
        let mut marks = vec![Mark::New; self.flags.len()];
        let mut path: Vec<usize> = Vec::new();
        for start in 0..self.flags.len() {
            if marks[start] != Mark::New {
                continue;
            }
            // An explicit stack of (flag, next parent to visit).
            let mut stack = vec![(start, 0usize)];
            marks[start] = Mark::OnPath;
            path.push(start);
            while let Some(&mut (slot, ref mut next)) = stack.last_mut() {
                if let Some(parent) = parents(slot).nth(*next) {
                    *next += 1;
                    match marks[parent] {
                        Mark::New => {
                            marks[parent] = Mark::OnPath;
                            path.push(parent);
                            stack.push((parent, 0));
                        }
                        Mark::OnPath => {
                            let from = path.iter().position(|&s| s == parent).unwrap_or(0);
                            let mut cycle: Vec<String> = path[from..]
                                .iter()
                                .map(|&s| self.flags[s].key.to_string())
                                .collect();
                            cycle.push(self.flags[parent].key.to_string());
                            return Err(DefinitionError::DependencyCycle { path: cycle });
                        }
                        Mark::Done => {}
                    }
                } else {
                    marks[slot] = Mark::Done;
                    path.pop();
                    stack.pop();
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dependency, FlagKind, Strategy};

    fn flag(key: &str) -> Flag {
        Flag::new(key, FlagKind::Boolean)
    }

    #[test]
    fn rejects_a_dependency_cycle_naming_it() {
        let err = FlagSet::new(
            [
                flag("a").depends_on(Dependency::enabled("b")),
                flag("b").depends_on(Dependency::enabled("c")),
                flag("c").depends_on(Dependency::disabled("a")),
                flag("d").depends_on(Dependency::enabled("a")),
            ],
            [],
        )
        .expect_err("a cycle must be rejected");
        assert_eq!(
            err,
            DefinitionError::DependencyCycle {
                path: vec!["a".into(), "b".into(), "c".into(), "a".into()]
            }
        );
        assert_eq!(
            err.to_string(),
            "flags depend on each other in a cycle: a -> b -> c -> a"
        );
    }

    #[test]
    fn rejects_a_flag_depending_on_itself() {
        let err = FlagSet::new([flag("a").depends_on(Dependency::enabled("a"))], []);
        assert!(
            matches!(err, Err(DefinitionError::DependencyCycle { path }) if path == ["a", "a"])
        );
    }

    #[test]
    fn accepts_a_diamond_of_dependencies() {
        let set = FlagSet::new(
            [
                flag("top")
                    .depends_on(Dependency::enabled("left"))
                    .depends_on(Dependency::enabled("right")),
                flag("left").depends_on(Dependency::enabled("base")),
                flag("right").depends_on(Dependency::enabled("base")),
                flag("base"),
            ],
            [],
        );
        assert_eq!(set.map(|s| s.len()), Ok(4));
    }

    #[test]
    fn rejects_unknown_segments_parents_and_duplicates() {
        let unknown_segment = FlagSet::new([flag("a").strategy(Strategy::new("s").segment(7))], []);
        assert_eq!(
            unknown_segment.expect_err("unknown segment").to_string(),
            "flag \"a\" uses segment 7, which is not defined"
        );
        let unknown_parent = FlagSet::new([flag("a").depends_on(Dependency::enabled("ghost"))], []);
        assert!(
            matches!(unknown_parent, Err(DefinitionError::UnknownParent { parent, .. }) if parent == "ghost")
        );
        let duplicate = FlagSet::new([flag("a"), flag("a")], []);
        assert!(matches!(duplicate, Err(DefinitionError::DuplicateFlag { flag }) if flag == "a"));
        let duplicate_segment = FlagSet::new([], [Segment::new(1), Segment::new(1)]);
        assert!(matches!(
            duplicate_segment,
            Err(DefinitionError::DuplicateSegment { segment: 1 })
        ));
    }
}
