//! Scoring and fix generation through the C ABI.

use super::*;
use crate::features::{Direction, FeatureVector, FixType};
use crate::fixes::{self as fx, Fix, FixSetting, Policy, TargetStrategy};
use crate::gaps;
use std::ffi::CString;

/// Fix types (values of `uint32_t fix_type` arguments and fields).
#[repr(u32)]
#[derive(Clone, Copy, Debug)]
pub enum fixloop_fix_type {
    /// Overall gain.
    FIXLOOP_FIX_VOLUME_ADJUST = 0,
    /// Cut a band.
    FIXLOOP_FIX_EQ_BAND_CUT = 1,
    /// Boost a band.
    FIXLOOP_FIX_EQ_BAND_BOOST = 2,
    /// Compression or limiting.
    FIXLOOP_FIX_COMPRESSION = 3,
    /// Stereo width.
    FIXLOOP_FIX_WIDTH_ADJUST = 4,
    /// Side-chain pumping.
    FIXLOOP_FIX_MODULATION_ADJUST = 5,
}

/// Target strategies (values of [`fixloop_policy::target_strategy`]).
#[repr(u32)]
#[derive(Clone, Copy, Debug)]
pub enum fixloop_target_strategy {
    /// Nearest edge of the acceptable range.
    FIXLOOP_TARGET_CONSERVATIVE = 0,
    /// The profile's mean.
    FIXLOOP_TARGET_MEAN = 1,
    /// The profile's median.
    FIXLOOP_TARGET_MEDIAN = 2,
}

/// Kinds of fix setting (values of [`fixloop_fix::setting_kind`]); what `setting_value` holds.
#[repr(u32)]
#[derive(Clone, Copy, Debug)]
pub enum fixloop_setting_kind {
    /// `setting_value` = gain in dB.
    FIXLOOP_SETTING_GAIN = 0,
    /// `setting_value` = band gain in dB over `band_low_hz`–`band_high_hz`.
    FIXLOOP_SETTING_EQ_BAND = 1,
    /// `setting_value` = tilt in dB/octave around `pivot_hz`.
    FIXLOOP_SETTING_EQ_TILT = 2,
    /// `setting_value` = change of PLR (dB) or loudness range (LU); negative = compress harder.
    FIXLOOP_SETTING_DYNAMICS = 3,
    /// `setting_value` = side-gain ratio (0.9 = narrow 10 %).
    FIXLOOP_SETTING_WIDTH = 4,
    /// `setting_value` = pumping depth change in dB.
    FIXLOOP_SETTING_PUMPING = 5,
    /// Advisory, `setting_value` = 0: the band `band_low_hz`–`band_high_hz` is nearly empty;
    /// add a sound there rather than boosting it (the fix's `new_value` is the aim).
    FIXLOOP_SETTING_ADD_CONTENT = 6,
    /// Advisory, `setting_value` = 0: the image is nearly mono; add stereo content toward
    /// the fix's `new_value` (side gain cannot widen it).
    FIXLOOP_SETTING_ADD_WIDTH = 7,
}

/// Controls of the fix stage (values of [`fixloop_control_move::control`]; also the index
/// of a control in the `controls` array of [`fixloop_fix_list_control_move`], whose
/// `FIXLOOP_CONTROL_COUNT` entries are the output gain, the seven band gains low to high
/// and the width ratio).
#[repr(u32)]
#[derive(Clone, Copy, Debug)]
pub enum fixloop_control {
    /// Output gain, dB (index 0).
    FIXLOOP_CONTROL_OUTPUT_GAIN = 0,
    /// Gain of the sub band (20–60 Hz), dB; the band `b` (0 = sub … 6 = air) is index 1 + b.
    FIXLOOP_CONTROL_BAND_SUB = 1,
    /// Gain of the air band (12–20 kHz), dB.
    FIXLOOP_CONTROL_BAND_AIR = 7,
    /// Width (side gain) ratio (index 8).
    FIXLOOP_CONTROL_WIDTH = 8,
}

