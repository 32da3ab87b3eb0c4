//! The log end to end within one process: lifecycle on disk, flood accounting,
//! JSON-lines import/export identity, and every documented damage case.

mod common;

use common::{fix, segments, TempDir};
use fixloop::features::FixType;
use fixloop::feedback::records::{BounceEvidence, Record};
use fixloop::feedback::{jsonl, Arm, FeedbackEvent, Timestamp, UserAction};
use fixloop::store::frame::{FrameScanner, Scanned, HEADER_LEN};
use fixloop::store::{
    export_jsonl, import_jsonl, read_events, read_log, verify, Collector, ProblemKind, SessionInfo,
    StoreOptions,
};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

fn fix_ids(dir: &Path) -> Vec<String> {
    read_events(dir)
        .unwrap()
        .into_iter()
        .map(|e| e.fix_id.to_string())
        .collect()
}

/// Writes `n` fixes named `r0..r{n-1}` and closes the collector (sealed segment).
fn write_log(dir: &Path, n: u64) {
    let opts = StoreOptions {
        queue_capacity: n.max(16) as usize,
        ..StoreOptions::default()
    };
    let c = Collector::open(dir, &opts).unwrap();
    for i in 0..n {
        c.fix_applied(&fix(&format!("r{i}"), i)).unwrap();
    }
    c.close().unwrap();
}

fn expected(n: u64) -> Vec<String> {
    (0..n).map(|i| format!("r{i}")).collect()
}

#[test]
fn lifecycle_survives_the_disk_and_folds_to_the_seed_event() {
    let dir = TempDir::new("lifecycle");
    let c = Collector::open(dir.path(), &StoreOptions::default()).unwrap();
    let session = c
        .start_session(&SessionInfo {
            track_path: "/music/wip.als".into(),
            session_id: "session-1".into(),
            profile_version: "trance_v1".into(),
            ab: BTreeMap::from([("amount_test".to_string(), Arm::Control)]),
            start_mean_abs_z: None,
        })
        .unwrap();
    assert_eq!(session, 1);
    let a = c.fix_applied(&fix("fix_a", 0)).unwrap();
    let b = c.fix_applied(&fix("fix_b", 1)).unwrap();
    assert_ne!(a, b);
    c.user_action(a, UserAction::Accept, None).unwrap();
    c.outcome(a, 0.5).unwrap();
    c.user_action(b, UserAction::Undo, None).unwrap();
    c.session_saved().unwrap();
    c.track_bounced(BounceEvidence::Host).unwrap();
    let flushed = c.flush().unwrap();
    assert_eq!(flushed.durable_records, 8);
    assert_eq!(flushed.dropped, 0);
    // Readable while the writer still runs (segment unsealed, lock held).
    let events = read_events(dir.path()).unwrap();
    assert_eq!(events.len(), 2);
    let ea = &events[0];
    assert_eq!(ea.event_id, a.to_string());
    assert_eq!(ea.track_path, "/music/wip.als");
    assert_eq!(ea.session_id, "session-1");
    assert_eq!(ea.ab.get("amount_test"), Some(&Arm::Control));
    assert_eq!(ea.user_action, Some(UserAction::Accept));
    // gap_before 1.5 → 0.5: (1.5 − 0.5) / 1.5.
    assert_eq!(ea.improvement_ratio, Some(1.0 / 1.5));
    assert!(ea.session_saved_after && ea.track_bounced_after);
    let eb = &events[1];
    assert!(eb.was_undone && !eb.session_saved_after && !eb.track_bounced_after);
    assert_eq!(eb.gap_after, None);
    c.close().unwrap();
    let report = verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.segments.len(), 1);
    assert!(report.segments[0].sealed && !report.segments[0].locked);
}

