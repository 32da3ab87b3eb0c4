//! Learning through the C ABI: summary, refinement, A/B status and assignment.

use super::*;
use crate::feedback::{Arm, Timestamp};
use crate::home::Home;
use crate::learn::{self, AbStatus, AbStore, RefineOptions, Since, Summary};
use crate::store;
use std::path::{Path, PathBuf};

/// The feedback at `feedback` (a log directory or a `.jsonl` file; NULL = the default
/// home's log), a log kept compact for the learning functions.
///
/// # Safety
/// `feedback` is NULL or NUL-terminated.
pub(super) unsafe fn feedback_at(feedback: *const c_char) -> FfiResult<store::Feedback> {
    let path = if feedback.is_null() {
        Home::resolve(None)?.feedback_dir()
    } else {
        // SAFETY: non-NULL, NUL-terminated per the contract.
        PathBuf::from(unsafe { arg_str(feedback, "feedback") }?)
    };
    Ok(store::load_feedback(&path)?)
}

pub(super) fn json_out(out: *mut *mut c_char, value: &impl serde::Serialize) -> FfiResult {
    let text = serde_json::to_string(value)
        .map_err(|e| Failure::new(FIXLOOP_ERR_PANIC, format!("cannot encode JSON: {e}")))?;
    // SAFETY: the caller checked out non-NULL.
    unsafe { out.write(owned_string(text)) };
    Ok(())
}

/// The feedback summary (SPEC §5 `summary --json` fields) of the events at `feedback`
/// (log directory or `.jsonl` file; NULL = the default home's log), restricted to `since`
/// (`"30d"`, `"2026-10-01"`…; NULL = all time), as a JSON string in `*out_json`.
///
/// The caller owns `*out_json` and releases it with [`fixloop_string_free`].
/// Any non-real-time thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_summary_json(
    feedback: *const c_char,
    since: *const c_char,
    out_json: *mut *mut c_char,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out_json, "out_json")?;
        let since = if since.is_null() {
            None
        } else {
            // SAFETY: non-NULL, NUL-terminated per the contract.
            Some(Since::parse(unsafe { arg_str(since, "since") }?)?)
        };
        // SAFETY: forwarded contract on feedback.
        let events = unsafe { feedback_at(feedback) }?;
        let summary = Summary::compute(&events, since, Timestamp::now())?;
        json_out(out, &summary)
    })
}

/// Refines `profile` from the events at `feedback` (NULL = the default home's log) with the
/// default guard rails and `min_events` (0 = the default, 20). Writes the new profile to
/// `*out_profile` and, when `out_report_json` is not NULL, the report (SPEC §5 `refine
/// --json` fields) to `*out_report_json`. `profile` is not modified.
///
/// The caller owns `*out_profile` ([`fixloop_profile_free`]) and `*out_report_json`
/// ([`fixloop_string_free`]). Any non-real-time thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_refine_profile(
    profile: *const fixloop_profile,
    feedback: *const c_char,
    min_events: u64,
    out_profile: *mut *mut fixloop_profile,
    out_report_json: *mut *mut c_char,
) -> fixloop_status {
    boundary(|| {
        let out_profile = out_ptr(out_profile, "out_profile")?;
        // SAFETY: NULL or a live handle, per the contract.
        let profile = unsafe { arg_ref(profile, "profile") }?;
        // SAFETY: forwarded contract on feedback.
        let events = unsafe { feedback_at(feedback) }?;
        let mut options = RefineOptions::new(chrono::Utc::now().date_naive());
        if min_events > 0 {
            options.min_events = min_events;
        }
        let refined = learn::refine(&profile.inner, &events, &options)?;
        if !out_report_json.is_null() {
            json_out(out_report_json, &refined.report)?;
        }
        let handle = Box::into_raw(Box::new(fixloop_profile {
            inner: refined.profile,
        }));
        // SAFETY: checked non-NULL above.
        unsafe { out_profile.write(handle) };
        Ok(())
    })
}

/// The status of A/B test `test` (an id in `abtests_dir`, or a path to a test file;
/// `abtests_dir` NULL = the default home's `abtests/`) from the events at `feedback`
/// (NULL = the default home's log), as JSON (SPEC §5 `ab status --json` fields) in
/// `*out_json`. `FIXLOOP_ERR_NOT_FOUND` for an unknown test id.
///
/// The caller owns `*out_json` ([`fixloop_string_free`]). Any non-real-time thread; not
/// real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_ab_status_json(
    test: *const c_char,
    abtests_dir: *const c_char,
    feedback: *const c_char,
    out_json: *mut *mut c_char,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out_json, "out_json")?;
        // SAFETY: NULL or NUL-terminated, per the contract.
        let test = unsafe { arg_str(test, "test") }?;
        let dir = if abtests_dir.is_null() {
            Home::resolve(None)?.abtests_dir()
        } else {
            // SAFETY: non-NULL, NUL-terminated per the contract.
            Path::new(unsafe { arg_str(abtests_dir, "abtests_dir") }?).to_path_buf()
        };
        let test = AbStore::new(dir).resolve(test)?;
        // SAFETY: forwarded contract on feedback.
        let feedback = unsafe { feedback_at(feedback) }?;
        let status = AbStatus::compute(&test, &feedback, Timestamp::now())?;
        json_out(out, &status)
    })
}

/// The arm (`fixloop_arm`) of session `session_id` in test `test_id` with treatment share
/// `assignment_ratio` (0–1), written to `*out_arm`. Deterministic: the same answer in every
/// process and version (FNV-1a 64 of `test_id`, a zero byte and `session_id`, through
/// SplitMix64's finaliser, compared with the ratio).
///
/// Any thread; not real-time safe (may set the last error).
#[no_mangle]
pub unsafe extern "C" fn fixloop_ab_assign(
    test_id: *const c_char,
    session_id: *const c_char,
    assignment_ratio: f64,
    out_arm: *mut u32,
) -> fixloop_status {
    boundary(|| {
        let out_arm = out_ptr(out_arm, "out_arm")?;
        // SAFETY: NULL or NUL-terminated, per the contract.
        let (test_id, session_id) = unsafe {
            (
                arg_str(test_id, "test_id")?,
                arg_str(session_id, "session_id")?,
            )
        };
        if !(assignment_ratio.is_finite() && (0.0..=1.0).contains(&assignment_ratio)) {
            return Err(Failure::new(
                FIXLOOP_ERR_INVALID_ARGUMENT,
                format!("assignment_ratio is {assignment_ratio}; expected a number in [0, 1]"),
            ));
        }
        let arm = learn::ab::assign_with_ratio(test_id, session_id, assignment_ratio);
        // SAFETY: checked non-NULL above.
        unsafe { out_arm.write(u32::from(arm == Arm::Treatment)) };
        Ok(())
    })
}