/// Number of controls of the fix stage (the length of the `controls` array).
pub const FIXLOOP_CONTROL_COUNT: usize = 9;

/// A control moved by a fix: from `previous` to `applied` (clamped to the control's
/// range); `setting` is the setting in effect after the move, in the fix's unit.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fixloop_control_move {
    /// A `fixloop_control` index (0 output gain, 1–7 bands, 8 width).
    pub control: u32,
    /// The control's value before.
    pub previous: f64,
    /// The control's value after.
    pub applied: f64,
    /// The setting in effect: gain change in dB, or the width ratio.
    pub setting: f64,
}

/// One feature value of a track, by feature id.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fixloop_feature_value {
    /// Feature id, `0..FIXLOOP_FEATURE_COUNT` (see [`fixloop_feature_from_name`]).
    pub feature: u32,
    /// The value in the feature's unit; must be finite.
    pub value: f64,
}

/// The fix-generation policy.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fixloop_policy {
    /// A `fixloop_target_strategy` value.
    pub target_strategy: u32,
    /// How far toward the target, 0–1.
    pub amount: f64,
    /// Fixes below this confidence are not proposed, 0–1.
    pub min_confidence: f64,
}

/// The score of a track.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fixloop_score {
    /// 0–100; meaningful only when `has_score`.
    pub score: f64,
    /// False when no feature could be scored.
    pub has_score: bool,
    /// Number of gaps computed (features in both track and profile).
    pub gap_count: u32,
    /// Number of those in range.
    pub in_range_count: u32,
}

/// One feature's gap.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fixloop_gap {
    /// Feature id.
    pub feature: u32,
    /// The track's value.
    pub value: f64,
    /// z-score against the profile.
    pub z: f64,
    /// Whether the value is in the acceptable range.
    pub in_range: bool,
    /// −1 below the range, 0 in range, +1 above.
    pub direction: i32,
    /// Distance outside the range in standard deviations.
    pub excess: f64,
    /// The feature's weight in the score.
    pub weight: f64,
}

/// One proposed fix. `fix_id` is borrowed from the list and valid until the list is freed.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fixloop_fix {
    /// Stable id of the proposal (NUL-terminated, owned by the list).
    pub fix_id: *const c_char,
    /// A `fixloop_fix_type` value.
    pub action_type: u32,
    /// Feature id the fix addresses.
    pub gap_feature: u32,
    /// Current value.
    pub current_value: f64,
    /// Target value.
    pub target_value: f64,
    /// The value applying the fix aims for.
    pub new_value: f64,
    /// Confidence, 0–1.
    pub confidence: f64,
    /// The source gap's z-score.
    pub z_score: f64,
    /// A `fixloop_setting_kind` value.
    pub setting_kind: u32,
    /// The setting's main value (see `fixloop_setting_kind`).
    pub setting_value: f64,
    /// Band lower edge, Hz (EQ band only, else 0).
    pub band_low_hz: f64,
    /// Band upper edge, Hz (EQ band only, else 0).
    pub band_high_hz: f64,
    /// Tilt pivot, Hz (EQ tilt only, else 0).
    pub pivot_hz: f64,
}

/// An opaque list of proposed fixes, created by [`fixloop_propose_fixes`], released with
/// [`fixloop_fix_list_free`].
pub struct fixloop_fix_list {
    pub(crate) fixes: Vec<Fix>,
    ids: Vec<CString>,
}

impl fixloop_fix_list {
    /// A list of `fixes`, their ids kept as C strings for the accessors.
    pub(crate) fn from_fixes(fixes: Vec<Fix>) -> fixloop_fix_list {
        let ids = fixes
            .iter()
            .map(|f| CString::new(f.fix_id.clone()).unwrap_or_default())
            .collect();
        fixloop_fix_list { fixes, ids }
    }

