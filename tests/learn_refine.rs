//! Profile refinement (SPEC §4.3): the seed's thresholds and every guard rail.

mod learn_support;

use chrono::NaiveDate;
use fixloop::features::FixType;
use fixloop::feedback::UserAction;
use fixloop::learn::{refine, Decision, RefineOptions};
use fixloop::profile::{FeatureStats, Profile};
use learn_support::{accept_reject, event, ADJUSTMENT_FIELDS};

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
}

/// A profile with `bass_level`: mean 0, std 2, p50 0, range [−1, 1].
fn profile() -> Profile {
    let samples: Vec<f64> = (-10..=10).map(|v| v as f64 * 0.3).collect();
    let mut stats = FeatureStats::from_samples(&samples).unwrap();
    stats.std = 2.0;
    stats.acceptable_range = [-1.0, 1.0];
    let mut p = Profile::new("trance");
    p.track_count = samples.len() as u64;
    p.features.insert("bass_level".into(), stats);
    p.fix_confidence.insert(FixType::EqBandCut, 0.8);
    p.validate().unwrap();
    p
}

fn decide(events: &[fixloop::feedback::FeedbackEvent]) -> (Decision, [f64; 2], f64) {
    let r = refine(&profile(), events, &RefineOptions::new(date())).unwrap();
    let a = r
        .report
        .adjustments
        .iter()
        .find(|a| a.feature == "bass_level")
        .unwrap();
    (a.decision, a.new_range.unwrap(), a.factor.unwrap())
}

#[test]
fn thresholds_at_and_around_0_4_and_0_6() {
    // score = accepts / n; factor = 0.5 + (score − 0.5)/2.
    // 6 of 20 accepted: score 0.3, factor 0.4 exactly → keep (the seed widens only below).
    let (d, r, f) = decide(&accept_reject("bass_level", 6, 14));
    assert!((f - 0.4).abs() < 1e-12);
    assert_eq!((d, r), (Decision::Keep, [-1.0, 1.0]));
    // 5 of 20: score 0.25, factor 0.375 → widen by 20 % of width 2 = 0.4 each side.
    let (d, r, _) = decide(&accept_reject("bass_level", 5, 15));
    assert_eq!(d, Decision::Widen);
    assert!(
        (r[0] + 1.4).abs() < 1e-12 && (r[1] - 1.4).abs() < 1e-12,
        "{r:?}"
    );
    // 14 of 20: score 0.7, factor 0.6 exactly → keep.
    let (d, _, f) = decide(&accept_reject("bass_level", 14, 6));
    assert!((f - 0.6).abs() < 1e-12);
    assert_eq!(d, Decision::Keep);
    // 15 of 20: factor 0.625 → narrow by 10 % of 2 = 0.2 each side: [−0.8, 0.8]
    // (width 1.6 ≥ floor 0.5·2 = 1, contains p50 0).
    let (d, r, _) = decide(&accept_reject("bass_level", 15, 5));
    assert_eq!(d, Decision::Narrow);
    assert!(
        (r[0] + 0.8).abs() < 1e-12 && (r[1] - 0.8).abs() < 1e-12,
        "{r:?}"
    );
}

#[test]
fn too_few_events_are_skipped() {
    let (d, r, _) = decide(&accept_reject("bass_level", 19, 0));
    assert_eq!((d, r), (Decision::Skipped, [-1.0, 1.0]));
    let mut opts = RefineOptions::new(date());
    opts.min_events = 5;
    let r = refine(&profile(), &accept_reject("bass_level", 19, 0), &opts).unwrap();
    assert_eq!(r.report.adjustments[0].decision, Decision::Narrow);
}

#[test]
fn floor_limits_narrowing_and_keeps_p50() {
    // Range [−0.55, 0.55] (width 1.1), floor 0.5·std 2 = 1.0: the wanted [−0.44, 0.44]
    // (width 0.88) is limited to width 1.0 centred: [−0.5, 0.5].
    let mut p = profile();
    p.features.get_mut("bass_level").unwrap().acceptable_range = [-0.55, 0.55];
    let r = refine(
        &p,
        &accept_reject("bass_level", 20, 0),
        &RefineOptions::new(date()),
    )
    .unwrap();
    let a = &r.report.adjustments[0];
    assert_eq!(a.decision, Decision::Narrow);
    assert!(a.floor_applied);
    let [lo, hi] = a.new_range.unwrap();
    assert!(
        (lo + 0.5).abs() < 1e-12 && (hi - 0.5).abs() < 1e-12,
        "{lo} {hi}"
    );
    // Already at the floor: kept.
    p.features.get_mut("bass_level").unwrap().acceptable_range = [-0.5, 0.5];
    let r = refine(
        &p,
        &accept_reject("bass_level", 20, 0),
        &RefineOptions::new(date()),
    )
    .unwrap();
    assert_eq!(r.report.adjustments[0].decision, Decision::Keep);
    assert!(r.report.adjustments[0].reason.contains("floor"));
    // A narrowing that would exclude p50 (0) keeps it inside: range [0, 4] → [0.4, 3.6] → [0, 3.6].
    p.features.get_mut("bass_level").unwrap().acceptable_range = [0.0, 4.0];
    let r = refine(
        &p,
        &accept_reject("bass_level", 20, 0),
        &RefineOptions::new(date()),
    )
    .unwrap();
    let [lo, hi] = r.report.adjustments[0].new_range.unwrap();
    assert!(lo <= 0.0 && (hi - 3.6).abs() < 1e-12, "{lo} {hi}");
}