#[test]
fn flood_pushed_equals_persisted_plus_dropped_and_the_count_is_in_the_log() {
    let dir = TempDir::new("flood");
    // The writer polls once an hour unless asked, so the queue of 64 overflows for sure.
    let opts = StoreOptions {
        queue_capacity: 64,
        poll_interval: Duration::from_secs(3600),
        ..StoreOptions::default()
    };
    let c = Collector::open(dir.path(), &opts).unwrap();
    let pushed = 10_000u64;
    for i in 0..pushed {
        let _ = c.fix_applied(&fix(&format!("f{i}"), i));
    }
    let flushed = c.flush().unwrap();
    let stats = c.stats();
    assert_eq!(stats.pushed, pushed);
    assert!(stats.dropped > 0);
    assert_eq!(flushed.durable_records + flushed.dropped, pushed);
    drop(c);
    let log = read_log(dir.path()).unwrap();
    let persisted = log
        .entries
        .iter()
        .filter(|e| matches!(e.record, Record::FixApplied(_)))
        .count() as u64;
    let report = verify(dir.path()).unwrap();
    assert_eq!(
        report.fold.dropped, stats.dropped,
        "dropped count not in the log"
    );
    assert_eq!(persisted + report.fold.dropped, pushed);
    assert!(report
        .to_string()
        .contains(&format!("{} dropped", stats.dropped)));
    // A dropped fix gives its serial back: the persisted ids run 1, 2, 3… without gaps.
    let serials: Vec<u64> = log
        .entries
        .iter()
        .filter_map(|e| match &e.record {
            Record::FixApplied(f) => Some(u64::from(f.event.serial)),
            _ => None,
        })
        .collect();
    assert_eq!(serials, (1..=persisted).collect::<Vec<_>>());
}

#[test]
fn flood_from_threads_accounts_for_every_record() {
    let dir = TempDir::new("flood-threads");
    let opts = StoreOptions {
        queue_capacity: 32,
        ..StoreOptions::default()
    };
    let collectors: Vec<Collector> = (0..3)
        .map(|_| Collector::open(dir.path(), &opts).unwrap())
        .collect();
    std::thread::scope(|s| {
        for c in &collectors {
            s.spawn(move || {
                for i in 0..20_000u64 {
                    let _ = c.fix_applied(&fix("t", i));
                }
            });
        }
    });
    let mut total_dropped = 0;
    for c in &collectors {
        c.flush().unwrap();
        let st = c.stats();
        assert_eq!(st.pushed, 20_000);
        assert_eq!(st.durable + st.dropped, st.pushed);
        total_dropped += st.dropped;
    }
    drop(collectors);
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.fold.dropped, total_dropped);
    assert_eq!(report.fold.collected + report.fold.dropped, 60_000);
}

fn sample_events() -> Vec<FeedbackEvent> {
    let base = FeedbackEvent {
        event_id: "evt_0001".into(),
        timestamp: Timestamp::parse("2024-01-15T10:30:00.123456").unwrap(),
        fix_id: "fix_bass_level_001".into(),
        fix_type: FixType::EqBandCut,
        feature_name: "bass_level".into(),
        track_path: "/music/a.wav".into(),
        session_id: "s1".into(),
        profile_version: "trance_v1".into(),
        original_value: -3.2,
        target_value: -6.0,
        applied_value: -4.6,
        user_action: Some(UserAction::Accept),
        was_applied: true,
        was_undone: false,
        gap_before: 2.1,
        gap_after: Some(0.4),
        // Signed, as the seed computed it; kept as given on import.
        improvement_ratio: Some(0.8095238095238095),
        user_modified_value: None,
        session_saved_after: true,
        track_bounced_after: false,
        notes: Some("ünïcode ✓ notes".into()),
        ab: BTreeMap::from([("t1".into(), Arm::Treatment)]),
        session_start_mean_abs_z: None,
    };
    let mut second = base.clone();
    second.event_id = "evt_0002".into();
    second.user_action = None;
    second.gap_after = None;
    second.improvement_ratio = None;
    second.notes = None;
    second.ab.clear();
    second.fix_type = FixType::VolumeAdjust;
    second.feature_name = "some_future_feature".into();
    let mut third = base.clone();
    third.event_id = "evt_0003".into();
    third.user_action = Some(UserAction::Modify);
    third.user_modified_value = Some(-5.25);
    third.was_undone = true;
    third.timestamp = Timestamp::parse("2023-12-31T23:59:59Z").unwrap();
    vec![base, second, third]
}

#[test]
fn import_then_export_is_the_identity() {
    let dir = TempDir::new("import");
    let events = sample_events();
    let src = dir.path().join("seed.jsonl");
    jsonl::write_file(&src, &events).unwrap();
    let log = dir.path().join("log");
    let imported = import_jsonl(&src, &log).unwrap();
    assert_eq!(imported.events, 3);
    let mut out = Vec::new();
    let exported = export_jsonl(&log, &mut out).unwrap();
    assert_eq!(exported.events, 3);
    let back = jsonl::read(&out[..], "export").unwrap();
    assert_eq!(back, events);
    // Byte for byte too: export writes what the source file holds.
    assert_eq!(out, std::fs::read(&src).unwrap());
    // `--feedback` accepts the file and the directory alike.
    assert_eq!(read_events(&src).unwrap(), events);
    assert_eq!(read_events(&log).unwrap(), events);
    // Importing again does not duplicate.
    import_jsonl(&src, &log).unwrap();
    assert_eq!(read_events(&log).unwrap(), events);
}

