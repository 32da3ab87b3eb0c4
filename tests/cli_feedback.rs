//! The feedback commands end to end: import → verify → export is the identity, `--feedback`
//! reads a log directory or a `.jsonl` file alike, summary/refine/ab print the SPEC §5 JSON
//! fields, and bad input gives one clear line and a non-zero exit.

use learn_support::{
    AB_STATUS_FIELDS, ADJUSTMENT_FIELDS, FEATURE_FIELDS, FIX_TYPE_FIELDS, SUMMARY_FIELDS,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod learn_support;

const SEED: &str = "tests/data/seed_feedback.jsonl";
const PROFILE: &str = "assets/trance_profile.json";

fn home(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fixloop-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn fixloop(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fixloop"))
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).unwrap()
}

#[test]
fn import_verify_export_round_trip() {
    let h = home("roundtrip");
    ok(&fixloop(&h, &["import", SEED]));
    let verify = ok(&fixloop(&h, &["verify"]));
    assert!(verify.contains("no damaged or torn frames"), "{verify}");
    let exported = ok(&fixloop(&h, &["export"]));
    let original = fixloop::feedback::jsonl::read_file(Path::new(SEED)).unwrap();
    let again = fixloop::feedback::jsonl::read(exported.as_bytes(), "export").unwrap();
    assert_eq!(original, again);
    // The log and the .jsonl file give the same summary.
    let from_log = json(&fixloop(&h, &["summary", "--json"]));
    let from_file = json(&fixloop(&h, &["summary", "--json", "--feedback", SEED]));
    assert_eq!(from_log, from_file);
    std::fs::remove_dir_all(&h).unwrap();
}

#[test]
fn summary_json_has_spec_fields() {
    let h = home("summary");
    let s = json(&fixloop(&h, &["summary", "--json", "--feedback", SEED]));
    for key in SUMMARY_FIELDS {
        assert!(s.get(key).is_some(), "summary lacks {key}");
    }
    assert_eq!(s["total"], 4);
    // One accept in four events (hand count of the fixture).
    assert_eq!(s["accept_rate"], 0.25);
    let cut = &s["by_fix_type"]["eq_band_cut"];
    for key in FIX_TYPE_FIELDS {
        assert!(cut.get(key).is_some(), "by_fix_type lacks {key}");
    }
    // 0.4·1 + 0.4·0.79 + 0.2·1 = 0.916 (SPEC §4.1 on the fixture's one eq_band_cut event).
    assert!((cut["effectiveness"].as_f64().unwrap() - 0.916).abs() < 1e-12);
    let bass = &s["by_feature"]["bass_level"];
    for key in FEATURE_FIELDS {
        assert!(bass.get(key).is_some(), "by_feature lacks {key}");
    }
    let human = ok(&fixloop(&h, &["summary", "--feedback", SEED]));
    assert!(
        human.contains("Feedback Summary") && human.contains("By Fix Type:"),
        "{human}"
    );
}

#[test]
fn refine_writes_a_new_profile_and_never_the_input() {
    let h = home("refine");
    std::fs::create_dir_all(&h).unwrap();
    let out = h.join("refined.json");
    let out_s = out.to_str().unwrap();
    let r = json(&fixloop(
        &h,
        &[
            "refine",
            "--profile",
            PROFILE,
            "--feedback",
            SEED,
            "--output",
            out_s,
            "--min-events",
            "1",
            "--json",
        ],
    ));
    assert!(r["version"]
        .as_str()
        .unwrap()
        .starts_with("trance_v1_refined_"));
    let adjustments = r["adjustments"].as_array().unwrap();
    let bass = adjustments
        .iter()
        .find(|a| a["feature"] == "bass_level")
        .unwrap();
    for key in ADJUSTMENT_FIELDS {
        assert!(bass.get(key).is_some(), "adjustment lacks {key}");
    }
    assert_eq!(bass["decision"], "narrow");
    assert!(r["confidence"]["eq_band_cut"].get("alpha").is_some());
    let refined = fixloop::profile::Profile::load(&out).unwrap();
    assert_eq!(refined.version, r["version"].as_str().unwrap());
    // Dry run writes nothing; the input is refused as output.
    let dry = h.join("dry.json");
    ok(&fixloop(
        &h,
        &[
            "refine",
            "--profile",
            PROFILE,
            "--feedback",
            SEED,
            "--output",
            dry.to_str().unwrap(),
            "--dry-run",
        ],
    ));
    assert!(!dry.exists());
    let same = fixloop(
        &h,
        &[
            "refine",
            "--profile",
            PROFILE,
            "--feedback",
            SEED,
            "--output",
            PROFILE,
        ],
    );
    assert!(!same.status.success());
    assert!(String::from_utf8_lossy(&same.stderr).contains("never overwrites its input"));
    std::fs::remove_dir_all(&h).unwrap();
}

#[test]
fn ab_create_list_status_and_errors() {
    let h = home("ab");
    ok(&fixloop(
        &h,
        &["ab", "create", "examples/data/abtest_targeting.json"],
    ));
    let again = fixloop(&h, &["ab", "create", "examples/data/abtest_targeting.json"]);
    assert!(!again.status.success(), "an existing id is refused");
    assert!(ok(&fixloop(&h, &["ab", "list"])).contains("targeting_strategy_001"));
    let s = json(&fixloop(
        &h,
        &[
            "ab",
            "status",
            "--test",
            "targeting_strategy_001",
            "--feedback",
            SEED,
            "--json",
        ],
    ));
    for key in AB_STATUS_FIELDS {
        assert!(s.get(key).is_some(), "ab status lacks {key}");
    }
    assert_eq!(s["recommendation"], "keep_running");
    let unknown = fixloop(&h, &["ab", "status", "--test", "nope"]);
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no A/B test \"nope\""), "{err}");
    std::fs::remove_dir_all(&h).unwrap();
}

