//! A/B tests at a producer's scale: the power of each stage of the analysis and its
//! false-positive rate, on seeded simulations (`fixloop::sim::ab_power`).

use fixloop::sim::ab_power::{
    format_power_table, power_table, simulate_power, PowerConfig, VARIANTS,
};

/// 5 % plus two binomial standard errors at `runs` tests.
fn false_positive_bound(runs: usize) -> f64 {
    0.05 + 2.0 * (0.05 * 0.95 / runs as f64).sqrt()
}

#[test]
fn the_product_analysis_detects_a_medium_effect_in_120_sessions() {
    let base = PowerConfig::default();
    let rows = power_table(&[0.3, 0.5, 1.0], &[60, 120, 240], &base, 7).unwrap();
    println!("{}", format_power_table(&rows));
    let cell = |d: f64, n: usize| {
        rows.iter()
            .find(|r| r.config.d == d && r.config.sessions == n)
            .unwrap()
    };
    // The goal: d = 0.5 at 120 sessions adopted in at least 80 % of tests by (d).
    let goal = cell(0.5, 120);
    assert!(
        goal.rate(3) >= 0.80,
        "(d) at d 0.5, 120 sessions: {}",
        goal.rate(3)
    );
    for r in &rows {
        // Each stage sees at least what the analysis before it saw, up to the noise of
        // 200 runs (two standard errors of the difference of two rates near 50 %).
        assert!(r.rate(3) + 0.1 >= r.rate(1), "{r:?}");
        assert!(r.rate(1) >= r.rate(0), "{r:?}");
    }
    // Longer tests are more powerful.
    assert!(cell(0.5, 240).rate(3) >= cell(0.5, 60).rate(3));
}

fn aa(looks: usize, seed: u64) {
    let config = PowerConfig {
        runs: 1000,
        looks,
        d: 0.0,
        ..PowerConfig::default()
    };
    let r = simulate_power(&config, seed).unwrap();
    let bound = false_positive_bound(config.runs);
    for (i, v) in VARIANTS.iter().enumerate() {
        println!(
            "A/A, {looks} looks, ({}) {}: {:.1} %",
            v.label,
            v.description,
            100.0 * r.rate(i)
        );
        assert!(
            r.rate(i) <= bound,
            "({}) at {looks} looks: {} > {bound}",
            v.label,
            r.rate(i)
        );
    }
}

#[test]
fn a_a_tests_adopt_at_most_five_percent_at_five_looks() {
    aa(5, 11);
}

#[test]
fn a_a_tests_adopt_at_most_five_percent_at_twenty_looks() {
    aa(20, 12);
}

#[test]
fn the_covariate_cannot_manufacture_an_effect() {
    // A covariate that predicts the outcome strongly (ρ = 1: it explains all of the
    // latent rate's variance) but is independent of the arm.
    let config = PowerConfig {
        runs: 1000,
        looks: 1,
        d: 0.0,
        covariate_rho: 1.0,
        ..PowerConfig::default()
    };
    let r = simulate_power(&config, 13).unwrap();
    assert!(r.variance_reduction > 0.3, "{r:?}");
    // The adjusted difference is centred on 0 (within 3 standard errors of its mean)…
    let (mean, se) = r.adjusted_diff;
    assert!(mean.abs() < 3.0 * se, "{r:?}");
    // …and the adjusted test rejects at its nominal 5 %.
    let rate = r.adjusted_significant as f64 / config.runs as f64;
    assert!(rate <= false_positive_bound(config.runs), "{rate}");
    assert!(
        rate >= 0.05 - 2.0 * (0.05 * 0.95 / config.runs as f64).sqrt(),
        "{rate}"
    );
}

mod decision {
    use fixloop::feedback::{Arm, FeedbackEvent, Text, Timestamp, UserAction};
    use fixloop::fixes::{Policy, TargetStrategy};
    use fixloop::learn::ab::{assign, AbTest, DecisionRule, ALPHA, ALPHA_SEQUENTIAL};
    use fixloop::learn::AbStatus;
    use fixloop::sim::ab_sim::sim_test;
    use std::collections::BTreeMap;

    fn test(planned: Option<u64>) -> AbTest {
        let p = |s| Policy {
            target_strategy: s,
            ..Policy::default()
        };
        let mut t = sim_test(
            "hybrid",
            p(TargetStrategy::Conservative),
            p(TargetStrategy::Mean),
            20,
        );
        t.planned_sessions = planned;
        t.secondary_metrics.clear();
        t
    }

