//! The fix model in both directions, in one place:
//!
//! - **forward** ([`setting`]): the feature change a fix asks for → the action's setting
//!   (gain dB, band gain, width ratio, tilt slope, dynamics change);
//! - **inverse** ([`aimed_value`]): a setting (the fix's own, a clamped one, or the
//!   producer's) → the feature value it aims for, which feedback records as
//!   `applied_value` / `user_modified_value`;
//! - **controls** ([`Control`], [`control_move`]): which control of the fix stage
//!   ([`crate::dsp::FixStage`]) a fix moves, and to what value from the control's current
//!   one, clamped to the control's range.
//!
//! The plugin's editor, the C ABI and the CLI all use these, so a setting means the same
//! thing everywhere; one round-trip test checks `aimed_value ∘ setting = identity`.

use super::{Fix, FixSetting};
use crate::dsp::{BandLayout, BAND_COUNT};
use crate::features::{Band, Feature};

/// Largest output and band gain a control takes, ± dB (the plugin's parameter range).
pub const GAIN_RANGE_DB: f64 = 24.0;
/// Largest width ratio the width control takes (0 = mono, 1 = unchanged).
pub const MAX_WIDTH_RATIO: f64 = 2.0;
/// Largest spectral tilt a fix proposes, ± dB/octave.
pub const MAX_TILT_DB_PER_OCTAVE: f64 = 6.0;
/// A band level (dB relative to the full band) below which a band counts as empty: it
/// holds a millionth of the energy, so even a 24 dB boost leaves it 36 dB under the mix;
/// there is nothing there to boost.
pub const EMPTY_BAND_DB: f64 = -60.0;
/// A stereo width (RMS(side)/RMS(mid)) below which an image counts as mono for widening:
/// side 26 dB under mid, so a width ratio would multiply next to nothing (a correlation
/// above about 0.995).
pub const NEAR_MONO_WIDTH: f64 = 0.05;

/// A control of the fix stage that a fix can move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Control {
    /// Output gain, dB.
    OutputGain,
    /// Gain of band `i` (0 = sub … 6 = air, [`Feature::BANDS`] order), dB.
    Band(usize),
    /// Side gain ratio.
    Width,
}

impl Control {
    /// Number of controls.
    pub const COUNT: usize = 2 + BAND_COUNT;

    /// Every control, in index order: output gain, the seven bands low to high, width.
    pub const ALL: [Control; Control::COUNT] = [
        Control::OutputGain,
        Control::Band(0),
        Control::Band(1),
        Control::Band(2),
        Control::Band(3),
        Control::Band(4),
        Control::Band(5),
        Control::Band(6),
        Control::Width,
    ];

    /// The control's position in [`Control::ALL`] (a band index past the last band maps
    /// past the end).
    pub fn index(self) -> usize {
        match self {
            Control::OutputGain => 0,
            Control::Band(i) => 1 + i,
            Control::Width => Control::COUNT - 1,
        }
    }

    /// The control's value range, in its own unit.
    pub fn range(self) -> (f64, f64) {
        match self {
            Control::OutputGain | Control::Band(_) => (-GAIN_RANGE_DB, GAIN_RANGE_DB),
            Control::Width => (0.0, MAX_WIDTH_RATIO),
        }
    }

    /// The control's neutral value (bypassed): 0 dB, or width 1.
    pub fn neutral(self) -> f64 {
        match self {
            Control::Width => 1.0,
            _ => 0.0,
        }
    }
}

/// A control moved by a fix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ControlMove {
    /// The control.
    pub control: Control,
    /// Its value before.
    pub previous: f64,
    /// Its value after (clamped to the control's range).
    pub applied: f64,
}

impl ControlMove {
    /// The setting in effect after the move, in the fix's unit: the gain change in dB, or
    /// the width ratio (after clamping to the control's range).
    pub fn setting(&self) -> f64 {
        match self.control {
            Control::Width if self.previous > 0.0 => self.applied / self.previous,
            Control::Width => self.applied,
            _ => self.applied - self.previous,
        }
    }
}

