//! Prescriptive fixes: from gaps and a [`Policy`] to "turn the bass down 1.5 dB".
//!
//! A fix is proposed for every scored feature outside its acceptable range:
//!
//! - **target** by `target_strategy`: `conservative` = the nearest edge of the acceptable
//!   range, `mean` = the profile's mean, `median` = its p50;
//! - **new_value** = `current + amount · (target − current)`, the value applying the fix aims for;
//! - **confidence** = the profile's `fix_confidence` for the fix type ×
//!   `(1 − e^(−|z|))`, so it falls toward 0 as |z| shrinks (0.63 of the prior at |z| = 1,
//!   0.95 at |z| = 3); fixes below `min_confidence` are not proposed;
//! - **setting**, the action's own parameter (see [`FixSetting`]), within bounds a
//!   producer can act on: no move of more than the policy's `max_move_db` (default
//!   ±12 dB: output gain, band gains, dynamics and pumping changes), a width ratio within
//!   the width control's range (0–[`MAX_WIDTH_RATIO`]), a tilt within ±6 dB/octave. A fix
//!   whose move is bounded aims for what the bounded move reaches (`new_value` is the
//!   [`aimed_value`] of the bounded setting). A band with no energy to boost (below
//!   [`EMPTY_BAND_DB`]) gets [`FixSetting::AddContent`] instead of a boost, and an image
//!   too close to mono to widen by side gain (width below [`NEAR_MONO_WIDTH`]) gets
//!   [`FixSetting::AddWidth`]: both advisory.
//!
//! Fixes come out most confident first. Their ids are stable: the same feature, fix type,
//! current value and target give the same id.

use crate::error::{Error, ErrorKind, Result};
use crate::features::{Band, Direction, Feature, FeatureVector, FixType, SpectrumProfile};
use crate::gaps::{Gap, GapReport};
use crate::profile::Profile;
use serde::{Deserialize, Serialize};
use std::fmt;

mod model;
pub mod plan;
pub mod response;

pub use model::{
    aimed_value, control_move, setting, setting_value, Control, ControlMove, EMPTY_BAND_DB,
    GAIN_RANGE_DB, MAX_TILT_DB_PER_OCTAVE, MAX_WIDTH_RATIO, NEAR_MONO_WIDTH,
};

/// The default of [`Policy::max_move_db`]: the largest move of one fix, ± dB.
pub const DEFAULT_MAX_MOVE_DB: f64 = 12.0;
/// The default of [`Policy::max_eq_db`]: the largest band move of one fix, ± dB — what a
/// mastering engineer moves a band on a master by; a gap larger than that is a mix
/// decision.
pub const DEFAULT_MAX_EQ_DB: f64 = 4.0;
/// The default of [`Policy::true_peak_ceiling_dbtp`].
pub const DEFAULT_TRUE_PEAK_CEILING_DBTP: f64 = -1.0;

pub use plan::{Effect, Plan};

/// How fixes are generated (policy key `plan`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// One plan over every control ([`plan`]): each control moved at most once, side
    /// effects predicted, the true-peak ceiling kept. The default.
    #[default]
    Joint,
    /// One fix per feature outside its range, each on its own (kept as an A/B arm).
    Independent,
}

/// Where a fix aims (SPEC §2 `target_strategy`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStrategy {
    /// The nearest edge of the acceptable range: the smallest change that brings the value in.
    #[default]
    Conservative = 0,
    /// The profile's mean.
    Mean = 1,
    /// The profile's median (p50).
    Median = 2,
}

impl TargetStrategy {
    /// Every strategy, in id order.
    pub const ALL: [TargetStrategy; 3] = [
        TargetStrategy::Conservative,
        TargetStrategy::Mean,
        TargetStrategy::Median,
    ];

    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            TargetStrategy::Conservative => "conservative",
            TargetStrategy::Mean => "mean",
            TargetStrategy::Median => "median",
        }
    }

    /// The strategy with numeric id `id` (the C ABI's `uint32_t`), if valid.
    pub fn from_id(id: u32) -> Option<TargetStrategy> {
        TargetStrategy::ALL.get(id as usize).copied()
    }
}

