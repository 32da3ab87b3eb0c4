//! JSON-lines interchange (SPEC §3.1): files in the Python prototype's format import
//! unchanged, export then import is the identity, and bad lines are refused with their
//! line number.

use fixloop::features::FixType;
use fixloop::feedback::{jsonl, Arm, FeedbackEvent, Timestamp, UserAction};
use std::path::Path;

fn fixture() -> Vec<FeedbackEvent> {
    jsonl::read_file(Path::new("tests/data/seed_feedback.jsonl")).unwrap()
}

#[test]
fn seed_format_imports_with_nulls_extras_and_python_spellings() {
    let events = fixture();
    assert_eq!(events.len(), 4, "the blank line is skipped");
    let e = &events[0];
    assert_eq!(e.fix_type, FixType::EqBandCut);
    assert_eq!(e.user_action, Some(UserAction::Accept));
    assert_eq!(e.improvement_ratio, Some(0.79));
    assert_eq!(e.user_modified_value, None);
    // Python's isoformat() without an offset is taken as UTC.
    assert_eq!(
        e.timestamp,
        Timestamp::parse("2024-01-15T10:30:00.123456Z").unwrap()
    );
    // Enum spellings, integer numbers, nulls and unknown fields of the prototype.
    let e = &events[1];
    assert_eq!(e.fix_type, FixType::VolumeAdjust);
    assert_eq!(e.original_value, -11.0);
    assert_eq!(e.user_action, None);
    assert_eq!(e.gap_after, None);
    assert_eq!(events[2].fix_type, FixType::WidthAdjust);
    assert_eq!(events[2].timestamp.to_string(), "2024-01-16T08:00:00Z");
    // A given improvement_ratio is kept as it is (the seed's signed 1.18, not recomputed).
    assert_eq!(events[2].improvement_ratio, Some(1.18));
    assert_eq!(events[2].notes.as_deref(), Some("too narrow, backed off"));
    assert_eq!(events[3].ab["targeting_strategy_001"], Arm::Treatment);
    assert!(events[0].ab.is_empty());
}

#[test]
fn export_then_import_is_identity() {
    let events = fixture();
    let mut buf = Vec::new();
    jsonl::write(&mut buf, &events).unwrap();
    let again = jsonl::read(buf.as_slice(), "buffer").unwrap();
    assert_eq!(events, again);
    // And exporting again gives the same bytes.
    let mut buf2 = Vec::new();
    jsonl::write(&mut buf2, &again).unwrap();
    assert_eq!(buf, buf2);
    // Exported lines carry exactly the seed's fields (plus `ab` when present).
    let first: serde_json::Value =
        serde_json::from_str(std::str::from_utf8(&buf).unwrap().lines().next().unwrap()).unwrap();
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let mut want = vec![
        "event_id",
        "timestamp",
        "fix_id",
        "fix_type",
        "feature_name",
        "track_path",
        "session_id",
        "profile_version",
        "original_value",
        "target_value",
        "applied_value",
        "user_action",
        "was_applied",
        "was_undone",
        "gap_before",
        "gap_after",
        "improvement_ratio",
        "user_modified_value",
        "session_saved_after",
        "track_bounced_after",
        "notes",
    ];
    let mut got = keys.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
}

fn line_error(line: &str) -> String {
    let text = format!("\n{line}\n");
    jsonl::read(text.as_bytes(), "fb.jsonl")
        .unwrap_err()
        .to_string()
}

fn fixture_line(replace: &str, with: &str) -> String {
    let text = std::fs::read_to_string("tests/data/seed_feedback.jsonl").unwrap();
    let line = text.lines().next().unwrap();
    assert!(line.contains(replace));
    line.replace(replace, with)
}

#[test]
fn nan_and_infinity_are_refused_with_line_and_field() {
    let e = line_error(&fixture_line("\"gap_before\": 1.58", "\"gap_before\": NaN"));
    assert!(e.starts_with("fb.jsonl: line 2: field gap_before:"), "{e}");
    assert!(e.contains("NaN is not a finite number"), "{e}");
    let e = line_error(&fixture_line(
        "\"gap_after\": 0.33",
        "\"gap_after\": -Infinity",
    ));
    assert!(e.contains("gap_after") && e.contains("-Infinity"), "{e}");
}

#[test]
fn malformed_lines_are_refused_with_line_and_field() {
    let e = line_error(&fixture_line(
        "\"user_action\": \"accept\"",
        "\"user_action\": \"love\"",
    ));
    assert!(e.contains("line 2: field user_action"), "{e}");
    assert!(e.contains("unknown user_action \"love\""), "{e}");
    let e = line_error(&fixture_line(
        "\"fix_type\": \"eq_band_cut\"",
        "\"fix_type\": \"reverb\"",
    ));
    assert!(e.contains("unknown fix_type \"reverb\""), "{e}");
    let e = line_error(&fixture_line(
        "\"timestamp\": \"2024-01-15T10:30:00.123456\"",
        "\"timestamp\": \"soon\"",
    ));
    assert!(
        e.contains("field timestamp") && e.contains("not RFC 3339"),
        "{e}"
    );
    let e = line_error(&fixture_line("\"fix_id\": \"fix_bass_01\", ", ""));
    assert!(e.contains("missing field `fix_id`"), "{e}");
    let e = line_error("{\"event_id\": ");
    assert!(e.starts_with("fb.jsonl: line 2"), "{e}");
}