#[test]
fn bad_feedback_inputs_are_clear_errors() {
    let h = home("bad");
    // An explicit --feedback that does not exist stays an error, for every reader.
    for cmd in ["summary", "verify", "export"] {
        let missing = fixloop(&h, &[cmd, "--feedback", "/nonexistent/fb"]);
        assert!(!missing.status.success(), "{cmd}");
        let err = String::from_utf8_lossy(&missing.stderr).into_owned();
        assert!(err.contains("/nonexistent/fb"), "{cmd}: {err}");
        assert_eq!(err.lines().count(), 1, "{cmd}: {err}");
    }
    let bad_since = fixloop(&h, &["summary", "--feedback", SEED, "--since", "yesterday"]);
    assert!(!bad_since.status.success());
    assert!(String::from_utf8_lossy(&bad_since.stderr).contains("yesterday"));
}

#[test]
fn a_fresh_home_is_an_empty_log_not_an_error() {
    let h = home("fresh");
    let says_fresh = |out: &Output| {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            err.contains("no feedback has been recorded yet in") && err.contains("fresh"),
            "{err}"
        );
    };
    let summary = fixloop(&h, &["summary"]);
    let text = ok(&summary);
    says_fresh(&summary);
    assert!(text.contains("Total Fixes Applied: 0"), "{text}");
    assert!(
        text.contains("No feedback has been recorded yet."),
        "{text}"
    );
    let s = json(&fixloop(&h, &["summary", "--json"]));
    assert_eq!(s["total"], 0);
    assert_eq!(s["accept_rate"], 0.0);
    assert!(s["by_fix_type"].as_object().unwrap().is_empty());
    assert!(s["recommendations"].as_array().unwrap().is_empty());
    let verify = fixloop(&h, &["verify"]);
    let text = ok(&verify);
    says_fresh(&verify);
    assert!(
        text.contains("empty: no feedback has been recorded yet"),
        "{text}"
    );
    let out = std::env::temp_dir().join(format!("fixloop-fresh-{}.jsonl", std::process::id()));
    std::fs::write(&out, "stale").unwrap();
    let export = fixloop(&h, &["export", "--output", out.to_str().unwrap()]);
    ok(&export);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"",
        "export writes an empty file"
    );
    assert_eq!(
        ok(&fixloop(&h, &["export"])),
        "",
        "export to stdout writes nothing"
    );
    // Reading never creates the home: it stays fresh.
    assert!(!h.exists());
    // An existing but empty log folder reads the same way, without the note.
    std::fs::create_dir_all(h.join("feedback")).unwrap();
    let s = json(&fixloop(&h, &["summary", "--json"]));
    assert_eq!(s["total"], 0);
    let text = ok(&fixloop(&h, &["verify"]));
    assert!(text.contains("0 segment(s), 0 record(s)"), "{text}");
    assert_eq!(ok(&fixloop(&h, &["export"])), "");
    std::fs::remove_file(&out).unwrap();
    std::fs::remove_dir_all(&h).unwrap();
}