impl fmt::Display for TargetStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fix-generation policy (SPEC §2). Also the configuration of an A/B test arm, so
/// unknown keys are refused rather than silently ignored.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Where fixes aim.
    pub target_strategy: TargetStrategy,
    /// How far toward the target a fix goes, 0–1 (1 = all the way).
    pub amount: f64,
    /// Fixes less confident than this are not proposed, 0–1.
    pub min_confidence: f64,
    /// The largest move one fix makes, ± dB: output gain, a band's gain, a dynamics or
    /// pumping change (default [`DEFAULT_MAX_MOVE_DB`]; at most [`GAIN_RANGE_DB`]).
    pub max_move_db: f64,
    /// The largest band move of one joint-plan fix, ± dB (default [`DEFAULT_MAX_EQ_DB`];
    /// at most `max_move_db` applies).
    pub max_eq_db: f64,
    /// Joint plan or independent fixes (default joint).
    pub plan: PlanMode,
    /// The joint plan keeps the true peak at or under this, dBTP (default −1).
    pub true_peak_ceiling_dbtp: f64,
    /// Whether fixes aim at the producer's learned targets where the profile has them
    /// (default) or at the references' statistics alone ([`Profile::aimed`]).
    pub targets: crate::learn::Targets,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            target_strategy: TargetStrategy::Conservative,
            amount: 1.0,
            min_confidence: 0.5,
            max_move_db: DEFAULT_MAX_MOVE_DB,
            max_eq_db: DEFAULT_MAX_EQ_DB,
            plan: PlanMode::Joint,
            true_peak_ceiling_dbtp: DEFAULT_TRUE_PEAK_CEILING_DBTP,
            targets: crate::learn::Targets::Learned,
        }
    }
}

impl Policy {
    /// Checks that `amount` and `min_confidence` are numbers in [0, 1] and `max_move_db`
    /// one in (0, [`GAIN_RANGE_DB`]].
    pub fn validate(&self) -> Result<()> {
        let c = self.true_peak_ceiling_dbtp;
        if !(c.is_finite() && (-60.0..=0.0).contains(&c)) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("policy true_peak_ceiling_dbtp is {c}; expected a number in [-60, 0]"),
            ));
        }
        for (name, m) in [
            ("max_move_db", self.max_move_db),
            ("max_eq_db", self.max_eq_db),
        ] {
            if !(m.is_finite() && m > 0.0 && m <= GAIN_RANGE_DB) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("policy {name} is {m}; expected a number in (0, {GAIN_RANGE_DB}]"),
                ));
            }
        }
        for (name, v) in [
            ("amount", self.amount),
            ("min_confidence", self.min_confidence),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("policy {name} is {v}; expected a number in [0, 1]"),
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "target {}, amount {:.0} %, min confidence {:.2}",
            self.target_strategy,
            self.amount * 100.0,
            self.min_confidence
        )
    }
}

/// The setting of the action a fix asks for, in the action's own terms.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FixSetting {
    /// Overall gain (loudness, true peak): `gain_db = new − current`.
    Gain {
        /// Gain to apply, dB.
        gain_db: f64,
    },
    /// One band's gain. For a band level `L` (dB relative to the full band) moving to `L'`,
    /// an ideal band filter needs energy gain `G = r'(1 − r) / (r(1 − r'))` with
    /// `r = 10^(L/10)`, `r' = 10^(L'/10)`, because raising the band also raises the total.
    EqBand {
        /// Lower band edge, Hz.
        low_hz: f64,
        /// Upper band edge, Hz.
        high_hz: f64,
        /// Band gain, dB.
        gain_db: f64,
    },
    /// A spectral tilt around a pivot (spectral centroid): the slope that moves the centroid
    /// of a pink spectrum over 20 Hz–20 kHz by the same ratio as current → new.
    EqTilt {
        /// Pivot frequency, Hz (gain 0 there).
        pivot_hz: f64,
        /// Slope, dB per octave (positive = brighter).
        slope_db_per_octave: f64,
    },
    /// Dynamics (peak-to-loudness ratio, loudness range): change of the feature in dB/LU;
    /// negative = compress or limit harder.
    Dynamics {
        /// Change, dB (LU for loudness range).
        change_db: f64,
    },
    /// Stereo width: multiply the side signal by `width_ratio` (scales RMS(side)/RMS(mid)).
    Width {
        /// Side gain as a ratio (0.9 = narrow the image 10 %).
        width_ratio: f64,
    },
    /// Side-chain pumping depth change, dB (negative = less pumping).
    Pumping {
        /// Change of modulation depth, dB.
        change_db: f64,
    },
    /// A band too low to boost (below [`EMPTY_BAND_DB`]: the mix has next to nothing
    /// there, and an EQ boost only raises noise): add a sound in that range instead.
    /// Advisory.
    AddContent {
        /// Lower band edge, Hz.
        low_hz: f64,
        /// Upper band edge, Hz.
        high_hz: f64,
    },
    /// An image too close to mono for side gain to widen (width below
    /// [`NEAR_MONO_WIDTH`], or the equivalent correlation): add stereo content (panning,
    /// stereo effects, a widener) toward the fix's `new_value`. Advisory.
    AddWidth,
}

