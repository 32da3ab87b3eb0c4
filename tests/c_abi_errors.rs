//! Bad input to every C ABI function family gives its documented status and a message,
//! never a crash: NULL pointers, dangling lengths with NULL buffers, invalid enum values,
//! a corrupt profile, a missing directory, small buffers, non-finite values.

use fixloop::ffi::fixloop_status::{self, *};
use fixloop::ffi::*;
use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};

const PROFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/trance_profile.json");

fn last_error() -> String {
    let mut buf = [0 as c_char; 1024];
    // SAFETY: buf is writable for its length.
    unsafe { fixloop_last_error(buf.as_mut_ptr(), buf.len(), null_mut()) };
    // SAFETY: fixloop_last_error NUL-terminates.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn load() -> *mut fixloop_profile {
    let path = CString::new(PROFILE).unwrap();
    let mut p = null_mut();
    // SAFETY: valid string and out-pointer.
    assert_eq!(
        unsafe { fixloop_profile_load(path.as_ptr(), &mut p) },
        FIXLOOP_OK
    );
    p
}

#[test]
fn status_messages_are_static_for_any_code() {
    for code in [0u32, 100, 202, 900, 7, u32::MAX] {
        // SAFETY: always a valid static string.
        let s = unsafe { CStr::from_ptr(fixloop_status_message(code)) };
        assert!(!s.to_bytes().is_empty());
    }
    // SAFETY: as above.
    let unknown = unsafe { CStr::from_ptr(fixloop_status_message(7)) };
    assert_eq!(unknown.to_str().unwrap(), "unknown status");
    assert_eq!(fixloop_abi_version(), FIXLOOP_ABI_VERSION);
}