    /// `sessions` sessions of 6 events; treatment accepts 5 of 6, control 3 of 6; the
    /// covariate (when `covariate`) varies by session.
    fn events(t: &AbTest, sessions: u32, covariate: bool) -> Vec<FeedbackEvent> {
        let mut out = Vec::new();
        for s in 0..sessions {
            let sid = format!("s{s:03}");
            let arm = assign(t, &sid);
            let accepts = if arm == Arm::Treatment { 5 } else { 3 } - (s % 2);
            for i in 0..6u32 {
                out.push(FeedbackEvent {
                    event_id: format!("{sid}-{i}").into(),
                    timestamp: Timestamp::from_micros(
                        t.start_date.as_micros() + i64::from(s) * 60_000_000 + i64::from(i),
                    ),
                    fix_id: "f".into(),
                    fix_type: fixloop::features::FixType::VolumeAdjust,
                    feature_name: "low_level".into(),
                    track_path: "t.wav".into(),
                    session_id: sid.as_str().into(),
                    profile_version: "v1".into(),
                    original_value: 0.0,
                    target_value: 0.0,
                    applied_value: 0.0,
                    user_action: Some(if i < accepts {
                        UserAction::Accept
                    } else {
                        UserAction::Reject
                    }),
                    was_applied: true,
                    was_undone: false,
                    gap_before: 1.0,
                    gap_after: None,
                    improvement_ratio: None,
                    user_modified_value: None,
                    session_saved_after: false,
                    track_bounced_after: false,
                    notes: None,
                    ab: BTreeMap::from([(Text::from("hybrid"), arm)]),
                    session_start_mean_abs_z: covariate
                        .then(|| 0.5 + f64::from(s % 2) + 0.01 * f64::from(s % 5)),
                });
            }
        }
        out
    }

    fn now(t: &AbTest) -> Timestamp {
        Timestamp::from_micros(t.start_date.as_micros() + 365 * 86_400_000_000)
    }

    #[test]
    fn the_fixed_horizon_test_decides_once_the_plan_is_reached_and_only_once() {
        let t = test(Some(40));
        let before = AbStatus::compute(&t, &events(&t, 30, true), now(&t)).unwrap();
        assert_eq!(before.decision.rule, DecisionRule::Anytime);
        assert_eq!(before.decision.alpha, ALPHA_SEQUENTIAL);
        assert_eq!(before.anytime.alpha, ALPHA_SEQUENTIAL);
        assert_eq!(before.decision.at, None);
        let at = AbStatus::compute(&t, &events(&t, 40, true), now(&t)).unwrap();
        let later = AbStatus::compute(&t, &events(&t, 70, true), now(&t)).unwrap();
        for s in [&at, &later] {
            assert_eq!(s.decision.rule, DecisionRule::FixedHorizon);
            assert_eq!(s.decision.sessions, 40);
            assert!((s.decision.alpha - (ALPHA - ALPHA_SEQUENTIAL)).abs() < 1e-15);
            // The 40th session's first event: the look at which the plan was reached.
            assert_eq!(
                s.decision.at,
                Some(Timestamp::from_micros(
                    t.start_date.as_micros() + 39 * 60_000_000
                ))
            );
        }
        // Later looks repeat the same single test.
        assert_eq!(at.decision.p_value, later.decision.p_value);
        assert_eq!(at.recommendation, later.recommendation);
        // The covariate-adjusted p-value is the one the decision used.
        assert!(at.adjusted.applied);
        assert_eq!(at.decision.p_value, at.adjusted.p_value);
        // Without a plan there is no fixed look before end_date, and the sequence gets α.
        let open = test(None);
        let s = AbStatus::compute(&open, &events(&open, 70, true), now(&open)).unwrap();
        assert_eq!(s.decision.rule, DecisionRule::Anytime);
        assert_eq!(s.decision.alpha, ALPHA);
        // An ended test without reaching its plan: the fixed test of every session.
        let mut ended = test(Some(400));
        ended.end_date = Some(Timestamp::from_micros(
            ended.start_date.as_micros() + 86_400_000_000,
        ));
        let s = AbStatus::compute(&ended, &events(&ended, 50, true), now(&ended)).unwrap();
        assert_eq!(s.decision.rule, DecisionRule::FixedHorizon);
        assert_eq!(s.decision.sessions, 50);
        // Power: the detectable effect shrinks from now (50 sessions) to the horizon (400).
        let (a, b) = (s.power.now.mde_d.unwrap(), s.power.horizon.mde_d.unwrap());
        assert!(b < a, "{a} {b}");
        assert_eq!(s.power.horizon.sessions, 400.0);
    }

    #[test]
    fn without_the_covariate_the_analysis_is_unadjusted_and_says_so() {
        let t = test(Some(40));
        let s = AbStatus::compute(&t, &events(&t, 30, false), now(&t)).unwrap();
        assert!(!s.adjusted.applied);
        assert!(!s.anytime.adjusted);
        assert_eq!(s.adjusted.sessions_with_covariate, 0);
        let note = s.adjusted.note.as_deref().unwrap();
        assert!(note.contains("0 of 30 sessions"), "{note}");
        assert!(s.to_string().contains("Covariate: unadjusted"), "{s}");
        // The decision then rests on the unadjusted anytime-valid p-value.
        assert_eq!(s.decision.p_value, s.anytime.p_value);
    }
}