/// A further move made as part of a fix: accepted, skipped, undone and scaled with it
/// (the joint plan's loudness decision: the gain to the ceiling, limiting for the rest).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixPart {
    /// The feature the part is for.
    pub feature: Feature,
    /// The kind of action.
    pub action_type: FixType,
    /// The action's own setting.
    pub setting: FixSetting,
}

/// A prescriptive fix, with every field a feedback event needs (SPEC §2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// Stable id of this proposal.
    pub fix_id: String,
    /// The kind of action.
    pub action_type: FixType,
    /// The feature the fix addresses.
    pub gap_feature: Feature,
    /// The feature's current value.
    pub current_value: f64,
    /// The target the strategy chose.
    pub target_value: f64,
    /// The value applying the fix aims for: `current + amount · (target − current)`.
    pub new_value: f64,
    /// The action's own setting.
    pub setting: FixSetting,
    /// Confidence, 0–1.
    pub confidence: f64,
    /// The source gap's z-score.
    pub z_score: f64,
    /// The features the fix serves, most first (joint plan; the gap feature alone for an
    /// independent fix, and then left empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serves: Vec<Feature>,
    /// Its predicted effect on every feature it moves, alone from the track as it is
    /// (joint plan).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effects: Vec<Effect>,
    /// Why the move is what it is, when its size alone does not say (joint plan: a gain
    /// held by the true-peak ceiling, a cut that holds it, limiting for the rest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Further moves made with this one, as one decision (empty for most fixes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<FixPart>,
}

impl Fix {
    /// A one-line instruction for the producer ("Cut 60–250 Hz by 1.5 dB"), with the
    /// fix's [`note`](Fix::note) in parentheses.
    pub fn describe(&self) -> String {
        match &self.note {
            Some(note) => format!("{} ({note})", self.instruction()),
            None => self.instruction(),
        }
    }

    /// Why the fix is proposed, in one line, against `profile` and the `strategy` that
    /// chose its target: "Bass is −4.1 dB, 1.8 σ above your references (range −8.0…−5.5);
    /// target −5.5 dB, the nearest edge"; with a learned target known well enough, "…;
    /// target −3.1 dB, your target, from 46 of your decisions". A joint-plan fix whose own feature is in range
    /// says which features it serves instead; one held by the true-peak ceiling (or
    /// holding it) gives its [`note`](Fix::note) instead of a target.
    pub fn why(&self, profile: &Profile, strategy: TargetStrategy) -> String {
        let f = self.gap_feature;
        let value = f.format_value(self.current_value);
        let Some(stats) = profile.stats(f) else {
            return format!(
                "{} is {value}; the profile has no statistics for it",
                f.title()
            );
        };
        let [lo, hi] = stats.acceptable_range;
        let plain = |v: f64| {
            let s = f.format_value(v);
            match f.unit().symbol() {
                "" => s,
                unit => s.trim_end_matches(unit).trim_end().to_string(),
            }
        };
        let range = format!("range {}\u{2026}{}", plain(lo), plain(hi));
        let outside = self.current_value < lo || self.current_value > hi;
        let others: Vec<&str> = self
            .serves
            .iter()
            .filter(|&&s| s != f)
            .map(|s| s.title())
            .collect();
        if !outside {
            let why = if others.is_empty() {
                String::new()
            } else {
                format!("; moved for {}", others.join(", "))
            };
            let note = self
                .note
                .as_deref()
                .map(|n| format!("; {n}"))
                .unwrap_or_default();
            return format!(
                "{} is {value}, inside your references' {range}{why}{note}",
                f.title()
            );
        }
        let side = if self.current_value > hi {
            "above"
        } else {
            "below"
        };
        let learned = profile.learned_target(f);
        let whose = if learned.is_some_and(|t| t.offset().abs() > 0.05 * t.reference_scale) {
            "your learned range"
        } else {
            "your references"
        };
        let place = format!(
            "{} is {value}, {:.1} \u{3c3} {side} {whose} ({range})",
            f.title(),
            self.z_score.abs(),
        );
        if let Some(note) = &self.note {
            // The move is held by the ceiling (or holds it): the note says why, not the
            // target the range alone would give.
            return format!("{place}; {note}");
        }
        let aim = match (learned.filter(|t| t.known()), strategy) {
            (Some(t), TargetStrategy::Conservative) => format!(
                "the near side of your target {} \u{b1} {}, from {} of your decisions",
                f.format_value(t.target),
                f.format_value(t.sd),
                t.decisions
            ),
            (Some(t), _) => format!("your target, from {} of your decisions", t.decisions),
            (None, TargetStrategy::Conservative) => "the nearest edge".to_owned(),
            (None, TargetStrategy::Mean) => "your references' mean".to_owned(),
            (None, TargetStrategy::Median) => "your references' median".to_owned(),
        };
        let also = if others.is_empty() {
            String::new()
        } else {
            format!("; also for {}", others.join(", "))
        };
        format!(
            "{place}; target {}, {aim}{also}",
            f.format_value(self.target_value),
        )
    }

