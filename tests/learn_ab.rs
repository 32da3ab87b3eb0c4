//! A/B tests (SPEC §4.5): test files, the store, the analysis and its recommendation.

mod learn_support;

use fixloop::feedback::{Arm, FeedbackEvent, Timestamp, UserAction};
use fixloop::learn::ab::{assign, AbRecommendation, Metric, TestStatus};
use fixloop::learn::{AbStatus, AbStore, AbTest, SplitMix64};
use fixloop::ErrorKind;
use learn_support::{ab_event, at, AB_STATUS_FIELDS};

const TEST_JSON: &str = r#"{
  "test_id": "targeting_strategy_001",
  "name": "Conservative vs Mean Targeting",
  "description": "Does aiming at the mean beat the nearest edge?",
  "control": {"target_strategy": "conservative"},
  "treatment": {"target_strategy": "mean"},
  "assignment_ratio": 0.5,
  "start_date": "2026-11-01",
  "end_date": null,
  "min_samples": 5,
  "primary_metric": "improvement_ratio",
  "secondary_metrics": ["accept_rate", "undo_rate"]
}"#;

fn test() -> AbTest {
    AbTest::from_json(TEST_JSON, "test.json").unwrap()
}

/// One event per session per value: arm, value.
fn events(control: &[f64], treatment: &[f64]) -> Vec<FeedbackEvent> {
    let mut out = Vec::new();
    for (arm, values) in [(Arm::Control, control), (Arm::Treatment, treatment)] {
        for &v in values {
            let i = out.len();
            out.push(ab_event(
                i,
                "targeting_strategy_001",
                arm,
                &format!("{}-{i}", arm.name()),
                UserAction::Accept,
                Some(v),
            ));
        }
    }
    out
}

#[test]
fn test_file_parses_the_seed_shape_and_refuses_bad_ones() {
    let t = test();
    assert_eq!(t.assignment_ratio, 0.5);
    assert_eq!(
        t.start_date,
        Timestamp::parse("2026-11-01T00:00:00Z").unwrap()
    );
    assert_eq!(t.control.amount, 1.0);
    let labels = t.arm_labels();
    assert_eq!(
        (labels.control.as_str(), labels.treatment.as_str()),
        ("conservative", "mean")
    );
    assert_eq!(
        t.to_string(),
        "targeting_strategy_001: Conservative vs Mean Targeting (improvement_ratio; conservative vs mean; treatment share 0.5; from 2026-11-01, open-ended)"
    );
    let again = AbTest::from_json(&t.to_json(), "x").unwrap();
    assert_eq!(again, t);
    for (from, to, what) in [
        (
            "\"assignment_ratio\": 0.5",
            "\"assignment_ratio\": 1.5",
            "assignment_ratio",
        ),
        (
            "\"target_strategy\": \"mean\"",
            "\"target_stratgy\": \"mean\"",
            "target_stratgy",
        ),
        ("\"improvement_ratio\"", "\"happiness\"", "happiness"),
        (
            "\"test_id\": \"targeting_strategy_001\"",
            "\"test_id\": \"../x\"",
            "test_id",
        ),
        (
            "\"end_date\": null",
            "\"end_date\": \"2026-10-01\"",
            "end_date",
        ),
        (
            "\"min_samples\": 5",
            "\"min_samples\": 5, \"bandit\": {\"draws\": 0}",
            "bandit.draws",
        ),
        (
            "\"min_samples\": 5",
            "\"min_samples\": 5, \"bandit\": {\"min_share\": 0.7}",
            "bandit.min_share",
        ),
    ] {
        let e = AbTest::from_json(&TEST_JSON.replace(from, to), "bad.json").unwrap_err();
        assert!(e.to_string().contains(what), "{what}: {e}");
        assert!(e.to_string().starts_with("bad.json"), "{e}");
    }
}