#[test]
fn profile_functions_refuse_null_and_bad_files() {
    let mut p = null_mut();
    // SAFETY: every call passes NULL or valid pointers, which is the point of the test.
    unsafe {
        assert_eq!(
            fixloop_profile_load(null(), &mut p),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert!(last_error().contains("argument path is NULL"));
        let path = CString::new(PROFILE).unwrap();
        assert_eq!(
            fixloop_profile_load(path.as_ptr(), null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert!(last_error().contains("argument out is NULL"));

        let missing = CString::new("/nonexistent/dir/profile.json").unwrap();
        assert_eq!(
            fixloop_profile_load(missing.as_ptr(), &mut p),
            FIXLOOP_ERR_IO
        );
        assert!(last_error().contains("/nonexistent/dir/profile.json"));
        assert!(p.is_null(), "out-pointer untouched on failure");

        let corrupt =
            br#"{"schema": "fixloop.profile/1", "name": "x", "version": "v", "track_count": 1,
            "features": {"plr": {"count": 1, "mean": 1, "std": -1, "min": 1, "max": 1, "p10": 1,
            "p25": 1, "p50": 1, "p75": 1, "p90": 1, "acceptable_range": [0, 2]}}}"#;
        assert_eq!(
            fixloop_profile_from_json(corrupt.as_ptr(), corrupt.len(), &mut p),
            FIXLOOP_ERR_INVALID_PROFILE
        );
        assert_eq!(last_error(), "json: feature plr: std -1 is negative");
        let garbage = b"{not json";
        assert_eq!(
            fixloop_profile_from_json(garbage.as_ptr(), garbage.len(), &mut p),
            FIXLOOP_ERR_PARSE
        );
        let bad_utf8 = [0xffu8, 0xfe];
        assert_eq!(
            fixloop_profile_from_json(bad_utf8.as_ptr(), 2, &mut p),
            FIXLOOP_ERR_INVALID_UTF8
        );
        // A dangling length with a NULL buffer.
        assert_eq!(
            fixloop_profile_from_json(null(), 100, &mut p),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert!(p.is_null());

        let bad_path = [0xffu8 as c_char, 0];
        assert_eq!(
            fixloop_profile_load(bad_path.as_ptr(), &mut p),
            FIXLOOP_ERR_INVALID_UTF8
        );

        let profile = load();
        let dir = CString::new("/nonexistent/dir/out.json").unwrap();
        assert_eq!(fixloop_profile_save(profile, dir.as_ptr()), FIXLOOP_ERR_IO);
        assert!(last_error().contains("/nonexistent/dir"));
        assert_eq!(
            fixloop_profile_save(null(), dir.as_ptr()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );

        let mut stats = fixloop_feature_stats::default();
        assert_eq!(
            fixloop_profile_feature_stats(profile, 16, &mut stats),
            FIXLOOP_ERR_INVALID_ENUM
        );
        assert!(last_error().contains("feature_id is 16; valid values are 0..=15"));
        assert_eq!(
            fixloop_profile_feature_stats(profile, 5, &mut stats),
            FIXLOOP_OK
        );
        assert_eq!(stats.count, 40);
        // A profile built from references has learned no target.
        let mut target = fixloop_learned_target::default();
        assert_eq!(
            fixloop_profile_learned_target(profile, 5, &mut target),
            FIXLOOP_ERR_NOT_FOUND
        );
        assert!(last_error().contains("has learned no target for"));
        assert_eq!(
            fixloop_profile_learned_target(null(), 5, &mut target),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_profile_learned_target(profile, 5, std::ptr::null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_profile_learned_target(profile, 99, &mut target),
            FIXLOOP_ERR_INVALID_ENUM
        );
        let mut c = 0.0;
        assert_eq!(
            fixloop_profile_fix_confidence(profile, 6, &mut c),
            FIXLOOP_ERR_INVALID_ENUM
        );
        assert_eq!(
            fixloop_profile_fix_confidence(profile, 0, &mut c),
            FIXLOOP_OK
        );
        assert_eq!(c, 0.85);
        let mut n = 0u64;
        assert_eq!(
            fixloop_profile_track_count(null(), &mut n),
            FIXLOOP_ERR_NULL_ARGUMENT
        );

        let mut json = null_mut();
        assert_eq!(fixloop_profile_to_json(profile, &mut json), FIXLOOP_OK);
        let text = CStr::from_ptr(json).to_str().unwrap().to_owned();
        fixloop_string_free(json);
        let mut again = null_mut();
        assert_eq!(
            fixloop_profile_from_json(text.as_ptr(), text.len(), &mut again),
            FIXLOOP_OK
        );
        fixloop_profile_free(again);

        fixloop_profile_free(profile);
        fixloop_profile_free(null_mut());
        fixloop_string_free(null_mut());
    }
}

#[test]
fn string_outputs_truncate_with_nul_and_report() {
    let profile = load();
    // SAFETY: buffers are valid for the lengths passed.
    unsafe {
        let mut buf = [0x7f as c_char; 6];
        let mut len = 0usize;
        let s = fixloop_profile_version(profile, buf.as_mut_ptr(), buf.len(), &mut len);
        assert_eq!(s, FIXLOOP_ERR_BUFFER_TOO_SMALL);
        assert_eq!(len, "trance_v1".len());
        assert_eq!(CStr::from_ptr(buf.as_ptr()).to_str().unwrap(), "tranc");
        // Length query.
        let mut len2 = 0usize;
        assert_eq!(
            fixloop_profile_name(profile, null_mut(), 0, &mut len2),
            FIXLOOP_OK
        );
        assert_eq!(len2, "trance".len());
        // NULL buffer with a capacity is a caller error.
        assert_eq!(
            fixloop_profile_name(profile, null_mut(), 10, null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        // The last error itself, truncated into a tiny buffer.
        let mut tiny = [0x7f as c_char; 4];
        let mut full = 0usize;
        assert_eq!(
            fixloop_last_error(tiny.as_mut_ptr(), tiny.len(), &mut full),
            FIXLOOP_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(CStr::from_ptr(tiny.as_ptr()).to_bytes().len(), 3);
        assert!(full > 3);
        let mut zero = [0 as c_char; 1];
        assert_eq!(
            fixloop_last_error(zero.as_mut_ptr(), 0, null_mut()),
            FIXLOOP_ERR_BUFFER_TOO_SMALL
        );
        fixloop_profile_free(profile);
    }
}

fn values() -> Vec<fixloop_feature_value> {
    vec![
        // Too quiet and too little bass: a bass boost, then the level (two fixes).
        fixloop_feature_value {
            feature: 0,
            value: -10.9,
        },
        fixloop_feature_value {
            feature: 5,
            value: -5.5,
        },
    ]
}

#[test]
fn scoring_and_fixes_refuse_bad_values_and_enums() {
    let profile = load();
    let mut score = fixloop_score::default();
    let mut gaps = [fixloop_gap::default(); 16];
    let mut n = 0usize;
    // SAFETY: pointers are valid or deliberately NULL.
    unsafe {
        let v = values();
        assert_eq!(
            fixloop_score_track(
                profile,
                v.as_ptr(),
                v.len(),
                &mut score,
                gaps.as_mut_ptr(),
                16,
                &mut n
            ),
            FIXLOOP_OK
        );
        assert_eq!(n, 2);
        assert!(score.has_score && score.score < 100.0);
        assert_eq!(gaps[0].feature, 0);
        assert_eq!(gaps[0].direction, -1);

        let status = |vals: &[fixloop_feature_value]| -> fixloop_status {
            let mut s = fixloop_score::default();
            fixloop_score_track(
                profile,
                vals.as_ptr(),
                vals.len(),
                &mut s,
                null_mut(),
                0,
                null_mut(),
            )
        };
        let nan = [fixloop_feature_value {
            feature: 3,
            value: f64::NAN,
        }];
        assert_eq!(status(&nan), FIXLOOP_ERR_INVALID_ARGUMENT);
        assert!(
            last_error().contains("values[0]: feature plr: value NaN"),
            "{}",
            last_error()
        );
        let bad_id = [fixloop_feature_value {
            feature: 99,
            value: 1.0,
        }];
        assert_eq!(status(&bad_id), FIXLOOP_ERR_INVALID_ENUM);
        let dup = [values()[0], values()[0]];
        assert_eq!(status(&dup), FIXLOOP_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("given twice"));
        assert_eq!(
            fixloop_score_track(profile, null(), 3, &mut score, null_mut(), 0, null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_score_track(
                profile,
                v.as_ptr(),
                2,
                null_mut(),
                null_mut(),
                0,
                null_mut()
            ),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_score_track(
                profile,
                v.as_ptr(),
                2,
                &mut score,
                gaps.as_mut_ptr(),
                1,
                &mut n
            ),
            FIXLOOP_ERR_BUFFER_TOO_SMALL
        );
        // Empty input: no score, not an error.
        assert_eq!(
            fixloop_score_track(profile, null(), 0, &mut score, null_mut(), 0, null_mut()),
            FIXLOOP_OK
        );
        assert!(!score.has_score);

        let mut policy = fixloop_policy {
            target_strategy: 0,
            amount: 1.0,
            min_confidence: 0.5,
        };
        assert_eq!(fixloop_policy_default(&mut policy), FIXLOOP_OK);
        let mut list = null_mut();
        policy.target_strategy = 3;
        assert_eq!(
            fixloop_propose_fixes(profile, v.as_ptr(), 2, &policy, &mut list),
            FIXLOOP_ERR_INVALID_ENUM
        );
        policy.target_strategy = 1;
        policy.amount = f64::INFINITY;
        assert_eq!(
            fixloop_propose_fixes(profile, v.as_ptr(), 2, &policy, &mut list),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert!(last_error().contains("amount is inf"));
        assert!(list.is_null());
        assert_eq!(
            fixloop_propose_fixes(profile, v.as_ptr(), 2, null(), &mut list),
            FIXLOOP_OK
        );
        let mut len = 0usize;
        assert_eq!(fixloop_fix_list_len(list, &mut len), FIXLOOP_OK);
        assert_eq!(len, 2);
        let mut fix = std::mem::zeroed::<fixloop_fix>();
        assert_eq!(
            fixloop_fix_list_get(list, 2, &mut fix),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert!(last_error().contains("index 2 is out of range"));
        assert_eq!(fixloop_fix_list_get(list, 0, &mut fix), FIXLOOP_OK);
        assert!(CStr::from_ptr(fix.fix_id).to_str().unwrap().contains('.'));
        assert_eq!(
            fixloop_fix_list_get(null(), 0, &mut fix),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        // The fix model: aimed value and control move refuse bad input by name.
        let mut aimed = 0.0;
        assert_eq!(
            fixloop_fix_list_aimed_value(list, 0, f64::NAN, &mut aimed),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert!(last_error().contains("setting is NaN"), "{}", last_error());
        assert_eq!(
            fixloop_fix_list_aimed_value(list, 9, 1.0, &mut aimed),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            fixloop_fix_list_aimed_value(list, 0, 1.0, null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_fix_list_aimed_value(list, 0, fix.setting_value, &mut aimed),
            FIXLOOP_OK
        );
        assert_eq!(
            aimed, fix.new_value,
            "the fix's own setting aims at its new value"
        );
        let mut controls = [0.0f64; FIXLOOP_CONTROL_COUNT];
        controls[FIXLOOP_CONTROL_COUNT - 1] = 1.0;
        let mut m = fixloop_control_move::default();
        let mut applies = false;
        assert_eq!(
            fixloop_fix_list_control_move(list, 0, null(), f64::NAN, &mut m, &mut applies),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert!(last_error().contains("controls is NULL"));
        controls[3] = f64::INFINITY;
        assert_eq!(
            fixloop_fix_list_control_move(
                list,
                0,
                controls.as_ptr(),
                f64::NAN,
                &mut m,
                &mut applies
            ),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert!(
            last_error().contains("controls[3] is inf"),
            "{}",
            last_error()
        );
        controls[3] = 0.0;
        assert_eq!(
            fixloop_fix_list_control_move(
                list,
                0,
                controls.as_ptr(),
                f64::NAN,
                null_mut(),
                &mut applies
            ),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_fix_list_control_move(
                list,
                0,
                controls.as_ptr(),
                f64::NAN,
                &mut m,
                &mut applies
            ),
            FIXLOOP_OK
        );
        if applies {
            assert!(
                (m.setting - fix.setting_value).abs() < 1e-12,
                "{m:?} {}",
                fix.setting_value
            );
        }
        fixloop_fix_list_free(list);
        fixloop_fix_list_free(null_mut());

        let mut id = 0u32;
        let name = CString::new("bass").unwrap();
        assert_eq!(
            fixloop_feature_from_name(name.as_ptr(), &mut id),
            FIXLOOP_ERR_NOT_FOUND
        );
        assert!(fixloop_feature_name(16).is_null());
        assert_eq!(
            CStr::from_ptr(fixloop_feature_name(5)).to_str().unwrap(),
            "bass_level"
        );
        fixloop_profile_free(profile);
    }
}

#[test]
fn collector_and_learning_functions_refuse_bad_input() {
    let tmp = std::env::temp_dir().join(format!("fixloop-c-errors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let file = tmp.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let c = |s: &str| CString::new(s).unwrap();
    // SAFETY: every pointer is valid or deliberately NULL / bad.
    unsafe {
        let mut collector = null_mut();
        // A log "directory" that is a file cannot be opened.
        let bad_dir = c(file.join("feedback").to_str().unwrap());
        assert_eq!(
            fixloop_collector_open(bad_dir.as_ptr(), &mut collector),
            FIXLOOP_ERR_IO
        );
        assert!(last_error().contains("not-a-dir"), "{}", last_error());
        assert!(collector.is_null());
        assert_eq!(
            fixloop_collector_open(null(), null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );

        let dir = c(tmp.join("feedback").to_str().unwrap());
        assert_eq!(
            fixloop_collector_open(dir.as_ptr(), &mut collector),
            FIXLOOP_OK
        );
        let (track, session, version) = (c("t.wav"), c("s1"), c("v1"));
        let ids = [c("test_a")];
        let id_ptrs = [ids[0].as_ptr()];
        let bad_arm = [7u32];
        assert_eq!(
            fixloop_collector_start_session(
                collector,
                track.as_ptr(),
                session.as_ptr(),
                version.as_ptr(),
                id_ptrs.as_ptr(),
                bad_arm.as_ptr(),
                1
            ),
            FIXLOOP_ERR_INVALID_ENUM
        );
        assert!(last_error().contains("ab_arms[0] is 7"));
        assert_eq!(
            fixloop_collector_start_session(
                collector,
                null(),
                session.as_ptr(),
                version.as_ptr(),
                null(),
                null(),
                0
            ),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_collector_start_session(
                collector,
                track.as_ptr(),
                session.as_ptr(),
                version.as_ptr(),
                null(),
                null(),
                3
            ),
            FIXLOOP_ERR_NULL_ARGUMENT,
            "a dangling count with NULL arrays"
        );
        let good_arm = [1u32];
        assert_eq!(
            fixloop_collector_start_session(
                collector,
                track.as_ptr(),
                session.as_ptr(),
                version.as_ptr(),
                id_ptrs.as_ptr(),
                good_arm.as_ptr(),
                1
            ),
            FIXLOOP_OK
        );
        let long_id = c(&"x".repeat(200));
        let mut fix: fixloop_fix = std::mem::zeroed();
        fix.fix_id = long_id.as_ptr();
        let mut event = fixloop_event_id::default();
        assert_eq!(
            fixloop_collector_fix_applied(collector, &fix, &mut event),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        fix.fix_id = null();
        assert_eq!(
            fixloop_collector_fix_applied(collector, &fix, &mut event),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        let short = c("f1");
        fix.fix_id = short.as_ptr();
        fix.gap_feature = 99;
        assert_eq!(
            fixloop_collector_fix_applied(collector, &fix, &mut event),
            FIXLOOP_ERR_INVALID_ENUM
        );
        fix.gap_feature = 0;
        fix.current_value = f64::NAN;
        assert_eq!(
            fixloop_collector_fix_applied(collector, &fix, &mut event),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert_eq!(fixloop_collector_flush(null()), FIXLOOP_ERR_NULL_ARGUMENT);
        let mut stats = fixloop_collector_stats::default();
        assert_eq!(
            fixloop_collector_get_stats(collector, null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_collector_get_stats(collector, &mut stats),
            FIXLOOP_OK
        );
        assert_eq!(fixloop_collector_close(collector), FIXLOOP_OK);
        assert_eq!(fixloop_collector_close(null_mut()), FIXLOOP_OK);

        // Learning: missing feedback, unknown test, bad ratio, NULL handles.
        let mut json = null_mut();
        let missing = c("/nonexistent/feedback.jsonl");
        assert_eq!(
            fixloop_summary_json(missing.as_ptr(), null(), &mut json),
            FIXLOOP_ERR_NOT_FOUND
        );
        assert!(last_error().contains("/nonexistent/feedback.jsonl"));
        let bad_since = c("yesterday");
        assert_eq!(
            fixloop_summary_json(dir.as_ptr(), bad_since.as_ptr(), &mut json),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert!(json.is_null());
        // The session above holds no fix events: zero totals (SPEC §5), not an error.
        assert_eq!(
            fixloop_summary_json(dir.as_ptr(), null(), &mut json),
            FIXLOOP_OK
        );
        let text = std::ffi::CStr::from_ptr(json).to_str().unwrap();
        let summary: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(summary["total"], 0, "{text}");
        fixloop_string_free(json);
        json = null_mut();
        let abtests = c(tmp.join("abtests").to_str().unwrap());
        let nope = c("nope");
        assert_eq!(
            fixloop_ab_status_json(nope.as_ptr(), abtests.as_ptr(), dir.as_ptr(), &mut json),
            FIXLOOP_ERR_NOT_FOUND
        );
        let mut arm = 9u32;
        assert_eq!(
            fixloop_ab_assign(nope.as_ptr(), session.as_ptr(), 1.5, &mut arm),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert_eq!(arm, 9, "out-parameter untouched on failure");
        assert_eq!(
            fixloop_ab_assign(nope.as_ptr(), session.as_ptr(), 1.0, &mut arm),
            FIXLOOP_OK
        );
        assert_eq!(arm, fixloop_arm::FIXLOOP_ARM_TREATMENT as u32);
        assert_eq!(
            fixloop_ab_assign(nope.as_ptr(), session.as_ptr(), 0.0, &mut arm),
            FIXLOOP_OK
        );
        assert_eq!(arm, fixloop_arm::FIXLOOP_ARM_CONTROL as u32);
        let mut refined = null_mut();
        assert_eq!(
            fixloop_refine_profile(null(), dir.as_ptr(), 0, &mut refined, null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        let profile = load();
        let seed = c(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/seed_feedback.jsonl"
        ));
        assert_eq!(
            fixloop_refine_profile(profile, seed.as_ptr(), 1, &mut refined, null_mut()),
            FIXLOOP_OK
        );
        fixloop_profile_free(refined);
        fixloop_profile_free(profile);
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn lineage_functions_refuse_bad_input_and_name_what() {
    let tmp = std::env::temp_dir().join(format!("fixloop-ffi-lineage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let c = |s: &str| CString::new(s).unwrap();
    let home = c(tmp.to_str().unwrap());
    // SAFETY: every call passes NULL or valid pointers, which is the point of the test.
    unsafe {
        let mut l = null_mut();
        let name = c("trance");
        assert_eq!(
            fixloop_lineage_open(home.as_ptr(), null(), &mut l),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert!(last_error().contains("argument name is NULL"));
        assert_eq!(
            fixloop_lineage_open(home.as_ptr(), name.as_ptr(), null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        let bad = c("../escape");
        assert_eq!(
            fixloop_lineage_open(home.as_ptr(), bad.as_ptr(), &mut l),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert!(
            last_error().contains("cannot name a folder"),
            "{}",
            last_error()
        );
        assert!(l.is_null(), "out-parameter untouched on failure");
        assert_eq!(
            fixloop_lineage_open(home.as_ptr(), name.as_ptr(), &mut l),
            FIXLOOP_OK
        );
        // A new lineage: no version yet, nothing to learn from, nothing to revert to.
        let mut current = null_mut();
        assert_eq!(
            fixloop_lineage_current(l, &mut current),
            FIXLOOP_ERR_NOT_FOUND
        );
        assert!(last_error().contains("adopt one first"), "{}", last_error());
        let mut result = 99u32;
        assert_eq!(
            fixloop_lineage_learn(l, null(), 0, &mut result, null_mut()),
            FIXLOOP_ERR_NOT_FOUND
        );
        assert_eq!(result, 99);
        let v = c("trance_v1");
        assert_eq!(fixloop_lineage_revert(l, v.as_ptr()), FIXLOOP_ERR_NOT_FOUND);
        assert_eq!(fixloop_lineage_revert(l, null()), FIXLOOP_ERR_NULL_ARGUMENT);
        assert_eq!(
            fixloop_lineage_adopt(l, null(), null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_lineage_adopt(null(), null(), null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        let mut json = null_mut();
        assert_eq!(
            fixloop_lineage_history_json(null(), &mut json),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_lineage_history_json(l, null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_lineage_set_paused(null(), true),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        // Adopt, then learn from a log that does not exist yet: not due, nothing read.
        let profile = load();
        assert_eq!(fixloop_lineage_adopt(l, profile, &mut current), FIXLOOP_OK);
        assert!(!current.is_null());
        let missing = c(tmp.join("no-log").to_str().unwrap());
        assert_eq!(
            fixloop_lineage_learn(l, missing.as_ptr(), 0, &mut result, &mut json),
            FIXLOOP_OK
        );
        assert_eq!(result, fixloop_learned::FIXLOOP_LEARNED_NOT_DUE as u32);
        let text = CStr::from_ptr(json).to_str().unwrap().to_owned();
        assert!(text.contains("\"result\":\"not_due\""), "{text}");
        assert!(text.contains("\"needed\":20"), "{text}");
        fixloop_string_free(json);
        // Paused: the step says so.
        assert_eq!(fixloop_lineage_set_paused(l, true), FIXLOOP_OK);
        assert_eq!(
            fixloop_lineage_learn(l, missing.as_ptr(), 0, &mut result, null_mut()),
            FIXLOOP_OK
        );
        assert_eq!(result, fixloop_learned::FIXLOOP_LEARNED_PAUSED as u32);
        // A profile of another name does not belong here.
        let other = c("other");
        let mut l2 = null_mut();
        assert_eq!(
            fixloop_lineage_open(home.as_ptr(), other.as_ptr(), &mut l2),
            FIXLOOP_OK
        );
        assert_eq!(
            fixloop_lineage_adopt(l2, profile, null_mut()),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert!(last_error().contains("does not belong"), "{}", last_error());
        fixloop_lineage_close(l2);
        fixloop_lineage_close(null_mut());
        fixloop_profile_free(current);
        fixloop_profile_free(profile);
        fixloop_lineage_close(l);
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn analysis_functions_refuse_bad_input_and_analyse_a_file() {
    let (mut feed, mut live) = (null_mut(), null_mut());
    // SAFETY (whole test): every pointer is NULL, valid for its length, or a live handle
    // from the library, as each case says.
    unsafe {
        assert_eq!(
            fixloop_live_new(1000, 4800, &mut feed, &mut live),
            FIXLOOP_ERR_UNSUPPORTED
        );
        assert!(last_error().contains("1000 Hz"), "{}", last_error());
        assert_eq!(
            fixloop_live_new(48_000, 0, &mut feed, &mut live),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert!(last_error().contains("0 frames"), "{}", last_error());
        assert_eq!(
            fixloop_live_new(48_000, 4800, null_mut(), &mut live),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert!(last_error().contains("out_feed"));
        assert!(feed.is_null() && live.is_null());
        assert_eq!(
            fixloop_live_new(48_000, 96_000, &mut feed, &mut live),
            FIXLOOP_OK
        );

        // Pushing: NULL handles and channels, zero channels, NaN frames.
        let x = vec![0.25f32; 480];
        let mut accepted = 99usize;
        assert_eq!(
            fixloop_live_push_planar(null_mut(), x.as_ptr(), x.as_ptr(), 480, &mut accepted),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert!(last_error().contains("feed"));
        assert_eq!(
            fixloop_live_push_planar(feed, null(), x.as_ptr(), 480, &mut accepted),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert!(last_error().contains("left"));
        assert_eq!(accepted, 99, "nothing written on failure");
        assert_eq!(
            fixloop_live_push_planar(feed, null(), null(), 0, &mut accepted),
            FIXLOOP_OK
        );
        assert_eq!(accepted, 0);
        assert_eq!(
            fixloop_live_push_interleaved(feed, x.as_ptr(), 240, 0, null_mut()),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert!(last_error().contains("channels"));
        assert_eq!(
            fixloop_live_push_interleaved(feed, x.as_ptr(), usize::MAX, 4, null_mut()),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        let tone: Vec<f32> = (0..48_000 * 2)
            .map(|i| 0.3 * (i as f32 * 0.0575).sin())
            .collect();
        let mut nan = tone.clone();
        nan[100..200].fill(f32::NAN);
        nan[300] = f32::INFINITY;
        assert_eq!(
            fixloop_live_push_planar(feed, nan.as_ptr(), tone.as_ptr(), tone.len(), &mut accepted),
            FIXLOOP_OK
        );
        assert_eq!(accepted, tone.len());

        // The analysing end.
        let mut frames = 0u64;
        assert_eq!(
            fixloop_live_pump(null_mut(), &mut frames),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(fixloop_live_pump(live, &mut frames), FIXLOOP_OK);
        assert_eq!(frames, tone.len() as u64);
        assert_eq!(
            fixloop_live_dropped(null(), null_mut(), null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(fixloop_live_reset(null_mut()), FIXLOOP_ERR_NULL_ARGUMENT);
        let mut track = null_mut();
        assert_eq!(
            fixloop_live_track(null(), &mut track),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_live_track(live, null_mut()),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(fixloop_live_track(live, &mut track), FIXLOOP_OK);
        let mut values = [fixloop_feature_value {
            feature: 0,
            value: 0.0,
        }; 16];
        let mut count = 0usize;
        assert_eq!(
            fixloop_track_features(track, values.as_mut_ptr(), 16, &mut count),
            FIXLOOP_OK
        );
        // Two seconds: everything but the loudness range (3 s) is measured, all finite.
        assert_eq!(count, 15);
        assert!(values[..count].iter().all(|v| v.value.is_finite()));
        assert_eq!(
            fixloop_track_features(track, values.as_mut_ptr(), 4, &mut count),
            FIXLOOP_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(
            count, 15,
            "the count is written even when the buffer is short"
        );
        assert_eq!(
            fixloop_track_features(track, null_mut(), 0, &mut count),
            FIXLOOP_OK
        );
        assert_eq!(
            fixloop_track_features(track, null_mut(), 16, &mut count),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_track_features(null(), values.as_mut_ptr(), 16, &mut count),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        let mut seconds = 0.0;
        assert_eq!(fixloop_track_seconds(track, &mut seconds), FIXLOOP_OK);
        assert!((seconds - 2.0).abs() < 1e-12);
        assert_eq!(fixloop_live_reset(live), FIXLOOP_OK);
        fixloop_track_free(track);
        fixloop_live_feed_free(feed);
        fixloop_live_analyser_free(live);

        // Files: NULL, missing, not audio; then a real one, whose fixes are analyze's.
        let mut track = null_mut();
        assert_eq!(
            fixloop_analyze_file(null(), &mut track),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        let missing = CString::new("/nonexistent/mix.wav").unwrap();
        assert_eq!(
            fixloop_analyze_file(missing.as_ptr(), &mut track),
            FIXLOOP_ERR_IO
        );
        assert!(
            last_error().contains("/nonexistent/mix.wav"),
            "{}",
            last_error()
        );
        let dir = std::env::temp_dir().join(format!("fixloop-c-analysis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.wav");
        std::fs::write(&junk, b"RIFF....WAVEnot really").unwrap();
        let junk_c = CString::new(junk.to_str().unwrap()).unwrap();
        let s = fixloop_analyze_file(junk_c.as_ptr(), &mut track);
        assert!(
            matches!(
                s,
                FIXLOOP_ERR_AUDIO | FIXLOOP_ERR_UNSUPPORTED | FIXLOOP_ERR_CORRUPT
            ),
            "{s:?}"
        );
        assert!(last_error().contains("junk.wav"), "{}", last_error());
        assert!(track.is_null());

        let wav = dir.join("mix.wav");
        let mut spec = hound::WavWriter::create(
            &wav,
            hound::WavSpec {
                channels: 2,
                sample_rate: 48_000,
                bits_per_sample: 32,
                sample_format: hound::SampleFormat::Float,
            },
        )
        .unwrap();
        for i in 0..48_000 * 5 {
            let t = i as f32 / 48_000.0;
            let bass = 0.4 * (2.0 * std::f32::consts::PI * 55.0 * t).sin();
            let lead = 0.1 * (2.0 * std::f32::consts::PI * 880.0 * t).sin();
            spec.write_sample(bass + lead).unwrap();
            spec.write_sample(bass - lead).unwrap();
        }
        spec.finalize().unwrap();
        let wav_c = CString::new(wav.to_str().unwrap()).unwrap();
        assert_eq!(fixloop_analyze_file(wav_c.as_ptr(), &mut track), FIXLOOP_OK);
        let profile = load();
        let mut list = null_mut();
        assert_eq!(
            fixloop_track_propose_fixes(null(), track, null(), &mut list),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_track_propose_fixes(profile, null(), null(), &mut list),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            fixloop_track_propose_fixes(profile, track, null(), &mut list),
            FIXLOOP_OK
        );
        let mut n = 0usize;
        assert_eq!(fixloop_fix_list_len(list, &mut n), FIXLOOP_OK);
        let file = fixloop::features::analyze_file(&wav).unwrap();
        let expected = fixloop::analysis::TrackAnalysis::with_spectrum(
            "mix.wav",
            file.features,
            file.spectrum,
            Some(&fixloop::profile::Profile::load(std::path::Path::new(PROFILE)).unwrap()),
            &fixloop::fixes::Policy::default(),
        )
        .unwrap()
        .compared
        .unwrap()
        .fixes;
        assert!(!expected.is_empty());
        assert_eq!(n, expected.len());
        for (i, fix) in expected.iter().enumerate() {
            let mut buf = [0 as c_char; 512];
            assert_eq!(
                fixloop_fix_list_describe(list, i, buf.as_mut_ptr(), buf.len(), null_mut()),
                FIXLOOP_OK
            );
            assert_eq!(
                CStr::from_ptr(buf.as_ptr()).to_str().unwrap(),
                fix.describe(),
                "fix {i}"
            );
        }
        fixloop_fix_list_free(list);
        fixloop_track_free(track);
        fixloop_profile_free(profile);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// What the progress callback saw: calls, the largest `done`, calls in flight at once.
#[derive(Default)]
struct Seen {
    calls: std::sync::atomic::AtomicUsize,
    failed: std::sync::atomic::AtomicUsize,
    in_flight: std::sync::atomic::AtomicUsize,
    most_in_flight: std::sync::atomic::AtomicUsize,
    last_total: std::sync::atomic::AtomicUsize,
}

unsafe extern "C" fn on_progress(
    user: *mut std::ffi::c_void,
    _done: usize,
    total: usize,
    path: *const c_char,
    ok: bool,
) {
    use std::sync::atomic::Ordering::SeqCst;
    // SAFETY: the test passes a live `Seen`.
    let seen = unsafe { &*(user as *const Seen) };
    let now = seen.in_flight.fetch_add(1, SeqCst) + 1;
    seen.most_in_flight.fetch_max(now, SeqCst);
    // SAFETY: the library passes a NUL-terminated path valid during the call.
    assert!(unsafe { CStr::from_ptr(path) }
        .to_str()
        .unwrap()
        .ends_with(".wav"));
    std::thread::sleep(std::time::Duration::from_millis(5));
    seen.calls.fetch_add(1, SeqCst);
    if !ok {
        seen.failed.fetch_add(1, SeqCst);
    }
    seen.last_total.store(total, SeqCst);
    seen.in_flight.fetch_sub(1, SeqCst);
}

#[test]
fn a_profile_builds_from_a_folder_with_progress_and_refuses_bad_input() {
    use std::sync::atomic::Ordering::SeqCst;
    let dir = std::env::temp_dir().join(format!("fixloop-c-build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir_c = CString::new(dir.to_str().unwrap()).unwrap();
    let name = CString::new("club").unwrap();
    let mut profile = null_mut();
    let mut report: *mut c_char = null_mut();
    // SAFETY (whole test): every pointer is NULL, a valid string, or a writable out.
    unsafe {
        assert_eq!(
            fixloop_profile_build(
                null(),
                name.as_ptr(),
                None,
                null_mut(),
                &mut profile,
                null_mut()
            ),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        assert!(last_error().contains("dir"));
        assert_eq!(
            fixloop_profile_build(
                dir_c.as_ptr(),
                null(),
                None,
                null_mut(),
                &mut profile,
                null_mut()
            ),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        let blank = CString::new(" ").unwrap();
        assert_eq!(
            fixloop_profile_build(
                dir_c.as_ptr(),
                blank.as_ptr(),
                None,
                null_mut(),
                &mut profile,
                null_mut()
            ),
            FIXLOOP_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            fixloop_profile_build(
                dir_c.as_ptr(),
                name.as_ptr(),
                None,
                null_mut(),
                null_mut(),
                null_mut()
            ),
            FIXLOOP_ERR_NULL_ARGUMENT
        );
        let missing = CString::new("/nonexistent/references").unwrap();
        assert_eq!(
            fixloop_profile_build(
                missing.as_ptr(),
                name.as_ptr(),
                None,
                null_mut(),
                &mut profile,
                null_mut()
            ),
            FIXLOOP_ERR_IO
        );
        assert!(
            last_error().contains("/nonexistent/references"),
            "{}",
            last_error()
        );
        // An empty folder: nothing to analyse.
        assert_eq!(
            fixloop_profile_build(
                dir_c.as_ptr(),
                name.as_ptr(),
                None,
                null_mut(),
                &mut profile,
                null_mut()
            ),
            FIXLOOP_ERR_AUDIO
        );
        assert!(profile.is_null());

        // Three references and a file that is not audio.
        for (k, hz) in [55.0f32, 65.0, 73.0].iter().enumerate() {
            let mut w = hound::WavWriter::create(
                dir.join(format!("ref{k}.wav")),
                hound::WavSpec {
                    channels: 2,
                    sample_rate: 44_100,
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                },
            )
            .unwrap();
            for i in 0..44_100 * 4 {
                let t = i as f32 / 44_100.0;
                let v = 0.4 * (2.0 * std::f32::consts::PI * hz * t).sin()
                    + 0.1 * (2.0 * std::f32::consts::PI * 1000.0 * t).sin();
                let s = (v * 32767.0) as i16;
                w.write_sample(s).unwrap();
                w.write_sample(s).unwrap();
            }
            w.finalize().unwrap();
        }
        std::fs::write(dir.join("broken.wav"), b"RIFF\x10\x00\x00\x00WAVEjunk").unwrap();
        let seen = Seen::default();
        assert_eq!(
            fixloop_profile_build(
                dir_c.as_ptr(),
                name.as_ptr(),
                Some(on_progress),
                &seen as *const Seen as *mut std::ffi::c_void,
                &mut profile,
                &mut report,
            ),
            FIXLOOP_OK,
            "{}",
            last_error()
        );
        assert_eq!(seen.calls.load(SeqCst), 4);
        assert_eq!(seen.failed.load(SeqCst), 1);
        assert_eq!(seen.last_total.load(SeqCst), 4);
        assert_eq!(seen.most_in_flight.load(SeqCst), 1, "callbacks overlapped");
        let mut tracks = 0u64;
        assert_eq!(
            fixloop_profile_track_count(profile, &mut tracks),
            FIXLOOP_OK
        );
        assert_eq!(tracks, 3);
        let text = CStr::from_ptr(report).to_str().unwrap().to_owned();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["tracks"], 3);
        assert!(
            json["failed"][0]["path"]
                .as_str()
                .unwrap()
                .ends_with("broken.wav"),
            "{text}"
        );
        assert!(!json["failed"][0]["error"].as_str().unwrap().is_empty());
        fixloop_string_free(report);
        fixloop_profile_free(profile);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