    /// The instruction alone, without the note: the fix's own move, then its parts'.
    pub fn instruction(&self) -> String {
        let mut s = self.own_instruction();
        for part in &self.parts {
            let p = Fix {
                setting: part.setting,
                gap_feature: part.feature,
                action_type: part.action_type,
                parts: Vec::new(),
                ..self.clone()
            };
            let text = p.own_instruction();
            let mut chars = text.chars();
            let lower = chars
                .next()
                .map(|c| c.to_lowercase().chain(chars).collect::<String>())
                .unwrap_or_default();
            s = format!("{s}, and {lower}");
        }
        s
    }

    fn own_instruction(&self) -> String {
        let verb = |x: f64, up: &str, down: &str| {
            if x >= 0.0 {
                up.to_string()
            } else {
                down.to_string()
            }
        };
        match self.setting {
            FixSetting::Gain { gain_db } => format!(
                "{} the level by {:.1} dB",
                verb(gain_db, "Raise", "Lower"),
                gain_db.abs()
            ),
            FixSetting::EqBand {
                low_hz,
                high_hz,
                gain_db,
            } => format!(
                "{} {} by {:.1} dB",
                verb(gain_db, "Boost", "Cut"),
                Band { low_hz, high_hz },
                gain_db.abs()
            ),
            FixSetting::EqTilt {
                pivot_hz,
                slope_db_per_octave,
            } => format!(
                "Tilt the spectrum {} by {:.1} dB/octave around {:.0} Hz",
                verb(slope_db_per_octave, "brighter", "darker"),
                slope_db_per_octave.abs(),
                pivot_hz
            ),
            FixSetting::Dynamics { change_db } => {
                let (what, unit) = if self.gap_feature == Feature::LoudnessRange {
                    ("loudness range", "LU")
                } else {
                    ("peak-to-loudness ratio", "dB")
                };
                if change_db < 0.0 {
                    format!(
                        "Compress or limit harder: lower the {what} by {:.1} {unit}",
                        -change_db
                    )
                } else {
                    format!(
                        "Ease compression or limiting: raise the {what} by {change_db:.1} {unit}"
                    )
                }
            }
            FixSetting::Width { width_ratio } => {
                let pct = (width_ratio - 1.0) * 100.0;
                // The width control scales the side signal at every frequency: a fix for
                // the low end's width says so rather than promising a low-end-only move.
                let why = if self.gap_feature == Feature::LowEndWidth {
                    ", for the low end's width"
                } else {
                    ""
                };
                format!(
                    "{} the stereo image by {:.0} %{why}",
                    verb(pct, "Widen", "Narrow"),
                    pct.abs()
                )
            }
            FixSetting::Pumping { change_db } => format!(
                "{} the side-chain pumping by {:.1} dB",
                verb(change_db, "Deepen", "Reduce"),
                change_db.abs()
            ),
            FixSetting::AddContent { low_hz, high_hz } => format!(
                "The mix has almost nothing in {} to boost ({:.0} dB): add a sound in that \
                 range instead",
                Band { low_hz, high_hz },
                self.current_value.max(-999.0)
            ),
            FixSetting::AddWidth => {
                let what = match self.gap_feature {
                    Feature::StereoCorrelation => "a correlation",
                    Feature::LowEndWidth => "a low-end width",
                    _ => "a width",
                };
                format!(
                    "The image is almost mono: add stereo width (panning, stereo effects, a \
                     widener) toward {what} of {:.2}",
                    self.new_value.clamp(-1.0, 10.0)
                )
            }
        }
    }
}