#[test]
fn feature_missing_from_profile_is_reported_not_fatal() {
    let mut events = accept_reject("bass_level", 20, 0);
    events.extend(accept_reject("sparkle_level", 25, 0));
    let r = refine(&profile(), &events, &RefineOptions::new(date())).unwrap();
    let a = r
        .report
        .adjustments
        .iter()
        .find(|a| a.feature == "sparkle_level")
        .unwrap();
    assert_eq!(a.decision, Decision::Skipped);
    assert!(
        a.reason.contains("not in profile trance_v1"),
        "{}",
        a.reason
    );
    assert!(a.old_range.is_none());
    assert!(r.report.to_string().contains("sparkle_level: Skipped"));
}

#[test]
fn version_confidence_and_input_untouched() {
    use UserAction::*;
    let input = profile();
    let before = input.clone();
    let mut events = accept_reject("bass_level", 20, 0);
    events.push(event(
        99,
        FixType::EqBandCut,
        "bass_level",
        Some(Accept),
        false,
        Some(0.9),
    ));
    let r = refine(&input, &events, &RefineOptions::new(date())).unwrap();
    assert_eq!(input, before);
    assert_eq!(r.profile.version, "trance_v1_refined_20261128");
    assert_eq!(r.report.version, r.profile.version);
    // 20 rejects-free accepts without ratio are neutral; one success: 0.8 + 0.05·0.2 = 0.81.
    let c = &r.report.confidence[&FixType::EqBandCut];
    assert!((c.after - 0.81).abs() < 1e-12 && c.before == 0.8, "{c:?}");
    assert_eq!(r.profile.fix_confidence[&FixType::EqBandCut], c.after);
    let json = serde_json::to_value(&r.report).unwrap();
    for key in ["version", "adjustments", "confidence"] {
        assert!(json.get(key).is_some());
    }
    let adj = &json["adjustments"][0];
    for key in ADJUSTMENT_FIELDS {
        assert!(adj.get(key).is_some(), "adjustments[].{key}");
    }
    for key in ["before", "after", "alpha", "beta", "mean", "low", "high"] {
        assert!(
            json["confidence"]["eq_band_cut"].get(key).is_some(),
            "confidence.{key}"
        );
    }
    let text = r.report.to_string();
    assert!(
        text.starts_with(
            "Analyzing 21 feedback events...\n\nAdjustments:\n  bass_level: Narrowing"
        ),
        "{text}"
    );
    assert!(
        text.contains("Confidence Updates:\n  EQ Band Cut fixes: 0.80 → 0.81"),
        "{text}"
    );
}

#[test]
fn empty_feedback_is_a_clear_error() {
    let e = refine(&profile(), &[], &RefineOptions::new(date())).unwrap_err();
    assert!(e.to_string().contains("no feedback events"), "{e}");
}

/// Confidence per (fix type, feature): an accepted fix counts as a success when it reached
/// more than half of what its target aimed for; for a fix aimed at the mean that is the
/// seed's reading (ratio > 0.5), and the per-type numbers always keep the seed's reading.
#[test]
fn per_feature_confidence_reads_improvement_against_the_fix_target() {
    // bass_level: mean 0, std 2, range [−1, 1]. From 4.0 (z = 2) toward the range's edge
    // 1.0 (z = 0.5), measured ratio 0.4: 0.4·2 = 0.8 of the 1.5 aimed for (> half), while
    // the seed's reading (0.4 ≤ 0.5) is neutral.
    let at_edge = |target: f64| -> Vec<fixloop::feedback::FeedbackEvent> {
        (0..12)
            .map(|i| {
                let mut e = event(
                    i,
                    FixType::EqBandCut,
                    "bass_level",
                    Some(UserAction::Accept),
                    false,
                    Some(0.4),
                );
                e.original_value = 4.0;
                e.target_value = target;
                e.applied_value = target;
                e
            })
            .collect()
    };
    // 12 events: under the range's guard rail (20), over the pair's (10).
    let r = refine(&profile(), &at_edge(1.0), &RefineOptions::new(date())).unwrap();
    let adj = &r.report.adjustments[0];
    assert_eq!(adj.decision, Decision::Skipped);
    assert_eq!(r.report.confidence[&FixType::EqBandCut].after, 0.8);
    let pair = &r.report.confidence_by_feature[&FixType::EqBandCut]["bass_level"];
    // 12 seed steps up from 0.8: 1 − 0.2·0.95^12 (analytic).
    let want = 1.0 - 0.2 * 0.95f64.powi(12);
    assert!((pair.after - want).abs() < 1e-12, "{pair:?}");
    assert_eq!((pair.successes, pair.failures), (12, 0));
    assert!(!pair.held_by_range);
    assert_eq!(
        r.profile
            .fix_confidence_for(FixType::EqBandCut, fixloop::features::Feature::BassLevel),
        pair.after
    );
    // Aimed at the mean (z = 0): the same ratio reads as the seed's, neutral.
    let r = refine(&profile(), &at_edge(0.0), &RefineOptions::new(date())).unwrap();
    let pair = &r.report.confidence_by_feature[&FixType::EqBandCut]["bass_level"];
    assert_eq!((pair.after, pair.successes), (0.8, 0));
}
