//! Effectiveness, the feedback summary and confidence updating (SPEC §4.1, §4.2, §5).

mod learn_support;

use fixloop::features::FixType;
use fixloop::feedback::{Timestamp, UserAction};
use fixloop::learn::confidence::{seed_update, update_confidences};
use fixloop::learn::effectiveness::{by_feature, by_fix_type, event_score};
use fixloop::learn::{Since, Summary};
use learn_support::{at, event, FEATURE_FIELDS, FIX_TYPE_FIELDS, SUMMARY_FIELDS};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn fix_type_effectiveness_is_the_seed_formula() {
    use UserAction::*;
    let t = FixType::VolumeAdjust;
    let events = vec![
        event(0, t, "loudness", Some(Accept), false, Some(0.8)),
        event(1, t, "loudness", Some(Accept), false, None),
        event(2, t, "loudness", Some(Reject), false, None),
        event(3, t, "loudness", Some(Undo), true, Some(-0.2)),
    ];
    let e = &by_fix_type(&events)[&t];
    // Hand-computed: accept 2/4, improvement mean(0.8, −0.2) = 0.3, undo 1/4;
    // 0.4·0.5 + 0.4·0.3 + 0.2·0.75 = 0.47.
    assert_eq!(e.samples, 4);
    assert!(close(e.accept_rate, 0.5) && close(e.avg_improvement, 0.3) && close(e.undo_rate, 0.25));
    assert!(close(e.effectiveness, 0.47), "{e:?}");
    let post = e.accept_rate_posterior.unwrap();
    assert!(close(post.alpha, 3.0) && close(post.beta, 3.0));
}

#[test]
fn feature_score_follows_the_seed_order() {
    use UserAction::*;
    let t = FixType::WidthAdjust;
    // accept → 1, reject → 0, undone → −0.5, other → 0.5; with a ratio (s + r)/2.
    assert_eq!(
        event_score(&event(0, t, "w", Some(Accept), false, None)),
        1.0
    );
    assert_eq!(
        event_score(&event(0, t, "w", Some(Reject), false, None)),
        0.0
    );
    assert_eq!(event_score(&event(0, t, "w", Some(Undo), true, None)), -0.5);
    assert_eq!(event_score(&event(0, t, "w", None, false, None)), 0.5);
    assert_eq!(
        event_score(&event(0, t, "w", Some(Modify), false, Some(0.5))),
        0.5
    );
    // The seed checks accept before the undo flag.
    assert_eq!(
        event_score(&event(0, t, "w", Some(Accept), true, None)),
        1.0
    );
    assert_eq!(
        event_score(&event(0, t, "w", Some(Accept), false, Some(0.6))),
        0.8
    );
    let events = vec![
        event(0, t, "stereo_width", Some(Accept), false, None),
        event(1, t, "stereo_width", Some(Undo), true, None),
    ];
    let f = &by_feature(&events)["stereo_width"];
    // score (1 − 0.5)/2 = 0.25; factor 0.5 + (0.25 − 0.5)·0.5 = 0.375.
    assert!(close(f.score, 0.25) && close(f.factor, 0.375), "{f:?}");
}