/// `fix` within the bounds of `policy` (see the module doc): bounded moves aim for what
/// they reach; an empty band or a mono image gets an advisory fix instead.
fn bounded(mut fix: Fix, policy: &Policy) -> Fix {
    let max = policy.max_move_db;
    let clamp_to = |fix: &mut Fix, lo: f64, hi: f64| {
        let v = setting_value(fix);
        if !(lo..=hi).contains(&v) {
            let c = if v.is_nan() { 0.0 } else { v.clamp(lo, hi) };
            fix.new_value = aimed_value(fix, c);
            match &mut fix.setting {
                FixSetting::Gain { gain_db } | FixSetting::EqBand { gain_db, .. } => *gain_db = c,
                FixSetting::Dynamics { change_db } | FixSetting::Pumping { change_db } => {
                    *change_db = c
                }
                FixSetting::Width { width_ratio } => *width_ratio = c,
                FixSetting::EqTilt {
                    slope_db_per_octave,
                    ..
                } => *slope_db_per_octave = c,
                FixSetting::AddContent { .. } | FixSetting::AddWidth => {}
            }
        }
    };
    match fix.setting {
        FixSetting::EqBand {
            low_hz,
            high_hz,
            gain_db,
        } if gain_db > 0.0 && fix.current_value < EMPTY_BAND_DB => {
            fix.setting = FixSetting::AddContent { low_hz, high_hz };
        }
        FixSetting::Width { width_ratio }
            if width_ratio > 1.0 && model::effective_width(&fix) < NEAR_MONO_WIDTH =>
        {
            fix.setting = FixSetting::AddWidth;
        }
        FixSetting::Width { .. } => clamp_to(&mut fix, 0.0, MAX_WIDTH_RATIO),
        FixSetting::EqTilt { .. } => {
            clamp_to(&mut fix, -MAX_TILT_DB_PER_OCTAVE, MAX_TILT_DB_PER_OCTAVE)
        }
        FixSetting::Gain { .. }
        | FixSetting::EqBand { .. }
        | FixSetting::Dynamics { .. }
        | FixSetting::Pumping { .. } => clamp_to(&mut fix, -max, max),
        FixSetting::AddContent { .. } | FixSetting::AddWidth => {}
    }
    fix
}

/// The confidence of a fix of prior confidence `prior` for a gap of z-score `z`.
pub fn confidence(prior: f64, z: f64) -> f64 {
    prior * (1.0 - (-z.abs()).exp())
}

/// The target value for `gap` under `strategy`. A learned target the profile knows well
/// enough ([`crate::learn::LearnedTarget::known`]) is aimed at instead of the range: at
/// its centre under `mean` and `median`, and under `conservative` at the near side of its
/// ±1 sd interval (the smallest move that is probably not past where the producer wants
/// the value; the centre once the target is certain).
pub fn target(profile: &Profile, gap: &Gap, strategy: TargetStrategy) -> Option<f64> {
    let stats = profile.stats(gap.feature)?;
    if let (Some(direction), Some(t)) = (
        gap.direction,
        profile.learned_target(gap.feature).filter(|t| t.known()),
    ) {
        return Some(match (strategy, direction) {
            (TargetStrategy::Conservative, Direction::Below) => t.target - t.sd,
            (TargetStrategy::Conservative, Direction::Above) => t.target + t.sd,
            _ => t.target,
        });
    }
    Some(match strategy {
        TargetStrategy::Mean => stats.mean,
        TargetStrategy::Median => stats.p50,
        TargetStrategy::Conservative => match gap.direction {
            Some(Direction::Below) => stats.acceptable_range[0],
            Some(Direction::Above) => stats.acceptable_range[1],
            None => gap.value,
        },
    })
}

