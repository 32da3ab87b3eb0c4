//! The joint fix plan: the settings of every control chosen together, so that the
//! weighted excess of every feature over its target is smallest after the plan.
//!
//! **Variables** (the [`Moves`] of the response model): output gain, the seven band gains,
//! width, and the advisory dynamics and pumping changes — one value each, so each control
//! appears in at most one fix and dynamics can only go one way (never "compress harder"
//! beside "ease compression").
//!
//! **Targets.** A feature inside its acceptable range must stay inside it. A feature
//! outside aims, by the policy's `target_strategy` and `amount`, at `a = current + amount ·
//! (target − current)`; anything from `a` to the far edge of the range counts as reached.
//! A feature's excess is its predicted distance outside that interval in units of its
//! scale (the profile's std, as the score's), squared and weighted by the profile's weight.
//!
//! **Objective** `J = Σ weight·excess² + 0.01·Σ (move / typical move)²` (typical: 6 dB,
//! 0.5 of width), the small second term preferring no move where one does not help.
//! Minimised by coordinate descent, each variable by a golden-section search over its
//! bounds, until a sweep improves `J` by less than 1e-9 (at most 25 sweeps): eleven
//! variables, a smooth objective, milliseconds in a release build.
//!
//! **Bounds.** Every dB move within ± `max_move_db`; width within 0–2; no boost of a band
//! below [`super::EMPTY_BAND_DB`]; no widening of an image below
//! [`super::NEAR_MONO_WIDTH`]; and the true peak under the policy's ceiling (default
//! −1 dBTP) by [`ResponseModel::peak_bound_db`], a bound the audio cannot exceed: the
//! output gain is capped by it at each sweep and projected onto it at the end. When the
//! loudness target lies beyond the ceiling, the plan raises the gain only to the ceiling
//! and the rest comes from limiting (a dynamics move at a held peak).
//!
//! **Fixes.** Moves smaller than 0.25 dB (0.02 of width) are dropped. Each remaining move
//! is one fix; the features it *serves* are those whose weighted excess after the plan is
//! larger without it, and its `gap_feature` (kept for the feedback schema) is the one it
//! serves most. A fix carries its predicted effect on every feature it moves (that move
//! alone, from the track as it is). Fixes below `min_confidence` are dropped and the plan
//! is solved again without their variables.

use super::response::{Moves, ResponseModel};
use super::{Fix, FixSetting, Policy};
use crate::dsp::BANDS;
use crate::features::{Feature, FeatureVector, FixType, SpectrumProfile};
use crate::gaps::{self, GapReport};
use crate::profile::Profile;
use serde::{Deserialize, Serialize};

/// The predicted effect of one fix on one feature.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// The feature.
    pub feature: Feature,
    /// Its value now.
    pub before: f64,
    /// Its predicted value after this fix alone.
    pub after: f64,
}

/// A solved plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The moves of every control and advisory action.
    pub moves: Moves,
    /// The features predicted after all of them.
    pub predicted: FeatureVector,
    /// The weighted excess `Σ weight·excess²` of the track as it is.
    pub excess_before: f64,
    /// The same, predicted after the plan.
    pub excess_after: f64,
}

/// Moves smaller than these are not worth a fix.
const MIN_DB_MOVE: f64 = 0.25;
const MIN_WIDTH_MOVE: f64 = 0.02;
const REGULARISATION: f64 = 0.01;
/// Headroom kept under the ceiling when the plan also moves EQ or width, whose effect on
/// a limited master's peaks the model only estimates.
pub const PEAK_MARGIN_DB: f64 = 1.0;

/// One variable of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Var {
    Gain,
    Band(usize),
    Width,
    Dynamics,
    Pumping,
}

const VARS: [Var; 11] = [
    Var::Gain,
    Var::Band(0),
    Var::Band(1),
    Var::Band(2),
    Var::Band(3),
    Var::Band(4),
    Var::Band(5),
    Var::Band(6),
    Var::Width,
    Var::Dynamics,
    Var::Pumping,
];

impl Var {
    fn get(self, m: &Moves) -> f64 {
        match self {
            Var::Gain => m.gain_db,
            Var::Band(b) => m.band_db[b],
            Var::Width => m.width,
            Var::Dynamics => m.dynamics_db,
            Var::Pumping => m.pumping_db,
        }
    }

