//! A profile's lineage through the C ABI: the learning step a host runs at session start
//! and end, the history of versions, and reverting to one (`crate::learn::Lineage`).

use super::learn::json_out;
use super::profile::write_profile;
use super::*;
use crate::home::Home;
use crate::learn::{Learned, Lineage, RefineOptions};
use std::path::{Path, PathBuf};

/// An opaque handle on the lineage of one profile in a home (its versions and history
/// under `profiles/<name>/`). Open with [`fixloop_lineage_open`], release with
/// [`fixloop_lineage_close`]. The handle holds no file open: several handles (and
/// processes) may use one lineage, but steps that write (adopt, learn, revert, pause) must
/// not run concurrently on the same lineage.
pub struct fixloop_lineage {
    inner: Lineage,
    home: Home,
}

/// What a learning step did (values of the `uint32_t` written by [`fixloop_lineage_learn`]).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum fixloop_learned {
    /// Learning is paused; nothing was read.
    FIXLOOP_LEARNED_PAUSED = 0,
    /// Not enough feedback yet for the version in force.
    FIXLOOP_LEARNED_NOT_DUE = 1,
    /// Enough feedback, but refinement changed nothing.
    FIXLOOP_LEARNED_UNCHANGED = 2,
    /// A refined version is now in force.
    FIXLOOP_LEARNED_REFINED = 3,
}

impl From<&Learned> for fixloop_learned {
    fn from(l: &Learned) -> Self {
        match l {
            Learned::Paused => fixloop_learned::FIXLOOP_LEARNED_PAUSED,
            Learned::NotDue { .. } => fixloop_learned::FIXLOOP_LEARNED_NOT_DUE,
            Learned::Unchanged { .. } => fixloop_learned::FIXLOOP_LEARNED_UNCHANGED,
            Learned::Refined { .. } => fixloop_learned::FIXLOOP_LEARNED_REFINED,
        }
    }
}

/// Opens the lineage of the profile called `name` in the home at `home` (NULL = the
/// default home: `FIXLOOP_HOME`, else the platform data dir) into `*out`. Nothing is
/// created on disk until something is written. `FIXLOOP_ERR_INVALID_ARGUMENT` for a name
/// that cannot be a folder name.
///
/// The caller owns `*out` ([`fixloop_lineage_close`]). Any non-real-time thread; not
/// real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_lineage_open(
    home: *const c_char,
    name: *const c_char,
    out: *mut *mut fixloop_lineage,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or NUL-terminated, per the contract.
        let name = unsafe { arg_str(name, "name") }?;
        let explicit = if home.is_null() {
            None
        } else {
            // SAFETY: non-NULL, NUL-terminated per the contract.
            Some(Path::new(unsafe { arg_str(home, "home") }?))
        };
        let home = Home::resolve(explicit)?;
        let inner = Lineage::open(&home, name)?;
        let handle = Box::into_raw(Box::new(fixloop_lineage { inner, home }));
        // SAFETY: checked non-NULL above.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Releases a lineage handle. NULL is ignored. Any non-real-time thread.
#[no_mangle]
pub unsafe extern "C" fn fixloop_lineage_close(lineage: *mut fixloop_lineage) {
    // SAFETY: NULL or from fixloop_lineage_open, per the contract.
    unsafe { free_box(lineage) }
}

/// Makes `profile` part of the lineage: the first time (or for a version the lineage has
/// never held, e.g. a rebuilt profile of the same name) it is written and put in force;
/// otherwise nothing changes and a refined descendant stays in force. The profile's name
/// must be the lineage's. When `out_current` is not NULL, the profile in force is written
/// to `*out_current` — the one to propose fixes with.
///
/// Borrows `profile`; the caller owns `*out_current` ([`fixloop_profile_free`]). Any
/// non-real-time thread; not real-time safe (file I/O).
#[no_mangle]
pub unsafe extern "C" fn fixloop_lineage_adopt(
    lineage: *const fixloop_lineage,
    profile: *const fixloop_profile,
    out_current: *mut *mut fixloop_profile,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or live handles, per the contract.
        let (lineage, profile) =
            unsafe { (arg_ref(lineage, "lineage")?, arg_ref(profile, "profile")?) };
        let current = lineage.inner.adopt(&profile.inner, chrono::Utc::now())?;
        if !out_current.is_null() {
            write_profile(out_current, current);
        }
        Ok(())
    })
}

