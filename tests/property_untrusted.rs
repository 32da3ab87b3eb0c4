//! Property tests of every parser that reads what a user, a host or a crash may hand it,
//! with fixed case counts so CI does the same work on every run:
//!
//! - the segment reader on random bytes and on random mutations of a valid segment (bit
//!   flips, truncations, spliced frames and garbage): never a panic, every frame the
//!   mutation did not touch is read, and damage is reported;
//! - the JSON-lines importer, the profile loader, the features file and the A/B test
//!   file on random text and on random mutations of valid documents: never a panic, and
//!   every error names the document and a line or a field;
//! - the C ABI with random lengths, NULL pointers and invalid enum values: a status code
//!   (never a crash), out-parameters untouched on failure.

use fixloop::feedback::records::{
    Bounce, BounceEvidence, EventId, FixApplied, FixId, Outcome, Record, SessionMark,
};
use fixloop::store::frame::{encode_frame, SegmentHeader, FORMAT_VERSION, HEADER_LEN};
use fixloop::store::read_segment_bytes;
use proptest::prelude::*;
use std::path::Path;

/// A fixed case count and a fixed seed: CI runs the same cases every time (a failure
/// reproduces), and no regression files are written into the source tree.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_f1c5),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- segment reader

/// A valid segment of `n` records and the byte range of each frame.
fn segment(n: usize) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let header = SegmentHeader {
        version: FORMAT_VERSION,
        writer: 0xfeed,
        created_us: 1_700_000_000_000_000,
        pid: 42,
    };
    let mut buf = header.encode().to_vec();
    let mut ranges = Vec::new();
    for i in 0..n {
        let event = EventId {
            collector: 7,
            serial: i as u32,
        };
        let record = match i % 4 {
            0 => Record::FixApplied(FixApplied {
                event,
                session: 1,
                fix_id: FixId::new(&format!("bass.cut.{i:04}")).unwrap(),
                feature: 5,
                fix_type: 1,
                original_value: -3.0 - i as f64,
                target_value: -6.0,
                applied_value: -4.5,
                gap_before: 1.25,
                was_applied: true,
            }),
            1 => Record::Outcome(Outcome {
                event,
                gap_after: 0.5,
            }),
            2 => Record::SessionSaved(SessionMark { session: 1 }),
            _ => Record::TrackBounced(Bounce {
                session: 1,
                evidence: BounceEvidence::Host,
                renders: 1 + i as u32,
            }),
        };
        let start = buf.len();
        encode_frame(
            &mut buf,
            i as u64 + 1,
            1_700_000_000_000_000 + i as i64,
            7,
            &record,
        );
        ranges.push(start..buf.len());
    }
    (buf, ranges)
}

fn read(data: &[u8]) -> (Vec<u64>, fixloop::store::SegmentReport) {
    let mut entries = Vec::new();
    let report = read_segment_bytes(Path::new("mutated.fxl"), data, &mut entries);
    (entries.iter().map(|e| e.seq).collect(), report)
}