    /// The fixes, for other parts of the C ABI (the collector records them).
    pub(crate) fn get(&self, index: usize) -> FfiResult<&Fix> {
        self.fixes.get(index).ok_or_else(|| {
            Failure::new(
                FIXLOOP_ERR_INVALID_ARGUMENT,
                format!(
                    "index {index} is out of range: the list holds {} fixes",
                    self.fixes.len()
                ),
            )
        })
    }
}

/// Writes the default policy (conservative, amount 1, min confidence 0.5) to `*out`.
///
/// Any thread; real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_policy_default(out: *mut fixloop_policy) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        let p = Policy::default();
        // SAFETY: checked non-NULL above.
        unsafe {
            out.write(fixloop_policy {
                target_strategy: p.target_strategy as u32,
                amount: p.amount,
                min_confidence: p.min_confidence,
            })
        };
        Ok(())
    })
}

pub(crate) fn policy_arg(policy: Option<&fixloop_policy>) -> FfiResult<Policy> {
    let Some(p) = policy else {
        return Ok(Policy::default());
    };
    let target_strategy = TargetStrategy::from_id(p.target_strategy).ok_or_else(|| {
        Failure::bad_enum(
            "policy.target_strategy",
            p.target_strategy,
            0..TargetStrategy::ALL.len() as u32,
        )
    })?;
    let policy = Policy {
        target_strategy,
        amount: p.amount,
        min_confidence: p.min_confidence,
        ..Policy::default()
    };
    policy.validate()?;
    Ok(policy)
}

/// Builds a feature vector from C values, refusing bad ids, non-finite values and duplicates.
pub(crate) fn features_arg(values: &[fixloop_feature_value]) -> FfiResult<FeatureVector> {
    let mut v = FeatureVector::new();
    for (i, fv) in values.iter().enumerate() {
        let feature = super::profile::feature_arg(fv.feature, &format!("values[{i}].feature"))?;
        if v.value(feature).is_some() {
            return Err(Failure::new(
                FIXLOOP_ERR_INVALID_ARGUMENT,
                format!("values[{i}]: feature {feature} is given twice"),
            ));
        }
        v.set(feature, fv.value)
            .map_err(|e| Failure::from(e.context(format_args!("values[{i}]"))))?;
    }
    Ok(v)
}

/// Writes the present values of `features` into `(values, cap)` in catalogue order and
/// their number to `*out_count`; a buffer too small for them all gives
/// `FIXLOOP_ERR_BUFFER_TOO_SMALL` and writes nothing but the count.
///
/// # Safety
/// `values` must be NULL or point to `cap` writable entries; `out_count` NULL or writable.
pub(crate) unsafe fn features_out(
    features: &FeatureVector,
    values: *mut fixloop_feature_value,
    cap: usize,
    out_count: *mut usize,
) -> FfiResult {
    let present: Vec<fixloop_feature_value> = crate::features::Feature::ALL
        .iter()
        .filter_map(|f| {
            features.value(*f).map(|value| fixloop_feature_value {
                feature: f.id(),
                value,
            })
        })
        .collect();
    // SAFETY: NULL or writable per the contract.
    unsafe { write_optional(out_count, present.len()) };
    if values.is_null() {
        return if cap == 0 {
            Ok(())
        } else {
            Err(Failure::null("values"))
        };
    }
    if present.len() > cap {
        return Err(Failure::new(
            FIXLOOP_ERR_BUFFER_TOO_SMALL,
            format!(
                "values buffer holds {cap} but the track has {} features; pass FIXLOOP_FEATURE_COUNT",
                present.len()
            ),
        ));
    }
    for (i, v) in present.into_iter().enumerate() {
        // SAFETY: values has cap >= present.len() writable entries.
        unsafe { values.add(i).write(v) };
    }
    Ok(())
}

