//! A real host killed mid-session: a `clack-host` host process loads the plugin's CLAP
//! binary, processes audio and saves the state every 2.2 s (each save is a record the
//! plugin writes and flushes), and is killed with SIGKILL at a random moment, 24 times,
//! all in one home. After each kill the log reads clean once the next writer has
//! recovered it, every record the host had seen reach the log is there exactly once, and
//! a last, clean session in the same home records normally.
//!
//! The host process is this test binary re-executed with `FIXLOOP_CLAP_CHILD` set. It
//! prints `SEEN n` once it has read its n-th save back from the log (the plugin's writer
//! wrote it to the file: a SIGKILL of the process cannot take it back).
#![cfg(unix)]

use fixloop::feedback::records::Record;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::clap::{load, run_while, save};
use support::plugin_library;

mod support;

const CHILD_ENV: &str = "FIXLOOP_CLAP_CHILD";
const BUNDLE_ENV: &str = "FIXLOOP_CLAP_CHILD_BUNDLE";
const SECONDS_ENV: &str = "FIXLOOP_CLAP_CHILD_SECONDS";

/// The saves in the log, by collector.
fn saves(feedback: &Path) -> Vec<(u64, u64, u64)> {
    let Ok(log) = fixloop::store::read_log(feedback) else {
        return Vec::new();
    };
    log.entries
        .iter()
        .filter(|e| matches!(e.record, Record::SessionSaved(_)))
        .map(|e| (e.collector, e.time_us as u64, e.seq))
        .collect()
}

/// The host's role: process, save every 2.2 s, report what reached the log; run until
/// killed, or for `FIXLOOP_CLAP_CHILD_SECONDS` and then close cleanly.
#[test]
fn child_host_entry_point() {
    if std::env::var(CHILD_ENV).is_err() {
        return;
    }
    let bundle = PathBuf::from(std::env::var(BUNDLE_ENV).unwrap());
    let feedback = PathBuf::from(std::env::var("FIXLOOP_HOME").unwrap()).join("feedback");
    let seconds: Option<f64> = std::env::var(SECONDS_ENV).ok().map(|s| s.parse().unwrap());
    let before = saves(&feedback).len();
    let (entry, mut instance) = load(&bundle);
    let started = Instant::now();
    let mut last_save: Option<Instant> = None;
    let mut made = 0usize;
    let stopped = run_while(&mut instance, 48_000.0, 512, 1, |instance| {
        if seconds.is_some_and(|s| started.elapsed().as_secs_f64() > s) {
            return None;
        }
        // A save 100 ms into the session, then every 2.2 s (the plugin merges saves
        // closer than 2 s into one).
        let due = match last_save {
            None => started.elapsed() > Duration::from_millis(100),
            Some(t) => t.elapsed() > Duration::from_millis(2_200),
        };
        if due {
            save(instance);
            made += 1;
            last_save = Some(Instant::now());
            // Wait (processing on) until the plugin's writer has put it in the file.
            let deadline = Instant::now() + Duration::from_secs(2);
            while saves(&feedback).len() < before + made && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if saves(&feedback).len() >= before + made {
                println!("SEEN {made}");
            }
        }
        std::thread::sleep(Duration::from_millis(1));
        Some(512)
    });
    instance.deactivate(stopped);
    drop(instance);
    drop(entry);
    std::process::exit(0);
}

fn child(home: &Path, bundle: &Path, seconds: Option<f64>) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_host_entry_point",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, "1")
    .env(BUNDLE_ENV, bundle)
    .env("FIXLOOP_HOME", home)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    if let Some(s) = seconds {
        cmd.env(SECONDS_ENV, s.to_string());
    }
    cmd
}

#[test]
fn host_killed_mid_session_loses_and_duplicates_nothing() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let feedback = home.path().join("feedback");
    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = bundle_dir.path().join("fixloop.clap");
    std::fs::copy(plugin_library(), &bundle).unwrap();

    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut random_ms = |below: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    };
    let mut seen_total = 0usize;
    let mut seen_per_trial = Vec::new();
    for _ in 0..24 {
        let mut proc = child(home.path(), &bundle, None).spawn().unwrap();
        let stdout = proc.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut last = 0usize;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some((_, n)) = line.split_once("SEEN ") {
                    last = n.trim().parse().unwrap();
                }
            }
            last
        });
        // From loading the plugin to a few seconds into the session: before the first
        // record, while it is written, between saves.
        std::thread::sleep(Duration::from_millis(50 + random_ms(3_000)));
        proc.kill().unwrap();
        proc.wait().unwrap();
        let seen = reader.join().unwrap();
        seen_per_trial.push(seen);
        seen_total += seen;
        // Every save the host saw reach the log is still there, and none twice.
        let all = saves(&feedback);
        assert!(
            all.len() >= seen_total,
            "{} saves, {seen_total} seen",
            all.len()
        );
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "a record appears twice");
    }
    assert!(
        seen_per_trial.iter().filter(|&&n| n > 0).count() >= 12,
        "too few trials reached a save: {seen_per_trial:?}"
    );
    // The next session in the same home records normally, and its writer's recovery
    // leaves every segment sealed and whole.
    let before = saves(&feedback).len();
    let status = child(home.path(), &bundle, Some(0.5))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let after = saves(&feedback);
    assert_eq!(after.len(), before + 1, "the clean session's save");
    let report = fixloop::store::verify(&feedback).unwrap();
    assert!(
        report.segments.iter().all(|s| s.header.is_some()),
        "{report}"
    );
    assert!(report.is_clean(), "{report}");
    let live: Vec<_> = report.segments.iter().filter(|s| s.locked).collect();
    assert!(live.is_empty(), "{report}");
    let unsealed = report.segments.iter().filter(|s| !s.sealed).count();
    // The killed hosts' segments are recovered and sealed by the next writer; the clean
    // session's own is sealed when it closes.
    assert_eq!(unsealed, 0, "{report}");
    println!(
        "saves seen per trial: {seen_per_trial:?}; {} saves in the log",
        after.len()
    );
}
