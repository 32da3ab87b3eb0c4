//! Feedback collection through the C ABI.
//!
//! The record functions (`fixloop_collector_fix_applied`, `_user_action`, `_outcome`,
//! `_session_saved`, `_track_bounced`) are real-time safe: no allocation, lock, syscall
//! or wait. To stay so they set **no** last-error message; their status code says
//! everything (`FIXLOOP_ERR_QUEUE_FULL`: dropped and counted; `FIXLOOP_ERR_INVALID_ARGUMENT`:
//! a NaN or an unknown event; `FIXLOOP_ERR_NULL_ARGUMENT`; `FIXLOOP_ERR_INVALID_ENUM`).
//! A panic inside them is still caught (`FIXLOOP_ERR_PANIC`).

use super::*;
use crate::features::{Feature, FixType};
use crate::feedback::records::{BounceEvidence, EventId, FixId};
use crate::feedback::{Arm, UserAction};
use crate::home::Home;
use crate::store::{AppliedFix, Collector, PushError, SessionInfo, StoreOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// An opaque feedback collector (one per plugin instance or host session). Open with
/// [`fixloop_collector_open`], close with [`fixloop_collector_close`]. Its functions may be
/// called from several threads at once (the record functions from the audio thread).
pub struct fixloop_collector {
    inner: Collector,
}

/// The id of an applied fix's event, returned by [`fixloop_collector_fix_applied`] and passed
/// to the later lifecycle calls. Plain data; copy it freely.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct fixloop_event_id {
    /// The collector's random id.
    pub collector: u64,
    /// The event's serial number within the collector.
    pub serial: u32,
}

/// User actions (values of `uint32_t action` arguments).
#[repr(u32)]
#[derive(Clone, Copy, Debug)]
pub enum fixloop_user_action {
    /// Kept the fix.
    FIXLOOP_ACTION_ACCEPT = 0,
    /// Skipped it.
    FIXLOOP_ACTION_REJECT = 1,
    /// Applied it and reversed it.
    FIXLOOP_ACTION_UNDO = 2,
    /// Applied it with another value (`modified_value`).
    FIXLOOP_ACTION_MODIFY = 3,
}

/// A/B arms (values of `uint32_t` arm arguments and results).
#[repr(u32)]
#[derive(Clone, Copy, Debug)]
pub enum fixloop_arm {
    /// The control configuration.
    FIXLOOP_ARM_CONTROL = 0,
    /// The treatment configuration.
    FIXLOOP_ARM_TREATMENT = 1,
}

/// A collector's counters. Once flushed, `pushed = durable + dropped`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fixloop_collector_stats {
    /// Records handed to the queue, including those dropped because it was full.
    pub pushed: u64,
    /// Records dropped because the queue was full (the count is persisted in the log).
    pub dropped: u64,
    /// Records written and synced to disk.
    pub durable: u64,
    /// Write or sync errors the writer has met (records stay buffered meanwhile).
    pub write_errors: u64,
    /// Whether the writer's last write or sync failed (message via a failing flush).
    pub failing: bool,
}

/// Opens a collector on the log directory `feedback_dir` (NUL-terminated; NULL = the
/// default home's `feedback/`: `FIXLOOP_HOME`, else the platform data directory). The
/// directory is created if missing; the process's writer thread is started or joined.
///
/// The caller owns `*out` and releases it with [`fixloop_collector_close`].
/// Any non-real-time thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_collector_open(
    feedback_dir: *const c_char,
    out: *mut *mut fixloop_collector,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        let dir = if feedback_dir.is_null() {
            Home::resolve(None)?.feedback_dir()
        } else {
            // SAFETY: non-NULL, NUL-terminated per the contract.
            PathBuf::from(unsafe { arg_str(feedback_dir, "feedback_dir") }?)
        };
        let inner = Collector::open(&dir, &StoreOptions::default())?;
        let handle = Box::into_raw(Box::new(fixloop_collector { inner }));
        // SAFETY: checked non-NULL above.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Starts a host session: later records carry `track_path`, `session_id` and
