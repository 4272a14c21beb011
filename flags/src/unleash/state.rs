//! An Unleash state that full responses and delta events build up.

use super::ImportError;
use super::raw::{RawEvent, RawFeature, RawSegment, RawState};

/// Unleash features and segments as received, kept so delta events can be
/// applied before converting.
///
/// ```
/// use palisade_flags::unleash::{UnleashImport, UnleashState};
///
/// let mut state = UnleashState::from_json(r#"{"features":[{"name":"a","enabled":true}]}"#)?;
/// state.apply_json(r#"{"events":[{"eventId":2,"type":"feature-removed","featureName":"a"}]}"#)?;
/// assert!(UnleashImport::new().convert(&state)?.flags.is_empty());
/// # Ok::<(), palisade_flags::unleash::ImportError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct UnleashState {
    pub(crate) features: Vec<RawFeature>,
    pub(crate) segments: Vec<RawSegment>,
}

impl UnleashState {
    /// A state from a full response (`features`, `segments`) or a delta
    /// response (`events`, applied in order to an empty state).
    ///
    /// # Errors
    /// [`ImportError::Json`] when the JSON is not Unleash's shape.
    pub fn from_json(json: &str) -> Result<Self, ImportError> {
        let mut state = Self::default();
        state.apply_json(json)?;
        Ok(state)
    }

    /// Apply a response: a full state replaces everything; delta events
    /// apply in order. Nothing changes when the JSON is rejected.
    ///
    /// # Errors
    /// [`ImportError::Json`] when the JSON is not Unleash's shape.
    pub fn apply_json(&mut self, json: &str) -> Result<(), ImportError> {
        let raw: RawState = serde_json::from_str(json)?;
        match raw.events {
            Some(events) => {
                for event in events {
                    self.apply(event);
                }
            }
            None => {
                self.features = raw.features;
                self.segments = raw.segments;
            }
        }
        Ok(())
    }

    /// The number of features.
    #[must_use]
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether there are no features.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    fn apply(&mut self, event: RawEvent) {
        match event {
            RawEvent::Hydration { features, segments } => {
                self.features = features;
                self.segments = segments;
            }
            RawEvent::FeatureUpdated { feature } => {
                match self.features.iter_mut().find(|f| f.name == feature.name) {
                    Some(existing) => *existing = feature,
                    None => self.features.push(feature),
                }
            }
            RawEvent::FeatureRemoved { feature_name } => {
                self.features.retain(|f| f.name != feature_name);
            }
            RawEvent::SegmentUpdated { segment } => {
                match self.segments.iter_mut().find(|s| s.id == segment.id) {
                    Some(existing) => *existing = segment,
                    None => self.segments.push(segment),
                }
            }
            RawEvent::SegmentRemoved { segment_id } => {
                self.segments.retain(|s| s.id != segment_id);
            }
        }
    }
}
