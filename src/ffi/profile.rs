//! Profiles through the C ABI.

use super::*;
use crate::features::{Feature, FixType};
use crate::profile::Profile;
use std::path::Path;

/// An opaque, immutable reference profile. Create with [`fixloop_profile_load`] or
/// [`fixloop_profile_from_json`]; release with [`fixloop_profile_free`]. A profile may be
/// read from several threads at once.
pub struct fixloop_profile {
    pub(crate) inner: Profile,
}

/// One feature's statistics, as stored in the profile.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fixloop_feature_stats {
    /// Number of reference tracks with a value.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Lower edge of the acceptable range.
    pub range_low: f64,
    /// Upper edge of the acceptable range.
    pub range_high: f64,
    /// Weight in the score.
    pub weight: f64,
}

/// One feature's learned target (`learn::taste`): where the producer wants the value,
/// learned from their decisions with the references as the prior.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fixloop_learned_target {
    /// The learned target, in the feature's unit.
    pub target: f64,
    /// Its standard deviation.
    pub sd: f64,
    /// Lower end of its 90 % interval.
    pub interval_low: f64,
    /// Upper end of its 90 % interval.
    pub interval_high: f64,
    /// The references' mean it started from.
    pub reference_mean: f64,
    /// How precisely the producer places the value when they modify a fix (the learned
    /// tolerance), in the feature's unit.
    pub tolerance: f64,
    /// How much the producer cares about the feature against the others (1 as much as
    /// their average; the joint plan weighs the feature by it).
    pub weight: f64,
    /// Decisions behind it.
    pub decisions: u64,
    /// Of them, modifies.
    pub modified: u64,
    /// Kept moves.
    pub kept: u64,
    /// Refused moves.
    pub refused: u64,
    /// Whether fixes aim at it rather than at the range's edge (known well enough).
    pub known: bool,
}

pub(super) fn write_profile(out: *mut *mut fixloop_profile, profile: Profile) {
    let handle = Box::into_raw(Box::new(fixloop_profile { inner: profile }));
    // SAFETY: out was checked non-NULL by the caller of this helper.
    unsafe { out.write(handle) };
}

/// Loads and validates the profile at `path` (NUL-terminated UTF-8) into `*out`.
/// Errors (`FIXLOOP_ERR_IO`, `_PARSE`, `_INVALID_PROFILE`) name the file, feature and field
/// in [`fixloop_last_error`].
///
/// The caller owns `*out` and releases it with [`fixloop_profile_free`].
/// Any thread; not real-time safe (file I/O, allocation).
#[no_mangle]
pub unsafe extern "C" fn fixloop_profile_load(
    path: *const c_char,
    out: *mut *mut fixloop_profile,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: caller passes a NUL-terminated string or NULL.
        let path = unsafe { arg_str(path, "path") }?;
        write_profile(out, Profile::load(Path::new(path))?);
        Ok(())
    })
}

/// Parses and validates a profile from `len` bytes of JSON at `json` into `*out`.
///
/// The caller keeps `json`; the caller owns `*out` ([`fixloop_profile_free`]).
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_profile_from_json(
    json: *const u8,
    len: usize,
    out: *mut *mut fixloop_profile,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: caller guarantees len readable bytes at json.
        let bytes = unsafe { arg_slice(json, len, "json") }?;
        let text = std::str::from_utf8(bytes)
            .map_err(|e| Failure::new(FIXLOOP_ERR_INVALID_UTF8, format!("argument json: {e}")))?;
        write_profile(out, Profile::from_json(text, "json")?);
        Ok(())
    })
}

/// Writes `profile` as JSON to `path`, atomically (temporary file, then rename).
///
/// Borrows `profile`. Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_profile_save(
    profile: *const fixloop_profile,
    path: *const c_char,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live handle, per the contract.
        let profile = unsafe { arg_ref(profile, "profile") }?;
        // SAFETY: caller passes a NUL-terminated string or NULL.
        let path = unsafe { arg_str(path, "path") }?;
        profile.inner.save(Path::new(path))?;
        Ok(())
    })
}

/// The profile as JSON, returned owned in `*out` (release with [`fixloop_string_free`]).
///
/// Borrows `profile`. Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_profile_to_json(
    profile: *const fixloop_profile,
    out: *mut *mut c_char,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or a live handle, per the contract.
        let profile = unsafe { arg_ref(profile, "profile") }?;
        // SAFETY: checked non-NULL above.
        unsafe { out.write(owned_string(profile.inner.to_json())) };
        Ok(())
    })
}

/// Releases a profile. NULL is ignored; releasing twice is undefined.
///
/// Any thread, once no other thread uses the profile; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_profile_free(profile: *mut fixloop_profile) {
    // SAFETY: NULL or from Box::into_raw in write_profile, per the contract.
    unsafe { free_box(profile) }
}

