//! Learning from feedback (SPEC §4): which fixes work, how confident to be in each kind
//! of fix, how to refine a profile, and A/B tests of fix-generation policies.
//!
//! Everything here works on a slice of [`FeedbackEvent`](crate::feedback::FeedbackEvent)s
//! however they were read (native log or JSON lines), never mutates its inputs, and
//! returns named result structs that serialise to the JSON of SPEC §5 and display the
//! seed's human layout.
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
