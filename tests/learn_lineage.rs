//! A profile's lineage in a home: adopt, learn when enough feedback of the version in force
//! has arrived, history, revert restoring the earlier version exactly, events of an
//! abandoned branch not learned twice, pause, a torn history line, per-feature confidence.

use chrono::{DateTime, TimeZone, Utc};
use fixloop::features::FixType;
use fixloop::feedback::{FeedbackEvent, Timestamp, UserAction};
use fixloop::home::Home;
use fixloop::learn::{HistoryKind, Learned, Lineage, RefineOptions};
use fixloop::profile::Profile;
use std::collections::BTreeMap;

mod common;

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap()
}

/// `n` events on `feature` of `version`, every one `action`, one minute apart from `t0`.
fn events(
    version: &str,
    feature: &str,
    fix_type: FixType,
    action: UserAction,
    n: usize,
    t0: DateTime<Utc>,
    tag: &str,
) -> Vec<FeedbackEvent> {
    (0..n)
        .map(|i| FeedbackEvent {
            event_id: format!("{tag}-{i}").into(),
            timestamp: Timestamp::from_micros(t0.timestamp_micros() + i as i64 * 60_000_000),
            fix_id: format!("{feature}.{}.{i:08x}", fix_type.name()).into(),
            fix_type,
            feature_name: feature.into(),
            track_path: "wip.wav".into(),
            session_id: format!("{tag}-session").into(),
            profile_version: version.into(),
            original_value: -4.0,
            target_value: -5.0,
            applied_value: -5.0,
            user_action: Some(action),
            was_applied: action != UserAction::Reject,
            was_undone: action == UserAction::Undo,
            gap_before: 1.5,
            gap_after: None,
            improvement_ratio: None,
            user_modified_value: None,
            session_saved_after: false,
            track_bounced_after: false,
            notes: None,
            ab: BTreeMap::new(),
            session_start_mean_abs_z: None,
        })
        .collect()
}

fn options() -> RefineOptions {
    RefineOptions::new(at(1).date_naive())
}

#[test]
fn learns_from_its_own_version_keeps_history_and_reverts_exactly() {
    let dir = common::TempDir::new("lineage");
    let home = Home::at(dir.path());
    let feedback = home.feedback_dir();
    let base = fixloop::profile::bundled();
    let lineage = Lineage::open(&home, &base.name).unwrap();
    assert_eq!(lineage.adopt(&base, at(1)).unwrap(), base);
    // Adopting again changes nothing.
    lineage.adopt(&base, at(1)).unwrap();
    assert_eq!(lineage.history().unwrap().len(), 1);

    // 19 bass cuts refused: one short of the guard rail's 20.
    let mut log = events(
        &base.version,
        "bass_level",
        FixType::EqBandCut,
        UserAction::Reject,
        19,
        at(2),
        "a",
    );
    fixloop::store::import_events(&log, &feedback).unwrap();
    let r = lineage.learn(&feedback, &options(), at(2)).unwrap();
    assert_eq!(
        r,
        Learned::NotDue {
            events: 19,
            most_per_feature: 19,
            needed: 20,
            cached: false
        }
    );
    // Nothing recorded since: answered from the watermark.
    assert!(matches!(
        lineage.learn(&feedback, &options(), at(2)).unwrap(),
        Learned::NotDue { cached: true, .. }
    ));

    // One more, and events of another version that must not count.
    let more = events(
        &base.version,
        "bass_level",
        FixType::EqBandCut,
        UserAction::Reject,
        1,
        at(3),
        "b",
    );
    let other = events(
        "someone_else_v9",
        "high_level",
        FixType::EqBandCut,
        UserAction::Reject,
        40,
        at(3),
        "c",
    );
    fixloop::store::import_events(&more, &feedback).unwrap();
    fixloop::store::import_events(&other, &feedback).unwrap();
    log.extend(more);
    let Learned::Refined { entry, .. } = lineage.learn(&feedback, &options(), at(4)).unwrap()
    else {
        panic!("a refinement")
    };
    assert_eq!(entry.kind, HistoryKind::Refined);
    assert_eq!(entry.parent.as_deref(), Some(base.version.as_str()));
    assert_eq!(entry.version, format!("{}_refined_20260304", base.version));
    assert_eq!(entry.events_used, 20);
    let [adj] = entry.adjustments.as_slice() else {
        panic!("{:?}", entry.adjustments)
    };
    assert_eq!(adj.feature, "bass_level");
    assert_eq!((adj.events, adj.refused), (20, 20));
    // 20 rejections from the bundled prior 0.78: 0.78 · 0.95^20 = 0.2796 (the seed rule)
    // per type. The pair's range moved, so its own confidence is held at the prior: the
    // range answers those refusals (counted, with the Beta view of 20 failures).
    let prior = base.fix_confidence(FixType::EqBandCut);
    assert_eq!(prior, 0.78);
    let c = &entry.confidence[&FixType::EqBandCut];
    assert!((c.after - prior * 0.95f64.powi(20)).abs() < 1e-12, "{c:?}");
    assert!(!c.held_by_range);
    let pair = &entry.confidence_by_feature[&FixType::EqBandCut]["bass_level"];
    assert_eq!((pair.after, pair.failures), (prior, 20), "{pair:?}");
    assert!(pair.held_by_range);
    let current = lineage.current().unwrap().unwrap();
    assert_eq!(current.version, entry.version);
    assert_eq!(
        current.fix_confidence_for(FixType::EqBandCut, fixloop::features::Feature::BassLevel),
        pair.after
    );
    let words = lineage.changes_since_original().unwrap();
    assert!(
        words.iter().any(|w| w.starts_with("Bass range widened to ")
            && w.ends_with("you refused 20 of 20 of its fixes")),
        "{words:?}"
    );
    assert!(
        words
            .iter()
            .any(|w| w == "EQ Band Cut confidence 0.78 \u{2192} 0.28"),
        "{words:?}"
    );

    // Revert: the original is in force again, byte for byte the profile adopted.
    let back = lineage.revert(&base.version, at(5)).unwrap();
    assert_eq!(back.kind, HistoryKind::Reverted);
    assert_eq!(lineage.current().unwrap().unwrap(), base);
    assert_eq!(
        lineage.versions().unwrap(),
        [base.version.clone(), entry.version.clone()]
    );
    assert!(lineage.changes_since_original().unwrap().is_empty());
    // The events that made the abandoned version are not learned again.
    assert!(matches!(
        lineage.learn(&feedback, &options(), at(5)).unwrap(),
        Learned::NotDue { events: 0, .. }
    ));
    // New feedback after the revert is; the same day's name is taken, so it gets _2.
    let fresh = events(
        &base.version,
        "bass_level",
        FixType::EqBandCut,
        UserAction::Accept,
        25,
        at(6),
        "d",
    );
    fixloop::store::import_events(&fresh, &feedback).unwrap();
    let Learned::Refined { entry: again, .. } = lineage
        .learn(&feedback, &RefineOptions::new(at(4).date_naive()), at(4))
        .unwrap()
    else {
        panic!("a refinement")
    };
    assert_eq!(
        again.version,
        format!("{}_refined_20260304_2", base.version)
    );
    assert_eq!(again.events_used, 25);
    // Earlier files are never rewritten.
    assert_eq!(
        Profile::load(&lineage.version_path(&entry.version)).unwrap(),
        current
    );
}

