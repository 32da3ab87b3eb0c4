//! Compaction: small sealed segments merged into one keep every record exactly once and
//! in order, readers and a live writer running meanwhile see each record once, and a log
//! that writers open and close again and again keeps a bounded number of files. (A
//! SIGKILL at random moments of a compaction is in `store_process.rs`.)

mod common;

use common::{fix, segments, TempDir};
use fixloop::feedback::records::Record;
use fixloop::store::{compact, read_log, verify, Collector, CompactOptions, StoreOptions};
use std::collections::HashMap;
use std::path::Path;

fn no_auto_compaction() -> StoreOptions {
    StoreOptions {
        compact: None,
        ..StoreOptions::default()
    }
}

/// `writers` writers one after the other, each writing `per` fixes then closing: as many
/// sealed segments.
fn sealed_segments(dir: &Path, writers: usize, per: usize, tag: &str) {
    for w in 0..writers {
        let c = Collector::open(dir, &no_auto_compaction()).unwrap();
        for i in 0..per {
            c.fix_applied(&fix(&format!("{tag}-{w}-{i}"), i as u64))
                .unwrap();
        }
        c.close().unwrap();
    }
}

/// The collector records of a log in merged order, without what says which writer wrote
/// them (compaction changes the writer id and the end marks).
fn collected(dir: &Path) -> Vec<(i64, u64, u64, Record)> {
    read_log(dir)
        .unwrap()
        .entries
        .into_iter()
        .filter(|e| e.record.is_collected())
        .map(|e| (e.time_us, e.collector, e.seq, e.record))
        .collect()
}

