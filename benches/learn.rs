//! Learning over a large feedback history: `summary` and `refine` on 1 000 000 synthetic
//! events held in memory, and reading the same events from a 1M-line JSON-lines file.
//!
//! Budget (issue 4): summary and refine ≤ 0.5 s each over 1M events in memory; reading
//! plus summarising a 1M-line JSONL file ≤ 3 s. Each result is checked for correctness
//! before timing. `benches/learn_pandas.py` runs the equivalent pandas computation on
//! the file this benchmark writes (`target/learn-bench-1m.jsonl`).

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};
use fixloop::features::{Feature, FixType};
use fixloop::feedback::{jsonl, FeedbackEvent, Timestamp, UserAction};
use fixloop::learn::{refine, RefineOptions, Since, SplitMix64, Summary};
use fixloop::profile::{FeatureStats, Profile};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

const EVENTS: usize = 1_000_000;
const START_US: i64 = 1_790_000_000_000_000;

fn synthetic_events(n: usize) -> Vec<FeedbackEvent> {
    let mut rng = SplitMix64::new(1);
    let features = Feature::ALL;
    (0..n)
        .map(|i| {
            let feature = features[(rng.next_u64() % features.len() as u64) as usize];
            let fix_type = FixType::ALL[(rng.next_u64() % FixType::ALL.len() as u64) as usize];
            let u = rng.next_f64();
            let (action, undone) = match u {
                u if u < 0.6 => (Some(UserAction::Accept), false),
                u if u < 0.8 => (Some(UserAction::Reject), false),
                u if u < 0.85 => (Some(UserAction::Undo), true),
                u if u < 0.9 => (Some(UserAction::Modify), false),
                _ => (None, false),
            };
            let ratio = (rng.next_f64() < 0.7).then(|| rng.next_f64() * 1.2 - 0.1);
            FeedbackEvent {
                event_id: format!("ev{i:08}").into(),
                timestamp: Timestamp::from_micros(START_US + i as i64 * 2_000_000),
                fix_id: format!("fix{i:08}").into(),
                fix_type,
                feature_name: feature.name().into(),
                track_path: format!("/projects/track{}.als", i / 500).into(),
                session_id: format!("session{}", i / 20).into(),
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
                session_saved_after: i % 3 == 0,
                track_bounced_after: i % 7 == 0,
                notes: None,
                ab: BTreeMap::new(),
            }
        })
        .collect()
}

fn profile() -> Profile {
    let mut p = Profile::new("bench");
    p.track_count = 40;
    let samples: Vec<f64> = (0..40).map(|i| -10.0 + i as f64 * 0.25).collect();
    for f in Feature::ALL {
        p.features.insert(
            f.name().into(),
            FeatureStats::from_samples(&samples).unwrap(),
        );
    }
    p
}

fn jsonl_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/learn-bench-1m.jsonl")
}

fn bench(c: &mut Criterion) {
    let events = synthetic_events(EVENTS);
    let now = Timestamp::from_micros(START_US + EVENTS as i64 * 2_000_000);
    let profile = profile();
    let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();

    // Correctness before timing.
    let s = Summary::compute(&events, None, now).unwrap();
    assert_eq!(s.total, EVENTS as u64);
    assert!((s.accept_rate - 0.6).abs() < 0.01, "{}", s.accept_rate);
    let r = refine(&profile, &events, &RefineOptions::new(date)).unwrap();
    assert_eq!(r.report.events, EVENTS as u64);

    let mut g = c.benchmark_group("learn_1m_events");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("summary_all", |b| {
        b.iter(|| Summary::compute(black_box(&events), None, now).unwrap())
    });
    g.bench_function("summary_since_30d", |b| {
        b.iter(|| Summary::compute(black_box(&events), Some(Since::Days(30)), now).unwrap())
    });
    g.bench_function("refine", |b| {
        b.iter(|| {
            refine(
                black_box(&profile),
                black_box(&events),
                &RefineOptions::new(date),
            )
            .unwrap()
        })
    });
    g.finish();

    let path = jsonl_path();
    jsonl::write_file(&path, &events).unwrap();
    drop(events);
    let mut g = c.benchmark_group("learn_1m_jsonl");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("read_and_summary", |b| {
        b.iter(|| {
            let events = jsonl::read_file(&path).unwrap();
            Summary::compute(&events, None, now).unwrap()
        })
    });
    // Comparison: the same lines parsed with plain serde_json, without the reader's
    // per-line error context, to show where the reading time goes.
    let text = std::fs::read_to_string(&path).unwrap();
    g.bench_function("serde_json_parse_only", |b| {
        b.iter(|| {
            text.lines()
                .map(|l| serde_json::from_str::<FeedbackEvent>(l).unwrap())
                .filter(|e| e.was_applied)
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