/// `profile_version` (NUL-terminated; none may be NULL) and the A/B assignments
/// `ab_test_ids[i]` → `ab_arms[i]` (`fixloop_arm`) for `i < ab_count` (both NULL when 0).
///
/// Borrows everything. Any non-real-time thread; not real-time safe (allocates, and may
/// wait up to 1 s for room in the queue).
#[no_mangle]
pub unsafe extern "C" fn fixloop_collector_start_session(
    collector: *const fixloop_collector,
    track_path: *const c_char,
    session_id: *const c_char,
    profile_version: *const c_char,
    ab_test_ids: *const *const c_char,
    ab_arms: *const u32,
    ab_count: usize,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live handle, per the contract.
        let collector = unsafe { arg_ref(collector, "collector") }?;
        // SAFETY: strings are NULL or NUL-terminated, per the contract.
        let (track_path, session_id, profile_version) = unsafe {
            (
                arg_str(track_path, "track_path")?,
                arg_str(session_id, "session_id")?,
                arg_str(profile_version, "profile_version")?,
            )
        };
        // SAFETY: caller guarantees ab_count readable elements in each array.
        let (ids, arms) = unsafe {
            (
                arg_slice(ab_test_ids, ab_count, "ab_test_ids")?,
                arg_slice(ab_arms, ab_count, "ab_arms")?,
            )
        };
        let mut ab = BTreeMap::new();
        for (i, (&id, &arm)) in ids.iter().zip(arms).enumerate() {
            // SAFETY: each id is NULL or NUL-terminated, per the contract.
            let id = unsafe { arg_str(id, &format!("ab_test_ids[{i}]")) }?;
            let arm = match arm {
                0 => Arm::Control,
                1 => Arm::Treatment,
                other => return Err(Failure::bad_enum(&format!("ab_arms[{i}]"), other, 0..2)),
            };
            ab.insert(id.to_string(), arm);
        }
        collector.inner.start_session(&SessionInfo {
            track_path: track_path.into(),
            session_id: session_id.into(),
            profile_version: profile_version.into(),
            ab,
            ..SessionInfo::default()
        })?;
        Ok(())
    })
}

/// Runs a real-time body: catches panics but allocates nothing (no last-error message).
fn rt_boundary(body: impl FnOnce() -> fixloop_status) -> fixloop_status {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(FIXLOOP_ERR_PANIC)
}

fn push_status(result: Result<(), PushError>) -> fixloop_status {
    match result {
        Ok(()) => FIXLOOP_OK,
        Err(PushError::Full) => FIXLOOP_ERR_QUEUE_FULL,
        Err(PushError::NonFinite) => FIXLOOP_ERR_INVALID_ARGUMENT,
    }
}

/// Records that `fix` (as returned by [`fixloop_fix_list_get`], or filled by the host: its
/// `fix_id` is NUL-terminated UTF-8 of at most 47 bytes) was applied, and writes the new
/// event's id to `*out_event`.
///
/// Borrows `fix`. Any thread. **Real-time safe**: no allocation, lock, syscall or wait; sets
/// no last-error message. `FIXLOOP_ERR_QUEUE_FULL` when the queue is full (the record is
/// counted as dropped; `*out_event` is not written).
#[no_mangle]
pub unsafe extern "C" fn fixloop_collector_fix_applied(
    collector: *const fixloop_collector,
    fix: *const fixloop_fix,
    out_event: *mut fixloop_event_id,
) -> fixloop_status {
    rt_boundary(|| {
        // SAFETY: each pointer is NULL or valid, per the contract.
        let (Some(collector), Some(fix)) = (unsafe { collector.as_ref() }, unsafe { fix.as_ref() })
        else {
            return FIXLOOP_ERR_NULL_ARGUMENT;
        };
        if out_event.is_null() || fix.fix_id.is_null() {
            return FIXLOOP_ERR_NULL_ARGUMENT;
        }
        // SAFETY: non-NULL and NUL-terminated per the contract; strlen only, no allocation.
        let Ok(fix_id) = unsafe { CStr::from_ptr(fix.fix_id) }.to_str() else {
            return FIXLOOP_ERR_INVALID_UTF8;
        };
        let Ok(fix_id) = FixId::new(fix_id) else {
            return FIXLOOP_ERR_INVALID_ARGUMENT;
        };
        let (Some(feature), Some(fix_type)) = (
            Feature::from_id(fix.gap_feature),
            FixType::from_id(fix.action_type),
        ) else {
            return FIXLOOP_ERR_INVALID_ENUM;
        };
        let applied = AppliedFix {
            fix_id,
            feature,
            fix_type,
            original_value: fix.current_value,
            target_value: fix.target_value,
            applied_value: fix.new_value,
            gap_before: fix.z_score,
            was_applied: true,
        };
        match collector.inner.fix_applied(&applied) {
            Ok(event) => {
                // SAFETY: checked non-NULL above.
                unsafe {
                    out_event.write(fixloop_event_id {
                        collector: event.collector,
                        serial: event.serial,
                    })
                };
                FIXLOOP_OK
            }
            Err(e) => push_status(Err(e)),
        }
    })
}

