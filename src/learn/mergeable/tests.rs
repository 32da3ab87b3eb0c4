use super::*;
use crate::features::{Feature, FixType};
use crate::feedback::{Arm, FeedbackEvent, Text, Timestamp};
use crate::learn::ab::{AbStatus, AbTest, Metric};
use crate::learn::effectiveness::{event_score, RecommendationThresholds};
use crate::learn::Summary;
use crate::rng::SplitMix64;

/// Events of many sessions, two tests, every action, ratios and covariates present or not,
/// out of time order now and then.
fn events(n: usize, seed: u64) -> Vec<FeedbackEvent> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|i| {
            let r = rng.next_u64();
            let action = UserAction::ALL.get((r % 5) as usize).copied();
            let ratio = (!r.is_multiple_of(3)).then(|| rng.next_f64() * 1.6 - 0.4);
            let session = i / 7;
            let mut ab = BTreeMap::new();
            let arm = |k: u64| if k == 0 { Arm::Control } else { Arm::Treatment };
            ab.insert(Text::from("t_one"), arm(session as u64 % 2));
            if session % 3 != 0 {
                ab.insert(Text::from("t_two"), arm((session as u64 / 3) % 2));
            }
            FeedbackEvent {
                event_id: format!("e{i}").into(),
                timestamp: Timestamp::from_micros(1_700_000_000_000_000 + (i as i64 ^ 5) * 1_000),
                fix_id: "f".into(),
                fix_type: FixType::ALL[(r >> 4) as usize % FixType::ALL.len()],
                feature_name: Feature::ALL[(r >> 12) as usize % 9].name().into(),
                track_path: "t".into(),
                session_id: format!("s{session}").into(),
                profile_version: "v".into(),
                original_value: 0.0,
                target_value: 1.0,
                applied_value: 1.0,
                user_action: action,
                was_applied: true,
                was_undone: action == Some(UserAction::Undo) || (r >> 20).is_multiple_of(11),
                gap_before: 1.5,
                gap_after: ratio.map(|r| 1.5 * (1.0 - r)),
                improvement_ratio: ratio,
                user_modified_value: None,
                session_saved_after: false,
                track_bounced_after: false,
                notes: None,
                ab,
                session_start_mean_abs_z: (session % 5 != 0)
                    .then_some(0.5 + (session % 13) as f64 * 0.1),
            }
        })
        .collect()
}

/// `events` cut at random points.
fn parts(events: &[FeedbackEvent], rng: &mut SplitMix64) -> Vec<Vec<FeedbackEvent>> {
    let mut out = Vec::new();
    let mut rest = events;
    while !rest.is_empty() {
        let k = 1 + (rng.next_u64() % 400) as usize;
        let (a, b) = rest.split_at(k.min(rest.len()));
        out.push(a.to_vec());
        rest = b;
    }
    out
}

fn test(id: &str, metric: Metric) -> AbTest {
    let mut t = crate::sim::ab_sim::sim_test(
        id,
        crate::fixes::Policy::default(),
        crate::fixes::Policy::default(),
        50,
    );
    t.primary_metric = metric;
    t.start_date = Timestamp::from_micros(0);
    t
}

#[test]
fn merged_summary_statistics_give_the_union_s_summary_bit_for_bit() {
    let all = events(3_000, 1);
    let now = Timestamp::from_micros(i64::MAX / 2);
    let union = Summary::compute(&all, None, now).unwrap();
    let mut rng = SplitMix64::new(2);
    for round in 0..5 {
        let mut pieces: Vec<SummaryStats> = parts(&all, &mut rng)
            .iter()
            .map(|p| SummaryStats::of(p, |_| true))
            .collect();
        // Merge in a different order each round: reversed, or pairwise as a tree.
        if round % 2 == 1 {
            pieces.reverse();
        }
        while pieces.len() > 1 {
            let b = pieces.pop().unwrap();
            let i = (rng.next_u64() % pieces.len() as u64) as usize;
            pieces[i].merge(&b);
        }
        let merged = pieces.pop().unwrap();
        assert_eq!(merged, SummaryStats::of(&all, |_| true));
        let s = Summary::from_stats(&merged, None, &RecommendationThresholds::default());
        assert_eq!(s, union, "round {round}");
    }
    assert_eq!(union.total, 3_000);
    assert_eq!(union.by_feature.len(), 9);
}

#[test]
fn the_feature_score_from_counts_is_the_mean_of_the_seed_s_event_scores() {
    let all = events(2_000, 3);
    let stats = SummaryStats::of(&all, |_| true);
    for (feature, c) in &stats.by_feature {
        let direct: Vec<f64> = all
            .iter()
            .filter(|e| e.feature_name.as_str() == feature)
            .map(event_score)
            .collect();
        let mean = direct.iter().sum::<f64>() / direct.len() as f64;
        let from_counts = c.feature_effectiveness().score;
        // Two roundings of sums of ~200 terms apart: well inside 1e-12.
        assert!(
            (mean - from_counts).abs() < 1e-12,
            "{feature}: {mean} vs {from_counts}"
        );
    }
}

#[test]
fn merged_session_tables_give_the_union_s_ab_status_bit_for_bit() {
    let all = events(4_000, 5);
    let now = Timestamp::from_micros(i64::MAX / 2);
    let mut rng = SplitMix64::new(6);
    let mut merged = SessionTable::default();
    let mut pieces: Vec<SessionTable> =
        parts(&all, &mut rng).iter().map(SessionTable::of).collect();
    pieces.reverse();
    for p in &pieces {
        merged.merge(p);
    }
    assert_eq!(merged, SessionTable::of(&all));
    assert_eq!(merged.tests.len(), 2);
    for id in ["t_one", "t_two"] {
        for metric in Metric::ALL {
            let t = test(id, metric);
            let union = AbStatus::compute(&t, &all, now).unwrap();
            let pooled =
                AbStatus::from_sessions(&t, merged.test(id), now, &Default::default()).unwrap();
            assert_eq!(pooled, union, "{id} {metric:?}");
            assert!(
                union.sessions.p_value.is_some(),
                "{id} {metric:?}: a real test"
            );
        }
    }
}

#[test]
fn a_session_split_across_logs_is_one_session_with_the_earliest_time_and_smallest_covariate() {
    let mut a = events(4, 9);
    for e in &mut a {
        e.session_id = "same".into();
        e.ab = BTreeMap::from([(Text::from("t"), Arm::Control)]);
    }
    a[0].session_start_mean_abs_z = Some(0.9);
    a[1].session_start_mean_abs_z = None;
    a[2].session_start_mean_abs_z = Some(0.7);
    a[3].session_start_mean_abs_z = None;
    let (x, y) = a.split_at(2);
    let mut m = SessionTable::of(y);
    m.merge(&SessionTable::of(x));
    let row = &m.test("t").unwrap().control["same"];
    assert_eq!(row.events, 4);
    assert_eq!(row.covariate, Some(0.7));
    assert_eq!(
        row.first_event,
        a.iter().map(|e| e.timestamp).min().unwrap()
    );
    assert_eq!(m, SessionTable::of(&a));
}