/// Proposes fixes for `report` under `policy`: the joint plan by default
/// ([`propose_for`] with only the gaps known), else one per out-of-range gap.
pub fn propose(profile: &Profile, report: &GapReport, policy: &Policy) -> Result<Vec<Fix>> {
    propose_for(profile, report, None, None, policy)
}

/// [`propose`] with what else is known of the track: all its features and its spectrum
/// profile (the joint plan's response model is much more accurate with the spectrum).
pub fn propose_for(
    profile: &Profile,
    report: &GapReport,
    features: Option<&FeatureVector>,
    spectrum: Option<&SpectrumProfile>,
    policy: &Policy,
) -> Result<Vec<Fix>> {
    Ok(propose_plan(profile, report, features, spectrum, policy, None)?.1)
}

/// A renderer for [`propose_plan`]: the track through the fix stage at a plan's moves,
/// re-analysed.
pub type Render<'a> = &'a mut dyn FnMut(&response::Moves) -> Result<FeatureVector>;

/// [`propose_for`] with the joint plan itself (`None` for `plan: independent`), checked
/// against the audio when `render` is given ([`plan::solve_checked`]).
pub fn propose_plan(
    profile: &Profile,
    report: &GapReport,
    features: Option<&FeatureVector>,
    spectrum: Option<&SpectrumProfile>,
    policy: &Policy,
    render: Option<Render<'_>>,
) -> Result<(Option<Plan>, Vec<Fix>)> {
    policy.validate()?;
    match policy.plan {
        PlanMode::Independent => Ok((None, independent(profile, report, policy)?)),
        PlanMode::Joint => {
            let (plan, fixes) = match render {
                Some(render) => {
                    plan::solve_checked(profile, report, features, spectrum, policy, render)?
                }
                None => plan::solve(profile, report, features, spectrum, policy),
            };
            Ok((Some(plan), fixes))
        }
    }
}

/// One fix per out-of-range, scored gap (policy `plan: independent`).
fn independent(profile: &Profile, report: &GapReport, policy: &Policy) -> Result<Vec<Fix>> {
    let mut fixes: Vec<Fix> = report
        .gaps
        .iter()
        .filter(|g| g.weight > 0.0)
        .filter_map(|g| {
            let direction = g.direction?;
            let target_value = target(profile, g, policy.target_strategy)?;
            let action_type = g.feature.default_fix(direction);
            let confidence = confidence(profile.fix_confidence_for(action_type, g.feature), g.z);
            let new_value = g.value + policy.amount * (target_value - g.value);
            (confidence >= policy.min_confidence).then(|| {
                let fix = Fix {
                    fix_id: fix_id(g.feature, action_type, g.value, target_value),
                    action_type,
                    gap_feature: g.feature,
                    current_value: g.value,
                    target_value,
                    new_value,
                    setting: setting(g.feature, g.value, new_value),
                    confidence,
                    z_score: g.z,
                    serves: Vec::new(),
                    effects: Vec::new(),
                    note: None,
                    parts: Vec::new(),
                };
                bounded(fix, policy)
            })
        })
        .collect();
    fixes.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.gap_feature.cmp(&b.gap_feature))
    });
    Ok(fixes)
}

/// FNV-1a 64 of the fix's identity, printed as `feature.action.xxxxxxxx`.
fn fix_id(feature: Feature, action: FixType, current: f64, target: f64) -> String {
    let h = crate::rng::fnv1a64([
        feature.name().as_bytes(),
        action.name().as_bytes(),
        &current.to_bits().to_le_bytes(),
        &target.to_bits().to_le_bytes(),
    ]);
    format!("{}.{}.{:08x}", feature.name(), action.name(), h as u32)
}

