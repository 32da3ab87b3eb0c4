//! Learning over a large feedback history: `summary` and `refine` on 1 000 000 synthetic
//! events held in memory, and reading the same events from a 1M-line JSON-lines file.
//!
//! Budget (issue 4): summary and refine over 1M events ≤ 0.5 s from the native log and
//! ≤ 3 s from a 1M-line JSONL file. Measured here: the computations alone over 1M
//! events in memory; reading plus each computation from the JSONL file; and reading
//! plus each computation from native logs written through the collector (the lifecycle
//! records of SPEC §3.2: a session start, then per event a fix, the action and the
//! outcome when there is one, and a save per session): one of 1M records and one of 1M
//! events, and the JSON-lines file imported into a log (whole-event records, as
//! `fixloop import` writes them), read as `fixloop summary` / `refine` read them (`store::load_feedback`, the
//! compact fold) and, as the baseline, into `FeedbackEvent`s (`load_feedback(..).into_loaded()`). Each
//! result is checked for correctness before timing. `benches/learn_pandas.py` runs the equivalent pandas computation on
//! the file this benchmark writes (`target/learn-bench-1m.jsonl`).

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};
use fixloop::features::{Feature, FixType};
use fixloop::feedback::records::FixId;
use fixloop::feedback::{jsonl, FeedbackEvent, Timestamp, UserAction};
use fixloop::learn::{refine, RefineOptions, Since, SplitMix64, Summary};
use fixloop::profile::{FeatureStats, Profile};
use fixloop::store::{load_feedback, AppliedFix, Collector, SessionInfo, StoreOptions};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
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

/// Writes `events` through a collector into the log directory `dir` (replaced), as a
/// host would record them, stopping once `max_records` records are written.
/// Returns (records, events) written.
fn write_native_log(dir: &Path, events: &[FeedbackEvent], max_records: u64) -> (u64, u64) {
    let _ = std::fs::remove_dir_all(dir);
    let opts = StoreOptions {
        queue_capacity: 1 << 16,
        ..StoreOptions::default()
    };
    let col = Collector::open(dir, &opts).unwrap();
    let retry = |push: &dyn Fn() -> bool| {
        while !push() {
            std::thread::yield_now();
        }
    };
    let (mut records, mut written) = (0u64, 0u64);
    let mut session: Option<&str> = None;
    for e in events {
        if records >= max_records {
            break;
        }
        if session != Some(e.session_id.as_str()) {
            if session.is_some() {
                retry(&|| col.session_saved().is_ok());
                records += 1;
            }
            col.start_session(&SessionInfo {
                track_path: e.track_path.to_string(),
                session_id: e.session_id.to_string(),
                profile_version: e.profile_version.to_string(),
                ab: Default::default(),
            })
            .unwrap();
            session = Some(e.session_id.as_str());
            records += 1;
        }
        let fix = AppliedFix {
            fix_id: FixId::new(&e.fix_id).unwrap(),
            feature: Feature::from_name(&e.feature_name).unwrap(),
            fix_type: e.fix_type,
            original_value: e.original_value,
            target_value: e.target_value,
            applied_value: e.applied_value,
            gap_before: e.gap_before,
            was_applied: e.was_applied,
        };
        let mut id = None;
        while id.is_none() {
            id = col.fix_applied(&fix).ok();
        }
        let id = id.unwrap();
        records += 1;
        written += 1;
        if let Some(action) = e.user_action {
            retry(&|| col.user_action(id, action, e.user_modified_value).is_ok());
            records += 1;
        }
        if let Some(gap_after) = e.gap_after {
            retry(&|| col.outcome(id, gap_after).is_ok());
            records += 1;
        }
    }
    retry(&|| col.session_saved().is_ok());
    col.close().unwrap();
    (records + 1, written)
}

fn native_log_benches(c: &mut Criterion, events: &[FeedbackEvent], profile: &Profile) {
    let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let mut g = c.benchmark_group("learn_native_log");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, max_records) in [("1m_records", 1_000_000), ("1m_events", u64::MAX)] {
        let dir = target.join(format!("learn-bench-log-{name}"));
        let (records, written) = write_native_log(&dir, events, max_records);
        // Correctness before timing: every event folds back, with its action.
        let loaded = load_feedback(&dir).unwrap().into_loaded();
        assert_eq!(loaded.events.len() as u64, written);
        assert!(loaded.report.as_ref().unwrap().is_clean());
        let now = Timestamp::now();
        let s = Summary::compute(&loaded.events, None, now).unwrap();
        assert_eq!(s.total, written);
        assert!((s.accept_rate - 0.6).abs() < 0.01, "{}", s.accept_rate);
        drop(loaded);
        println!("native log {name}: {records} records, {written} events");
        // What `fixloop summary` / `refine --feedback DIR` do: the log's compact fold.
        let folded = load_feedback(&dir).unwrap();
        assert_eq!(Summary::compute(&folded, None, now).unwrap(), s);
        drop(folded);
        g.bench_function(format!("{name}_read_and_summary"), |b| {
            b.iter(|| {
                let feedback = load_feedback(&dir).unwrap();
                Summary::compute(&feedback, None, now).unwrap()
            })
        });
        g.bench_function(format!("{name}_read_and_refine"), |b| {
            b.iter(|| {
                let feedback = load_feedback(&dir).unwrap();
                refine(profile, &feedback, &RefineOptions::new(date)).unwrap()
            })
        });
        g.bench_function(format!("{name}_read_events"), |b| {
            b.iter(|| load_feedback(&dir).unwrap().into_loaded().events.len())
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
    g.finish();
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

    native_log_benches(c, &events, &profile);

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
    g.bench_function("read_and_refine", |b| {
        b.iter(|| {
            let events = jsonl::read_file(&path).unwrap();
            refine(&profile, &events, &RefineOptions::new(date)).unwrap()
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
    // The same events imported into a native log (`fixloop import`: whole-event records),
    // read as `summary` reads it: must not be slower than parsing the JSON text above.
    let imported =
        std::env::temp_dir().join(format!("fixloop-bench-imported-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&imported);
    fixloop::store::import_jsonl(&path, &imported).unwrap();
    {
        let from_log = Summary::compute(&load_feedback(&imported).unwrap(), None, now).unwrap();
        let from_text = Summary::compute(&jsonl::read_file(&path).unwrap(), None, now).unwrap();
        assert_eq!(
            from_log, from_text,
            "the imported log folds to the same events"
        );
    }
    g.bench_function("imported_log_read_and_summary", |b| {
        b.iter(|| Summary::compute(&load_feedback(&imported).unwrap(), None, now).unwrap())
    });
    g.bench_function("imported_log_read_and_refine", |b| {
        b.iter(|| {
            let feedback = load_feedback(&imported).unwrap();
            refine(&profile, &feedback, &RefineOptions::new(date)).unwrap()
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&imported);
}

criterion_group!(benches, bench);
criterion_main!(benches);
