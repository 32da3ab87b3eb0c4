//! Tests across processes: SIGKILL at random moments, two processes writing at once,
//! and a full disk (RLIMIT_FSIZE). The children are this test binary re-executed with
//! `FIXLOOP_STORE_CHILD` set, running only `child_process_entry_point`.
#![cfg(unix)]

mod common;

use common::{fix, segments, Rng, TempDir};
use fixloop::store::{read_events, verify, Collector, StoreOptions};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "FIXLOOP_STORE_CHILD";
const DIR_ENV: &str = "FIXLOOP_STORE_CHILD_DIR";
const TAG_ENV: &str = "FIXLOOP_STORE_CHILD_TAG";

/// Runs a child's role when this binary was started as a child; otherwise does nothing.
#[test]
fn child_process_entry_point() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = std::path::PathBuf::from(std::env::var(DIR_ENV).unwrap());
    let tag = std::env::var(TAG_ENV).unwrap();
    match mode.as_str() {
        "crash" => child_crash(&dir, &tag),
        "multi" => child_multi(&dir, &tag),
        "fsize" => child_fsize(&dir),
        "compact" => {
            fixloop::store::compact(&dir, &fixloop::store::CompactOptions::default()).unwrap();
        }
        other => panic!("unknown child mode {other}"),
    }
    std::process::exit(0);
}

fn child(mode: &str, dir: &Path, tag: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_process_entry_point",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, mode)
    .env(DIR_ENV, dir)
    .env(TAG_ENV, tag)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    cmd
}

/// Pushes fixes `{tag}-{i}` forever, flushing every 20 and printing `FLUSHED n` after
/// each flush returns.
fn child_crash(dir: &Path, tag: &str) {
    use std::io::Write;
    let c = Collector::open(dir, &StoreOptions::default()).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0..1_000_000u64 {
        c.fix_applied(&fix(&format!("{tag}-{i}"), i)).unwrap();
        if (i + 1) % 20 == 0 {
            c.flush().unwrap();
            writeln!(out, "FLUSHED {}", i + 1).unwrap();
            out.flush().unwrap();
        }
    }
}

fn child_multi(dir: &Path, tag: &str) {
    let opts = StoreOptions::default();
    let cs: Vec<Collector> = (0..4)
        .map(|_| Collector::open(dir, &opts).unwrap())
        .collect();
    std::thread::scope(|s| {
        for (k, c) in cs.iter().enumerate() {
            s.spawn(move || {
                for i in 0..2000u64 {
                    c.fix_applied(&fix(&format!("{tag}-c{k}-{i}"), i)).unwrap();
                    if i % 500 == 0 {
                        c.flush().unwrap();
                    }
                }
            });
        }
    });
    for c in cs {
        c.close().unwrap();
    }
}

fn set_fsize(limit: libc::rlim_t) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid, writable rlimit for getrlimit to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut r) }, 0);
    r.rlim_cur = limit.min(r.rlim_max);
    // SAFETY: `r` is a valid rlimit; lowering or restoring the soft limit is allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &r) }, 0);
}

/// Fills the disk (a 16 KiB file size limit), checks the error, raises the limit and
/// checks that the buffered records are written. Prints `PUSHED n`.
fn child_fsize(dir: &Path) {
    // SAFETY: ignoring SIGXFSZ makes writes past the limit fail with EFBIG instead of
    // killing the process; no handler code runs.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let c = Collector::open(dir, &StoreOptions::default()).unwrap();
    set_fsize(16 * 1024);
    let mut pushed = 0u64;
    let err = loop {
        for _ in 0..50 {
            c.fix_applied(&fix(&format!("d{pushed}"), pushed)).unwrap();
            pushed += 1;
        }
        if let Err(e) = c.flush() {
            break e;
        }
        assert!(pushed < 10_000, "the file size limit never hit");
    };
    let text = format!("{err:#}");
    assert_eq!(err.kind(), fixloop::ErrorKind::Io);
    assert!(
        text.contains(".fxl"),
        "error does not name the segment: {text}"
    );
    let stats = c.stats();
    assert!(stats.last_error.is_some() && stats.errors >= 1);
    // Still buffered while the disk is full; the audio side sees no error.
    for _ in 0..50 {
        c.fix_applied(&fix(&format!("d{pushed}"), pushed)).unwrap();
        pushed += 1;
    }
    assert!(c.flush().is_err(), "the disk is still full");
    set_fsize(libc::RLIM_INFINITY);
    let flushed = c.flush().expect("flush after the disk recovered");
    assert_eq!(flushed.durable_records, pushed);
    assert!(c.stats().last_error.is_none());
    c.close().unwrap();
    println!("ERROR {text}");
    println!("PUSHED {pushed}");
}