/// A file many read blocks long (blocks are 2 MiB): the parallel reader returns the
/// events in file order, skips blank lines anywhere, takes CRLF endings and a last line
/// without a newline, and names the global line number of the first bad line, also when
/// later blocks hold bad lines too.
#[test]
fn large_files_read_in_order_and_name_the_first_bad_line() {
    let base = fixture_line("\"fix_bass_01\"", "\"fix_XXXXXX\"");
    let line = |i: usize| base.replace("fix_XXXXXX", &format!("fix_{i:06}"));
    const LINES: usize = 20_000; // about 9 MB: several blocks
    let mut text = String::new();
    for i in 1..=LINES {
        match i % 997 {
            0 => text.push('\n'), // a blank line
            1 => text.push_str(&format!("{}\r\n", line(i))),
            _ => text.push_str(&format!("{}\n", line(i))),
        }
    }
    text.push_str(&line(LINES + 1)); // no final newline
    assert!(text.len() > 4 * (1 << 21), "{} bytes", text.len());
    let events = jsonl::read(text.as_bytes(), "big.jsonl").unwrap();
    let expected: Vec<String> = (1..=LINES + 1)
        .filter(|i| i % 997 != 0)
        .map(|i| format!("fix_{i:06}"))
        .collect();
    let got: Vec<&str> = events.iter().map(|e| e.fix_id.as_str()).collect();
    assert_eq!(got, expected);

    // Bad lines at 15 000 (a late block) and 18 000: the error names line 15 000.
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    lines[15_000 - 1] = "{\"event_id\": ".into();
    lines[18_000 - 1] = "not json".into();
    let bad = lines.join("\n");
    let e = jsonl::read(bad.as_bytes(), "big.jsonl")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("big.jsonl: line 15000"), "{e}");

    // Invalid UTF-8 is named by line too.
    let mut bytes = text.clone().into_bytes();
    let at = text.match_indices('\n').nth(12_344).unwrap().0 + 10;
    bytes[at] = 0xff;
    let e = jsonl::read(&bytes[..], "big.jsonl")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("big.jsonl: line 12346"), "{e}");
}

/// Regression (issue 14, item 3): importing a prototype file and exporting it changed about
/// one number in eight in its last digit (`-1.5013706723653701` came back as
/// `-1.50137067236537`), because the JSON number parser was not correctly rounded. Every
/// double must survive text → event → log → event → text exactly: 100 000 random doubles
/// (random bit patterns, so subnormals and extremes are well represented), plus negative
/// zero, the smallest subnormal, the largest finite values and the example.
#[test]
fn import_then_export_gives_back_every_number_exactly() {
    let mut rng = fixloop::rng::SplitMix64::new(2026);
    let mut values = vec![
        -1.501_370_672_365_370_1,
        -0.0,
        0.0,
        f64::from_bits(1),
        -f64::from_bits(1),
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        2.225_073_858_507_201e-308,
    ];
    while values.len() < 100_000 {
        let v = f64::from_bits(rng.next_u64());
        if v.is_finite() {
            values.push(v);
        }
    }
    let base = fixture()[0].clone();
    let events: Vec<FeedbackEvent> = values
        .chunks(4)
        .enumerate()
        .map(|(i, v)| FeedbackEvent {
            event_id: format!("e{i}").into(),
            original_value: v[0],
            target_value: v.get(1).copied().unwrap_or(0.5),
            applied_value: v.get(2).copied().unwrap_or(0.5),
            gap_before: v.get(3).copied().unwrap_or(0.5),
            gap_after: v.get(3).copied(),
            improvement_ratio: Some(v[0]),
            ..base.clone()
        })
        .collect();
    let dir = tempfile_dir("bitexact");
    let src = dir.join("in.jsonl");
    jsonl::write_file(&src, &events).unwrap();
    let parsed = jsonl::read_file(&src).unwrap();
    let bits = |e: &FeedbackEvent| {
        [
            e.original_value,
            e.target_value,
            e.applied_value,
            e.gap_before,
            e.gap_after.unwrap(),
            e.improvement_ratio.unwrap(),
        ]
        .map(f64::to_bits)
    };
    for (a, b) in events.iter().zip(&parsed) {
        assert_eq!(bits(a), bits(b), "{a:?} came back as {b:?}");
    }
    let log = dir.join("log");
    fixloop::store::import_jsonl(&src, &log).unwrap();
    let out = dir.join("out.jsonl");
    fixloop::store::export_jsonl_file(&log, &out).unwrap();
    assert_eq!(
        std::fs::read_to_string(&src).unwrap(),
        std::fs::read_to_string(&out).unwrap(),
        "import then export gives back the same text"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempfile_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("fixloop-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