#[test]
fn profile_lineage_learn_history_revert_pause() {
    let h = home("lineage");
    // Before anything is adopted: a clear error, no history.
    let out = fixloop(&h, &["profile", "history", "trance"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no history"));
    ok(&fixloop(&h, &["import", SEED]));
    // The seed's events were proposed under trance_v1, the bundled file's version; each
    // feature has one or two, so a guard rail of 1 lets the step refine.
    let step = json(&fixloop(
        &h,
        &[
            "profile",
            "learn",
            "trance",
            "--adopt",
            PROFILE,
            "--min-events",
            "1",
            "--json",
        ],
    ));
    assert_eq!(step["result"], "refined", "{step}");
    assert_eq!(step["parent"], "trance_v1");
    let refined = step["version"].as_str().unwrap().to_owned();
    assert!(refined.starts_with("trance_v1_refined_"), "{refined}");
    assert_eq!(step["events_used"], 4, "the seed file's four events");
    // Nothing new since: the next step answers from the watermark.
    let again = json(&fixloop(
        &h,
        &["profile", "learn", "trance", "--min-events", "1", "--json"],
    ));
    assert_eq!(again["result"], "not_due", "{again}");
    assert_eq!(again["cached"], false, "the new version has no check yet");
    let again = json(&fixloop(
        &h,
        &["profile", "learn", "trance", "--min-events", "1", "--json"],
    ));
    assert_eq!(again["cached"], true, "{again}");

    let history = json(&fixloop(&h, &["profile", "history", "trance", "--json"]));
    assert_eq!(history["in_force"], refined.as_str());
    let kinds: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "refined"]);
    assert!(!history["changes_since_original"]
        .as_array()
        .unwrap()
        .is_empty());

    let out = fixloop(&h, &["profile", "revert", "trance", "trance_v9"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no version \"trance_v9\"") && err.contains(&refined),
        "{err}"
    );
    let said = ok(&fixloop(&h, &["profile", "revert", "trance", "trance_v1"]));
    assert!(said.contains("trance_v1 in force again"), "{said}");
    let history = json(&fixloop(&h, &["profile", "history", "trance", "--json"]));
    assert_eq!(history["in_force"], "trance_v1");
    assert_eq!(
        history["changes_since_original"].as_array().unwrap().len(),
        0
    );
    // The version in force again is the adopted file as fixloop reads it (loading
    // recomputes percentiles from the samples), field for field.
    let load = |p: &Path| fixloop::profile::Profile::load(p).unwrap();
    assert_eq!(
        load(&h.join("profiles/trance/trance_v1.json")),
        load(Path::new(PROFILE))
    );
    // The abandoned branch's events are not learned again from trance_v1.
    let step = json(&fixloop(
        &h,
        &["profile", "learn", "trance", "--min-events", "1", "--json"],
    ));
    assert_eq!(step["result"], "not_due", "{step}");
    assert_eq!(step["events"], 0, "{step}");

    ok(&fixloop(&h, &["profile", "pause", "trance"]));
    let step = json(&fixloop(&h, &["profile", "learn", "trance", "--json"]));
    assert_eq!(step["result"], "paused");
    assert!(ok(&fixloop(&h, &["profile", "history", "trance"])).contains("learning paused"));
    ok(&fixloop(&h, &["profile", "pause", "trance", "--resume"]));
    let _ = std::fs::remove_dir_all(&h);
}