/// Copies the profile's name into `buf` (see [`fixloop_last_error`] for the buffer rules).
///
/// Borrows `profile`; the caller owns `buf`. Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_profile_name(
    profile: *const fixloop_profile,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live handle, per the contract.
        let profile = unsafe { arg_ref(profile, "profile") }?;
        // SAFETY: forwarded caller contract on buf/cap/out_len.
        unsafe { copy_out(&profile.inner.name, buf, cap, out_len) }
    })
}

/// Copies the profile's version string into `buf` (buffer rules as [`fixloop_last_error`]).
///
/// Borrows `profile`; the caller owns `buf`. Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_profile_version(
    profile: *const fixloop_profile,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live handle, per the contract.
        let profile = unsafe { arg_ref(profile, "profile") }?;
        // SAFETY: forwarded caller contract on buf/cap/out_len.
        unsafe { copy_out(&profile.inner.version, buf, cap, out_len) }
    })
}

/// Writes the number of reference tracks behind the profile to `*out`.
///
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_profile_track_count(
    profile: *const fixloop_profile,
    out: *mut u64,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or a live handle, per the contract.
        let profile = unsafe { arg_ref(profile, "profile") }?;
        // SAFETY: checked non-NULL above.
        unsafe { out.write(profile.inner.track_count) };
        Ok(())
    })
}

/// Writes the statistics of feature `feature_id` to `*out`; `FIXLOOP_ERR_NOT_FOUND` when the
/// profile has none for it, `FIXLOOP_ERR_INVALID_ENUM` for an id outside the catalogue.
///
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_profile_feature_stats(
    profile: *const fixloop_profile,
    feature_id: u32,
    out: *mut fixloop_feature_stats,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or a live handle, per the contract.
        let profile = unsafe { arg_ref(profile, "profile") }?;
        let feature = feature_arg(feature_id, "feature_id")?;
        let s = profile.inner.stats(feature).ok_or_else(|| {
            Failure::new(
                FIXLOOP_ERR_NOT_FOUND,
                format!("profile {} has no feature {feature}", profile.inner.version),
            )
        })?;
        let stats = fixloop_feature_stats {
            count: s.count,
            mean: s.mean,
            std: s.std,
            min: s.min,
            max: s.max,
            p10: s.p10,
            p25: s.p25,
            p50: s.p50,
            p75: s.p75,
            p90: s.p90,
            range_low: s.acceptable_range[0],
            range_high: s.acceptable_range[1],
            weight: s.weight,
        };
        // SAFETY: checked non-NULL above.
        unsafe { out.write(stats) };
        Ok(())
    })
}

/// Writes the learned target of feature `feature_id` to `*out`; `FIXLOOP_ERR_NOT_FOUND`
/// when the profile has learned none for it (a profile built from references has none),
/// `FIXLOOP_ERR_INVALID_ENUM` for an id outside the catalogue. Fixes proposed under the
/// default policy aim at it (`targets: learned`).
///
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_profile_learned_target(
    profile: *const fixloop_profile,
    feature_id: u32,
    out: *mut fixloop_learned_target,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or a live handle, per the contract.
        let profile = unsafe { arg_ref(profile, "profile") }?;
        let feature = feature_arg(feature_id, "feature_id")?;
        let t = profile.inner.learned_target(feature).ok_or_else(|| {
            Failure::new(
                FIXLOOP_ERR_NOT_FOUND,
                format!(
                    "profile {} has learned no target for {feature}",
                    profile.inner.version
                ),
            )
        })?;
        let target = fixloop_learned_target {
            target: t.target,
            sd: t.sd,
            interval_low: t.interval[0],
            interval_high: t.interval[1],
            reference_mean: t.reference_mean,
            tolerance: t.tolerance,
            weight: t.weight,
            decisions: t.decisions,
            modified: t.modified,
            kept: t.kept,
            refused: t.refused,
            known: t.known(),
        };
        // SAFETY: checked non-NULL above.
        unsafe { out.write(target) };
        Ok(())
    })
}

/// Writes the profile's prior confidence for fix type `fix_type` (0…5, see `fixloop_fix_type`)
/// to `*out` (0.7 when the profile lists none).
///
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_profile_fix_confidence(
    profile: *const fixloop_profile,
    fix_type: u32,
    out: *mut f64,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or a live handle, per the contract.
        let profile = unsafe { arg_ref(profile, "profile") }?;
        let fix_type = FixType::from_id(fix_type)
            .ok_or_else(|| Failure::bad_enum("fix_type", fix_type, 0..FixType::ALL.len() as u32))?;
        // SAFETY: checked non-NULL above.
        unsafe { out.write(profile.inner.fix_confidence(fix_type)) };
        Ok(())
    })
}

pub(crate) fn feature_arg(id: u32, name: &str) -> FfiResult<Feature> {
    Feature::from_id(id).ok_or_else(|| Failure::bad_enum(name, id, 0..Feature::COUNT as u32))
}