#[test]
fn read_events_names_a_missing_path() {
    let dir = TempDir::new("missing");
    let p = dir.path().join("nope.jsonl");
    let e = read_events(&p).unwrap_err();
    assert_eq!(e.kind(), fixloop::ErrorKind::NotFound);
    assert!(e.to_string().contains("nope.jsonl"), "{e}");
}

/// (offset, len) of every intact frame of a segment.
fn frame_spans(path: &Path) -> Vec<(usize, usize)> {
    let data = std::fs::read(path).unwrap();
    FrameScanner::new(&data[HEADER_LEN..], HEADER_LEN as u64)
        .filter_map(|s| match s {
            Scanned::Frame { offset, payload } => Some((offset as usize, payload.len() + 12)),
            _ => None,
        })
        .collect()
}

#[test]
fn torn_tail_is_reported_and_loses_nothing_before_it() {
    let dir = TempDir::new("torn");
    write_log(dir.path(), 20);
    let seg = &segments(dir.path())[0];
    let data = std::fs::read(seg).unwrap();
    // An interrupted append: the first 17 bytes of a copy of the first frame.
    let (off, _) = frame_spans(seg)[0];
    let mut torn = data.clone();
    torn.extend_from_slice(&data[off..off + 17]);
    std::fs::write(seg, &torn).unwrap();
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.count(ProblemKind::TornTail), 1);
    assert_eq!(report.count(ProblemKind::Damaged), 0);
    let p = &report.segments[0].problems[0];
    assert_eq!((p.offset, p.len_bytes), (data.len() as u64, 17));
    assert!(report
        .to_string()
        .contains(&format!("offset {}", data.len())));
    assert_eq!(fix_ids(dir.path()), expected(20));
}

#[test]
fn cut_inside_the_last_frame_loses_only_that_frame() {
    let dir = TempDir::new("cut");
    write_log(dir.path(), 20);
    let seg = &segments(dir.path())[0];
    let data = std::fs::read(seg).unwrap();
    // The last frame is the end mark; cut 3 bytes into it.
    let (off, _) = *frame_spans(seg).last().unwrap();
    std::fs::write(seg, &data[..off + 3]).unwrap();
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.count(ProblemKind::TornTail), 1);
    assert!(!report.segments[0].sealed);
    assert_eq!(fix_ids(dir.path()), expected(20));
}

#[test]
fn bit_flips_in_the_middle_lose_only_the_frames_hit() {
    let dir = TempDir::new("flip");
    write_log(dir.path(), 30);
    let seg = &segments(dir.path())[0];
    let spans = frame_spans(seg);
    let mut data = std::fs::read(seg).unwrap();
    // Frames 0..30 are r0..r29; hit r10's payload and r20's length field.
    data[spans[10].0 + spans[10].1 - 3] ^= 0x40;
    data[spans[20].0 + 5] ^= 0x01;
    std::fs::write(seg, &data).unwrap();
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.count(ProblemKind::Damaged), 2, "{report}");
    assert_eq!(report.count(ProblemKind::TornTail), 0);
    let offsets: Vec<u64> = report.segments[0]
        .problems
        .iter()
        .map(|p| p.offset)
        .collect();
    assert_eq!(offsets, [spans[10].0 as u64, spans[20].0 as u64]);
    let want: Vec<String> = expected(30)
        .into_iter()
        .filter(|s| s != "r10" && s != "r20")
        .collect();
    assert_eq!(fix_ids(dir.path()), want);
    assert!(
        report.segments[0].sealed,
        "the end mark after the damage is still read"
    );
}