/// The sequence numbers (from 1) of the frames that lie wholly outside `touched`.
fn untouched(ranges: &[std::ops::Range<usize>], touched: &[usize]) -> Vec<u64> {
    ranges
        .iter()
        .enumerate()
        .filter(|(_, r)| !touched.iter().any(|p| r.contains(p)))
        .map(|(i, _)| i as u64 + 1)
        .collect()
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn segment_reader_takes_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let (_, report) = read(&bytes);
        if bytes.len() < HEADER_LEN {
            prop_assert!(report.header_problem.is_some());
        }
    }

    #[test]
    fn segment_reader_keeps_every_frame_a_bit_flip_missed(
        n in 1usize..40,
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), 0u8..8), 1..6),
    ) {
        let (mut data, ranges) = segment(n);
        let body = HEADER_LEN..data.len();
        let positions: Vec<usize> = flips
            .iter()
            .map(|(i, _)| body.start + i.index(body.len()))
            .collect();
        let original = data.clone();
        for ((_, bit), &p) in flips.iter().zip(&positions) {
            data[p] ^= 1 << bit;
        }
        // Flips of one bit twice cancel: only bytes that differ are damage.
        let positions: Vec<usize> = positions
            .into_iter()
            .filter(|&p| data[p] != original[p])
            .collect();
        let (seqs, report) = read(&data);
        let kept = untouched(&ranges, &positions);
        for s in &kept {
            prop_assert!(seqs.contains(s), "frame {s} lost: read {seqs:?}, {report:?}");
        }
        prop_assert_eq!(
            !report.problems.is_empty(),
            !positions.is_empty(),
            "damage reported exactly when bytes changed: {:?}",
            report
        );
        // Nothing is invented: every frame read is an original one.
        prop_assert!(seqs.iter().all(|s| (1..=n as u64).contains(s)));
    }

    #[test]
    fn segment_reader_keeps_every_frame_before_a_truncation(
        n in 1usize..40,
        cut in any::<proptest::sample::Index>(),
    ) {
        let (data, ranges) = segment(n);
        let len = HEADER_LEN + cut.index(data.len() - HEADER_LEN + 1);
        let (seqs, report) = read(&data[..len]);
        let whole: Vec<u64> = ranges
            .iter()
            .enumerate()
            .filter(|(_, r)| r.end <= len)
            .map(|(i, _)| i as u64 + 1)
            .collect();
        prop_assert_eq!(&seqs, &whole);
        let cuts_a_frame = ranges.iter().any(|r| r.start < len && len < r.end);
        prop_assert_eq!(!report.problems.is_empty(), cuts_a_frame, "{:?}", report);
    }

    #[test]
    fn segment_reader_resynchronises_after_spliced_frames_and_garbage(
        n in 2usize..30,
        at in any::<proptest::sample::Index>(),
        garbage in proptest::collection::vec(any::<u8>(), 1..200),
        dup in any::<proptest::sample::Index>(),
    ) {
        let (data, ranges) = segment(n);
        // Garbage, then a copy of a whole frame, inserted at a frame boundary.
        let boundary = ranges[at.index(n)].start;
        let copied = ranges[dup.index(n)].clone();
        let mut spliced = data[..boundary].to_vec();
        spliced.extend_from_slice(&garbage);
        spliced.extend_from_slice(&data[copied.clone()]);
        spliced.extend_from_slice(&data[boundary..]);
        let (seqs, report) = read(&spliced);
        for s in 1..=n as u64 {
            prop_assert!(seqs.contains(&s), "frame {s} lost: {seqs:?} {report:?}");
        }
        prop_assert!(!report.problems.is_empty(), "garbage not reported");
    }
}

// ---------------------------------------------------------------- documents

/// One random edit of a document: delete, insert or replace a span.
fn mutate(doc: &str, edits: &[(proptest::sample::Index, u8, String)]) -> String {
    let mut s: Vec<char> = doc.chars().collect();
    for (at, kind, text) in edits {
        let i = at.index(s.len().max(1)).min(s.len());
        let t: Vec<char> = text.chars().collect();
        match kind % 3 {
            0 => {
                let end = (i + t.len().max(1)).min(s.len());
                s.drain(i..end);
            }
            1 => {
                s.splice(i..i, t);
            }
            _ => {
                let end = (i + t.len()).min(s.len());
                s.splice(i..end, t);
            }
        }
    }
    s.into_iter().collect()
}

fn edits() -> impl Strategy<Value = Vec<(proptest::sample::Index, u8, String)>> {
    proptest::collection::vec(
        (
            any::<proptest::sample::Index>(),
            any::<u8>(),
            prop_oneof![
                "[\\[\\]{}\",:0-9.eE+-]{1,4}",
                Just("NaN".to_string()),
                Just("null".to_string()),
                Just("1e999".to_string()),
                Just("-".to_string()),
                "\\PC{0,6}",
            ],
        ),
        1..4,
    )
}

/// The keys of a JSON document (the fields an error may name).
fn keys(doc: &str) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    out.push(k.clone());
                    walk(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for line in doc.lines().filter(|l| !l.trim().is_empty()) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            walk(&v, &mut out);
        }
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(doc) {
        walk(&v, &mut out);
    }
    out
}

/// An error about document `origin` names it and a line or one of its fields.
fn names_where(e: &fixloop::Error, origin: &str, fields: &[String]) -> Result<(), TestCaseError> {
    let msg = format!("{e:#}");
    prop_assert!(msg.contains(origin), "{msg}");
    let line = msg.contains("line ");
    let field = fields
        .iter()
        .any(|k| k.len() > 1 && msg.contains(k.as_str()))
        || fixloop::features::Feature::ALL
            .iter()
            .any(|f| msg.contains(f.name()));
    prop_assert!(line || field, "names neither a line nor a field: {msg}");
    Ok(())
}