/// Scores a track against `profile`. `values` holds `count` feature values (any order, each
/// feature at most once). Writes the score to `*out_score` and, when `gaps` is not NULL, up to
/// `gaps_cap` gaps in catalogue order with their number in `*out_gap_count` (a buffer of
/// `FIXLOOP_FEATURE_COUNT` always suffices; a smaller one gives
/// `FIXLOOP_ERR_BUFFER_TOO_SMALL` and writes nothing). `gaps` may be NULL with `gaps_cap` 0.
///
/// Borrows everything; writes only the out-parameters. Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_score_track(
    profile: *const fixloop_profile,
    values: *const fixloop_feature_value,
    count: usize,
    out_score: *mut fixloop_score,
    gaps: *mut fixloop_gap,
    gaps_cap: usize,
    out_gap_count: *mut usize,
) -> fixloop_status {
    boundary(|| {
        let out_score = out_ptr(out_score, "out_score")?;
        // SAFETY: NULL or a live handle, per the contract.
        let profile = unsafe { arg_ref(profile, "profile") }?;
        // SAFETY: caller guarantees count readable values.
        let values = unsafe { arg_slice(values, count, "values") }?;
        if gaps.is_null() && gaps_cap > 0 {
            return Err(Failure::null("gaps"));
        }
        let features = features_arg(values)?;
        // The learned targets, as the default policy aims at them.
        let aimed = profile.inner.aimed(crate::learn::Targets::default());
        let report = gaps::compare(&aimed, &features);
        if !gaps.is_null() && report.gaps.len() > gaps_cap {
            return Err(Failure::new(
                FIXLOOP_ERR_BUFFER_TOO_SMALL,
                format!(
                    "gaps buffer holds {gaps_cap} but {} gaps were computed; pass FIXLOOP_FEATURE_COUNT",
                    report.gaps.len()
                ),
            ));
        }
        if !gaps.is_null() {
            for (i, g) in report.gaps.iter().enumerate() {
                let c = fixloop_gap {
                    feature: g.feature.id(),
                    value: g.value,
                    z: g.z,
                    in_range: g.in_range,
                    direction: match g.direction {
                        None => 0,
                        Some(Direction::Below) => -1,
                        Some(Direction::Above) => 1,
                    },
                    excess: g.excess,
                    weight: g.weight,
                };
                // SAFETY: gaps has gaps_cap >= report.gaps.len() writable elements.
                unsafe { gaps.add(i).write(c) };
            }
            // SAFETY: NULL or writable per the contract.
            unsafe { write_optional(out_gap_count, report.gaps.len()) };
        }
        let score = fixloop_score {
            score: report.score.unwrap_or(0.0),
            has_score: report.score.is_some(),
            gap_count: report.gaps.len() as u32,
            in_range_count: report.in_range_count() as u32,
        };
        // SAFETY: checked non-NULL above.
        unsafe { out_score.write(score) };
        Ok(())
    })
}

/// Proposes fixes for a track under `policy` (NULL = the default policy) into `*out`.
///
/// The caller owns `*out` and releases it with [`fixloop_fix_list_free`].
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_propose_fixes(
    profile: *const fixloop_profile,
    values: *const fixloop_feature_value,
    count: usize,
    policy: *const fixloop_policy,
    out: *mut *mut fixloop_fix_list,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or a live handle, per the contract.
        let profile = unsafe { arg_ref(profile, "profile") }?;
        // SAFETY: caller guarantees count readable values.
        let values = unsafe { arg_slice(values, count, "values") }?;
        // SAFETY: NULL or a valid policy struct.
        let policy = policy_arg(unsafe { policy.as_ref() })?;
        let features = features_arg(values)?;
        let aimed = profile.inner.aimed(policy.targets);
        let report = gaps::compare(&aimed, &features);
        let fixes = fx::propose(&aimed, &report, &policy)?;
        let list = Box::into_raw(Box::new(fixloop_fix_list::from_fixes(fixes)));
        // SAFETY: checked non-NULL above.
        unsafe { out.write(list) };
        Ok(())
    })
}

