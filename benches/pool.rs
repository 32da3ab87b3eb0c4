//! Pooling 1 000 producers × 10 000 events (10 M events): the Parquet export, the
//! library's merge of mergeable statistics, and the engines on the same files.
//!
//! Budget (issue 19): pooling must scale to a team's fleet; Spark in local mode over the
//! same files is the baseline a team would otherwise use. Measured, each result checked
//! before timing:
//! - `export_parquet_10k` against `export_jsonl_10k` (the interchange writer): one
//!   producer's 10 000 events into memory;
//! - `read_parquet_10k`: one export read back with the arrow reader (all fields);
//! - `stats_10k`: one producer's mergeable statistics (summary and per-session A/B table)
//!   from its events;
//! - `merge_1000`: merging 1 000 producers' statistics and computing the summary and the
//!   A/B status from them;
//! - once, with wall-clock timing (a run takes tens of seconds, too long for criterion's
//!   samples): fixloop reading all 1 000 exports, reducing and merging them, against
//!   `sql/pool.py` on DuckDB and on Spark local mode (2 cores) over the same files, when
//!   `FIXLOOP_BENCH_ENGINES=1` and the engines are installed.
//!
//! File sizes per producer are printed: Parquet (Snappy), JSON lines, and the native log
//! as the collector writes it (lifecycle records).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fixloop::feedback::{jsonl, FeedbackEvent, Text, Timestamp};
use fixloop::fixes::Policy;
use fixloop::learn::ab::{assign, AnalysisOptions};
use fixloop::learn::effectiveness::RecommendationThresholds;
use fixloop::learn::{AbStatus, AbTest, SessionTable, Summary, SummaryStats};
use fixloop::pool::{self, ExportOptions, Identity};
use fixloop::sim::ab_sim::sim_test;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;
use support::{synthetic_events, write_native_log};

const PRODUCERS: usize = 1_000;
const EVENTS_PER_PRODUCER: usize = 10_000;

fn test() -> AbTest {
    let gentle = Policy {
        amount: 0.5,
        ..Policy::default()
    };
    sim_test("bench_amount", Policy::default(), gentle, 50)
}

/// Producer `p`'s events: the synthetic history with the producer's own ids, sessions,
/// times and A/B assignments.
fn producer_events(base: &[FeedbackEvent], test: &AbTest, p: usize) -> Vec<FeedbackEvent> {
    base.iter()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            let session = format!("p{p:04}-{}", e.session_id);
            e.event_id = format!("p{p:04}-{i}").into();
            e.timestamp = Timestamp::from_micros(e.timestamp.as_micros() + p as i64 * 1_000);
            e.ab = [(Text::from(test.test_id.as_str()), assign(test, &session))]
                .into_iter()
                .collect();
            e.session_start_mean_abs_z = Some(0.5 + (i / 20 % 17) as f64 * 0.1);
            e.session_id = session.into();
            e
        })
        .collect()
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|d| d.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}