/// Records the producer's `action` (`fixloop_user_action`) on `event`; `modified_value` is
/// used only for `FIXLOOP_ACTION_MODIFY` (pass NaN otherwise).
///
/// Any thread. **Real-time safe**; sets no last-error message.
#[no_mangle]
pub unsafe extern "C" fn fixloop_collector_user_action(
    collector: *const fixloop_collector,
    event: fixloop_event_id,
    action: u32,
    modified_value: f64,
) -> fixloop_status {
    rt_boundary(|| {
        // SAFETY: NULL or a live handle, per the contract.
        let Some(collector) = (unsafe { collector.as_ref() }) else {
            return FIXLOOP_ERR_NULL_ARGUMENT;
        };
        let Some(action) = UserAction::from_id(action) else {
            return FIXLOOP_ERR_INVALID_ENUM;
        };
        let modified = (action == UserAction::Modify).then_some(modified_value);
        push_status(
            collector
                .inner
                .user_action(event_id(event), action, modified),
        )
    })
}

/// Records the gap (z-score) measured on re-analysis after the fix of `event`.
///
/// Any thread. **Real-time safe**; sets no last-error message.
#[no_mangle]
pub unsafe extern "C" fn fixloop_collector_outcome(
    collector: *const fixloop_collector,
    event: fixloop_event_id,
    gap_after: f64,
) -> fixloop_status {
    rt_boundary(|| {
        // SAFETY: NULL or a live handle, per the contract.
        let Some(collector) = (unsafe { collector.as_ref() }) else {
            return FIXLOOP_ERR_NULL_ARGUMENT;
        };
        push_status(collector.inner.outcome(event_id(event), gap_after))
    })
}

/// Records that the host saved the session (marks every open fix of the session).
///
/// Any thread. **Real-time safe**; sets no last-error message.
#[no_mangle]
pub unsafe extern "C" fn fixloop_collector_session_saved(
    collector: *const fixloop_collector,
) -> fixloop_status {
    rt_boundary(|| {
        // SAFETY: NULL or a live handle, per the contract.
        let Some(collector) = (unsafe { collector.as_ref() }) else {
            return FIXLOOP_ERR_NULL_ARGUMENT;
        };
        push_status(collector.inner.session_saved())
    })
}

/// Records that the host bounced (exported) the track — the host knows, so the evidence is
/// "host".
///
/// Any thread. **Real-time safe**; sets no last-error message.
#[no_mangle]
pub unsafe extern "C" fn fixloop_collector_track_bounced(
    collector: *const fixloop_collector,
) -> fixloop_status {
    rt_boundary(|| {
        // SAFETY: NULL or a live handle, per the contract.
        let Some(collector) = (unsafe { collector.as_ref() }) else {
            return FIXLOOP_ERR_NULL_ARGUMENT;
        };
        push_status(collector.inner.track_bounced(BounceEvidence::Host))
    })
}

/// Waits until everything recorded before the call is on disk (fsync). Fails with the
/// writer's error (disk full, permission denied) when it cannot write; the records stay
/// buffered and are written once the disk recovers.
///
/// Any non-real-time thread; not real-time safe (blocks).
#[no_mangle]
pub unsafe extern "C" fn fixloop_collector_flush(
    collector: *const fixloop_collector,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live handle, per the contract.
        let collector = unsafe { arg_ref(collector, "collector") }?;
        collector.inner.flush()?;
        Ok(())
    })
}

/// Writes the collector's counters to `*out`.
///
/// Any non-real-time thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_collector_get_stats(
    collector: *const fixloop_collector,
    out: *mut fixloop_collector_stats,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or a live handle, per the contract.
        let collector = unsafe { arg_ref(collector, "collector") }?;
        let s = collector.inner.stats();
        // SAFETY: checked non-NULL above.
        unsafe {
            out.write(fixloop_collector_stats {
                pushed: s.pushed,
                dropped: s.dropped,
                durable: s.durable,
                write_errors: s.errors,
                failing: s.last_error.is_some(),
            })
        };
        Ok(())
    })
}

/// Flushes and releases a collector. NULL is ignored. Returns the flush's status (the
/// handle is released either way); closing twice is undefined.
///
/// Any non-real-time thread, once no other thread uses the collector; blocks.
#[no_mangle]
pub unsafe extern "C" fn fixloop_collector_close(
    collector: *mut fixloop_collector,
) -> fixloop_status {
    if collector.is_null() {
        return FIXLOOP_OK;
    }
    boundary(|| {
        // SAFETY: came from Box::into_raw in fixloop_collector_open, per the contract.
        let collector = unsafe { Box::from_raw(collector) };
        collector.inner.close()?;
        Ok(())
    })
}

fn event_id(e: fixloop_event_id) -> EventId {
    EventId {
        collector: e.collector,
        serial: e.serial,
    }
}

const _: () = {
    assert!(fixloop_user_action::FIXLOOP_ACTION_MODIFY as u32 == UserAction::Modify as u32);
    assert!(fixloop_user_action::FIXLOOP_ACTION_UNDO as u32 == UserAction::Undo as u32);
};