fn count_ids(dir: &Path) -> HashMap<String, u32> {
    let mut counts = HashMap::new();
    for e in read_events(dir).unwrap() {
        *counts.entry(e.fix_id.to_string()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn sigkill_at_random_moments_loses_nothing_flushed() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = TempDir::new("crash");
    let mut rng = Rng::new(0x5eed_1234_abcd_0001);
    let trials = 60;
    let mut flushed_per_trial = Vec::new();
    for t in 0..trials {
        let mut proc = child("crash", dir.path(), &format!("t{t}"))
            .spawn()
            .unwrap();
        let stdout = proc.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut last = 0u64;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest may print its "test … " prefix on the same line.
                if let Some((_, n)) = line.split_once("FLUSHED ") {
                    last = n.trim().parse().unwrap();
                }
            }
            last
        });
        // From before the writer starts (killing its recovery of the last trial's
        // segment) to well into the flush loop.
        std::thread::sleep(Duration::from_millis(5 + rng.below(120)));
        proc.kill().unwrap();
        proc.wait().unwrap();
        flushed_per_trial.push(reader.join().unwrap());
        // The reader never panics, whatever state the kill left (checked every few
        // trials to keep the test short; the log only grows).
        if t % 6 == 5 {
            verify(dir.path()).unwrap();
        }
    }
    assert!(
        flushed_per_trial.iter().any(|&n| n > 0),
        "no child got as far as a flush: {flushed_per_trial:?}"
    );
    let counts = count_ids(dir.path());
    assert!(counts.values().all(|&n| n == 1), "a record appears twice");
    for (t, &n) in flushed_per_trial.iter().enumerate() {
        for i in 0..n {
            assert_eq!(
                counts.get(&format!("t{t}-{i}")),
                Some(&1),
                "trial {t}: record {i} of {n} flushed lost"
            );
        }
    }
    // New writes after recovery work, and recovery leaves every segment sealed and whole.
    let c = Collector::open(dir.path(), &StoreOptions::default()).unwrap();
    c.fix_applied(&fix("after-recovery", 0)).unwrap();
    c.close().unwrap();
    let report = verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{report}");
    assert!(
        report.segments.iter().all(|s| s.sealed && !s.locked),
        "{report}"
    );
    let after = count_ids(dir.path());
    assert_eq!(after.get("after-recovery"), Some(&1));
    assert_eq!(after.len(), counts.len() + 1);
}

#[test]
fn two_processes_with_four_instances_each_lose_nothing() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = TempDir::new("multi");
    let procs: Vec<_> = ["p0", "p1"]
        .iter()
        .map(|tag| child("multi", dir.path(), tag).spawn().unwrap())
        .collect();
    for mut p in procs {
        assert!(p.wait().unwrap().success());
    }
    assert_eq!(segments(dir.path()).len(), 2, "one segment per process");
    let counts = count_ids(dir.path());
    assert_eq!(counts.len(), 2 * 4 * 2000);
    for p in ["p0", "p1"] {
        for k in 0..4 {
            for i in 0..2000 {
                assert_eq!(counts.get(&format!("{p}-c{k}-{i}")), Some(&1));
            }
        }
    }
    let report = verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.fold.dropped, 0);
}

#[test]
fn full_disk_gives_an_error_then_recovers() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = TempDir::new("fsize");
    let out = child("fsize", dir.path(), "d").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    let pushed: u64 = stdout
        .lines()
        .find_map(|l| l.split_once("PUSHED ").map(|(_, n)| n))
        .expect("child reported")
        .trim()
        .parse()
        .unwrap();
    let error = stdout
        .lines()
        .find_map(|l| l.split_once("ERROR ").map(|(_, e)| e))
        .expect("child reported the error");
    assert!(error.to_lowercase().contains("too large"), "{error}");
    let counts = count_ids(dir.path());
    assert_eq!(counts.len() as u64, pushed);
    for i in 0..pushed {
        assert_eq!(counts.get(&format!("d{i}")), Some(&1));
    }
    assert!(verify(dir.path()).unwrap().is_clean());
}

/// Copies the files of `from` into the empty directory `to`.
fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Compaction killed at random moments (SIGKILL of a process compacting a copy of the
/// same log, 24 trials spread over the time a compaction takes): afterwards every record
/// is read exactly once, whatever state the kill left, and the next compaction leaves
/// one segment with every record once.
#[test]
fn compaction_killed_at_random_moments_loses_and_duplicates_nothing() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let template = TempDir::new("compact-template");
    let no_auto = StoreOptions {
        compact: None,
        ..StoreOptions::default()
    };
    for w in 0..150u64 {
        let c = Collector::open(template.path(), &no_auto).unwrap();
        for i in 0..60u64 {
            c.fix_applied(&fix(&format!("w{w}-{i}"), i)).unwrap();
        }
        c.close().unwrap();
    }
    let expected = count_ids(template.path());
    assert_eq!(expected.len(), 150 * 60);
    // How long one compaction of it takes in a child, start to exit (spawn included).
    let timing = TempDir::new("compact-timing");
    copy_dir(template.path(), timing.path());
    let started = std::time::Instant::now();
    let status = child("compact", timing.path(), "timing").status().unwrap();
    assert!(status.success());
    let whole_ms = started.elapsed().as_millis() as u64;
    assert_eq!(segments(timing.path()).len(), 1);

    let mut rng = Rng::new(0xc0de_cafe_0000_0007);
    let mut interrupted = 0;
    for t in 0..24 {
        let dir = TempDir::new("compact-kill");
        copy_dir(template.path(), dir.path());
        let mut proc = child("compact", dir.path(), &format!("k{t}"))
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(whole_ms + 1)));
        let _ = proc.kill();
        proc.wait().unwrap();
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.ends_with(".tmp") || n.ends_with(".replaces")
            })
            .count();
        let n = segments(dir.path()).len();
        if leftovers > 0 || (n > 1 && n < 150) {
            interrupted += 1;
        }
        assert_eq!(count_ids(dir.path()), expected, "trial {t}: after the kill");
        assert!(verify(dir.path()).unwrap().is_clean(), "trial {t}");
        fixloop::store::compact(dir.path(), &fixloop::store::CompactOptions::default()).unwrap();
        assert_eq!(
            count_ids(dir.path()),
            expected,
            "trial {t}: after finishing"
        );
        assert_eq!(segments(dir.path()).len(), 1, "trial {t}");
    }
    println!("compaction killed mid-way in {interrupted} of 24 trials ({whole_ms} ms each)");
}