#[test]
fn store_creates_lists_resolves_and_refuses_overwrite() {
    let dir = std::env::temp_dir().join(format!("fixloop-abstore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = AbStore::new(dir.join("abtests"));
    assert!(store.list().unwrap().is_empty());
    let path = store.create(&test()).unwrap();
    assert!(path.ends_with("abtests/targeting_strategy_001.json"));
    let e = store.create(&test()).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    assert_eq!(store.list().unwrap(), vec![test()]);
    assert_eq!(store.load("targeting_strategy_001").unwrap(), test());
    assert_eq!(store.resolve(path.to_str().unwrap()).unwrap(), test());
    let e = store.load("nope").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(
        e.to_string()
            .contains("no A/B test \"nope\" (known tests: targeting_strategy_001)"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn event_level_statistics_match_scipy() {
    let a = [0.61, 0.42, 0.58, 0.77, 0.35, 0.66, 0.49, 0.71];
    let b = [0.72, 0.81, 0.55, 0.9, 0.68, 0.77];
    let s = AbStatus::compute(&test(), &events(&a, &b), at(60)).unwrap();
    // scipy.stats.ttest_ind(b, a, equal_var=False).pvalue -> 0.038536837442737726
    // scipy.stats.ttest_ind(b, a).pvalue -> 0.04315986592133089   (tolerance 1e-9)
    assert!((s.events.p_value.unwrap() - 0.038536837442737726).abs() < 1e-9);
    assert!((s.events.p_value_pooled.unwrap() - 0.04315986592133089).abs() < 1e-9);
    // One event per session: the session level is the same data.
    assert!((s.sessions.p_value.unwrap() - 0.038536837442737726).abs() < 1e-9);
    assert_eq!(s.status, TestStatus::Running);
    let json = serde_json::to_value(&s).unwrap();
    for key in AB_STATUS_FIELDS {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    for key in ["n", "mean"] {
        assert!(
            json["control"].get(key).is_some() && json["sessions"]["treatment"].get(key).is_some()
        );
    }
    for key in ["p_value", "ci_low", "ci_high"] {
        assert!(json["anytime"].get(key).is_some());
    }
    // Before the end date the recommendation rests on the anytime-valid p-value, which
    // on 14 sessions is far from significant even though Welch's p is 0.039.
    assert_eq!(s.recommendation, AbRecommendation::KeepControl);
    assert!(s.reason.contains("anytime-valid"), "{}", s.reason);
    let text = s.to_string();
    assert!(text.starts_with("A/B Test: Conservative vs Mean Targeting\n========================================\n\nStatus: Running\nStarted: 2026-11-01\nSamples: Control=8, Treatment=6"), "{text}");
    assert!(text.contains("  Control (conservative):   0.57 avg improvement\n  Treatment (mean):         0.74 avg improvement\n  Lift: +28.7%"), "{text}");
}

#[test]
fn proportions_are_tested_as_proportions() {
    // accept_rate: control 45/100, treatment 60/100 (one event per session).
    let mut t = test();
    t.primary_metric = Metric::AcceptRate;
    let mut ev = Vec::new();
    for (arm, accepts) in [(Arm::Control, 45), (Arm::Treatment, 60)] {
        for j in 0..100 {
            let i = ev.len();
            let action = if j < accepts {
                UserAction::Accept
            } else {
                UserAction::Reject
            };
            ev.push(ab_event(i, &t.test_id, arm, &format!("s{i}"), action, None));
        }
    }
    let s = AbStatus::compute(&t, &ev, at(60)).unwrap();
    // scipy.stats.chi2_contingency([[45, 55], [60, 40]], correction=False).pvalue
    //   -> 0.033672068856345896; scipy.stats.fisher_exact(...).pvalue -> 0.04716548538301931
    assert_eq!(s.events.test, "two_proportion_z");
    assert!((s.events.p_value.unwrap() - 0.033672068856345896).abs() < 1e-9);
    assert!((s.events.p_value_exact.unwrap() - 0.04716548538301931).abs() < 1e-9);
    // scipy.stats.chisquare([100, 100]).pvalue -> 1.0
    assert_eq!(s.srm_p_value, Some(1.0));
}

#[test]
fn lift_with_zero_control_mean_is_undefined() {
    let s =
        AbStatus::compute(&test(), &events(&[0.0, 0.0, 0.0], &[0.2, 0.4, 0.1]), at(60)).unwrap();
    assert_eq!(s.events.lift, None);
    assert!(s
        .events
        .lift_note
        .as_deref()
        .unwrap()
        .contains("control mean is 0"));
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["lift"].is_null());
    assert!(s
        .to_string()
        .contains("Lift: undefined (undefined: the control mean is 0"));
}

#[test]
fn empty_arm_and_no_data_are_explained() {
    let s = AbStatus::compute(&test(), &events(&[0.5, 0.6, 0.7], &[]), at(60)).unwrap();
    assert_eq!(s.recommendation, AbRecommendation::KeepRunning);
    assert!(
        s.reason.contains("the treatment arm has no events"),
        "{}",
        s.reason
    );
    assert!(s.events.p_value.is_none() && s.events.note.is_some());
    let _ = s.to_string();
    let s = AbStatus::compute(&test(), &[], at(60)).unwrap();
    assert!(
        s.reason.contains("both arms have no events"),
        "{}",
        s.reason
    );
    let _ = s.to_string();
}

#[test]
fn srm_blocks_adoption() {
    let mut rng = SplitMix64::new(3);
    let c: Vec<f64> = (0..200).map(|_| 0.3 + 0.1 * rng.next_normal()).collect();
    let t: Vec<f64> = (0..60).map(|_| 0.6 + 0.1 * rng.next_normal()).collect();
    let s = AbStatus::compute(&test(), &events(&c, &t), at(60)).unwrap();
    assert!(s.srm.mismatch, "{:?}", s.srm);
    assert_eq!(s.recommendation, AbRecommendation::KeepControl);
    assert!(s.reason.contains("sample-ratio mismatch"), "{}", s.reason);
}

#[test]
fn clear_effect_is_adopted_and_small_samples_wait() {
    let mut rng = SplitMix64::new(11);
    let mut t = test();
    t.min_samples = 50;
    // 150 sessions per arm of 3 events each, d ≈ 1 at session level.
    let mut ev = Vec::new();
    for (arm, mean) in [(Arm::Control, 0.4), (Arm::Treatment, 0.6)] {
        for s in 0..150 {
            let session_effect = 0.1 * rng.next_normal();
            for _ in 0..3 {
                let i = ev.len();
                let v = mean + session_effect + 0.1 * rng.next_normal();
                ev.push(ab_event(
                    i,
                    &t.test_id,
                    arm,
                    &format!("{}-{s}", arm.name()),
                    UserAction::Accept,
                    Some(v),
                ));
            }
        }
    }
    let s = AbStatus::compute(&t, &ev, at(60)).unwrap();
    assert_eq!(
        s.recommendation,
        AbRecommendation::AdoptTreatment,
        "{}",
        s.reason
    );
    assert_eq!(s.sessions.control.n, 150);
    // A quarter of the data per arm is still below min_samples = 50 events? 20 events is.
    let few: Vec<_> = ev
        .iter()
        .filter(|e| e.event_id.trim_start_matches('e').parse::<usize>().unwrap() % 45 == 0)
        .cloned()
        .collect();
    let s = AbStatus::compute(&t, &few, at(60)).unwrap();
    assert_eq!(
        s.recommendation,
        AbRecommendation::KeepRunning,
        "{}",
        s.reason
    );
    assert!(s.reason.contains("not enough samples"), "{}", s.reason);
}

#[test]
fn assignment_is_deterministic_per_session() {
    let t = test();
    for i in 0..100 {
        let s = format!("session-{i}");
        assert_eq!(assign(&t, &s), assign(&t, &s));
    }
}

#[test]
fn bandit_tests_report_shares_and_skip_the_srm_check() {
    let mut t = test();
    t.bandit = Some(fixloop::learn::ab::BanditSettings::default());
    t.primary_metric = Metric::AcceptRate;
    // 30 control sessions accepting 1 in 3, 10 treatment sessions accepting 9 in 10.
    let mut ev = Vec::new();
    for (arm, sessions, accept_every) in [(Arm::Control, 30, 3), (Arm::Treatment, 10, 1)] {
        for s in 0..sessions {
            let i = ev.len();
            let action = if s % accept_every == 0 && !(arm == Arm::Treatment && s == 0) {
                UserAction::Accept
            } else {
                UserAction::Reject
            };
            ev.push(ab_event(
                i,
                &t.test_id,
                arm,
                &format!("{}-{s}", arm.name()),
                action,
                None,
            ));
        }
    }
    let s = AbStatus::compute(&t, &ev, at(60)).unwrap();
    assert!(s.srm_p_value.is_none());
    assert!(s.srm.note.as_deref().unwrap().contains("bandit"));
    let b = s.bandit.unwrap();
    assert!(b.prob_treatment_best > 0.99 && b.treatment == 0.9, "{b:?}");
    assert!(s
        .to_string()
        .contains("Bandit shares: control 10.0%, treatment 90.0%"));
}

#[test]
fn an_ended_test_without_enough_samples_keeps_control() {
    let mut t = test();
    t.end_date = Some(at(30));
    t.min_samples = 50;
    let s = AbStatus::compute(&t, &events(&[0.1, 0.2, 0.3], &[0.4, 0.5, 0.6]), at(60)).unwrap();
    assert_eq!(s.status, TestStatus::Ended);
    assert_eq!(s.recommendation, AbRecommendation::KeepControl);
    assert!(
        s.reason.contains("ended before reaching them"),
        "{}",
        s.reason
    );
}

#[test]
fn non_finite_values_in_memory_do_not_panic() {
    let mut ev = events(&[0.1, 0.2, 0.3], &[0.4, 0.5, 0.6]);
    ev[0].improvement_ratio = Some(f64::NAN);
    ev[4].improvement_ratio = Some(f64::INFINITY);
    let s = AbStatus::compute(&test(), &ev, at(60)).unwrap();
    assert_eq!((s.events.control.n, s.events.treatment.n), (2, 2));
    let summary = fixloop::learn::Summary::compute(&ev, None, at(60)).unwrap();
    assert!(summary.avg_improvement.is_finite());
}

/// Several tests at once: each sets its own policy keys; a second test of the same key is
/// refused when created; a session is in every running test, its policy composed of its
/// arms' keys.
#[test]
fn running_tests_set_distinct_keys_and_compose_per_session() {
    use fixloop::fixes::{Policy, TargetStrategy};
    use fixloop::learn::ab::{assign_session, keys_set};
    let dir = std::env::temp_dir().join(format!("fixloop-abkeys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = AbStore::new(dir.join("abtests"));
    store.create(&test()).unwrap();
    assert_eq!(keys_set(&test()), ["target_strategy"]);
    let mut same_key = test();
    same_key.test_id = "median_vs_mean".into();
    same_key.control.target_strategy = TargetStrategy::Median;
    let e = store.create(&same_key).unwrap_err().to_string();
    assert!(
        e.contains("sets target_strategy, which test \"targeting_strategy_001\" also sets"),
        "{e}"
    );
    let mut threshold = test();
    threshold.test_id = "threshold_001".into();
    threshold.control = Policy::default();
    threshold.treatment = Policy {
        min_confidence: 0.3,
        ..Policy::default()
    };
    assert_eq!(keys_set(&threshold), ["min_confidence"]);
    store.create(&threshold).unwrap();

    let tests = store.list().unwrap();
    let base = Policy {
        amount: 0.8,
        ..Policy::default()
    };
    let now = Timestamp::parse("2026-11-15T00:00:00Z").unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..40 {
        let session = format!("session-{i}");
        let a = assign_session(&tests, &session, &base, now, &[] as &[FeedbackEvent]);
        assert_eq!(a.arms.len(), 2, "{a:?}");
        let (t, c) = (a.arms["targeting_strategy_001"], a.arms["threshold_001"]);
        let targeting = tests.iter().find(|x| x.test_id == "targeting_strategy_001");
        assert_eq!(t, assign(targeting.unwrap(), &session));
        let want_target = if t == Arm::Treatment {
            TargetStrategy::Mean
        } else {
            TargetStrategy::Conservative
        };
        let want_min = if c == Arm::Treatment { 0.3 } else { 0.5 };
        assert_eq!(a.policy.target_strategy, want_target);
        assert_eq!(a.policy.min_confidence, want_min);
        // Keys no test sets keep the base's value.
        assert_eq!(a.policy.amount, 0.8);
        seen.insert((t, c));
    }
    assert_eq!(
        seen.len(),
        4,
        "every combination of arms occurs in 40 sessions"
    );
    // Before the start nothing applies.
    let early = assign_session(
        &tests,
        "s",
        &base,
        Timestamp::parse("2026-10-01T00:00:00Z").unwrap(),
        &[] as &[FeedbackEvent],
    );
    assert!(early.arms.is_empty() && early.policy == base, "{early:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The confidence sequence is tuned at the test's horizon: `planned_sessions` when given,
/// else derived from `min_samples` and the events per session so far, else GrowthBook's
/// 5000 (before any session has data); each is said in the status.
#[test]
fn the_confidence_sequence_is_tuned_at_the_test_horizon() {
    use fixloop::learn::ab::{Horizon, HorizonSource};
    use fixloop::learn::stats::{anytime_test, Moments};
    // Half-width of the sequence over the fixed-horizon 95 % interval (z = 1.959964) at
    // N = N_c + N_t sessions, from the closed form (Waudby-Smith et al. 2023, eq. 9, as in
    // `anytime_test`); computed independently in Python with the same formula: 3.167 at
    // N = 120 tuned at 5000, 1.549 tuned at 120, 4.267 at 60 tuned at 5000.
    let m = |n: u64| Moments {
        n,
        mean: 0.0,
        var: 1.0,
    };
    let ratio = |n: u64, tuning: f64| {
        let a = anytime_test(&m(n / 2), &m(n / 2), 0.05, tuning).unwrap();
        let v: f64 = 2.0 / (n / 2) as f64;
        (a.ci_high - a.ci_low) / 2.0 / (1.959_963_984_540_054 * v.sqrt())
    };
    assert!((ratio(120, 5000.0) - 3.167).abs() < 1e-3);
    assert!((ratio(120, 120.0) - 1.549).abs() < 1e-3);
    assert!((ratio(60, 5000.0) - 4.267).abs() < 1e-3);
    // Tuned at the horizon it is the tightest there.
    for tuning in [30.0, 60.0, 240.0, 1000.0] {
        assert!(ratio(120, tuning) > ratio(120, 120.0), "{tuning}");
    }

    let mut t = test();
    // min_samples 5 at 2 events per session in control and 1 in treatment: control needs 3
    // sessions, treatment 5; at a 0.5 share the treatment's 5 need 10 sessions in all.
    let h = Horizon::of(&t, [6, 3], [3, 3]);
    assert_eq!((h.sessions, h.source), (10.0, HorizonSource::Derived));
    assert!(h.note.contains("min_samples 5"), "{}", h.note);
    // No data in an arm: the default, said so.
    let h = Horizon::of(&t, [6, 0], [3, 0]);
    assert_eq!((h.sessions, h.source), (5000.0, HorizonSource::Default));
    t.planned_sessions = Some(120);
    let h = Horizon::of(&t, [6, 3], [3, 3]);
    assert_eq!((h.sessions, h.source), (120.0, HorizonSource::Planned));
    // The status uses and reports it.
    let ev = events(&[0.1, 0.2, 0.3, 0.4, 0.5], &[0.3, 0.4, 0.5, 0.6, 0.7]);
    let s = AbStatus::compute(&t, &ev, at(10_000)).unwrap();
    assert_eq!(s.anytime.tuning_n, 120.0);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["anytime"]["horizon"]["source"], "planned");
    assert!(s.to_string().contains("horizon: planned_sessions 120"));
    // Too small a plan is refused, naming the field.
    t.planned_sessions = Some(3);
    let e = t.validate().unwrap_err().to_string();
    assert!(e.contains("planned_sessions is 3"), "{e}");
}
