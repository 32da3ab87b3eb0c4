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
use fixloop::feedback::{jsonl, FeedbackEvent, Timestamp};
use fixloop::learn::{refine, RefineOptions, Since, Summary};
use fixloop::profile::Profile;
use fixloop::store::load_feedback;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;
use support::{profile, synthetic_events, write_native_log, EVENTS, START_US};

fn jsonl_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/learn-bench-1m.jsonl")
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
