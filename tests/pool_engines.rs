//! Pooling across producers, end to end: 50 simulated producers each record into their own
//! home's log and export it to Parquet with the CLI; the `sql/` files run over all the
//! exports on DuckDB and on Spark in local mode (`sql/pool.py`), and their summary and
//! per-session A/B table must equal `fixloop summary --json` and `fixloop ab status
//! --json` over the union of the logs (to 1e-9: the engines sum doubles in their own
//! order), as must the library's merged statistics (exactly) and the CLI given the 50 logs
//! as separate `--feedback` sources (exactly). Also: every field of every event survives
//! export → DuckDB exactly.
//!
//! Needs `python3` with `duckdb` and `pyspark` and a Java runtime (`pip install duckdb
//! pyspark`). Without them the test says so on stderr and passes, unless
//! `FIXLOOP_REQUIRE_ENGINES=1` is set (as `.ci/run` sets it after installing them), in
//! which case it fails.

use fixloop::feedback::{jsonl, FeedbackEvent};
use fixloop::fixes::Policy;
use fixloop::learn::effectiveness::RecommendationThresholds;
use fixloop::learn::{AbTest, SessionTable, Summary, SummaryStats};
use fixloop::sim::ab_sim::sim_test;
use fixloop::sim::closed_loop::{World, WorldConfig};
use fixloop::sim::producers::{simulate_producers, ProducersConfig};
use fixloop::{pool, store};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const PRODUCERS: usize = 50;
/// Agreement required between an engine's numbers and fixloop's (absolute, or relative
/// for numbers above 1): both sum the same doubles, in different orders.
const TOLERANCE: f64 = 1e-9;

fn fixloop(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_fixloop"))
        .args(args)
        .output()
        .expect("run fixloop");
    assert!(
        out.status.success(),
        "fixloop {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn engines_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import duckdb, pyspark"])
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("java")
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("FIXLOOP_REQUIRE_ENGINES").is_none(),
            "FIXLOOP_REQUIRE_ENGINES is set but python3 with duckdb and pyspark, or java, is missing"
        );
        eprintln!("skipping: python3 with duckdb and pyspark, and java, are needed");
    }
    ok
}