    fn set(self, m: &mut Moves, x: f64) {
        match self {
            Var::Gain => m.gain_db = x,
            Var::Band(b) => m.band_db[b] = x,
            Var::Width => m.width = x,
            Var::Dynamics => m.dynamics_db = x,
            Var::Pumping => m.pumping_db = x,
        }
    }

    fn neutral(self) -> f64 {
        if self == Var::Width {
            1.0
        } else {
            0.0
        }
    }

    fn typical(self) -> f64 {
        if self == Var::Width {
            0.5
        } else {
            6.0
        }
    }

    fn min_move(self) -> f64 {
        if self == Var::Width {
            MIN_WIDTH_MOVE
        } else {
            MIN_DB_MOVE
        }
    }
}

/// Per feature: the interval that counts as reached, its scale and weight.
#[derive(Clone, Copy, Debug)]
struct Target {
    feature: Feature,
    low: f64,
    high: f64,
    scale: f64,
    weight: f64,
}

impl Target {
    fn excess(&self, v: &FeatureVector) -> f64 {
        let Some(x) = v.value(self.feature) else {
            return 0.0;
        };
        let d = (self.low - x).max(x - self.high).max(0.0) / self.scale;
        self.weight * d * d
    }
}

fn targets(profile: &Profile, report: &GapReport, policy: &Policy) -> Vec<Target> {
    let mut out = Vec::new();
    // The true peak is the ceiling's, not a target: a peak below its range means "could
    // be louder", which the loudness target says already.
    for g in report
        .gaps
        .iter()
        .filter(|g| g.weight > 0.0 && g.feature != Feature::TruePeak)
    {
        let Some(stats) = profile.stats(g.feature) else {
            continue;
        };
        let [lo, hi] = stats.acceptable_range;
        let (low, high) = match g.direction {
            None => (lo, hi),
            Some(_) => {
                let t = super::target(profile, g, policy.target_strategy).unwrap_or(g.value);
                let a = g.value + policy.amount * (t - g.value);
                if a > g.value {
                    (a, hi.max(a))
                } else {
                    (lo.min(a), a)
                }
            }
        };
        out.push(Target {
            feature: g.feature,
            low,
            high,
            scale: gaps::scale(stats),
            weight: g.weight,
        });
    }
    out
}

struct Problem<'a> {
    model: &'a ResponseModel,
    targets: Vec<Target>,
    bounds: [(f64, f64); 11],
    ceiling: f64,
}

impl Problem<'_> {
    fn excess(&self, v: &FeatureVector) -> f64 {
        self.targets.iter().map(|t| t.excess(v)).sum()
    }

    fn objective(&self, m: &Moves) -> f64 {
        self.objective_with_eq(m, &self.model.band_power(&m.band_db))
    }

    fn objective_with_eq(&self, m: &Moves, eq: &[f64]) -> f64 {
        let v = self.model.predict_with_eq(m, eq);
        let reg: f64 = VARS
            .iter()
            .map(|var| ((var.get(m) - var.neutral()) / var.typical()).powi(2))
            .sum();
        self.excess(&v) + REGULARISATION * reg
    }

    /// The highest output gain that keeps the estimated true peak a margin under the
    /// ceiling with the other moves as they are (the estimate is exact for gain; EQ and
    /// width are held to [`PEAK_MARGIN_DB`]).
    fn gain_cap(&self, m: &Moves) -> f64 {
        let probe = Moves { gain_db: 0.0, ..*m };
        let eq_or_width = probe.band_db.iter().any(|&g| g != 0.0) || probe.width != 1.0;
        let margin = if eq_or_width { PEAK_MARGIN_DB } else { 0.0 };
        match self.model.predict(&probe).value(Feature::TruePeak) {
            Some(tp) => self.ceiling - margin - tp,
            None => f64::INFINITY,
        }
    }

    fn solve(&self, frozen: &[Var]) -> Moves {
        let mut m = Moves::NONE;
        let mut j = self.objective(&m);
        for _sweep in 0..25 {
            let before = j;
            let cap = self.gain_cap(&m);
            for (i, &var) in VARS.iter().enumerate() {
                if frozen.contains(&var) {
                    continue;
                }
                let (lo, mut hi) = self.bounds[i];
                if var == Var::Gain {
                    // Under the ceiling, as far as the gain's own bound allows.
                    hi = hi.min(cap).max(lo);
                }
                if hi <= lo {
                    var.set(&mut m, lo);
                    j = self.objective(&m);
                    continue;
                }
                // The band filters' response: fixed while another variable is searched;
                // for a band, the other bands' product times this band's.
                let others: Vec<f64> = match var {
                    Var::Band(k) => {
                        let mut without = m.band_db;
                        without[k] = 0.0;
                        self.model.band_power(&without)
                    }
                    _ => self.model.band_power(&m.band_db),
                };
                let x = golden(lo, hi, |x| {
                    let mut t = m;
                    var.set(&mut t, x);
                    match var {
                        Var::Band(k) => {
                            let eq: Vec<f64> = self
                                .model
                                .one_band_power(k, x)
                                .iter()
                                .zip(&others)
                                .map(|(a, b)| a * b)
                                .collect();
                            self.objective_with_eq(&t, &eq)
                        }
                        _ => self.objective_with_eq(&t, &others),
                    }
                });
                let mut t = m;
                var.set(&mut t, x);
                let jt = self.objective(&t);
                if jt < j {
                    m = t;
                    j = jt;
                }
            }
            if before - j < 1e-9 {
                break;
            }
        }
        // Small moves are not worth a fix; then the peak bound, exactly.
        for var in VARS {
            if (var.get(&m) - var.neutral()).abs() < var.min_move() {
                var.set(&mut m, var.neutral());
            }
        }
        let cap = self.gain_cap(&m);
        if m.gain_db > cap {
            m.gain_db = cap.max(self.bounds[0].0);
            if m.gain_db.abs() < MIN_DB_MOVE && cap >= 0.0 {
                m.gain_db = 0.0;
            }
        }
        m
    }
}