#[test]
fn pause_stops_learning_and_a_torn_history_line_is_ignored() {
    let dir = common::TempDir::new("lineage");
    let home = Home::at(dir.path());
    let feedback = home.feedback_dir();
    let base = fixloop::profile::bundled();
    let lineage = Lineage::open(&home, &base.name).unwrap();
    lineage.adopt(&base, at(1)).unwrap();
    let log = events(
        &base.version,
        "bass_level",
        FixType::EqBandCut,
        UserAction::Reject,
        30,
        at(2),
        "a",
    );
    fixloop::store::import_events(&log, &feedback).unwrap();
    lineage.set_paused(true).unwrap();
    assert_eq!(
        lineage.learn(&feedback, &options(), at(3)).unwrap(),
        Learned::Paused
    );
    lineage.set_paused(false).unwrap();

    // A crash in the middle of appending a line: the version before stays in force.
    let history = lineage.dir().join("history.jsonl");
    let mut text = std::fs::read_to_string(&history).unwrap();
    text.push_str("{\"kind\":\"refined\",\"version\":\"trance_v1_re");
    std::fs::write(&history, &text).unwrap();
    assert_eq!(
        lineage.current_version().unwrap().as_deref(),
        Some(base.version.as_str())
    );
    // A bad line in the middle is an error that names it.
    std::fs::write(&history, format!("not json\n{text}\n")).unwrap();
    let e = lineage.history().unwrap_err().to_string();
    assert!(e.contains("history.jsonl") && e.contains("line 1"), "{e}");
}

#[test]
fn reverting_to_an_unknown_version_is_refused() {
    let dir = common::TempDir::new("lineage");
    let home = Home::at(dir.path());
    let base = fixloop::profile::bundled();
    let lineage = Lineage::open(&home, &base.name).unwrap();
    lineage.adopt(&base, at(1)).unwrap();
    let e = lineage.revert("nope_v7", at(2)).unwrap_err().to_string();
    assert!(e.contains("nope_v7") && e.contains(&base.version), "{e}");
}