const SEED_LINES: &str = include_str!("data/seed_feedback.jsonl");
const PROFILE: &str = include_str!("../assets/trance_profile.json");
const FEATURES: &str = include_str!("../examples/data/wip_features.json");
const AB_TEST: &str = include_str!("../examples/data/abtest_targeting.json");

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn jsonl_importer_takes_mutated_and_random_lines(e in edits(), random in "\\PC{0,300}") {
        let fields = keys(SEED_LINES);
        for doc in [mutate(SEED_LINES, &e), random] {
            if let Err(err) = fixloop::feedback::jsonl::read(doc.as_bytes(), "fb.jsonl") {
                names_where(&err, "fb.jsonl", &fields)?;
            }
        }
    }

    #[test]
    fn profile_loader_takes_mutated_and_random_documents(e in edits(), random in "\\PC{0,300}") {
        let fields = keys(PROFILE);
        for doc in [mutate(PROFILE, &e), random] {
            if let Err(err) = fixloop::profile::Profile::from_json(&doc, "p.json") {
                names_where(&err, "p.json", &fields)?;
            }
        }
    }

    #[test]
    fn features_file_takes_mutated_and_random_documents(e in edits(), random in "\\PC{0,300}") {
        let fields = keys(FEATURES);
        for doc in [mutate(FEATURES, &e), random] {
            if let Err(err) = fixloop::features::FeatureVector::from_json(&doc, "f.json") {
                names_where(&err, "f.json", &fields)?;
            }
        }
    }

    #[test]
    fn ab_test_file_takes_mutated_and_random_documents(e in edits(), random in "\\PC{0,300}") {
        let fields = keys(AB_TEST);
        for doc in [mutate(AB_TEST, &e), random] {
            if let Err(err) = fixloop::learn::ab::AbTest::from_json(&doc, "t.json") {
                names_where(&err, "t.json", &fields)?;
            }
        }
    }
}

// ---------------------------------------------------------------- C ABI

mod c_abi {
    use super::*;
    use fixloop::ffi::fixloop_status::FIXLOOP_OK;
    use fixloop::ffi::*;
    use std::ptr::{null, null_mut};

    fn profile() -> *mut fixloop_profile {
        let mut p = null_mut();
        // SAFETY: valid buffer and out-pointer.
        let s = unsafe { fixloop_profile_from_json(PROFILE.as_ptr(), PROFILE.len(), &mut p) };
        assert_eq!(s, FIXLOOP_OK);
        p
    }