/// The profile in force, written to `*out_profile`. `FIXLOOP_ERR_NOT_FOUND` for a lineage
/// with no version yet (adopt one first).
///
/// The caller owns `*out_profile` ([`fixloop_profile_free`]). Any non-real-time thread;
/// not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_lineage_current(
    lineage: *const fixloop_lineage,
    out_profile: *mut *mut fixloop_profile,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out_profile, "out_profile")?;
        // SAFETY: NULL or a live handle, per the contract.
        let lineage = unsafe { arg_ref(lineage, "lineage") }?;
        let profile = lineage.inner.current()?.ok_or_else(|| {
            Failure::new(
                FIXLOOP_ERR_NOT_FOUND,
                format!(
                    "profile {} has no version in {} yet (adopt one first)",
                    lineage.inner.name(),
                    lineage.inner.dir().display()
                ),
            )
        })?;
        write_profile(out, profile);
        Ok(())
    })
}

/// One step of learning (what the plugin runs at session start and after a session
/// ends): when some feature has at least `min_events` events (0 = the default, 20)
/// recorded under the version in force in the log at `feedback` (a log directory; NULL =
/// the home's `feedback/`), refines it (SPEC §4.3 with its guard rails), writes the new
/// version and puts it in force. When the log has not changed since the last step it
/// answers without reading the log. What happened is written to `*out_result`
/// (`fixloop_learned`) and, as JSON (field `result` and that outcome's fields; a
/// refinement's adjustments and confidence updates), to `*out_json`; either may be NULL.
/// After `FIXLOOP_LEARNED_REFINED`, [`fixloop_lineage_current`] gives the new profile.
///
/// The caller owns `*out_json` ([`fixloop_string_free`]). Any non-real-time thread (it
/// reads the log and writes files: never the audio thread).
#[no_mangle]
pub unsafe extern "C" fn fixloop_lineage_learn(
    lineage: *const fixloop_lineage,
    feedback: *const c_char,
    min_events: u64,
    out_result: *mut u32,
    out_json: *mut *mut c_char,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live handle, per the contract.
        let lineage = unsafe { arg_ref(lineage, "lineage") }?;
        let feedback = if feedback.is_null() {
            lineage.home.feedback_dir()
        } else {
            // SAFETY: non-NULL, NUL-terminated per the contract.
            PathBuf::from(unsafe { arg_str(feedback, "feedback") }?)
        };
        let now = chrono::Utc::now();
        let mut options = RefineOptions::new(now.date_naive());
        if min_events > 0 {
            options.min_events = min_events;
        }
        let learned = lineage.inner.learn(&feedback, &options, now)?;
        if !out_json.is_null() {
            json_out(out_json, &learned)?;
        }
        if !out_result.is_null() {
            // SAFETY: checked non-NULL.
            unsafe { out_result.write(fixloop_learned::from(&learned) as u32) };
        }
        Ok(())
    })
}

/// The lineage at a glance as JSON in `*out_json`: `name`, `in_force`, `paused`,
/// `history[]` (every version created, refined — with its adjustments and confidence
/// updates — or reverted, oldest first) and `changes_since_original[]` (what changed since
/// the first version, in words). The same document as `fixloop profile history --json`.
///
/// The caller owns `*out_json` ([`fixloop_string_free`]). Any non-real-time thread.
#[no_mangle]
pub unsafe extern "C" fn fixloop_lineage_history_json(
    lineage: *const fixloop_lineage,
    out_json: *mut *mut c_char,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out_json, "out_json")?;
        // SAFETY: NULL or a live handle, per the contract.
        let lineage = unsafe { arg_ref(lineage, "lineage") }?;
        json_out(out, &lineage.inner.report()?)
    })
}

/// Puts the earlier `version` (NUL-terminated) back in force: a history line is
/// appended, no file is changed or deleted. `FIXLOOP_ERR_NOT_FOUND` for a version the
/// lineage never held (the message lists its versions).
///
/// Borrows everything. Any non-real-time thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_lineage_revert(
    lineage: *const fixloop_lineage,
    version: *const c_char,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live handle / NUL-terminated string, per the contract.
        let (lineage, version) =
            unsafe { (arg_ref(lineage, "lineage")?, arg_str(version, "version")?) };
        lineage.inner.revert(version, chrono::Utc::now())?;
        Ok(())
    })
}

/// Pauses (`paused` true) or resumes learning: while paused, [`fixloop_lineage_learn`]
/// reads nothing and answers `FIXLOOP_LEARNED_PAUSED`. Any non-real-time thread.
#[no_mangle]
pub unsafe extern "C" fn fixloop_lineage_set_paused(
    lineage: *const fixloop_lineage,
    paused: bool,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live handle, per the contract.
        let lineage = unsafe { arg_ref(lineage, "lineage") }?;
        lineage.inner.set_paused(paused)?;
        Ok(())
    })
}