/// The control `fix` moves and the value it moves it to from `current` (the controls'
/// present values), with setting value `setting` (the fix's own when `None`). `None` for
/// fixes the fix stage cannot apply (tilt, dynamics, pumping: advisory).
///
/// A gain or band setting adds to the control's value; a width ratio multiplies it. A
/// non-finite result leaves the control where it is.
pub fn control_move(
    fix: &Fix,
    current: impl Fn(Control) -> f64,
    setting: Option<f64>,
) -> Option<ControlMove> {
    let (control, applied) = match fix.setting {
        FixSetting::Gain { gain_db } => {
            let c = Control::OutputGain;
            (c, current(c) + setting.unwrap_or(gain_db))
        }
        FixSetting::EqBand {
            low_hz,
            high_hz,
            gain_db,
        } => {
            let c = Control::Band(BandLayout::index_of(low_hz, high_hz)?);
            (c, current(c) + setting.unwrap_or(gain_db))
        }
        FixSetting::Width { width_ratio } => {
            let c = Control::Width;
            (c, current(c) * setting.unwrap_or(width_ratio))
        }
        FixSetting::EqTilt { .. }
        | FixSetting::Dynamics { .. }
        | FixSetting::Pumping { .. }
        | FixSetting::AddContent { .. }
        | FixSetting::AddWidth => return None,
    };
    let (lo, hi) = control.range();
    Some(ControlMove {
        control,
        previous: current(control),
        applied: if applied.is_finite() {
            applied.clamp(lo, hi)
        } else {
            current(control)
        },
    })
}

/// The setting value of a fix in its own unit (gain dB, width ratio, slope, change dB;
/// 0 for the advisory additions, which have no setting).
pub fn setting_value(fix: &Fix) -> f64 {
    match fix.setting {
        FixSetting::AddContent { .. } | FixSetting::AddWidth => 0.0,
        FixSetting::Gain { gain_db } | FixSetting::EqBand { gain_db, .. } => gain_db,
        FixSetting::Width { width_ratio } => width_ratio,
        FixSetting::EqTilt {
            slope_db_per_octave,
            ..
        } => slope_db_per_octave,
        FixSetting::Dynamics { change_db } | FixSetting::Pumping { change_db } => change_db,
    }
}

/// The feature value that `setting` (in the unit of the fix's setting: gain dB, width
/// ratio, change dB, tilt slope) aims for: the inverse of [`setting`], so the fix's own
/// setting gives back `fix.new_value`. Feedback records this as the event's
/// `applied_value` (SPEC §3.1: the feature value the applied fix aims for).
///
/// Gains add to loudness and true peak; a band gain `G` moves a relative band level with
/// ratio `r = 10^(L/10)` to `r' = G·r / (1 − r + G·r)` (the ideal-band model of
/// [`FixSetting::EqBand`], solved for `r'`); a width ratio multiplies the width (floored at
/// the mono floor as [`setting`] does), and for correlation scales `√((1 − ρ)/(1 + ρ))`; a
/// tilt slope moves the value in proportion to the proposed slope. Always finite: a
/// setting that would overflow gives `fix.new_value`.
pub fn aimed_value(fix: &Fix, setting: f64) -> f64 {
    let current = fix.current_value;
    if setting_value(fix) == setting {
        return fix.new_value;
    }
    let value = match fix.setting {
        FixSetting::Gain { .. } | FixSetting::Dynamics { .. } | FixSetting::Pumping { .. } => {
            current + setting
        }
        FixSetting::EqBand { .. } => {
            let r = 10f64.powf(current.min(-0.01) / 10.0);
            let g = 10f64.powf(setting / 10.0);
            10.0 * (g * r / (1.0 - r + g * r)).log10()
        }
        FixSetting::Width { .. } if fix.gap_feature == Feature::StereoCorrelation => {
            let w = width_of_correlation(current) * setting.max(0.0);
            (1.0 - w * w) / (1.0 + w * w)
        }
        FixSetting::Width { .. } => current.max(MONO_WIDTH_FLOOR) * setting.max(0.0),
        FixSetting::EqTilt {
            slope_db_per_octave,
            ..
        } if slope_db_per_octave != 0.0 => {
            current + (fix.new_value - current) * setting / slope_db_per_octave
        }
        FixSetting::EqTilt { .. } => current,
        // No setting to scale: what the producer adds aims for the fix's value.
        FixSetting::AddContent { .. } | FixSetting::AddWidth => fix.new_value,
    };
    if value.is_finite() {
        value
    } else {
        fix.new_value
    }
}