    proptest! {
        #![proptest_config(config(300))]

        #[test]
        fn profile_from_json_takes_any_bytes(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            null_buf in any::<bool>(),
            extra_len in 0usize..3,
        ) {
            let mut out = null_mut();
            let (ptr, len) = if null_buf {
                (null(), bytes.len() + extra_len)
            } else {
                (bytes.as_ptr(), bytes.len())
            };
            // SAFETY: a NULL buffer (refused) or a valid one of its length.
            let s = unsafe { fixloop_profile_from_json(ptr, len, &mut out) };
            if s == FIXLOOP_OK {
                prop_assert!(!out.is_null() && !null_buf);
                // SAFETY: a handle the call made.
                unsafe { fixloop_profile_free(out) };
            } else {
                prop_assert!(out.is_null(), "out-parameter written on failure");
            }
        }

        #[test]
        fn scoring_and_proposing_take_random_values_ids_and_policies(
            values in proptest::collection::vec((0u32..20, any::<f64>()), 0..24),
            strategy in 0u32..6,
            amount in prop_oneof![0.0..=1.0f64, any::<f64>()],
            min_confidence in prop_oneof![0.0..=1.0f64, any::<f64>()],
            gaps_cap in 0usize..20,
            null_values in any::<bool>(),
            null_profile in any::<bool>(),
            null_policy in any::<bool>(),
            index in 0usize..30,
            cap in 0usize..80,
            setting in any::<f64>(),
        ) {
            let p = if null_profile { null_mut() } else { profile() };
            let v: Vec<fixloop_feature_value> = values
                .iter()
                .map(|&(feature, value)| fixloop_feature_value { feature, value })
                .collect();
            let vals = if null_values { null() } else { v.as_ptr() };
            let mut score = std::mem::MaybeUninit::<fixloop_score>::zeroed();
            let mut gaps = vec![std::mem::MaybeUninit::<fixloop_gap>::zeroed(); gaps_cap];
            let mut n = 0usize;
            // SAFETY: NULL or valid pointers with their lengths.
            let _ = unsafe {
                fixloop_score_track(
                    p,
                    vals,
                    v.len(),
                    score.as_mut_ptr(),
                    gaps.as_mut_ptr().cast(),
                    gaps_cap,
                    &mut n,
                )
            };
            let policy = fixloop_policy { target_strategy: strategy, amount, min_confidence };
            let pol = if null_policy { null() } else { &policy as *const _ };
            let mut list = null_mut();
            // SAFETY: as above.
            let s = unsafe { fixloop_propose_fixes(p, vals, v.len(), pol, &mut list) };
            if s == FIXLOOP_OK {
                let mut len = 0usize;
                let mut fix = std::mem::MaybeUninit::<fixloop_fix>::zeroed();
                let mut buf = vec![1 as std::ffi::c_char; cap];
                let mut out_len = 0usize;
                let mut aimed = 0.0;
                let controls = [0.0f64; 9];
                let mut mv = std::mem::MaybeUninit::<fixloop_control_move>::zeroed();
                let mut applies = false;
                // SAFETY: a live list, valid buffers with their lengths.
                unsafe {
                    prop_assert_eq!(fixloop_fix_list_len(list, &mut len), FIXLOOP_OK);
                    let _ = fixloop_fix_list_get(list, index, fix.as_mut_ptr());
                    let d = fixloop_fix_list_describe(list, index, buf.as_mut_ptr(), cap, &mut out_len);
                    let wrote = d == FIXLOOP_OK
                        || d == fixloop_status::FIXLOOP_ERR_BUFFER_TOO_SMALL;
                    if wrote && cap > 0 {
                        prop_assert!(buf.contains(&0), "text not NUL-terminated in its buffer");
                    }
                    prop_assert!(index < len || d != FIXLOOP_OK);
                    let _ = fixloop_fix_list_aimed_value(list, index, setting, &mut aimed);
                    let _ = fixloop_fix_list_control_move(
                        list, index, controls.as_ptr(), setting, mv.as_mut_ptr(), &mut applies,
                    );
                    let _ = fixloop_fix_list_control_move(
                        list, index, null(), setting, mv.as_mut_ptr(), &mut applies,
                    );
                    fixloop_fix_list_free(list);
                }
            } else {
                prop_assert!(list.is_null());
            }
            if !p.is_null() {
                // SAFETY: a handle this test made.
                unsafe { fixloop_profile_free(p) };
            }
        }

        #[test]
        fn enums_and_names_take_any_value(id in any::<u32>(), name in "\\PC{0,20}") {
            // Any id gives NULL or a static string.
            let _ = fixloop_feature_name(id);
            // SAFETY: always a static string.
            let m = unsafe { std::ffi::CStr::from_ptr(fixloop_status_message(id)) };
            prop_assert!(!m.to_bytes().is_empty());
            let c = std::ffi::CString::new(name.replace('\0', "")).unwrap();
            let mut out = u32::MAX;
            // SAFETY: a valid string and out-pointer, then NULLs.
            unsafe {
                if fixloop_feature_from_name(c.as_ptr(), &mut out) != FIXLOOP_OK {
                    prop_assert_eq!(out, u32::MAX, "out-parameter written on failure");
                }
                prop_assert_ne!(fixloop_feature_from_name(null(), &mut out), FIXLOOP_OK);
                prop_assert_ne!(fixloop_feature_from_name(c.as_ptr(), null_mut()), FIXLOOP_OK);
            }
            let p = profile();
            let mut stats = std::mem::MaybeUninit::<fixloop_feature_stats>::zeroed();
            let mut conf = -1.0;
            // SAFETY: a live handle, valid out-pointers.
            unsafe {
                let _ = fixloop_profile_feature_stats(p, id, stats.as_mut_ptr());
                if fixloop_profile_fix_confidence(p, id, &mut conf) != FIXLOOP_OK {
                    prop_assert_eq!(conf, -1.0);
                }
                fixloop_profile_free(p);
            }
        }
    }
}