fn fix_ids(dir: &Path) -> HashMap<String, u32> {
    let mut counts = HashMap::new();
    for e in fixloop::store::read_events(dir).unwrap() {
        *counts.entry(e.fix_id.to_string()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn compaction_keeps_every_record_once_and_in_order() {
    let dir = TempDir::new("compact");
    sealed_segments(dir.path(), 30, 7, "a");
    assert_eq!(segments(dir.path()).len(), 30);
    let before = collected(dir.path());
    let events_before = fixloop::store::read_events(dir.path()).unwrap();
    let seals_before = read_log(dir.path())
        .unwrap()
        .entries
        .iter()
        .filter(|e| matches!(e.record, Record::SegmentEnd(_)))
        .count();

    let r = compact(dir.path(), &CompactOptions::default()).unwrap();
    assert_eq!(r.replaced.len(), 30);
    assert_eq!(
        r.frames,
        30 * 7 + 30,
        "every record and every end mark, copied"
    );
    assert!(r.bytes_after < r.bytes_before, "{r:?}");
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    // The merged segment and compact.lock; no manifest, no temporary file.
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(segments(dir.path()), vec![r.output.clone().unwrap()]);
    assert_eq!(collected(dir.path()), before);
    assert_eq!(
        fixloop::store::read_events(dir.path()).unwrap(),
        events_before
    );
    let report = verify(dir.path()).unwrap();
    assert!(
        report.is_clean() && report.foreign_files.is_empty(),
        "{report}"
    );
    assert!(report.segments[0].sealed);
    // The old end marks are kept as records, and the merged segment has its own.
    let seals = read_log(dir.path())
        .unwrap()
        .entries
        .iter()
        .filter(|e| matches!(e.record, Record::SegmentEnd(_)))
        .count();
    assert_eq!(seals, seals_before + 1);
    // Nothing more to do: one segment is below the minimum.
    let again = compact(dir.path(), &CompactOptions::default()).unwrap();
    assert!(again.output.is_none() && again.replaced.is_empty());
}

#[test]
fn an_interrupted_compaction_is_read_once_and_finished_by_the_next() {
    // The states a crash can leave, built by hand from a real compaction's output: the
    // merged segment renamed into place, its manifest, the old segments still there.
    let dir = TempDir::new("compact-interrupted");
    sealed_segments(dir.path(), 10, 5, "b");
    let before = collected(dir.path());
    let copy = TempDir::new("compact-interrupted-copy");
    for s in segments(dir.path()) {
        std::fs::copy(&s, copy.path().join(s.file_name().unwrap())).unwrap();
    }
    let r = compact(dir.path(), &CompactOptions::default()).unwrap();
    let merged = r.output.unwrap();
    let names: Vec<String> = r
        .replaced
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for n in &names {
        std::fs::copy(copy.path().join(n), dir.path().join(n)).unwrap();
    }
    let manifest = format!("{}.replaces", merged.display());
    std::fs::write(&manifest, names.join("\n")).unwrap();
    // Old and merged segments side by side: each record is read once.
    assert_eq!(collected(dir.path()), before);
    assert!(verify(dir.path()).unwrap().foreign_files.is_empty());
    // Without its merged segment (a crash before the rename) the manifest means nothing.
    let tmp = format!("{}.tmp", merged.display());
    std::fs::rename(&merged, &tmp).unwrap();
    assert_eq!(collected(dir.path()), before);
    std::fs::rename(&tmp, &merged).unwrap();
    // The next compaction removes the leftovers and merges nothing twice.
    let next = compact(dir.path(), &CompactOptions::default()).unwrap();
    assert_eq!(next.finished_earlier, names.len() + 1);
    assert_eq!(segments(dir.path()), vec![merged]);
    assert_eq!(collected(dir.path()), before);
}

#[test]
fn readers_and_a_live_writer_during_compaction_see_each_record_once() {
    let dir = TempDir::new("compact-live");
    let path = dir.path().to_path_buf();
    for round in 0..5 {
        sealed_segments(&path, 12, 20, &format!("r{round}"));
        let sealed: Vec<String> = (0..12)
            .flat_map(|w| (0..20).map(move |i| format!("r{round}-{w}-{i}")))
            .collect();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            // A live writer appending all along (its segment is locked: never compacted).
            let live = s.spawn(|| {
                let c = Collector::open(&path, &no_auto_compaction()).unwrap();
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    c.fix_applied(&fix(&format!("live{round}-{n}"), n)).unwrap();
                    n += 1;
                    if n.is_multiple_of(50) {
                        c.flush().unwrap();
                    }
                }
                c.close().unwrap();
                n
            });
            // A reader reading all along: every sealed record exactly once, every time.
            let reader = s.spawn(|| {
                let mut reads = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads < 3 {
                    let ids = fix_ids(&path);
                    for id in &sealed {
                        assert_eq!(ids.get(id), Some(&1), "{id} in read {reads}");
                    }
                    assert!(ids.values().all(|&n| n == 1), "read {reads}");
                    reads += 1;
                }
                reads
            });
            let r = compact(&path, &CompactOptions::default()).unwrap();
            assert!(r.replaced.len() >= 12, "{r:?}");
            std::thread::sleep(std::time::Duration::from_millis(30));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let written = live.join().unwrap();
            assert!(reader.join().unwrap() >= 3);
            let ids = fix_ids(&path);
            for n in 0..written {
                assert_eq!(ids.get(&format!("live{round}-{n}")), Some(&1));
            }
        });
    }
    let report = verify(&path).unwrap();
    assert!(report.is_clean(), "{report}");
}

/// What hosts that load and unload the library again and again do to a log: 400 writers
/// one after the other, one record each, with compaction on (the default). The number of
/// segment files stays bounded and every record is there once.
#[test]
fn a_log_opened_and_closed_again_and_again_keeps_a_bounded_number_of_files() {
    let dir = TempDir::new("compact-bounded");
    let mut most = 0;
    for i in 0..400u64 {
        let c = Collector::open(dir.path(), &StoreOptions::default()).unwrap();
        c.fix_applied(&fix(&format!("c-{i}"), i)).unwrap();
        c.close().unwrap();
        most = most.max(segments(dir.path()).len());
    }
    // A compaction runs at each writer start once 8 small sealed segments exist, so at
    // most 8 + the merged one + the running writer's.
    assert!(most <= 10, "{most} segment files at most");
    let ids = fix_ids(dir.path());
    assert_eq!(ids.len(), 400);
    assert!(ids.values().all(|&n| n == 1));
    let bytes: u64 = segments(dir.path())
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    // Each record and its writer's end mark: about 150 bytes a writer, not a file each.
    assert!(bytes < 400 * 400, "{bytes} bytes");
    assert!(verify(dir.path()).unwrap().is_clean());
}