/// The action setting that moves `feature` from `current` to `new`.
pub fn setting(feature: Feature, current: f64, new: f64) -> FixSetting {
    match feature {
        Feature::Loudness | Feature::TruePeak => FixSetting::Gain {
            gain_db: new - current,
        },
        Feature::Plr | Feature::LoudnessRange => FixSetting::Dynamics {
            change_db: new - current,
        },
        Feature::ModulationDepth => FixSetting::Pumping {
            change_db: new - current,
        },
        Feature::StereoWidth | Feature::LowEndWidth => FixSetting::Width {
            width_ratio: width_ratio(current, new),
        },
        Feature::StereoCorrelation => FixSetting::Width {
            width_ratio: width_ratio(width_of_correlation(current), width_of_correlation(new)),
        },
        Feature::SpectralCentroid => FixSetting::EqTilt {
            pivot_hz: 1000.0,
            slope_db_per_octave: tilt_for_centroid_ratio(new / current.max(1.0)),
        },
        band_feature => {
            let band = band_feature.band().unwrap_or(Band::FULL);
            FixSetting::EqBand {
                low_hz: band.low_hz,
                high_hz: band.high_hz,
                gain_db: band_gain_db(current, new),
            }
        }
    }
}

/// The stereo width a width fix acts on: the width itself, or for a correlation the
/// width of a pair with that correlation.
pub(super) fn effective_width(fix: &Fix) -> f64 {
    if fix.gap_feature == Feature::StereoCorrelation {
        width_of_correlation(fix.current_value)
    } else {
        fix.current_value
    }
}

/// Width below which a signal counts as mono when computing a ratio (a mono track cannot
/// be widened by side gain; the ratio is taken against this floor).
const MONO_WIDTH_FLOOR: f64 = 0.01;

fn width_ratio(current: f64, new: f64) -> f64 {
    new.max(0.0) / current.max(MONO_WIDTH_FLOOR)
}

/// The mid/side width of a pair with correlation `rho` when mid and side are uncorrelated:
/// ρ = (M² − S²)/(M² + S²) ⇒ S/M = √((1 − ρ)/(1 + ρ)).
fn width_of_correlation(rho: f64) -> f64 {
    let rho = rho.clamp(-0.999, 1.0);
    ((1.0 - rho) / (1.0 + rho)).sqrt()
}

/// Band gain in dB that moves a relative band level from `current_db` to `new_db` (see
/// [`FixSetting::EqBand`]).
fn band_gain_db(current_db: f64, new_db: f64) -> f64 {
    // A band cannot hold more than (nearly) all the energy.
    let r = 10f64.powf(current_db.min(-0.01) / 10.0);
    let r_new = 10f64.powf(new_db.min(-0.01) / 10.0);
    10.0 * ((r_new * (1.0 - r)) / (r * (1.0 - r_new))).log10()
}

/// Centroid of a pink (1/f) spectrum over 20 Hz–20 kHz tilted by `slope` dB/octave.
fn pink_centroid(slope_db_per_octave: f64) -> f64 {
    // Energy density f^(a−1) with a = slope / (10·log10 2); centroid = ∫f^a / ∫f^(a−1).
    let a = slope_db_per_octave / (10.0 * 2f64.log10());
    let (lo, hi): (f64, f64) = (Band::FULL.low_hz, Band::FULL.high_hz);
    let integral = |p: f64| {
        if p.abs() < 1e-9 {
            (hi / lo).ln()
        } else {
            (hi.powf(p) - lo.powf(p)) / p
        }
    };
    integral(a + 1.0) / integral(a)
}