#[test]
fn ab_status_adjusts_running_tests_on_one_metric_by_holm() {
    let h = home("holm");
    std::fs::create_dir_all(&h).unwrap();
    // Two running tests on accept_rate setting different policy keys, so a session is in
    // both at once.
    let tests = [
        (
            "holm_target",
            r#""control": {"target_strategy": "conservative"}, "treatment": {"target_strategy": "mean"}"#,
        ),
        (
            "holm_amount",
            r#""control": {"amount": 1.0}, "treatment": {"amount": 0.5}"#,
        ),
    ];
    for (id, arms) in tests {
        let path = h.join(format!("{id}.json"));
        std::fs::write(
            &path,
            format!(
                r#"{{"test_id": "{id}", "name": "{id}", "description": "", {arms}, "assignment_ratio": 0.5,
                "start_date": "2026-01-01", "end_date": null, "min_samples": 20, "planned_sessions": 400,
                "primary_metric": "accept_rate", "secondary_metrics": []}}"#
            ),
        )
        .unwrap();
        ok(&fixloop(&h, &["ab", "create", path.to_str().unwrap()]));
    }
    // 60 sessions of 5 events; treatment of holm_target accepts more often.
    let mut lines = String::new();
    for s in 0..60u32 {
        let sid = format!("session{s}");
        let arm = |id: &str| fixloop::learn::ab::assign_with_ratio(id, &sid, 0.5);
        let (a, b) = (arm("holm_target"), arm("holm_amount"));
        let name = |x: fixloop::feedback::Arm| match x {
            fixloop::feedback::Arm::Control => "control",
            fixloop::feedback::Arm::Treatment => "treatment",
        };
        for i in 0..5u32 {
            let treated = a == fixloop::feedback::Arm::Treatment;
            let accept = (s * 5 + i) % if treated { 5 } else { 2 } != 0;
            lines.push_str(&format!(
                r#"{{"event_id": "e{s}-{i}", "timestamp": "2026-02-01T00:{:02}:{:02}Z", "fix_id": "f", "fix_type": "volume_adjust", "feature_name": "low_level", "track_path": "t.wav", "session_id": "{sid}", "profile_version": "v1", "original_value": 0.0, "target_value": 0.0, "applied_value": 0.0, "user_action": "{}", "was_applied": true, "was_undone": false, "gap_before": 1.0, "gap_after": null, "improvement_ratio": null, "user_modified_value": null, "session_saved_after": false, "track_bounced_after": false, "notes": null, "ab": {{"holm_target": "{}", "holm_amount": "{}"}}, "session_start_mean_abs_z": {:.3}}}"#,
                s % 60,
                i,
                if accept { "accept" } else { "reject" },
                name(a),
                name(b),
                0.5 + (s % 7) as f64 * 0.1
            ));
            lines.push('\n');
        }
    }
    let log = h.join("events.jsonl");
    std::fs::write(&log, lines).unwrap();
    let all = json(&fixloop(
        &h,
        &[
            "ab",
            "status",
            "--feedback",
            log.to_str().unwrap(),
            "--json",
        ],
    ));
    let all = all.as_array().expect("every test, as an array");
    assert_eq!(all.len(), 2);
    for s in all {
        let m = &s["multiple_testing"];
        assert_eq!(m["tests"].as_array().unwrap().len(), 2, "{s}");
        let (raw, holm) = (
            s["decision"]["p_value"].as_f64().unwrap(),
            m["p_value_holm"].as_f64().unwrap(),
        );
        assert!(holm >= raw && holm <= 1.0, "{raw} {holm}");
        // Every event carried the covariate.
        assert_eq!(
            s["adjusted"]["sessions_with_covariate"],
            s["adjusted"]["sessions"]
        );
        assert_eq!(s["estimator"], "delta_method_ratio");
        assert_eq!(s["decision"]["rule"], "anytime");
    }
    // Holm's smallest adjusted p is twice the smallest raw one (m = 2).
    let raw: Vec<f64> = all
        .iter()
        .map(|s| s["decision"]["p_value"].as_f64().unwrap())
        .collect();
    let holm: Vec<f64> = all
        .iter()
        .map(|s| s["multiple_testing"]["p_value_holm"].as_f64().unwrap())
        .collect();
    let i = if raw[0] <= raw[1] { 0 } else { 1 };
    assert!(
        (holm[i] - (2.0 * raw[i]).min(1.0)).abs() < 1e-12,
        "{raw:?} {holm:?}"
    );
    // One test with --effect: the family is still both, and the sessions an effect needs.
    let one = json(&fixloop(
        &h,
        &[
            "ab",
            "status",
            "--test",
            "holm_amount",
            "--feedback",
            log.to_str().unwrap(),
            "--effect",
            "0.5",
            "--json",
        ],
    ));
    assert_eq!(one["test_id"], "holm_amount");
    assert_eq!(
        one["multiple_testing"]["tests"].as_array().unwrap().len(),
        2
    );
    assert_eq!(one["power"]["for_effect"]["d"], 0.5);
    assert!(one["power"]["for_effect"]["sessions"].as_f64().unwrap() > 0.0);
    let text = ok(&fixloop(
        &h,
        &["ab", "status", "--feedback", log.to_str().unwrap()],
    ));
    assert!(text.contains("Holm across 2 running tests"), "{text}");
    assert!(text.contains("Decision: anytime-valid"), "{text}");
    let bad = fixloop(
        &h,
        &[
            "ab",
            "status",
            "--effect",
            "0",
            "--feedback",
            log.to_str().unwrap(),
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--effect"));
    std::fs::remove_dir_all(&h).unwrap();
}

/// A reader that takes the first line and goes away: the commands end quietly with success
/// (a closed pipe is not an error). The exports of 20 000 events overflow the pipe, so they
/// meet the closed pipe (this test fails without the handling); the shorter outputs check
/// that a reader leaving early changes nothing for them.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let h = home("pipe");
    // 20 000 events: far more output than a pipe buffers.
    let seed = fixloop::feedback::jsonl::read_file(Path::new(SEED)).unwrap();
    let mut text = String::new();
    for i in 0..20_000 {
        let mut e = seed[i % seed.len()].clone();
        e.event_id = format!("evt_pipe_{i}").into();
        e.session_id = format!("s{}", i / 10).into();
        text.push_str(&serde_json::to_string(&e).unwrap());
        text.push('\n');
    }
    let file = h.with_extension("jsonl");
    std::fs::create_dir_all(&h).unwrap();
    std::fs::write(&file, text).unwrap();
    ok(&fixloop(&h, &["import", file.to_str().unwrap()]));
    for args in [
        &["export"][..],
        &["export", "--format", "jsonl"],
        &[
            "analyze",
            "examples/data/wip_features.json",
            "--profile",
            PROFILE,
        ],
        &["summary", "--json"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fixloop"))
            .arg("--home")
            .arg(&h)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The pipe's reader is gone (dropped above); what is left to write hits it.
        let out = child.wait_with_output().unwrap();
        assert!(!first.is_empty(), "{args:?}");
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&h);
    let _ = std::fs::remove_file(&file);
}

/// A team lead's view: a producer's Parquet export read by `summary` and `refine` (and
/// `ab status`, through the same loader) gives the numbers of the log it came from.
#[test]
fn a_parquet_export_reads_like_the_log_it_came_from() {
    let h = home("parquet");
    ok(&fixloop(&h, &["import", SEED]));
    let parquet = h.with_extension("parquet");
    ok(&fixloop(
        &h,
        &[
            "export",
            "--format",
            "parquet",
            "--output",
            parquet.to_str().unwrap(),
        ],
    ));
    let p = parquet.to_str().unwrap();
    let from_log = json(&fixloop(&h, &["summary", "--json"]));
    let from_parquet = json(&fixloop(&h, &["summary", "--json", "--feedback", p]));
    assert_eq!(from_log, from_parquet);
    let out = h.join("refined.json");
    let refine = |feedback: Option<&str>| {
        let mut args = vec![
            "refine",
            "--profile",
            PROFILE,
            "--output",
            out.to_str().unwrap(),
            "--dry-run",
            "--json",
            "--min-events",
            "1",
        ];
        if let Some(f) = feedback {
            args.extend(["--feedback", f]);
        }
        json(&fixloop(&h, &args))
    };
    assert_eq!(refine(None), refine(Some(p)));
    // Not an export: one line naming the file.
    let junk = h.join("junk.parquet");
    std::fs::write(&junk, b"PAR1 not really").unwrap();
    let bad = fixloop(&h, &["summary", "--feedback", junk.to_str().unwrap()]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("junk.parquet"), "{err}");
    let _ = std::fs::remove_dir_all(&h);
    let _ = std::fs::remove_file(&parquet);
}