/// Writes the number of fixes in `list` to `*out`.
///
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_fix_list_len(
    list: *const fixloop_fix_list,
    out: *mut usize,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or a live handle, per the contract.
        let list = unsafe { arg_ref(list, "list") }?;
        // SAFETY: checked non-NULL above.
        unsafe { out.write(list.fixes.len()) };
        Ok(())
    })
}

/// Writes fix `index` of `list` to `*out`; its `fix_id` stays valid until the list is freed.
///
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_fix_list_get(
    list: *const fixloop_fix_list,
    index: usize,
    out: *mut fixloop_fix,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or a live handle, per the contract.
        let list = unsafe { arg_ref(list, "list") }?;
        let f = list.get(index)?;
        let (kind, value, band, pivot) = match f.setting {
            FixSetting::Gain { gain_db } => (
                fixloop_setting_kind::FIXLOOP_SETTING_GAIN,
                gain_db,
                (0.0, 0.0),
                0.0,
            ),
            FixSetting::EqBand {
                low_hz,
                high_hz,
                gain_db,
            } => (
                fixloop_setting_kind::FIXLOOP_SETTING_EQ_BAND,
                gain_db,
                (low_hz, high_hz),
                0.0,
            ),
            FixSetting::EqTilt {
                pivot_hz,
                slope_db_per_octave,
            } => (
                fixloop_setting_kind::FIXLOOP_SETTING_EQ_TILT,
                slope_db_per_octave,
                (0.0, 0.0),
                pivot_hz,
            ),
            FixSetting::Dynamics { change_db } => (
                fixloop_setting_kind::FIXLOOP_SETTING_DYNAMICS,
                change_db,
                (0.0, 0.0),
                0.0,
            ),
            FixSetting::Width { width_ratio } => (
                fixloop_setting_kind::FIXLOOP_SETTING_WIDTH,
                width_ratio,
                (0.0, 0.0),
                0.0,
            ),
            FixSetting::Pumping { change_db } => (
                fixloop_setting_kind::FIXLOOP_SETTING_PUMPING,
                change_db,
                (0.0, 0.0),
                0.0,
            ),
            FixSetting::AddContent { low_hz, high_hz } => (
                fixloop_setting_kind::FIXLOOP_SETTING_ADD_CONTENT,
                0.0,
                (low_hz, high_hz),
                0.0,
            ),
            FixSetting::AddWidth => (
                fixloop_setting_kind::FIXLOOP_SETTING_ADD_WIDTH,
                0.0,
                (0.0, 0.0),
                0.0,
            ),
        };
        let c = fixloop_fix {
            fix_id: list.ids[index].as_ptr(),
            action_type: f.action_type as u32,
            gap_feature: f.gap_feature.id(),
            current_value: f.current_value,
            target_value: f.target_value,
            new_value: f.new_value,
            confidence: f.confidence,
            z_score: f.z_score,
            setting_kind: kind as u32,
            setting_value: value,
            band_low_hz: band.0,
            band_high_hz: band.1,
            pivot_hz: pivot,
        };
        // SAFETY: checked non-NULL above.
        unsafe { out.write(c) };
        Ok(())
    })
}

/// Copies a one-line instruction for fix `index` ("Cut 60–250 Hz by 1.5 dB") into `buf`
/// (buffer rules as [`fixloop_last_error`]).
///
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_fix_list_describe(
    list: *const fixloop_fix_list,
    index: usize,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live handle, per the contract.
        let list = unsafe { arg_ref(list, "list") }?;
        let text = list.get(index)?.describe();
        // SAFETY: forwarded caller contract on buf/cap/out_len.
        unsafe { copy_out(&text, buf, cap, out_len) }
    })
}

