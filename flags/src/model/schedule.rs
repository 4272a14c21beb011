//! Scheduled changes: a rollout step or a kill that takes effect at a set
//! time, carried by the flag until it is applied.

use std::sync::Arc;

use super::{DefinitionError, Flag};
use crate::time::Timestamp;

/// A change to a flag that takes effect at `at`: turn it on or off, pull or
/// release the kill switch, or set a rollout percentage.
///
/// A scheduler (`store::ScheduleTask`, feature `live`) applies each change
/// once, at its time or, when its time passed while nothing ran, as soon as
/// it starts; the change then leaves the flag's schedule.
///
/// ```
/// use palisade_flags::model::{Flag, FlagKind, FlagSet, ScheduledChange, Strategy};
/// use palisade_flags::time::Timestamp;
///
/// let monday: Timestamp = "2030-03-04T09:00:00Z".parse().unwrap();
/// let flag = Flag::new("new-search", FlagKind::Percentage)
///     .strategy(Strategy::new("everyone").rollout(10)?)
///     .scheduled(ScheduledChange::at(monday).rollout(50)?);
/// let set = FlagSet::new([flag], [])?;
/// assert_eq!(set.next_scheduled(), Some(monday));
/// # Ok::<(), palisade_flags::model::DefinitionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledChange {
    pub(crate) at: Timestamp,
    pub(crate) enabled: Option<bool>,
    pub(crate) killed: Option<bool>,
    pub(crate) rollout: Option<u8>,
    pub(crate) strategy: Option<Arc<str>>,
}

impl ScheduledChange {
    /// A change at `at` that does nothing yet: add what it sets.
    #[must_use]
    pub fn at(at: Timestamp) -> Self {
        Self {
            at,
            enabled: None,
            killed: None,
            rollout: None,
            strategy: None,
        }
    }

    /// Turn the flag on or off.
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    /// Pull (or release) the kill switch.
    #[must_use]
    pub fn killed(mut self, killed: bool) -> Self {
        self.killed = Some(killed);
        self
    }

    /// Set the rollout percentage of every strategy that has one (or of the
    /// strategy named by [`strategy`](Self::strategy)).
    ///
    /// # Errors
    /// [`DefinitionError::InvalidValue`] above 100.
    pub fn rollout(mut self, percent: u8) -> Result<Self, DefinitionError> {
        if percent > 100 {
            return Err(DefinitionError::InvalidValue {
                value: percent.to_string(),
                reason: "a rollout percentage is at most 100".to_owned(),
            });
        }
        self.rollout = Some(percent);
        Ok(self)
    }

    /// Set the rollout of the strategy called `name` only.
    #[must_use]
    pub fn strategy(mut self, name: impl Into<Arc<str>>) -> Self {
        self.strategy = Some(name.into());
        self
    }

    /// When it takes effect.
    #[must_use]
    pub fn time(&self) -> Timestamp {
        self.at
    }

    /// Why this change cannot apply to `flag`, if it cannot.
    pub(crate) fn problem(&self, flag: &Flag) -> Option<&'static str> {
        if self.enabled.is_none() && self.killed.is_none() && self.rollout.is_none() {
            return Some("a scheduled change must set `enabled`, `killed` or `rollout`");
        }
        if self.strategy.is_some() && self.rollout.is_none() {
            return Some("a scheduled change names a strategy but sets no `rollout`");
        }
        if self.rollout.is_some() && !flag.strategies.iter().any(|s| self.targets(s)) {
            return Some(if self.strategy.is_some() {
                "the flag has no strategy of the name the scheduled change gives"
            } else {
                "a scheduled rollout needs a strategy with a rollout"
            });
        }
        None
    }

    /// Whether a rollout change sets `strategy`'s percentage.
    fn targets(&self, strategy: &super::Strategy) -> bool {
        match &self.strategy {
            Some(name) => *strategy.name == **name,
            None => strategy.rollout.is_some(),
        }
    }

    fn apply_to(&self, flag: &mut Flag) {
        if let Some(enabled) = self.enabled {
            flag.enabled = enabled;
        }
        if let Some(killed) = self.killed {
            flag.killed = killed;
        }
        if let Some(percent) = self.rollout {
            for strategy in &mut flag.strategies {
                if self.targets(strategy) {
                    strategy.rollout = Some(percent);
                }
            }
        }
    }
}

impl Flag {
    /// The flag with every change due at `now` applied, oldest first, and
    /// removed from its schedule; `None` when nothing is due.
    #[must_use]
    pub fn apply_due(&self, now: Timestamp) -> Option<Flag> {
        if !self.schedule.iter().any(|c| c.at <= now) {
            return None;
        }
        let mut flag = self.clone();
        let (mut due, later): (Vec<_>, Vec<_>) = flag.schedule.drain(..).partition(|c| c.at <= now);
        due.sort_by_key(|c| c.at);
        for change in &due {
            change.apply_to(&mut flag);
        }
        flag.schedule = later;
        Some(flag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FlagKind, FlagSet, Strategy};

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_unix_millis(millis)
    }

    #[test]
    fn applies_due_changes_in_time_order_and_keeps_later_ones() {
        let flag = Flag::new("f", FlagKind::Percentage)
            .strategy(Strategy::new("staff"))
            .strategy(Strategy::new("all").rollout(5).expect("valid"))
            .scheduled(ScheduledChange::at(at(30)).rollout(100).expect("valid"))
            .scheduled(ScheduledChange::at(at(10)).rollout(25).expect("valid"))
            .scheduled(ScheduledChange::at(at(20)).killed(true));
        assert!(flag.apply_due(at(9)).is_none());
        let applied = flag.apply_due(at(20)).expect("two are due");
        assert_eq!(applied.strategies()[1].rollout, Some(25));
        assert_eq!(applied.strategies()[0].rollout, None, "no rollout to set");
        assert!(applied.is_killed());
        assert_eq!(applied.schedule().len(), 1);
        assert_eq!(applied.schedule()[0].time(), at(30));
    }

    #[test]
    fn rejects_changes_that_cannot_apply_naming_the_flag() {
        let nothing = Flag::new("a", FlagKind::Boolean).scheduled(ScheduledChange::at(at(1)));
        let error = FlagSet::new([nothing], []).expect_err("sets nothing");
        assert_eq!(
            error.to_string(),
            "flag \"a\" has a scheduled change at 1970-01-01T00:00:00.001Z that cannot apply: \
             a scheduled change must set `enabled`, `killed` or `rollout`"
        );
        let no_rollout = Flag::new("b", FlagKind::Boolean)
            .strategy(Strategy::new("staff"))
            .scheduled(ScheduledChange::at(at(1)).rollout(50).expect("valid"));
        assert!(FlagSet::new([no_rollout], []).is_err());
        let unknown = Flag::new("c", FlagKind::Boolean)
            .strategy(Strategy::new("staff"))
            .scheduled(
                ScheduledChange::at(at(1))
                    .rollout(50)
                    .expect("valid")
                    .strategy("ghost"),
            );
        assert!(FlagSet::new([unknown], []).is_err());
        let named = Flag::new("d", FlagKind::Boolean)
            .strategy(Strategy::new("staff"))
            .scheduled(
                ScheduledChange::at(at(1))
                    .rollout(50)
                    .expect("valid")
                    .strategy("staff"),
            );
        let set = FlagSet::new([named], []).expect("a named strategy may gain a rollout");
        let applied = set.get("d").and_then(|f| f.apply_due(at(1)));
        assert_eq!(applied.expect("due").strategies()[0].rollout, Some(50));
    }
}