#[test]
fn summary_serialises_the_spec_fields_and_prints_the_seed_layout() {
    use UserAction::*;
    let mut events = Vec::new();
    for i in 0..30 {
        events.push(event(
            i,
            FixType::VolumeAdjust,
            "loudness",
            Some(Accept),
            false,
            Some(0.9),
        ));
    }
    for i in 30..55 {
        let undone = i % 2 == 0;
        let action = if undone { Undo } else { Reject };
        events.push(event(
            i,
            FixType::WidthAdjust,
            "stereo_width",
            Some(action),
            undone,
            None,
        ));
    }
    let now = at(24 * 60);
    let s = Summary::compute(&events, Some(Since::Days(30)), now).unwrap();
    let json = serde_json::to_value(&s).unwrap();
    for key in SUMMARY_FIELDS {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    let v = &json["by_fix_type"]["volume_adjust"];
    for key in FIX_TYPE_FIELDS {
        assert!(v.get(key).is_some(), "missing by_fix_type.{key}");
    }
    for key in FEATURE_FIELDS {
        assert!(json["by_feature"]["stereo_width"].get(key).is_some());
    }
    assert_eq!(json["total"], 55);
    assert_eq!(json["since"], "30d");
    assert_eq!(json["recommendations"][0]["kind"], "working_well");
    let text = s.to_string();
    assert!(
        text.starts_with("Feedback Summary (Last 30 Days)\n===============================\n"),
        "{text}"
    );
    // Volume: 0.4·1 + 0.4·0.9 + 0.2·1 = 0.96.
    assert!(
        text.contains("  Volume Adjust:      96.0% effective (30 samples)"),
        "{text}"
    );
    assert!(
        text.contains("✓ Volume Adjust fixes working well"),
        "{text}"
    );
    assert!(
        text.contains("⚠ Lower confidence for Width Adjust fixes"),
        "{text}"
    );
    assert!(
        text.contains("⚠ Consider widening stereo_width acceptable range"),
        "{text}"
    );
}

#[test]
fn window_selects_events_no_events_is_zero_totals_and_an_empty_window_an_error() {
    use UserAction::*;
    let events: Vec<_> = (0..10)
        .map(|i| {
            let mut e = event(i, FixType::Compression, "plr", Some(Accept), false, None);
            e.timestamp = at(i as i64 * 24 * 60);
            e
        })
        .collect();
    let now = at(9 * 24 * 60);
    let s = Summary::compute(&events, Some(Since::parse("3d").unwrap()), now).unwrap();
    assert_eq!(s.total, 4); // days 6, 7, 8, 9
                            // A fresh home (SPEC §5): zero totals, not an error.
    let empty = Summary::compute(&[], None, now).unwrap();
    assert_eq!(
        (empty.total, empty.accept_rate, empty.undo_rate),
        (0, 0.0, 0.0)
    );
    assert!(empty.by_fix_type.is_empty() && empty.recommendations.is_empty());
    assert!(empty
        .to_string()
        .contains("No feedback has been recorded yet."));
    let e = Summary::compute(&events, Some(Since::Hours(1)), at(100 * 24 * 60)).unwrap_err();
    assert!(e.to_string().contains("10 event(s) lie outside"), "{e}");
    let _ = Timestamp::now();
}

#[test]
fn confidence_on_a_hand_computed_sequence() {
    use UserAction::*;
    let t = FixType::EqBandCut;
    let events = vec![
        event(0, t, "bass_level", Some(Accept), false, Some(0.8)), // 0.8 + 0.05·0.2 = 0.81
        event(1, t, "bass_level", Some(Reject), false, None),      // 0.81·0.95 = 0.7695
        event(2, t, "bass_level", Some(Undo), true, None),         // 0.7695·0.9 = 0.69255
        event(3, t, "bass_level", Some(Accept), false, Some(0.4)), // ratio ≤ 0.5: unchanged
        event(4, t, "bass_level", None, false, None),              // unchanged
        event(5, t, "bass_level", Some(Accept), false, Some(0.9)), // 0.69255 + 0.05·0.30745 = 0.7079225
    ];
    let c = seed_update(0.8, &events);
    assert!(close(c, 0.7079225), "{c}");
    // Time order, not slice order.
    let mut shuffled = events.clone();
    shuffled.reverse();
    let u = &update_confidences(&shuffled, |_| 0.8)[&t];
    assert!(close(u.after, 0.7079225), "{u:?}");
    assert_eq!((u.events, u.successes, u.failures), (6, 2, 2));
    // Beta view: α = 2·0.8 + 2 = 3.6, β = 2·0.2 + 2 = 2.4, mean 0.6.
    assert!(
        close(u.alpha, 3.6) && close(u.beta, 2.4) && close(u.mean, 0.6),
        "{u:?}"
    );
    assert!(u.low < u.mean && u.mean < u.high);
    // Refinement's confidence (computed in its one pass over the events) also takes
    // them in time order.
    let mut p = fixloop::profile::Profile::new("p");
    p.fix_confidence.insert(t, 0.8);
    let options =
        fixloop::learn::RefineOptions::new(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    for order in [&events, &shuffled] {
        let r = fixloop::learn::refine(&p, order, &options).unwrap();
        assert_eq!(&r.report.confidence[&t], u);
    }
    // Clamping: 40 undos from 0.5 → 0.5·0.9⁴⁰ ≈ 0.0074 → 0.1; 200 successes → 0.99.
    let undos: Vec<_> = (0..40)
        .map(|i| event(i, t, "x", Some(Undo), true, None))
        .collect();
    assert_eq!(seed_update(0.5, &undos), 0.1);
    let good: Vec<_> = (0..200)
        .map(|i| event(i, t, "x", Some(Accept), false, Some(1.0)))
        .collect();
    assert_eq!(seed_update(0.5, &good), 0.99);
}
