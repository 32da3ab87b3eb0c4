//! Learned targets (`learn::taste`) through a profile's lineage: a producer who keeps
//! modifying bass fixes toward more bass gets a learned bass target, the history line and
//! "what fixloop has learned" say so, fixes aim at it, revert restores exactly, a profile
//! without one loads and saves unchanged; and hostile feedback (NaN, inf, 1e300, ten
//! thousand identical modifies in one session) never moves a target past its guard rails.

use chrono::{DateTime, TimeZone, Utc};
use fixloop::features::{Feature, FeatureVector, FixType};
use fixloop::feedback::{FeedbackEvent, Timestamp, UserAction};
use fixloop::fixes::{propose, PlanMode, Policy};
use fixloop::gaps::compare;
use fixloop::home::Home;
use fixloop::learn::taste::{learn_taste, FREE_AFTER, SESSION_CAP_Z};
use fixloop::learn::{Learned, Lineage, RefineOptions, Targets};
use fixloop::profile::Profile;
use proptest::prelude::*;
use std::collections::BTreeMap;

mod common;

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap()
}

/// One decided bass cut of `version` in session `session`: from `before` toward `aimed`,
/// `action`, modified to `modified`.
fn bass(
    version: &str,
    i: usize,
    session: &str,
    (before, aimed): (f64, f64),
    action: UserAction,
    modified: Option<f64>,
) -> FeedbackEvent {
    FeedbackEvent {
        event_id: format!("{session}-{i}").into(),
        timestamp: Timestamp::from_micros(at(2).timestamp_micros() + i as i64 * 60_000_000),
        fix_id: format!("bass_level.eq_band_cut.{i:08x}").into(),
        fix_type: FixType::EqBandCut,
        feature_name: "bass_level".into(),
        track_path: "wip.wav".into(),
        session_id: session.into(),
        profile_version: version.into(),
        original_value: before,
        target_value: aimed,
        applied_value: aimed,
        user_action: Some(action),
        was_applied: action != UserAction::Reject,
        was_undone: action == UserAction::Undo,
        gap_before: 1.5,
        gap_after: None,
        improvement_ratio: None,
        user_modified_value: modified,
        session_saved_after: false,
        track_bounced_after: false,
        notes: None,
        ab: BTreeMap::new(),
        session_start_mean_abs_z: None,
    }
}