/// [`fix_id`] of a plan's fix, whose control (`control`) is part of its identity: two
/// moves can serve one feature most.
fn fix_id_with(
    feature: Feature,
    action: FixType,
    current: f64,
    target: f64,
    control: u64,
) -> String {
    let h = crate::rng::fnv1a64([
        feature.name().as_bytes(),
        action.name().as_bytes(),
        &current.to_bits().to_le_bytes(),
        &target.to_bits().to_le_bytes(),
        &control.to_le_bytes(),
    ]);
    format!("{}.{}.{:08x}", feature.name(), action.name(), h as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FeatureVector;
    use crate::gaps::compare;
    use crate::profile::FeatureStats;

    /// bass_level: mean −6.1, p50 −6.0, range [−7.3, −4.9], std 1.2 (SPEC §2's example).
    fn profile() -> Profile {
        let mut p = Profile::new("t");
        p.track_count = 5;
        let mut s = FeatureStats::from_samples(&[-8.0, -6.5, -6.0, -5.5, -4.5]).unwrap();
        s.mean = -6.1;
        s.std = 1.2;
        s.p50 = -6.0;
        s.acceptable_range = [-7.3, -4.9];
        s.samples = None;
        p.features.insert("bass_level".into(), s);
        p.fix_confidence.insert(FixType::EqBandCut, 0.8);
        p.fix_confidence.insert(FixType::EqBandBoost, 0.8);
        p
    }

    /// The editor's "why" line, word for word: bass −4.1 dB against [−7.3, −4.9], std
    /// 1.2, so z = (−4.1 − (−6.1)) / 1.2 = 1.67 and the conservative target is −4.9.
    #[test]
    fn why_names_value_sigma_range_and_target() {
        let fixes = fixes_for(-4.1, Policy::default());
        let [fix] = fixes.as_slice() else {
            panic!("{fixes:?}")
        };
        assert_eq!(
            fix.why(&profile(), TargetStrategy::Conservative),
            "Bass is \u{2212}4.1 dB, 1.7 \u{3c3} above your references (range \u{2212}7.3\u{2026}\u{2212}4.9); \
             target \u{2212}4.9 dB, the nearest edge"
        );
        let mean = fixes_for(
            -4.1,
            Policy {
                target_strategy: TargetStrategy::Mean,
                ..Policy::default()
            },
        );
        assert!(mean[0]
            .why(&profile(), TargetStrategy::Mean)
            .ends_with("target \u{2212}6.1 dB, your references' mean"));
    }

    #[test]
    fn why_of_a_move_held_by_the_ceiling_gives_its_note() {
        let mut fix = fixes_for(-4.1, Policy::default()).remove(0);
        fix.note = Some("keeps the true peak under the \u{2212}1.0 dBTP ceiling".into());
        assert_eq!(
            fix.why(&profile(), TargetStrategy::Conservative),
            "Bass is \u{2212}4.1 dB, 1.7 \u{3c3} above your references (range \u{2212}7.3\u{2026}\u{2212}4.9); \
             keeps the true peak under the \u{2212}1.0 dBTP ceiling"
        );
    }

    #[test]
    fn why_of_a_move_inside_the_range_says_what_it_serves() {
        let mut fix = fixes_for(-4.1, Policy::default()).remove(0);
        fix.current_value = -6.0;
        fix.serves = vec![Feature::BassLevel, Feature::SpectralCentroid];
        assert_eq!(
            fix.why(&profile(), TargetStrategy::Conservative),
            "Bass is \u{2212}6.0 dB, inside your references' range \u{2212}7.3\u{2026}\u{2212}4.9; \
             moved for Brightness (centroid)"
        );
    }

    /// The seed's per-feature formulas (SPEC §2), kept as the `independent` plan; the
    /// joint plan has its own tests (tests/fix_plan.rs, tests/fix_plan_audio.rs).
    fn fixes_for(value: f64, policy: Policy) -> Vec<Fix> {
        let p = profile();
        let v = FeatureVector::from_pairs([("bass_level", value)]).unwrap();
        let policy = Policy {
            plan: PlanMode::Independent,
            ..policy
        };
        propose(&p, &compare(&p, &v), &policy).unwrap()
    }

    #[test]
    fn targets_per_strategy_hand_computed() {
        // Value −2.5 is above the range: conservative → −4.9, mean → −6.1, median → −6.0.
        for (strategy, want) in [
            (TargetStrategy::Conservative, -4.9),
            (TargetStrategy::Mean, -6.1),
            (TargetStrategy::Median, -6.0),
        ] {
            let policy = Policy {
                target_strategy: strategy,
                min_confidence: 0.0,
                ..Policy::default()
            };
            let f = &fixes_for(-2.5, policy)[0];
            assert_eq!(f.target_value, want, "{strategy}");
            assert_eq!(f.new_value, want);
            assert_eq!(f.action_type, FixType::EqBandCut);
        }
        // Below the range: conservative → the lower edge, and the fix is a boost.
        let f = &fixes_for(-9.0, Policy::default())[0];
        assert_eq!(f.target_value, -7.3);
        assert_eq!(f.action_type, FixType::EqBandBoost);
    }

    #[test]
    fn amount_moves_part_way() {
        // current −2.5, target −4.9, amount 0.5 → −3.7.
        let policy = Policy {
            amount: 0.5,
            ..Policy::default()
        };
        let f = &fixes_for(-2.5, policy)[0];
        assert!((f.new_value - -3.7).abs() < 1e-12);
        let none = Policy {
            amount: 0.0,
            ..Policy::default()
        };
        assert_eq!(fixes_for(-2.5, none)[0].new_value, -2.5);
    }

    #[test]
    fn min_confidence_filters() {
        // z = (−4.5 + 6.1) / 1.2 = 1.333…; confidence = 0.8 · (1 − e^−1.333) = 0.5891.
        let z: f64 = (-4.5 + 6.1) / 1.2;
        let want = 0.8 * (1.0 - (-z).exp());
        assert!((want - 0.5891).abs() < 1e-4);
        let at = |min_confidence| {
            fixes_for(
                -4.5,
                Policy {
                    min_confidence,
                    ..Policy::default()
                },
            )
        };
        assert!((at(0.5)[0].confidence - want).abs() < 1e-12);
        assert_eq!(at(0.58).len(), 1);
        assert!(at(0.59).is_empty());
        // In range: no fix at any threshold.
        assert!(fixes_for(
            -6.0,
            Policy {
                min_confidence: 0.0,
                ..Policy::default()
            }
        )
        .is_empty());
    }

    #[test]
    fn policy_is_validated() {
        let p = profile();
        let r = compare(&p, &FeatureVector::new());
        for bad in [
            Policy {
                amount: 1.5,
                ..Policy::default()
            },
            Policy {
                min_confidence: f64::NAN,
                ..Policy::default()
            },
        ] {
            let e = propose(&p, &r, &bad).unwrap_err().to_string();
            assert!(e.contains("expected a number in [0, 1]"), "{e}");
        }
        let e = serde_json::from_str::<Policy>(r#"{"target": "mean"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `target`"));
        let ok: Policy = serde_json::from_str(r#"{"target_strategy": "median"}"#).unwrap();
        assert_eq!(ok.target_strategy, TargetStrategy::Median);
        assert_eq!(ok.amount, 1.0);
    }

    #[test]
    fn width_settings() {
        // Width 1.0 → 0.9 is "narrow 10 %".
        let FixSetting::Width { width_ratio } = setting(Feature::StereoWidth, 1.0, 0.9) else {
            panic!()
        };
        assert!((width_ratio - 0.9).abs() < 1e-12);
        // Correlation 0 ↔ width 1; correlation 0.6 ↔ width √(0.4/1.6) = 0.5.
        let FixSetting::Width { width_ratio } = setting(Feature::StereoCorrelation, 0.0, 0.6)
        else {
            panic!()
        };
        assert!((width_ratio - 0.5).abs() < 1e-12);
        let f = Fix {
            fix_id: String::new(),
            action_type: FixType::WidthAdjust,
            gap_feature: Feature::StereoWidth,
            current_value: 1.0,
            target_value: 0.9,
            new_value: 0.9,
            setting: setting(Feature::StereoWidth, 1.0, 0.9),
            confidence: 0.8,
            z_score: 1.0,
            serves: Vec::new(),
            effects: Vec::new(),
            note: None,
            parts: Vec::new(),
        };
        assert_eq!(f.describe(), "Narrow the stereo image by 10 %");
    }

    #[test]
    fn fix_ids_are_stable_and_distinct() {
        let a = fixes_for(-2.5, Policy::default());
        let b = fixes_for(-2.5, Policy::default());
        assert_eq!(a[0].fix_id, b[0].fix_id);
        assert!(a[0].fix_id.starts_with("bass_level.eq_band_cut."));
        assert_ne!(a[0].fix_id, fixes_for(-2.4, Policy::default())[0].fix_id);
        // −2.5 → −4.9 dB relative: G = 0.3236 · 0.4377 / (0.5623 · 0.6764) = 0.3725 → −4.29 dB
        // (more than the 2.4 dB naive difference, because cutting the band lowers the total).
        assert_eq!(a[0].describe(), "Cut 60–250 Hz by 4.3 dB");
    }
}
