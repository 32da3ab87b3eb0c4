//! Learning from feedback (SPEC §4): which fixes work, how confident to be in each kind
//! of fix, how to refine a profile, and A/B tests of fix-generation policies.
//!
//! Everything here works on any [`crate::feedback::Outcomes`]: a slice of
//! [`FeedbackEvent`](crate::feedback::FeedbackEvent)s, a log's compact fold, or whatever
//! [`store::load_feedback`](crate::store::load_feedback) read (native log or JSON lines),
//! without building the events. It never
//! mutates its inputs, and returns named result structs that serialise to the JSON of
//! SPEC §5 and display the seed's human layout.
//!
//! - [`effectiveness`]: per fix type and per feature, the [`Summary`] (`fixloop summary`).
//! - [`confidence`]: the seed's confidence rule and a Beta-posterior view.
//! - [`refine`](mod@refine): profile refinement with guard rails and an audit record (`fixloop refine`).
//! - [`taste`]: where each producer wants each feature, learned from their decisions.
//! - [`ab`]: A/B tests: files, assignment, analysis, sequential p-values, bandit.
//! - [`stats`]: the statistical tests, checked against scipy.
//! - [`mergeable`]: the statistics behind the summary and the A/B analysis as values that
//!   merge exactly, so many producers' logs pool without reading events again.
//!
//! Merging new reference tracks into a profile lives with the profile:
//! [`profile::merge_references`](crate::profile::merge_references).

pub mod ab;
pub mod confidence;
pub mod effectiveness;
pub mod lineage;
pub mod mergeable;
pub mod refine;
mod since;
pub mod stats;
pub mod taste;

pub use crate::rng::SplitMix64;
pub use ab::{AbStatus, AbStore, AbTest};
pub use confidence::{update_confidences, ConfidenceUpdate};
pub use effectiveness::{FeatureEffectiveness, FixTypeEffectiveness, Recommendation, Summary};
pub use lineage::{HistoryEntry, HistoryKind, Learned, Lineage, LineageReport};
pub use mergeable::{SessionTable, SummaryStats};
pub use refine::{refine, Adjustment, Decision, RefineOptions, RefineReport, Refinement};
pub use since::Since;
pub use taste::{learn_taste, LearnedTarget, TargetMove, Targets, TasteModel};

pub(crate) use crate::feedback::Outcomes;

/// Runs `a` and `b`, side by side (`rayon::join`) when `parallel`: two independent passes
/// over the same events, so results are exactly those of running them one after the
/// other.
pub(crate) fn join<A: Send, B: Send>(
    parallel: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if parallel {
        rayon::join(a, b)
    } else {
        (a(), b())
    }
}

/// Events from which a pass is worth a thread of its own.
pub(crate) const PARALLEL_EVENTS: usize = 1 << 17;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{Feature, FixType};
    use crate::feedback::{FeedbackEvent, Timestamp, UserAction};
    use crate::profile::{FeatureStats, Profile};

    #[test]
    fn join_runs_each_pass_once_in_either_mode() {
        for parallel in [false, true] {
            let (a, b) = join(parallel, || 1 + 1, || "two".to_string());
            assert_eq!((a, b.as_str()), (2, "two"));
        }
    }

    #[test]
    fn passes_side_by_side_give_the_one_thread_results() {
        // More events than PARALLEL_EVENTS, so summary and refine split their passes;
        // the public one-pass functions are the reference.
        let n = PARALLEL_EVENTS + 1_000;
        let mut rng = SplitMix64::new(11);
        let events: Vec<FeedbackEvent> = (0..n)
            .map(|i| {
                let r = rng.next_u64();
                let action = UserAction::ALL.get((r % 5) as usize).copied();
                let ratio = (!r.is_multiple_of(3)).then(|| (r >> 8) as f64 / (1u64 << 56) as f64);
                FeedbackEvent {
                    event_id: format!("e{i}").into(),
                    // Out of time order now and then: confidence must sort them.
                    timestamp: Timestamp::from_micros((i as i64 ^ 3) * 1_000),
                    fix_id: "f".into(),
                    fix_type: FixType::ALL[(r >> 4) as usize % FixType::ALL.len()],
                    feature_name: Feature::ALL[(r >> 12) as usize % 7].name().into(),
                    track_path: "t".into(),
                    session_id: "s".into(),
                    profile_version: "v".into(),
                    original_value: 0.0,
                    target_value: 1.0,
                    applied_value: 1.0,
                    user_action: action,
                    was_applied: true,
                    was_undone: action == Some(UserAction::Undo),
                    gap_before: 1.0,
                    gap_after: ratio.map(|r| 1.0 - r),
                    improvement_ratio: ratio,
                    user_modified_value: None,
                    session_saved_after: false,
                    track_bounced_after: false,
                    notes: None,
                    ab: Default::default(),
                    session_start_mean_abs_z: None,
                }
            })
            .collect();
        let now = Timestamp::from_micros(n as i64 * 1_000);
        let s = Summary::compute(&events, None, now).unwrap();
        assert_eq!(s.total, n as u64);
        assert_eq!(s.by_fix_type, effectiveness::by_fix_type(&events));
        assert_eq!(s.by_feature, effectiveness::by_feature(&events));
        let mut p = Profile::new("p");
        p.track_count = 3;
        for f in Feature::ALL {
            let stats = FeatureStats::from_samples(&[0.0, 1.0, 2.0]).unwrap();
            p.features.insert(f.name().into(), stats);
        }
        let date = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let r = refine(&p, &events, &RefineOptions::new(date)).unwrap();
        let sequential = update_confidences(&events, |t| p.fix_confidence(t));
        assert_eq!(r.report.confidence, sequential);
        let by_feature = effectiveness::by_feature(&events);
        assert_eq!(by_feature.len(), 7);
        for a in &r.report.adjustments {
            match by_feature.get(&a.feature) {
                Some(f) => assert_eq!((a.events, a.factor), (f.samples, Some(f.factor))),
                None => assert_eq!((a.events, a.factor), (0, None)),
            }
        }
    }
}