/// The tilt (dB/octave, within ±6) that scales a pink spectrum's centroid by `ratio`.
fn tilt_for_centroid_ratio(ratio: f64) -> f64 {
    let base = pink_centroid(0.0);
    let (mut lo, mut hi) = (-6.0, 6.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if pink_centroid(mid) / base < ratio {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Direction;

    fn fix(feature: Feature, current: f64, new: f64) -> Fix {
        let direction = if new < current {
            Direction::Above
        } else {
            Direction::Below
        };
        Fix {
            fix_id: "f".into(),
            action_type: feature.default_fix(direction),
            gap_feature: feature,
            current_value: current,
            target_value: new,
            new_value: new,
            setting: setting(feature, current, new),
            confidence: 1.0,
            z_score: 1.0,
            serves: Vec::new(),
            effects: Vec::new(),
            note: None,
            parts: Vec::new(),
        }
    }

    /// The round trip: a fix proposed for one new value, asked what the setting of
    /// another aims for, gives that other value back (`aimed_value ∘ setting = id`), for
    /// every kind of setting. Tolerance 1e-9: the band and correlation maps go through
    /// `log10`/`powf` and back.
    #[test]
    fn aimed_value_inverts_setting() {
        let cases = [
            (Feature::Loudness, -14.0, -9.0, -11.0),
            (Feature::TruePeak, -0.5, -1.0, -2.0),
            (Feature::BassLevel, -6.0, -8.0, -7.0),
            (Feature::AirLevel, -30.0, -27.0, -25.5),
            (Feature::StereoWidth, 0.25, 0.37, 0.5),
            (Feature::LowEndWidth, 0.2, 0.1, 0.05),
            (Feature::StereoCorrelation, 0.89, 0.74, 0.8),
            (Feature::Plr, 12.0, 9.0, 10.0),
            (Feature::ModulationDepth, 6.0, 4.0, 3.0),
            (Feature::SpectralCentroid, 2000.0, 2500.0, 2500.0),
        ];
        for (feature, current, proposed, other) in cases {
            let f = fix(feature, current, proposed);
            assert_eq!(aimed_value(&f, setting_value(&f)), proposed);
            let other_setting = setting_value(&fix(feature, current, other));
            let back = aimed_value(&f, other_setting);
            assert!(
                (back - other).abs() < 1e-9,
                "{feature:?}: {back} vs {other}"
            );
        }
    }

    #[test]
    fn band_gain_is_exact_for_an_ideal_band() {
        // A band at −6 dB relative (r = 0.2512) raised to −3 dB relative (r' = 0.5012):
        // G = r'(1 − r) / (r(1 − r')) = 2.9952 → 4.764 dB; check by applying it.
        let g = band_gain_db(-6.0, -3.0);
        let r = 10f64.powf(-0.6);
        let gain = 10f64.powf(g / 10.0);
        let after = 10.0 * (gain * r / (1.0 - r + gain * r)).log10();
        assert!((after - -3.0).abs() < 1e-9);
        assert!((g - 4.764).abs() < 1e-3);
        assert_eq!(band_gain_db(-6.0, -6.0), 0.0);
    }

    #[test]
    fn tilt_moves_pink_centroid_by_ratio() {
        let s = tilt_for_centroid_ratio(1.2);
        assert!(s > 0.0);
        assert!((pink_centroid(s) / pink_centroid(0.0) - 1.2).abs() < 1e-6);
        assert!(tilt_for_centroid_ratio(0.8) < 0.0);
    }

    #[test]
    fn control_indices_follow_all() {
        for (i, c) in Control::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }

    #[test]
    fn aimed_value_is_finite_for_extreme_settings() {
        let f = fix(Feature::SubLevel, -3.0, -5.0);
        for s in [-200.0, 200.0, f64::MAX] {
            assert!(aimed_value(&f, s).is_finite(), "{s}");
        }
    }

    #[test]
    fn control_moves_add_gains_multiply_width_and_clamp_to_the_range() {
        let neutral = |c: Control| c.neutral();
        let bass = fix(Feature::BassLevel, -4.0, -6.0);
        let m = control_move(&bass, neutral, None).unwrap();
        assert_eq!(m.control, Control::Band(1));
        assert_eq!(m.setting(), setting_value(&bass));
        let loud = fix(Feature::Loudness, -14.0, -9.0);
        let m = control_move(&loud, |_| 3.0, Some(30.0)).unwrap();
        // 3 + 30 dB, clamped to +24 dB: the setting in effect is 21 dB.
        assert_eq!((m.previous, m.applied, m.setting()), (3.0, 24.0, 21.0));
        let wide = fix(Feature::StereoWidth, 0.2, 0.3);
        let m = control_move(&wide, |_| 0.8, None).unwrap();
        assert!((m.applied - 0.8 * 1.5).abs() < 1e-12);
        assert!((m.setting() - 1.5).abs() < 1e-12);
        assert!(control_move(&fix(Feature::Plr, 12.0, 9.0), neutral, None).is_none());
        assert!(control_move(&loud, neutral, Some(f64::NAN)).is_some_and(|m| m.applied == 0.0));
    }
}
