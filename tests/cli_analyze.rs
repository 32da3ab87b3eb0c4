//! `fixloop analyze` on the example data: the readable report, the `--json` fields of
//! SPEC §5, and one-line errors with a non-zero exit.

use std::process::Command;

const PROFILE: &str = "assets/trance_profile.json";
const WIP: &str = "examples/data/wip_features.json";

fn fixloop(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fixloop"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn report_shows_score_gaps_and_fixes() {
    let out = fixloop(&["analyze", WIP, "--profile", PROFILE]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Profile: trance (trance_v1, 40 tracks"),
        "{text}"
    );
    assert!(text.contains("Score: "), "{text}");
    assert!(text.contains("low_end_width"), "{text}");
    assert!(
        text.contains("Narrow the stereo image by") && text.contains("for the low end's width"),
        "{text}"
    );
}

#[test]
fn json_has_spec_fields_consistent_with_the_library() {
    let out = fixloop(&["analyze", WIP, "--profile", PROFILE, "--json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["features"]["loudness"], -10.9);
    let score = doc["score"].as_f64().unwrap();
    assert!((0.0..100.0).contains(&score));
    let gap = &doc["gaps"]["low_end_width"];
    assert_eq!(gap["in_range"], false);
    assert!(gap["z"].as_f64().unwrap() > 2.0);
    let fixes = doc["fixes"].as_array().unwrap();
    assert!(!fixes.is_empty());
    for f in fixes {
        for key in [
            "fix_id",
            "action_type",
            "gap_feature",
            "current_value",
            "target_value",
            "new_value",
            "setting",
            "confidence",
            "z_score",
        ] {
            assert!(f.get(key).is_some(), "fix lacks {key}: {f}");
        }
        assert!(f["confidence"].as_f64().unwrap() >= 0.5);
    }
    // Tighter policy → fewer fixes.
    let strict = fixloop(&[
        "analyze",
        WIP,
        "--profile",
        PROFILE,
        "--json",
        "--min-confidence",
        "0.7",
    ]);
    let strict: serde_json::Value = serde_json::from_slice(&strict.stdout).unwrap();
    assert!(strict["fixes"].as_array().unwrap().len() < fixes.len());
}

#[test]
fn errors_are_one_line_and_exit_non_zero() {
    let out = fixloop(&["analyze", "missing.json", "--profile", PROFILE]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("missing.json"), "{err}");
    let out = fixloop(&["analyze", WIP, "--profile", WIP]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(err.contains("not a fixloop profile"), "{err}");
    let out = fixloop(&["analyze", WIP, "--profile", PROFILE, "--amount", "2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("amount is 2"));
}
