//! Learning in a home (`learn::Lineage`, what the plugin runs at session start and after a
//! session ends, off the audio thread), over a native log of 1 000 000 events recorded
//! through the collector under the version in force.
//!
//! Budgets (issue 17): a learning step that refines from 1M events ≤ 1 s; a session start
//! with no refinement due ≤ 10 ms. Measured, each against a baseline in the same run:
//!
//! - `learn_refines`: one step that reads the log, keeps the events of the version in
//!   force, refines, learns the targets (`learn::taste`), writes the new version and its
//!   history line (the lineage reset before
//!   each sample). Baseline: `load_feedback` + `refine` of the same log (what `fixloop
//!   refine --feedback DIR` does, nothing written).
//! - `session_start_not_due`: what a session start does when nothing is due — adopt the
//!   chosen profile (already in the lineage), one step answered from the watermark
//!   (`checked.json`: the log's segment names and sizes unchanged), and the arm of a
//!   running A/B test read from `abtests/`. Baseline: the same with the watermark removed
//!   before each sample, so the step reads the whole log to find nothing due.
//!
//! Each result is checked before timing.

#[path = "support/mod.rs"]
mod support;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use fixloop::feedback::Timestamp;
use fixloop::fixes::Policy;
use fixloop::home::Home;
use fixloop::learn::ab::assign_session;
use fixloop::learn::{refine, AbStore, Learned, Lineage, RefineOptions};
use fixloop::store::load_feedback;
use std::path::PathBuf;
use std::time::Duration;
use support::{synthetic_events, write_native_log, EVENTS};

const AB_TEST: &str = r#"{
  "test_id": "targeting_001", "name": "conservative vs mean", "description": "",
  "control": {"target_strategy": "conservative"}, "treatment": {"target_strategy": "mean"},
  "assignment_ratio": 0.5, "start_date": "2026-01-01T00:00:00Z", "end_date": null,
  "min_samples": 50, "primary_metric": "accept_rate", "secondary_metrics": []
}"#;

fn bench(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/lineage-bench-home");
    let _ = std::fs::remove_dir_all(&root);
    let home = Home::at(&root);
    let events = synthetic_events(EVENTS);
    let (records, written) = write_native_log(&home.feedback_dir(), &events, u64::MAX);
    drop(events);
    println!("home log: {records} records, {written} events");
    std::fs::create_dir_all(home.abtests_dir()).unwrap();
    std::fs::write(home.abtests_dir().join("targeting_001.json"), AB_TEST).unwrap();

    let base = fixloop::profile::bundled();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    let options = RefineOptions::new(now.date_naive());
    let lineage = Lineage::open(&home, &base.name).unwrap();
    let fresh = || {
        let _ = std::fs::remove_dir_all(lineage.dir());
        lineage.adopt(&base, now).unwrap();
    };

    // Correctness: the step refines from every event (all under the version in force),
    // as the direct refinement of the same log does.
    fresh();
    let direct = refine(
        &base,
        &load_feedback(&home.feedback_dir()).unwrap(),
        &options,
    )
    .unwrap();
    let Learned::Refined { entry, report } =
        lineage.learn(&home.feedback_dir(), &options, now).unwrap()
    else {
        panic!("1M events refine")
    };
    assert_eq!(entry.events_used, written);
    // It also learns the producer's targets from the same events (`learn::taste`).
    assert!(!entry.targets.is_empty());
    assert_eq!(report.adjustments, direct.report.adjustments);
    assert_eq!(
        lineage.current().unwrap().unwrap().features,
        direct.profile.features
    );

    let mut g = c.benchmark_group("lineage_1m_events");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    g.bench_function("learn_refines", |b| {
        b.iter_batched(
            fresh,
            |()| {
                let r = lineage.learn(&home.feedback_dir(), &options, now).unwrap();
                assert!(matches!(r, Learned::Refined { .. }));
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("baseline_load_feedback_and_refine", |b| {
        b.iter(|| {
            let feedback = load_feedback(&home.feedback_dir()).unwrap();
            refine(&base, &feedback, &options).unwrap()
        })
    });

    // Nothing due: a guard rail no feature reaches.
    let not_due = RefineOptions {
        min_events: u64::MAX,
        ..options
    };
    let policy = Policy::default();
    let ts = Timestamp::from_micros(now.timestamp_micros());
    let session_start = || {
        lineage.adopt(&base, now).unwrap();
        let step = lineage.learn(&home.feedback_dir(), &not_due, now).unwrap();
        let tests = AbStore::new(home.abtests_dir()).list().unwrap();
        let a = assign_session(&tests, "session-1", &policy, ts, &[] as &[_]);
        (step, a.arms.len())
    };
    fresh();
    let (first, _) = session_start();
    assert!(matches!(first, Learned::NotDue { cached: false, .. }));
    let (second, arms) = session_start();
    assert!(
        matches!(second, Learned::NotDue { cached: true, events, .. } if events == written),
        "{second:?}"
    );
    assert_eq!(arms, 1);
    g.bench_function("session_start_not_due", |b| {
        b.iter(|| {
            let (step, _) = session_start();
            assert!(matches!(step, Learned::NotDue { cached: true, .. }));
        })
    });
    g.bench_function("baseline_session_start_without_watermark", |b| {
        b.iter_batched(
            || std::fs::remove_file(lineage.dir().join("checked.json")).unwrap(),
            |()| {
                let (step, _) = session_start();
                assert!(matches!(step, Learned::NotDue { cached: false, .. }));
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&root);
}

criterion_group!(benches, bench);
criterion_main!(benches);