#[test]
fn zero_length_truncated_header_and_foreign_files_are_reported_and_skipped() {
    let dir = TempDir::new("foreign");
    write_log(dir.path(), 5);
    let good = segments(dir.path())[0].clone();
    let header = std::fs::read(&good).unwrap()[..HEADER_LEN].to_vec();
    std::fs::write(
        dir.path()
            .join("seg-0000000000000001-0000000001-0000000000000001.fxl"),
        b"",
    )
    .unwrap();
    std::fs::write(
        dir.path()
            .join("seg-0000000000000002-0000000001-0000000000000002.fxl"),
        &header[..21],
    )
    .unwrap();
    std::fs::write(
        dir.path()
            .join("seg-0000000000000003-0000000001-0000000000000003.fxl"),
        b"# some other program's file, long enough to hold a header\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.segments.len(), 4);
    let problems: Vec<&str> = report
        .segments
        .iter()
        .filter_map(|s| s.header_problem.as_deref())
        .collect();
    assert_eq!(problems.len(), 3);
    assert!(problems[0].contains("truncated header") && problems[0].contains("0 bytes"));
    assert!(problems[1].contains("truncated header") && problems[1].contains("21 bytes"));
    assert!(problems[2].contains("not a fixloop segment"));
    assert_eq!(report.foreign_files, [dir.path().join("notes.txt")]);
    assert!(!report.is_clean());
    let text = report.to_string();
    assert!(
        text.contains("notes.txt") && text.contains("offset 0"),
        "{text}"
    );
    assert_eq!(fix_ids(dir.path()), expected(5));
    // A writer starting here leaves those files alone and still works.
    let c = Collector::open(dir.path(), &StoreOptions::default()).unwrap();
    c.fix_applied(&fix("after", 0)).unwrap();
    c.close().unwrap();
    let mut want = expected(5);
    want.push("after".into());
    assert_eq!(fix_ids(dir.path()), want);
}

#[test]
fn dead_writers_segment_is_recovered_sealed_and_its_tail_cut() {
    let dir = TempDir::new("recover");
    write_log(dir.path(), 10);
    let seg = segments(dir.path())[0].clone();
    let spans = frame_spans(&seg);
    let data = std::fs::read(&seg).unwrap();
    // Looks like a writer died mid-append: no end mark, half a frame, lock file free.
    let (end_off, _) = *spans.last().unwrap();
    let mut dead = data[..end_off].to_vec();
    dead.extend_from_slice(&data[spans[0].0..spans[0].0 + 9]);
    std::fs::write(&seg, &dead).unwrap();
    std::fs::write(fixloop::store::lock_path(&seg), b"").unwrap();
    assert_eq!(verify(dir.path()).unwrap().count(ProblemKind::TornTail), 1);

    let c = Collector::open(dir.path(), &StoreOptions::default()).unwrap();
    let rec = c
        .recovered()
        .iter()
        .find(|r| r.path == seg)
        .expect("recovered");
    assert_eq!((rec.torn_bytes, rec.records), (9, 10));
    c.fix_applied(&fix("new", 0)).unwrap();
    c.close().unwrap();
    assert!(!fixloop::store::lock_path(&seg).exists());
    let report = verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{report}");
    assert!(report.segments.iter().all(|s| s.sealed));
    let mut want = expected(10);
    want.push("new".into());
    assert_eq!(fix_ids(dir.path()), want);
}

#[test]
fn many_collectors_in_one_process_share_one_writer_and_lose_nothing() {
    let dir = TempDir::new("instances");
    let opts = StoreOptions::default();
    let cs: Vec<Collector> = (0..4)
        .map(|_| Collector::open(dir.path(), &opts).unwrap())
        .collect();
    assert!(cs.iter().all(|c| c.writer_id() == cs[0].writer_id()));
    std::thread::scope(|s| {
        for (k, c) in cs.iter().enumerate() {
            s.spawn(move || {
                for i in 0..1000 {
                    c.fix_applied(&fix(&format!("c{k}-{i}"), i)).unwrap();
                }
            });
        }
    });
    drop(cs);
    assert_eq!(segments(dir.path()).len(), 1);
    let mut counts: HashMap<String, u32> = HashMap::new();
    for id in fix_ids(dir.path()) {
        *counts.entry(id).or_default() += 1;
    }
    assert_eq!(counts.len(), 4000);
    assert!(counts.values().all(|&n| n == 1));
}

#[test]
fn open_on_an_unusable_path_is_a_clear_error_naming_it() {
    let dir = TempDir::new("unusable");
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let target = file.join("feedback");
    let e = Collector::open(&target, &StoreOptions::default())
        .err()
        .expect("a directory cannot be created under a file");
    assert_eq!(e.kind(), fixloop::ErrorKind::Io);
    assert!(e.to_string().contains("plain-file"), "{e}");
}

#[test]
fn collector_can_be_shared_between_the_audio_and_ui_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Collector>();
}