fn bench(c: &mut Criterion) {
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pool-bench");
    let _ = std::fs::remove_dir_all(&target);
    std::fs::create_dir_all(target.join("exports")).unwrap();
    let test = test();
    let base = synthetic_events(EVENTS_PER_PRODUCER);
    let identity = Identity::random().unwrap();
    let options = ExportOptions {
        identity: &identity,
        keep_track_paths: false,
    };
    let one = producer_events(&base, &test, 0);

    // Correctness first: a round trip, and the statistics of the events read back.
    let mut buf = Vec::new();
    pool::write_events(&mut buf, &one, &options).unwrap();
    let sample = target.join("one.parquet");
    std::fs::write(&sample, &buf).unwrap();
    let back = pool::read_events(&sample).unwrap().events;
    assert_eq!(back.len(), one.len());
    assert_eq!(
        SummaryStats::of(&back, |_| true),
        SummaryStats::of(&one, |_| true)
    );

    // Sizes per producer (10 producers' worth of each format).
    let (mut parquet_bytes, mut jsonl_bytes, mut log_bytes) = (0u64, 0u64, 0u64);
    for p in 0..10 {
        let events = producer_events(&base, &test, p);
        let mut b = Vec::new();
        pool::write_events(&mut b, &events, &options).unwrap();
        parquet_bytes += b.len() as u64;
        let mut j = Vec::new();
        jsonl::write(&mut j, &events).unwrap();
        jsonl_bytes += j.len() as u64;
        let dir = target.join(format!("log{p}"));
        write_native_log(&dir, &events, u64::MAX);
        log_bytes += dir_size(&dir);
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!(
        "per producer ({EVENTS_PER_PRODUCER} events): parquet {:.0} KiB, JSON lines {:.0} KiB, native log {:.0} KiB",
        parquet_bytes as f64 / 10.0 / 1024.0,
        jsonl_bytes as f64 / 10.0 / 1024.0,
        log_bytes as f64 / 10.0 / 1024.0
    );

    let mut g = c.benchmark_group("pool");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(EVENTS_PER_PRODUCER as u64));
    g.bench_function("export_parquet_10k", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(buf.len());
            pool::write_events(&mut out, black_box(&one), &options).unwrap();
            out
        })
    });
    g.bench_function("export_jsonl_10k", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(jsonl_bytes as usize / 10);
            jsonl::write(&mut out, black_box(&one)).unwrap();
            out
        })
    });
    g.bench_function("read_parquet_10k", |b| {
        b.iter(|| pool::read_events(black_box(&sample)).unwrap())
    });
    g.bench_function("stats_10k", |b| {
        b.iter(|| {
            (
                SummaryStats::of(black_box(&one), |_| true),
                SessionTable::of(black_box(&one)),
            )
        })
    });

    // 1 000 producers: exports on disk, and each one's statistics.
    let mut stats = Vec::with_capacity(PRODUCERS);
    let mut files = Vec::with_capacity(PRODUCERS);
    let written = Instant::now();
    for p in 0..PRODUCERS {
        let events = producer_events(&base, &test, p);
        let path = target.join(format!("exports/p{p:04}.parquet"));
        pool::export_events(&path, &events, &options).unwrap();
        stats.push((
            SummaryStats::of(&events, |_| true),
            SessionTable::of(&events),
        ));
        files.push(path);
    }
    let total_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    println!(
        "{PRODUCERS} exports written in {:.1} s: {:.1} MiB",
        written.elapsed().as_secs_f64(),
        total_bytes as f64 / (1024.0 * 1024.0)
    );
    let now = Timestamp::from_micros(i64::MAX / 2);
    let pooled = |stats: &[(SummaryStats, SessionTable)]| {
        let mut s = SummaryStats::default();
        let mut t = SessionTable::default();
        for (a, b) in stats {
            s.merge(a);
            t.merge(b);
        }
        let summary = Summary::from_stats(&s, None, &RecommendationThresholds::default());
        let status = AbStatus::from_sessions(
            &test,
            t.test(&test.test_id),
            now,
            &AnalysisOptions::default(),
        )
        .unwrap();
        (summary, status)
    };
    let (summary, status) = pooled(&stats);
    assert_eq!(summary.total, (PRODUCERS * EVENTS_PER_PRODUCER) as u64);
    assert_eq!(
        status.events_total.control + status.events_total.treatment,
        summary.total
    );
    g.throughput(Throughput::Elements(PRODUCERS as u64));
    g.sample_size(10);
    g.bench_function("merge_1000", |b| b.iter(|| pooled(black_box(&stats))));
    g.finish();
    drop(stats);

    // The whole pooled pass, once each: fixloop over the exports, then the engines. The
    // files are read once first so every pass finds them in the page cache (this VM's
    // disk reads at a few MB/s when they are not).
    let start = Instant::now();
    let cached: u64 = files
        .iter()
        .map(|f| std::fs::read(f).unwrap().len() as u64)
        .sum();
    println!(
        "page cache warmed: {:.1} MiB read in {:.1} s",
        cached as f64 / (1024.0 * 1024.0),
        start.elapsed().as_secs_f64()
    );
    let start = Instant::now();
    let mut s = SummaryStats::default();
    let mut t = SessionTable::default();
    for f in &files {
        let events = pool::read_events(f).unwrap().events;
        s.merge(&SummaryStats::of(&events, |_| true));
        t.merge(&SessionTable::of(&events));
    }
    let fixloop_summary = Summary::from_stats(&s, None, &RecommendationThresholds::default());
    assert_eq!(fixloop_summary, summary);
    println!(
        "fixloop: read {PRODUCERS} exports, reduce and merge: {:.1} s",
        start.elapsed().as_secs_f64()
    );
    if std::env::var_os("FIXLOOP_BENCH_ENGINES").is_some() {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sql/pool.py");
        for engine in ["duckdb", "spark"] {
            let out = target.join(engine);
            let start = Instant::now();
            let ok = std::process::Command::new("python3")
                .arg(&script)
                .args(["--engine", engine, "--out"])
                .arg(&out)
                .arg(target.join("exports/*.parquet"))
                .status()
                .unwrap();
            assert!(ok.success(), "{engine}");
            println!(
                "{engine}: sql/pool.py over {PRODUCERS} exports: {:.1} s (process included)",
                start.elapsed().as_secs_f64()
            );
            let engine_table = pool::read_sessions(&out.join("ab_sessions.parquet")).unwrap();
            assert_eq!(engine_table.rows(), t.rows(), "{engine}");
        }
    } else {
        println!("engines: set FIXLOOP_BENCH_ENGINES=1 to time sql/pool.py on DuckDB and Spark");
    }
    let _ = std::fs::remove_dir_all(target.join("exports"));
}

criterion_group!(benches, bench);
criterion_main!(benches);