/// Golden-section search for the minimum of `f` on `[lo, hi]` (32 steps: the interval
/// shrinks by 0.618³² ≈ 2e-7, a thousandth of a dB over ±12 dB).
fn golden(lo: f64, hi: f64, f: impl Fn(f64) -> f64) -> f64 {
    let r = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (lo, hi);
    let mut c = b - r * (b - a);
    let mut d = a + r * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..32 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - r * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + r * (b - a);
            fd = f(d);
        }
    }
    0.5 * (a + b)
}

/// The features of a report's gaps as a vector (what the plan works from when only the
/// gaps are known).
fn features_of(report: &GapReport) -> FeatureVector {
    let mut v = FeatureVector::new();
    for g in &report.gaps {
        let _ = v.set(g.feature, g.value);
    }
    v
}

/// Solves the plan for a track (its gaps `report`, its features `features` when more are
/// known than the gaps hold, its spectrum profile when measured) under `policy`.
pub fn solve(
    profile: &Profile,
    report: &GapReport,
    features: Option<&FeatureVector>,
    spectrum: Option<&SpectrumProfile>,
    policy: &Policy,
) -> (Plan, Vec<Fix>) {
    let current = features.copied().unwrap_or_else(|| features_of(report));
    let model = ResponseModel::new(&current, spectrum, 48_000.0);
    let max = policy.max_move_db;
    let mut bounds = [(-max, max); 11];
    for (b, &f) in Feature::BANDS.iter().enumerate() {
        // No boost of a band with no energy, or whose energy is not known.
        if current.value(f).is_none_or(|l| l < super::EMPTY_BAND_DB) {
            bounds[1 + b].1 = 0.0;
        }
    }
    let width = current.value(Feature::StereoWidth).unwrap_or(1.0);
    bounds[8] = (
        0.0,
        if width < super::NEAR_MONO_WIDTH {
            1.0
        } else {
            super::MAX_WIDTH_RATIO
        },
    );
    let problem = Problem {
        model: &model,
        targets: targets(profile, report, policy),
        bounds,
        ceiling: policy.true_peak_ceiling_dbtp,
    };
    let mut frozen: Vec<Var> = Vec::new();
    // Advisory actions only for features that are measured.
    if current.value(Feature::Plr).is_none() && current.value(Feature::LoudnessRange).is_none() {
        frozen.push(Var::Dynamics);
    }
    if current.value(Feature::ModulationDepth).is_none() {
        frozen.push(Var::Pumping);
    }
    let mut moves;
    let mut fixes;
    loop {
        moves = problem.solve(&frozen);
        fixes = fixes_of(profile, report, &problem, &moves, policy);
        let weak: Vec<Var> = fixes
            .iter()
            .filter(|(_, f)| f.confidence < policy.min_confidence)
            .map(|(v, _)| *v)
            .collect();
        if weak.is_empty() || frozen.len() >= VARS.len() {
            break;
        }
        frozen.extend(weak);
    }
    let predicted = model.predict(&moves);
    let plan = Plan {
        moves,
        excess_before: problem.excess(&current),
        excess_after: problem.excess(&predicted),
        predicted,
    };
    let mut fixes: Vec<Fix> = fixes.into_iter().map(|(_, f)| f).collect();
    fixes.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.gap_feature.cmp(&b.gap_feature))
    });
    (plan, fixes)
}