/// Every number of `engine` equals the one at the same place in `fixloop`; every key of
/// `engine` exists in `fixloop`; strings and booleans are equal.
fn assert_close(engine: &Value, fixloop: &Value, at: &str) {
    match (engine, fixloop) {
        (Value::Object(e), Value::Object(f)) => {
            for (k, v) in e {
                let there = f
                    .get(k)
                    .unwrap_or_else(|| panic!("{at}.{k}: not in fixloop's output"));
                assert_close(v, there, &format!("{at}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(f)) => {
            assert_eq!(e.len(), f.len(), "{at}: lengths");
            for (i, (a, b)) in e.iter().zip(f).enumerate() {
                assert_close(a, b, &format!("{at}[{i}]"));
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (a - b).abs() <= TOLERANCE * a.abs().max(1.0),
                "{at}: engine {a} vs fixloop {b}"
            );
        }
        (a, b) => assert_eq!(a, b, "{at}"),
    }
}

fn run_engine(engine: &str, files: &[PathBuf], out: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/pool.py");
    let status = Command::new("python3")
        .arg(script)
        .args(["--engine", engine, "--out"])
        .arg(out)
        .args(files)
        .status()
        .expect("run sql/pool.py");
    assert!(status.success(), "sql/pool.py --engine {engine} failed");
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("engine");
    o.remove("seconds");
    v
}

fn tests() -> Vec<AbTest> {
    let gentle = Policy {
        amount: 0.5,
        ..Policy::default()
    };
    let mut a = sim_test("pool_amount", Policy::default(), gentle, 50);
    a.planned_sessions = Some(2_000);
    let mut b = sim_test("pool_aa", Policy::default(), Policy::default(), 50);
    b.primary_metric = fixloop::learn::ab::Metric::ImprovementRatio;
    vec![a, b]
}

#[test]
fn fifty_producers_pool_to_the_same_numbers_on_duckdb_spark_and_fixloop() {
    if !engines_available() {
        return;
    }
    let root = std::env::temp_dir().join(format!("fixloop-pool-engines-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("exports")).unwrap();
    let world = World::build(
        &WorldConfig {
            references: 10,
            wip_tracks: 10,
            ..WorldConfig::default()
        },
        19,
    )
    .unwrap();
    let tests = tests();
    let producers = simulate_producers(
        &world,
        &tests,
        &ProducersConfig {
            producers: PRODUCERS,
            sessions: 24,
        },
        1919,
    )
    .unwrap();
    let mut test_files = Vec::new();
    for t in &tests {
        let p = root.join(format!("{}.json", t.test_id));
        t.save(&p).unwrap();
        test_files.push(p);
    }

    // Each producer: a home with a log, exported with the CLI.
    let mut logs = Vec::new();
    let mut exports = Vec::new();
    let mut union: Vec<FeedbackEvent> = Vec::new();
    for (i, events) in producers.iter().enumerate() {
        let home = root.join(format!("home{i:02}"));
        store::import_events(events, &home.join("feedback")).unwrap();
        let out = root.join(format!("exports/p{i:02}.parquet"));
        let home_s = home.to_str().unwrap();
        fixloop(&[
            "--home",
            home_s,
            "export",
            "--format",
            "parquet",
            "--output",
            out.to_str().unwrap(),
        ]);
        logs.push(home.join("feedback"));
        exports.push(out);
        union.extend(events.iter().cloned());
    }
    assert!(union.len() > 5_000, "{} events", union.len());
    let union_file = root.join("union.jsonl");
    jsonl::write_file(&union_file, &union).unwrap();

    // fixloop over the union, and over the 50 logs as separate sources: the same, exactly.
    let summary_union = fixloop(&[
        "summary",
        "--json",
        "--feedback",
        union_file.to_str().unwrap(),
    ]);
    let mut many = vec!["summary", "--json"];
    for l in &logs {
        many.extend(["--feedback", l.to_str().unwrap()]);
    }
    assert_eq!(
        fixloop(&many),
        summary_union,
        "50 --feedback sources vs their union"
    );
    let summary_union: Value = serde_json::from_str(&summary_union).unwrap();
    assert_eq!(summary_union["total"].as_u64(), Some(union.len() as u64));

    // The library's merged statistics: exactly the union's summary.
    let mut stats = SummaryStats::default();
    let mut table = SessionTable::default();
    for l in &logs {
        let events = store::load_feedback(l).unwrap();
        stats.merge(&SummaryStats::of(&events, |_| true));
        table.merge(&SessionTable::of(&events));
    }
    let merged = Summary::from_stats(&stats, None, &RecommendationThresholds::default());
    assert_eq!(serde_json::to_value(&merged).unwrap(), summary_union);

    let status_of = |test: &Path, source: &[&str]| -> Value {
        let mut args = vec!["ab", "status", "--json", "--test", test.to_str().unwrap()];
        args.extend(source);
        serde_json::from_str(&fixloop(&args)).unwrap()
    };
    let ab_union: Vec<Value> = test_files
        .iter()
        .map(|t| status_of(t, &["--feedback", union_file.to_str().unwrap()]))
        .collect();
    for (t, union_status) in test_files.iter().zip(&ab_union) {
        let mut args: Vec<&str> = Vec::new();
        for l in &logs {
            args.extend(["--feedback", l.to_str().unwrap()]);
        }
        assert_eq!(&status_of(t, &args), union_status, "{}", t.display());
        assert!(
            union_status["sessions"]["p_value"].is_number(),
            "a real test: {union_status}"
        );
    }

    for engine in ["duckdb", "spark"] {
        let out = root.join(engine);
        let summary = run_engine(engine, &exports, &out);
        assert_close(&summary, &summary_union, &format!("{engine} summary"));
        for key in ["by_fix_type", "by_feature"] {
            assert_eq!(
                summary[key].as_object().unwrap().len(),
                summary_union[key].as_object().unwrap().len(),
                "{engine} {key}"
            );
        }
        // The engine's per-session table against the library's.
        let sessions = out.join("ab_sessions.parquet");
        let read = pool::read_sessions(&sessions).unwrap();
        assert_eq!(read.rows(), table.rows(), "{engine}: rows");
        for (id, t) in &table.tests {
            for arm in [
                fixloop::feedback::Arm::Control,
                fixloop::feedback::Arm::Treatment,
            ] {
                for (s, row) in t.arm(arm) {
                    let r = &read.tests[id].arm(arm)[s];
                    assert_eq!(
                        (
                            r.events,
                            r.accepts,
                            r.undos,
                            r.improvements,
                            r.covariate,
                            r.first_event
                        ),
                        (
                            row.events,
                            row.accepts,
                            row.undos,
                            row.improvements,
                            row.covariate,
                            row.first_event
                        ),
                        "{engine} {id} {s}"
                    );
                    let d = (r.improvement_sum.value() - row.improvement_sum.value()).abs();
                    assert!(d <= TOLERANCE, "{engine} {id} {s}: sum off by {d}");
                }
            }
        }
        // ab status from the engine's table: the union's status.
        for (t, union_status) in test_files.iter().zip(&ab_union) {
            let from_engine = status_of(t, &["--sessions", sessions.to_str().unwrap()]);
            assert_close(&from_engine, union_status, &format!("{engine} ab status"));
        }
    }

    // Every field survives export -> DuckDB (the arrow reader is checked in the library's
    // tests, and here on the hashed exports).
    let keep = root.join("kept.parquet");
    let home0 = root.join("home00");
    fixloop(&[
        "--home",
        home0.to_str().unwrap(),
        "export",
        "--format",
        "parquet",
        "--keep-track-paths",
        "--output",
        keep.to_str().unwrap(),
    ]);
    let original = store::load_feedback(&logs[0]).unwrap().into_loaded().events;
    let via_duckdb = root.join("duckdb.jsonl");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pool/duckdb_events.py");
    let ok = Command::new("python3")
        .arg(script)
        .arg(&keep)
        .arg(&via_duckdb)
        .status()
        .unwrap();
    assert!(ok.success());
    let back = jsonl::read_file(&via_duckdb).unwrap();
    assert_eq!(back, original, "export -> DuckDB");
    assert_eq!(
        pool::read_events(&keep).unwrap().events,
        original,
        "export -> arrow"
    );
    let hashed = pool::read_events(&exports[0]).unwrap();
    assert_eq!(hashed.events.len(), original.len());
    assert!(hashed
        .events
        .iter()
        .zip(&original)
        .all(|(h, o)| h.track_path != o.track_path));
    let ids: std::collections::BTreeSet<String> = exports
        .iter()
        .map(|e| pool::read_events(e).unwrap().producer_ids[0].clone())
        .collect();
    assert_eq!(ids.len(), PRODUCERS, "one pseudonymous id per producer");
    let _ = std::fs::remove_dir_all(&root);
}