#[test]
fn a_producer_who_keeps_more_bass_gets_a_bass_target_and_fixes_aim_there() {
    let dir = common::TempDir::new("taste");
    let home = Home::at(dir.path());
    let feedback = home.feedback_dir();
    let base = fixloop::profile::bundled();
    let st = base.stats(Feature::BassLevel).unwrap().clone();
    let scale = fixloop::gaps::scale(&st);
    let want = st.mean + 1.5 * scale;
    let lineage = Lineage::open(&home, &base.name).unwrap();
    lineage.adopt(&base, at(1)).unwrap();
    // 40 sessions: each cut from far above the range down to its top edge is modified to
    // where the producer wants the bass (1.5 σ above the references' mean).
    let log: Vec<FeedbackEvent> = (0..40)
        .map(|i| {
            bass(
                &base.version,
                i,
                &format!("s{i}"),
                (st.mean + 3.0 * scale, st.acceptable_range[1]),
                UserAction::Modify,
                Some(want),
            )
        })
        .collect();
    fixloop::store::import_events(&log, &feedback).unwrap();
    let Learned::Refined { entry, .. } = lineage
        .learn(&feedback, &RefineOptions::new(at(3).date_naive()), at(3))
        .unwrap()
    else {
        panic!("40 events on one feature are due")
    };
    // The history line says what moved, from what evidence, with its interval.
    let [moved] = entry.targets.as_slice() else {
        panic!("{:?}", entry.targets)
    };
    assert_eq!(moved.feature, "bass_level");
    assert_eq!((moved.modified, moved.kept, moved.refused), (40, 0, 0));
    // The first modify alone would move the target 1.5/(1 + 0.09) ≈ 1.38 σ: the session
    // cap held it to 0.5 σ, and the sessions after it brought it the rest of the way.
    assert!(moved.held, "{moved:?}");
    assert_eq!(moved.from, st.mean);
    // 40 modifies at +1.5 σ against the prior N(0, 1) with placement noise 0.3 σ (no
    // spread: pooled variance 4·0.09/44): the mean 1.5·40/(40 + 0.0082) ≈ 1.4997 σ.
    assert!((moved.to - want).abs() < 0.01 * scale, "{moved:?}");
    assert!(moved.interval[0] < moved.to && moved.to < moved.interval[1]);
    let learned = lineage.current().unwrap().unwrap();
    let t = learned.learned_target(Feature::BassLevel).unwrap();
    assert!(t.known());
    // In words, in the lineage's report (the CLI's `profile history` and the editor's
    // "What fixloop has learned").
    let changes = lineage.changes_since_original().unwrap();
    assert!(
        changes.iter().any(|c| c.starts_with("Bass: you want it ")
            && c.contains(" dB above your references (90 %: ")
            && c.ends_with(" dB above, 40 decisions)")),
        "{changes:?}"
    );
    // A track with its bass 3 σ above the references: the references' fix aims at their
    // range's top edge; the learned fix at the near side of the producer's target, and
    // says why.
    let mut track = FeatureVector::new();
    track
        .set(Feature::BassLevel, st.mean + 3.0 * scale)
        .unwrap();
    let fix_for = |targets: Targets| {
        // One fix per feature: the fix is the bass's own, whole, with no plan's note.
        let policy = Policy {
            targets,
            plan: PlanMode::Independent,
            ..Policy::default()
        };
        let p = learned.aimed(targets);
        let fixes = propose(&p, &compare(&p, &track), &policy).unwrap();
        let fix = fixes
            .into_iter()
            .find(|f| f.gap_feature == Feature::BassLevel)
            .expect("a bass fix");
        (fix.target_value, fix.why(&p, policy.target_strategy))
    };
    let (references, _) = fix_for(Targets::References);
    assert!((references - st.acceptable_range[1]).abs() < 1e-9);
    let (aimed, why) = fix_for(Targets::Learned);
    assert!((aimed - (t.target + t.sd)).abs() < 1e-9, "{aimed} {t:?}");
    assert!(why.contains("from 40 of your decisions"), "{why}");
    // Revert restores the references' version exactly; the learned one stays on disk.
    lineage.revert(&base.version, at(4)).unwrap();
    assert_eq!(lineage.current().unwrap().unwrap(), base);
    assert!(lineage.current().unwrap().unwrap().taste.is_none());
}