/// Writes to `*out_value` the feature value that `setting` (in the unit of fix `index`'s
/// setting: gain dB, width ratio, slope, change dB) aims for: the inverse of the setting
/// the fix proposes, so the fix's own `setting_value` gives back its `new_value`. Record
/// this as the event's applied value when the producer applies a clamped or modified
/// setting. `setting` must be finite.
///
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_fix_list_aimed_value(
    list: *const fixloop_fix_list,
    index: usize,
    setting: f64,
    out_value: *mut f64,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out_value, "out_value")?;
        // SAFETY: NULL or a live handle, per the contract.
        let list = unsafe { arg_ref(list, "list") }?;
        let fix = list.get(index)?;
        if !setting.is_finite() {
            return Err(Failure::new(
                FIXLOOP_ERR_INVALID_ARGUMENT,
                format!("setting is {setting}; expected a finite number"),
            ));
        }
        // SAFETY: checked non-NULL above.
        unsafe { out.write(fx::aimed_value(fix, setting)) };
        Ok(())
    })
}

/// Which control of the fix stage fix `index` moves, and to what value, from the current
/// values `controls` (`FIXLOOP_CONTROL_COUNT` doubles, see [`fixloop_control`]) with
/// setting `setting` (NaN = the fix's own). Writes `*out_applies` (false for advisory
/// fixes: tilt, dynamics, pumping) and, when true, `*out_move`.
///
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_fix_list_control_move(
    list: *const fixloop_fix_list,
    index: usize,
    controls: *const f64,
    setting: f64,
    out_move: *mut fixloop_control_move,
    out_applies: *mut bool,
) -> fixloop_status {
    boundary(|| {
        let out_move = out_ptr(out_move, "out_move")?;
        let out_applies = out_ptr(out_applies, "out_applies")?;
        // SAFETY: NULL or a live handle, per the contract.
        let list = unsafe { arg_ref(list, "list") }?;
        let fix = list.get(index)?;
        if controls.is_null() {
            return Err(Failure::new(
                FIXLOOP_ERR_NULL_ARGUMENT,
                "controls is NULL; expected FIXLOOP_CONTROL_COUNT values",
            ));
        }
        // SAFETY: non-NULL and FIXLOOP_CONTROL_COUNT doubles long, per the contract.
        let values = unsafe { std::slice::from_raw_parts(controls, FIXLOOP_CONTROL_COUNT) };
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Failure::new(
                FIXLOOP_ERR_INVALID_ARGUMENT,
                format!("controls[{i}] is {}; expected a finite number", values[i]),
            ));
        }
        let setting = (!setting.is_nan()).then_some(setting);
        let moved = fx::control_move(fix, |c| values[c.index()], setting);
        // SAFETY: both checked non-NULL above.
        unsafe {
            out_applies.write(moved.is_some());
            if let Some(m) = moved {
                out_move.write(fixloop_control_move {
                    control: m.control.index() as u32,
                    previous: m.previous,
                    applied: m.applied,
                    setting: m.setting(),
                });
            }
        }
        Ok(())
    })
}

/// Releases a fix list. NULL is ignored; releasing twice is undefined.
///
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_fix_list_free(list: *mut fixloop_fix_list) {
    // SAFETY: NULL or from Box::into_raw in fixloop_propose_fixes, per the contract.
    unsafe { free_box(list) }
}

// Keep the C enum values in step with the Rust enums they mirror.
const _: () = {
    assert!(
        fixloop_fix_type::FIXLOOP_FIX_MODULATION_ADJUST as u32 == FixType::ModulationAdjust as u32
    );
    assert!(fixloop_fix_type::FIXLOOP_FIX_EQ_BAND_BOOST as u32 == FixType::EqBandBoost as u32);
    assert!(fixloop_target_strategy::FIXLOOP_TARGET_MEDIAN as u32 == TargetStrategy::Median as u32);
    assert!(FIXLOOP_CONTROL_COUNT == fx::Control::COUNT);
    assert!(fixloop_control::FIXLOOP_CONTROL_WIDTH as usize == FIXLOOP_CONTROL_COUNT - 1);
    assert!(fixloop_control::FIXLOOP_CONTROL_BAND_AIR as usize == FIXLOOP_CONTROL_COUNT - 2);
};
