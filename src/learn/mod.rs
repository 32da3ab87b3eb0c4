//! Learning from feedback (SPEC §4): which fixes work, how confident to be in each kind
//! of fix, how to refine a profile, and A/B tests of fix-generation policies.
//!
//! Everything here works on any [`Outcomes`]: a slice of
//! [`FeedbackEvent`]s however they were read (native log or JSON lines), or a log's
//! compact fold ([`Folded`]), which it reads without building the events. It never
//! mutates its inputs, and returns named result structs that serialise to the JSON of
//! SPEC §5 and display the seed's human layout.
//!
//! - [`effectiveness`]: per fix type and per feature, the [`Summary`] (`fixloop summary`).
//! - [`confidence`]: the seed's confidence rule and a Beta-posterior view.
//! - [`refine`](mod@refine): profile refinement with guard rails and an audit record (`fixloop refine`).
//! - [`ab`]: A/B tests: files, assignment, analysis, sequential p-values, bandit.
//! - [`stats`]: the statistical tests, checked against scipy.
//!
//! Merging new reference tracks into a profile lives with the profile:
//! [`profile::merge_references`](crate::profile::merge_references).

pub mod ab;
pub mod confidence;
pub mod effectiveness;
pub mod refine;
mod since;
pub mod stats;

pub use crate::rng::SplitMix64;
pub use ab::{AbStatus, AbStore, AbTest};
pub use confidence::{update_confidences, ConfidenceUpdate};
pub use effectiveness::{FeatureEffectiveness, FixTypeEffectiveness, Recommendation, Summary};
pub use refine::{refine, Adjustment, Decision, RefineOptions, RefineReport, Refinement};
pub use since::Since;

use crate::feedback::records::Folded;
use crate::feedback::{EventOutcome, FeedbackEvent};

/// Events as learning reads them: each one's [`EventOutcome`], in order.
pub trait Outcomes {
    /// Number of events.
    fn count(&self) -> usize;
    /// Calls `f` with each event's outcome, in order.
    fn each<'a, F: FnMut(EventOutcome<'a>)>(&'a self, f: F);
}

impl Outcomes for [FeedbackEvent] {
    fn count(&self) -> usize {
        self.len()
    }
    fn each<'a, F: FnMut(EventOutcome<'a>)>(&'a self, f: F) {
        self.iter().map(FeedbackEvent::outcome).for_each(f)
    }
}

impl<const N: usize> Outcomes for [FeedbackEvent; N] {
    fn count(&self) -> usize {
        N
    }
    fn each<'a, F: FnMut(EventOutcome<'a>)>(&'a self, f: F) {
        self.as_slice().each(f)
    }
}

impl Outcomes for Vec<FeedbackEvent> {
    fn count(&self) -> usize {
        self.len()
    }
    fn each<'a, F: FnMut(EventOutcome<'a>)>(&'a self, f: F) {
        self.as_slice().each(f)
    }
}

impl Outcomes for Folded {
    fn count(&self) -> usize {
        self.len()
    }
    fn each<'a, F: FnMut(EventOutcome<'a>)>(&'a self, f: F) {
        self.outcomes().for_each(f)
    }
}