#[test]
fn a_profile_without_learned_targets_round_trips_unchanged() {
    let dir = common::TempDir::new("taste-rt");
    let base = fixloop::profile::bundled();
    assert!(base.taste.is_none());
    let path = dir.path().join("p.json");
    base.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("taste"));
    assert_eq!(Profile::load(&path).unwrap(), base);
    // With no taste model the learned view is the profile itself.
    assert!(matches!(
        base.aimed(Targets::Learned),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn a_corrupt_taste_model_is_refused_with_its_feature_and_field() {
    let mut p = fixloop::profile::bundled();
    let events: Vec<FeedbackEvent> = (0..3)
        .map(|i| {
            bass(
                &p.version,
                i,
                "s",
                (-4.0, -5.0),
                UserAction::Modify,
                Some(-4.5),
            )
        })
        .collect();
    p.taste = Some(learn_taste(&p, &events).0);
    let mut json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
    json["taste"]["features"]["bass_level"]["sd"] = serde_json::json!(-1.0);
    let e = Profile::from_json(&json.to_string(), "p.json").unwrap_err();
    let e = e.to_string();
    assert!(e.contains("taste bass_level") && e.contains("sd"), "{e}");
    // A care weight that is not positive, and a log-likelihood above 0, are named too.
    let mut json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
    json["taste"]["features"]["bass_level"]["weight"] = serde_json::json!(0.0);
    let e = Profile::from_json(&json.to_string(), "p.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("taste bass_level: weight is 0"), "{e}");
    let mut json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
    let mut ll = vec![0.0; fixloop::learn::taste::WEIGHT_NODES];
    ll[3] = 2.5;
    json["taste"]["features"]["bass_level"]["evidence"]["weight_log_likelihood"] =
        serde_json::json!(ll);
    let e = Profile::from_json(&json.to_string(), "p.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("weight_log_likelihood[3] is 2.5"), "{e}");
}

/// A value a hostile or broken log may hold.
fn hostile_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -20.0f64..10.0,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(1e300),
        1 => Just(-1e300),
    ]
}

fn hostile_event() -> impl Strategy<Value = (u8, f64, f64, Option<f64>, u8)> {
    (
        0u8..4,
        hostile_value(),
        hostile_value(),
        proptest::option::of(hostile_value()),
        0u8..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the log holds, every learned target is finite, within the references'
    /// p5–p95 until enough decisions are behind it, and moved at most the session cap per
    /// session; nothing panics; the result is a valid profile.
    #[test]
    fn hostile_feedback_moves_no_target_past_its_guard_rails(
        decided in proptest::collection::vec(hostile_event(), 1..60),
        repeat in 1usize..300,
    ) {
        let base = fixloop::profile::bundled();
        let st = base.stats(Feature::BassLevel).unwrap().clone();
        let scale = fixloop::gaps::scale(&st);
        let actions = [UserAction::Accept, UserAction::Reject, UserAction::Modify, UserAction::Undo];
        let mut events = Vec::new();
        for (i, (a, before, aimed, modified, session)) in decided.iter().enumerate() {
            // The last decision repeated many times in one session.
            let n = if i + 1 == decided.len() { repeat } else { 1 };
            for k in 0..n {
                events.push(bass(
                    &base.version,
                    i * 1000 + k,
                    &format!("s{session}"),
                    (*before, *aimed),
                    actions[*a as usize],
                    *modified,
                ));
            }
        }
        let (taste, moves) = learn_taste(&base, &events);
        let mut p = base.clone();
        p.taste = Some(taste);
        prop_assert!(p.validate().is_ok(), "{:?}", p.validate());
        // A session's run of consecutive events is capped; a session resuming later is a
        // new run.
        let sessions = 1.0 + events
            .windows(2)
            .filter(|w| w[0].session_id != w[1].session_id)
            .count() as f64;
        if let Some(t) = p.learned_target(Feature::BassLevel) {
            prop_assert!(t.target.is_finite() && t.sd.is_finite());
            let z = (t.target - st.mean) / scale;
            prop_assert!(z.abs() <= SESSION_CAP_Z * sessions + 1e-9, "{t:?}");
            if t.decisions < FREE_AFTER {
                let samples = st.samples.clone().map(|mut v| {
                    v.sort_by(f64::total_cmp);
                    v
                });
                let (lo, hi) = match samples {
                    Some(v) if v.len() >= 2 => (
                        fixloop::profile::percentile(&v, 5.0).min(st.mean),
                        fixloop::profile::percentile(&v, 95.0).max(st.mean),
                    ),
                    _ => (st.mean - 1.645 * scale, st.mean + 1.645 * scale),
                };
                prop_assert!(t.target >= lo - 1e-9 && t.target <= hi + 1e-9, "{t:?}");
            }
            for m in &moves {
                prop_assert!(m.to.is_finite() && m.interval.iter().all(|v| v.is_finite()));
            }
        }
        // The profile moved to the learned targets is valid too.
        prop_assert!(p.aimed(Targets::Learned).validate().is_ok());
    }
}
