//! Hand-built feedback events for the learning tests.
#![allow(dead_code)]

use fixloop::features::FixType;
use fixloop::feedback::{Arm, FeedbackEvent, Timestamp, UserAction};
use std::collections::BTreeMap;

/// 2026-11-01T00:00:00Z plus `minutes`.
pub fn at(minutes: i64) -> Timestamp {
    Timestamp::from_micros(1_793_491_200_000_000 + minutes * 60_000_000)
}

/// An event of `fix_type` on `feature` with the given action, undo flag and ratio.
pub fn event(
    i: usize,
    fix_type: FixType,
    feature: &str,
    action: Option<UserAction>,
    undone: bool,
    ratio: Option<f64>,
) -> FeedbackEvent {
    FeedbackEvent {
        event_id: format!("e{i}").into(),
        timestamp: at(i as i64),
        fix_id: format!("f{i}").into(),
        fix_type,
        feature_name: feature.into(),
        track_path: "/tracks/a.als".into(),
        session_id: format!("s{}", i / 4).into(),
        profile_version: "trance_v1".into(),
        original_value: -4.0,
        target_value: -6.0,
        applied_value: -6.0,
        user_action: action,
        was_applied: true,
        was_undone: undone,
        gap_before: 2.0,
        gap_after: ratio.map(|r| 2.0 * (1.0 - r)),
        improvement_ratio: ratio,
        user_modified_value: None,
        session_saved_after: false,
        track_bounced_after: false,
        notes: None,
        ab: BTreeMap::new(),
        session_start_mean_abs_z: None,
    }
}

/// `accepts` accepted and `rejects` rejected events on `feature`, no ratios.
pub fn accept_reject(feature: &str, accepts: usize, rejects: usize) -> Vec<FeedbackEvent> {
    (0..accepts + rejects)
        .map(|i| {
            let action = if i < accepts {
                UserAction::Accept
            } else {
                UserAction::Reject
            };
            event(i, FixType::EqBandCut, feature, Some(action), false, None)
        })
        .collect()
}

/// An event of A/B test `test_id` in `arm` for `session` with an improvement ratio.
pub fn ab_event(
    i: usize,
    test_id: &str,
    arm: Arm,
    session: &str,
    action: UserAction,
    ratio: Option<f64>,
) -> FeedbackEvent {
    let mut e = event(
        i,
        FixType::VolumeAdjust,
        "loudness",
        Some(action),
        action == UserAction::Undo,
        ratio,
    );
    e.session_id = session.into();
    e.ab.insert(test_id.into(), arm);
    e
}

/// The fields of `summary --json` (SPEC §5).
pub const SUMMARY_FIELDS: [&str; 7] = [
    "total",
    "accept_rate",
    "undo_rate",
    "avg_improvement",
    "by_fix_type",
    "by_feature",
    "recommendations",
];

/// The fields of Each `by_fix_type` entry of the summary.
pub const FIX_TYPE_FIELDS: [&str; 5] = [
    "samples",
    "accept_rate",
    "avg_improvement",
    "undo_rate",
    "effectiveness",
];

/// The fields of Each `by_feature` entry of the summary.
pub const FEATURE_FIELDS: [&str; 3] = ["samples", "score", "factor"];

/// The fields of `ab status --json` (SPEC §5).
pub const AB_STATUS_FIELDS: [&str; 16] = [
    "test_id",
    "status",
    "control",
    "treatment",
    "lift",
    "diff",
    "ci_low",
    "ci_high",
    "p_value",
    "p_value_pooled",
    "cohens_d",
    "srm_p_value",
    "sessions",
    "anytime",
    "recommendation",
    "reason",
];

/// The fields of Each `adjustments[]` entry of `refine --json`.
pub const ADJUSTMENT_FIELDS: [&str; 7] = [
    "feature",
    "events",
    "factor",
    "decision",
    "old_range",
    "new_range",
    "reason",
];