/// One fix per move of `moves`.
fn fixes_of(
    profile: &Profile,
    report: &GapReport,
    problem: &Problem<'_>,
    moves: &Moves,
    policy: &Policy,
) -> Vec<(Var, Fix)> {
    let model = problem.model;
    let current = model.current();
    let after = model.predict(moves);
    let mut out = Vec::new();
    for var in VARS {
        let x = var.get(moves);
        if x == var.neutral() {
            continue;
        }
        // Served: the features whose excess after the plan is larger without this move.
        let mut without = *moves;
        var.set(&mut without, var.neutral());
        let without = model.predict(&without);
        let mut served: Vec<(Feature, f64)> = problem
            .targets
            .iter()
            .map(|t| (t.feature, t.excess(&without) - t.excess(&after)))
            .filter(|(_, gain)| *gain > 1e-9)
            .collect();
        served.sort_by(|a, b| b.1.total_cmp(&a.1));
        let home = match var {
            Var::Gain => Feature::Loudness,
            Var::Band(b) => Feature::BANDS[b],
            Var::Width => Feature::StereoWidth,
            Var::Dynamics => Feature::Plr,
            Var::Pumping => Feature::ModulationDepth,
        };
        // The control's own feature when it serves it (a band move is about its band),
        // else the one it serves most.
        let gap_feature = if served.iter().any(|s| s.0 == home) {
            home
        } else {
            served
                .first()
                .map(|s| s.0)
                .filter(|f| report.gap(*f).is_some())
                .unwrap_or(home)
        };
        let Some(gap) = report.gap(gap_feature).or_else(|| report.gap(home)) else {
            continue;
        };
        let gap_feature = gap.feature;
        let mut alone = Moves::NONE;
        var.set(&mut alone, x);
        let alone_v = model.predict(&alone);
        let effects: Vec<Effect> = Feature::ALL
            .into_iter()
            .filter_map(|f| {
                let (b, a) = (current.value(f)?, alone_v.value(f)?);
                let scale = profile.stats(f).map_or(1.0, gaps::scale);
                ((a - b).abs() >= 0.02 * scale).then_some(Effect {
                    feature: f,
                    before: b,
                    after: a,
                })
            })
            .collect();
        let (action_type, setting) = match var {
            Var::Gain => (FixType::VolumeAdjust, FixSetting::Gain { gain_db: x }),
            Var::Band(b) => (
                if x > 0.0 {
                    FixType::EqBandBoost
                } else {
                    FixType::EqBandCut
                },
                FixSetting::EqBand {
                    low_hz: BANDS[b].low_hz,
                    high_hz: BANDS[b].high_hz,
                    gain_db: x,
                },
            ),
            Var::Width => (FixType::WidthAdjust, FixSetting::Width { width_ratio: x }),
            Var::Dynamics => (FixType::Compression, FixSetting::Dynamics { change_db: x }),
            Var::Pumping => (
                FixType::ModulationAdjust,
                FixSetting::Pumping { change_db: x },
            ),
        };
        let target_value = super::target(profile, gap, policy.target_strategy).unwrap_or(gap.value);
        let new_value = alone_v.value(gap_feature).unwrap_or(gap.value);
        let confidence = super::confidence(profile.fix_confidence(action_type), gap.z);
        let control = VARS.iter().position(|v| *v == var).unwrap_or(0) as u64;
        out.push((
            var,
            Fix {
                fix_id: super::fix_id_with(
                    gap_feature,
                    action_type,
                    gap.value,
                    target_value,
                    control,
                ),
                action_type,
                gap_feature,
                current_value: gap.value,
                target_value,
                new_value,
                setting,
                confidence,
                z_score: gap.z,
                serves: served.iter().map(|s| s.0).collect(),
                effects,
            },
        ));
    }
    out
}