/// The directory reader streams segments in 1 MiB chunks; the slice reader scans a
/// whole file. Both must find the same records and the same problems, also when damage
/// straddles a chunk boundary.
#[test]
fn chunked_reading_agrees_with_whole_file_scanning_across_chunk_boundaries() {
    let dir = TempDir::new("chunks");
    write_log(dir.path(), 40_000);
    let seg = segments(dir.path())[0].clone();
    let intact = std::fs::read(&seg).unwrap();
    assert!(intact.len() > 3 << 20, "the log must span several chunks");
    let mut damaged = intact.clone();
    for at in [(1 << 20) - 5, (1 << 20) + 3, 2 << 20, (3 << 20) + 7] {
        damaged[at] ^= 0x10;
    }
    // Zero a run of several frames just after the 2 MiB chunk boundary too.
    for b in &mut damaged[(2 << 20) + 30..(2 << 20) + 300] {
        *b = 0;
    }
    damaged.extend_from_slice(&intact[HEADER_LEN..HEADER_LEN + 30]);
    for data in [&intact, &damaged] {
        std::fs::write(&seg, data).unwrap();
        let log = read_log(dir.path()).unwrap();
        let mut whole = Vec::new();
        let report = fixloop::store::read_segment_bytes(&seg, data, &mut whole);
        assert_eq!(log.entries, whole);
        assert_eq!(log.report.segments[0].problems, report.problems);
        assert_eq!(log.report.segments[0].records, report.records);
    }
    let report = verify(dir.path()).unwrap();
    // The two flips around 1 MiB hit one frame, the flip at 2 MiB joins the zeroed run.
    assert_eq!(report.count(ProblemKind::Damaged), 3, "{report}");
    assert_eq!(report.count(ProblemKind::TornTail), 1);
    let ids = fix_ids(dir.path());
    assert!(
        ids.len() >= 40_000 - 10 && ids.len() < 40_000,
        "{}",
        ids.len()
    );
}

#[test]
fn learning_reads_the_compact_fold_exactly_as_the_built_events() {
    use fixloop::learn::{refine, RefineOptions, Summary};
    use fixloop::profile::{FeatureStats, Profile};
    let dir = TempDir::new("compact-learning");
    let opts = StoreOptions::default();
    // Two collectors (two instances), several sessions, every action, outcomes on most.
    let cs: Vec<Collector> = (0..2)
        .map(|_| Collector::open(dir.path(), &opts).unwrap())
        .collect();
    let mut n = 0u64;
    for round in 0..6 {
        for (k, c) in cs.iter().enumerate() {
            c.start_session(&SessionInfo {
                track_path: format!("/music/t{k}.als"),
                session_id: format!("s{k}-{round}"),
                profile_version: "v1".into(),
                ab: BTreeMap::new(),
                start_mean_abs_z: None,
            })
            .unwrap();
            for i in 0..40u64 {
                n += 1;
                let mut f = fix(&format!("f{}", n % 7), n);
                f.fix_type = FixType::ALL[(n % 6) as usize];
                f.feature = fixloop::features::Feature::ALL[(n * 7 % 11) as usize];
                let id = c.fix_applied(&f).unwrap();
                let action = UserAction::ALL[((n * 5 + i) % 5).min(3) as usize];
                if !(n + i).is_multiple_of(9) {
                    let value = (action == UserAction::Modify).then_some(-4.0);
                    c.user_action(id, action, value).unwrap();
                }
                if !n.is_multiple_of(4) {
                    c.outcome(id, (n % 13) as f64 * 0.2 - 1.0).unwrap();
                }
            }
            c.session_saved().unwrap();
        }
    }
    drop(cs);
    let events = read_events(dir.path()).unwrap();
    let folded = fixloop::store::load_feedback(dir.path()).unwrap();
    assert_eq!(events.len() as u64, n);
    let now = Timestamp::now();
    let a = Summary::compute(&events, None, now).unwrap();
    let b = Summary::compute(&folded, None, now).unwrap();
    assert_eq!(a, b);
    assert_eq!(b.total, n);
    let mut profile = Profile::new("p");
    profile.track_count = 10;
    let samples: Vec<f64> = (0..10).map(|i| i as f64).collect();
    for f in fixloop::features::Feature::ALL {
        profile.features.insert(
            f.name().into(),
            FeatureStats::from_samples(&samples).unwrap(),
        );
    }
    let options = RefineOptions::new(chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap());
    let ra = refine(&profile, &events, &options).unwrap();
    let rb = refine(&profile, &folded, &options).unwrap();
    assert_eq!(ra.report, rb.report);
    assert_eq!(ra.profile, rb.profile);
    // Something was actually decided from the feedback.
    assert!(rb.report.confidence.len() == FixType::ALL.len());
}
