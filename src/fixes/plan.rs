//! The joint fix plan: the fixes an engineer would propose, in the order to make them,
//! each good on its own.
//!
//! **Objective (the producer's).** How far a mix is from what the producer wants is
//! `D = Σ_f weight_f · c(|v_f − centre_f| / scale_f)` over *every* scored feature, in
//! range or not: `centre_f` is the references' mean (the learned target's, under
//! `targets: learned`), `scale_f` their spread (the score's scale), `weight_f` the
//! feature's score weight times how much the producer cares about it
//! ([`LearnedTarget::weight`](crate::learn::taste::LearnedTarget::weight), 1 until
//! learned: a weight of 2 is a producer whose tolerance is half the references'
//! spread), and `c(z) = min(z, 5) + 0.1 · max(z − 5, 0)` keeps one wild feature from
//! hiding the rest while a move toward it still counts. A move of an in-range feature
//! away from the centre costs as much as one of an out-of-range feature; nothing
//! is free.
//!
//! **Decisions.** Each decision moves one control for the features it owns, and each
//! control is moved by at most one fix:
//!
//! - a band's level by that band's gain (never by another band's);
//! - loudness and the true peak by the output gain, as one decision with the ceiling
//!   (policy `true_peak_ceiling_dbtp`): a raise stops at the ceiling and, when the
//!   loudness target lies beyond it, the same fix says to limit harder for the rest (a
//!   part of the fix, not a fix of its own); a track over the ceiling is brought under it
//!   first, whatever else it needs;
//! - the stereo image (width, correlation, low-end width) by the width control;
//! - peak-to-loudness ratio and loudness range by compression or limiting (advisory);
//! - pumping depth by the side-chain (advisory).
//!
//! A decision is *for* the feature furthest outside its range among those it owns (its
//! `gap_feature`) and moves it toward its target (the policy's `target_strategy` and
//! `amount`) — exactly there when the move allows, never past it. What it moves
//! elsewhere is reported as its effects, never as something it serves.
//!
//! **Sizes.** Band moves stay within the policy's `max_eq_db` (default ±4 dB, what a
//! mastering engineer does on a master), other dB moves within `max_move_db`. A band
//! needing more gets the largest move and a note that the rest is a mix decision ("the
//! mix is far darker than your references"), a band with nothing to boost an advisory
//! fix to add content, a near-mono image one to add width. Band boosts never take the
//! true peak over the ceiling (or over where it already is).
//!
//! **Order.** From the track as it is, the decision that lowers `D` most is shown first,
//! then the best one from the track as that fix leaves it, and so on. A decision is shown
//! only when, applied after the ones before it, it lowers `D` by at least
//! [`MIN_IMPROVEMENT`] (the cost of touching a control), pushes no in-range feature out
//! of its range and is at least `min_confidence` confident. So every fix, taken in the
//! order shown, leaves the mix closer to the targets over all features, and the plan is
//! never worse than no fix (or than the cut the ceiling alone needs).
//!
//! A fix's `effects` are its predicted change of every feature it moves, from the track as
//! the fixes before it leave it: the whole change a producer hears when applying it in
//! order. The response model ([`super::response`]) predicts every move.

use super::response::{Moves, ResponseModel};
use super::{Fix, FixPart, FixSetting, Policy};
use crate::dsp::BANDS;
use crate::features::{Direction, Feature, FeatureVector, FixType, SpectrumProfile};
use crate::gaps::{self, GapReport};
use crate::profile::Profile;
use serde::{Deserialize, Serialize};

/// The predicted effect of one fix on one feature.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// The feature.
    pub feature: Feature,
    /// Its value before the fix (after the fixes shown before it).
    pub before: f64,
    /// Its predicted value after the fix.
    pub after: f64,
}

/// A solved plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The moves of every control and advisory action.
    pub moves: Moves,
    /// The features predicted after all of them (the advisory actions included).
    pub predicted: FeatureVector,
    /// The features predicted after the fix stage's controls alone (output gain, bands,
    /// width): what a render through the fix stage measures, [`Plan::checked`].
    pub predicted_controls: FeatureVector,
    /// The objective `D` (the module doc) of the track as it is.
    pub excess_before: f64,
    /// The same, predicted after the plan.
    pub excess_after: f64,
    /// The same after the least the ceiling asks for: only the output gain, cut as far
    /// as the ceiling needs (equal to `excess_before` when the track is under it). The
    /// plan's objective is never higher.
    pub excess_at_ceiling: f64,
    /// The features measured on the track rendered through the fix stage at the plan's
    /// settings and re-analysed ([`solve_checked`]); `None` when the plan was not checked.
    pub checked: Option<FeatureVector>,
    /// What the check found the model's true-peak estimate short by, dB (0 unchecked):
    /// added to the estimate before the plan was solved again.
    pub peak_correction_db: f64,
}

/// Moves smaller than these are not worth a fix.
const MIN_DB_MOVE: f64 = 0.05;
const MIN_WIDTH_MOVE: f64 = 0.005;
/// The least a fix must lower the objective `D` to be shown: the cost of touching a
/// control (a quarter of a standard deviation of one feature).
pub const MIN_IMPROVEMENT: f64 = 0.05;
/// Where one feature's distance in the objective stops growing at full rate, in its
/// scales: beyond it a far-off feature counts [`FAR_SLOPE`] per scale, so it cannot
/// outweigh the rest of the mix, yet a move toward it still counts (a track 20 LU too
/// quiet is still offered the gain).
pub const DISTANCE_CAP: f64 = 5.0;
/// The objective's slope beyond [`DISTANCE_CAP`], per scale.
pub const FAR_SLOPE: f64 = 0.1;
/// Headroom kept under the ceiling when the plan also moves EQ or width, whose effect on
/// a limited master's peaks the model only estimates.
pub const PEAK_MARGIN_DB: f64 = 1.0;
/// Headroom kept under the ceiling once a check has measured the true peak.
const CHECKED_MARGIN_DB: f64 = 0.1;

/// One variable of the plan: a control of the fix stage or an advisory action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lever {
    /// Output gain.
    Gain,
    /// Band `i`'s gain (0 = sub … 6 = air).
    Band(usize),
    /// Width (side gain).
    Width,
    /// Compression or limiting (advisory).
    Dynamics,
    /// Side-chain pumping (advisory).
    Pumping,
}

impl Lever {
    /// The lever a fix of the plan moves (`None` for the advisory additions and tilts,
    /// which no lever makes).
    pub fn of(fix: &Fix) -> Option<Lever> {
        Some(match fix.setting {
            FixSetting::Gain { .. } => Lever::Gain,
            FixSetting::EqBand {
                low_hz, high_hz, ..
            } => Lever::Band(crate::dsp::BandLayout::index_of(low_hz, high_hz)?),
            FixSetting::Width { .. } => Lever::Width,
            FixSetting::Dynamics { .. } => Lever::Dynamics,
            FixSetting::Pumping { .. } => Lever::Pumping,
            _ => return None,
        })
    }

    /// Every lever a fix moves: its own and its parts'.
    pub fn all_of(fix: &Fix) -> Vec<Lever> {
        let mut out: Vec<Lever> = Lever::of(fix).into_iter().collect();
        for part in &fix.parts {
            let probe = Fix {
                setting: part.setting,
                ..fix.clone()
            };
            out.extend(Lever::of(&probe));
        }
        out
    }

    fn get(self, m: &Moves) -> f64 {
        match self {
            Lever::Gain => m.gain_db,
            Lever::Band(b) => m.band_db[b],
            Lever::Width => m.width,
            Lever::Dynamics => m.dynamics_db,
            Lever::Pumping => m.pumping_db,
        }
    }

    fn set(self, m: &mut Moves, x: f64) {
        match self {
            Lever::Gain => m.gain_db = x,
            Lever::Band(b) => m.band_db[b] = x,
            Lever::Width => m.width = x,
            Lever::Dynamics => m.dynamics_db = x,
            Lever::Pumping => m.pumping_db = x,
        }
    }

    fn neutral(self) -> f64 {
        if self == Lever::Width {
            1.0
        } else {
            0.0
        }
    }

    fn min_move(self) -> f64 {
        if self == Lever::Width {
            MIN_WIDTH_MOVE
        } else {
            MIN_DB_MOVE
        }
    }

    /// The features a move of this lever is for.
    fn owns(self, f: Feature) -> bool {
        use Feature as F;
        match self {
            Lever::Gain => matches!(f, F::Loudness | F::TruePeak),
            Lever::Band(b) => f == Feature::BANDS[b],
            Lever::Width => matches!(f, F::StereoWidth | F::StereoCorrelation | F::LowEndWidth),
            Lever::Dynamics => matches!(f, F::Plr | F::LoudnessRange),
            Lever::Pumping => f == F::ModulationDepth,
        }
    }

    fn index(self) -> u64 {
        match self {
            Lever::Gain => 0,
            Lever::Band(b) => 1 + b as u64,
            Lever::Width => 8,
            Lever::Dynamics => 9,
            Lever::Pumping => 10,
        }
    }
}

const LEVERS: [Lever; 11] = [
    Lever::Gain,
    Lever::Band(0),
    Lever::Band(1),
    Lever::Band(2),
    Lever::Band(3),
    Lever::Band(4),
    Lever::Band(5),
    Lever::Band(6),
    Lever::Width,
    Lever::Dynamics,
    Lever::Pumping,
];

/// Per scored feature: where the producer wants it and how far counts.
#[derive(Clone, Copy, Debug)]
struct Goal {
    feature: Feature,
    centre: f64,
    low: f64,
    high: f64,
    scale: f64,
    weight: f64,
}

impl Goal {
    fn distance(&self, v: &FeatureVector) -> f64 {
        v.value(self.feature).map_or(0.0, |x| {
            let z = (x - self.centre).abs() / self.scale;
            self.weight * (z.min(DISTANCE_CAP) + FAR_SLOPE * (z - DISTANCE_CAP).max(0.0))
        })
    }

    fn in_range(&self, x: f64) -> bool {
        x >= self.low - 1e-9 && x <= self.high + 1e-9
    }

    /// How far outside the range `x` lies, in scales (0 inside).
    fn outside(&self, x: f64) -> f64 {
        (self.low - x).max(x - self.high).max(0.0) / self.scale
    }
}

fn goals(profile: &Profile, report: &GapReport) -> Vec<Goal> {
    report
        .gaps
        .iter()
        .filter(|g| g.weight > 0.0)
        .filter_map(|g| {
            let s = profile.stats(g.feature)?;
            Some(Goal {
                feature: g.feature,
                centre: s.mean,
                low: s.acceptable_range[0],
                high: s.acceptable_range[1],
                scale: gaps::scale(s),
                // How much the producer cares, once learned (1 with the references'
                // targets: that profile has no taste model).
                weight: g.weight * profile.learned_target(g.feature).map_or(1.0, |t| t.weight),
            })
        })
        .collect()
}

struct Problem<'a> {
    model: &'a ResponseModel,
    profile: &'a Profile,
    policy: &'a Policy,
    goals: Vec<Goal>,
    ceiling: f64,
    /// Whether `ceiling` is the references' own highest true peak (they run hotter than
    /// the policy's ceiling), as the fixes' notes say.
    ceiling_from_references: bool,
    /// The correction of the model's true-peak estimate per dB of EQ and width move
    /// ([`eq_size_db`]), from what a check measured; 0 unchecked.
    peak_slope: f64,
    /// Whether a check has measured the estimate (then the headroom shrinks to
    /// [`CHECKED_MARGIN_DB`]).
    checked: bool,
    /// No boost of these bands (no energy, or none known).
    empty_band: [bool; 7],
    /// The image is too close to mono to widen by side gain.
    near_mono: bool,
    /// Whether the output gain still sets the level last (it is not held): then the other
    /// controls' moves are judged at matched level, as an engineer compares EQ, leaving
    /// loudness and true peak out of their objective and range checks.
    level_matched: std::cell::Cell<bool>,
}

/// Loudness and true peak: what the output gain, set last, brings back.
fn is_level(f: Feature) -> bool {
    matches!(f, Feature::Loudness | Feature::TruePeak)
}

/// The size of a plan's EQ and width moves, dB: `Σ |band gain| + |20·log10 w|`. The
/// true-peak estimate is exact at 0 and drifts from the audio as this grows.
fn eq_size_db(m: &Moves) -> f64 {
    let w = if m.width > 1e-3 {
        (20.0 * m.width.log10()).abs()
    } else {
        60.0
    };
    m.band_db.iter().map(|g| g.abs()).sum::<f64>() + w
}

/// One decision the plan may take next: the moves after it and the fix that says so.
struct Step {
    moves: Moves,
    after: FeatureVector,
    gain: f64,
    fix: Fix,
    levers: Vec<Lever>,
}

impl Problem<'_> {
    fn distance(&self, v: &FeatureVector) -> f64 {
        self.goals.iter().map(|g| g.distance(v)).sum()
    }

    /// Whether `lever`'s moves are judged at matched level (see `level_matched`).
    fn matched(&self, lever: Lever) -> bool {
        lever != Lever::Gain && self.level_matched.get()
    }

    /// The objective, without loudness and true peak when `matched`.
    fn distance_by(&self, v: &FeatureVector, matched: bool) -> f64 {
        self.goals
            .iter()
            .filter(|g| !(matched && is_level(g.feature)))
            .map(|g| g.distance(v))
            .sum()
    }

    fn goal(&self, f: Feature) -> Option<&Goal> {
        self.goals.iter().find(|g| g.feature == f)
    }

    /// Adds the measured correction of the true-peak estimate (and so of the
    /// peak-to-loudness ratio) for the EQ and width of `m`.
    fn correct(&self, m: &Moves, v: &mut FeatureVector) {
        let c = self.peak_slope * eq_size_db(m);
        if c != 0.0 {
            for f in [Feature::TruePeak, Feature::Plr] {
                if let Some(x) = v.value(f) {
                    let _ = v.set(f, x + c);
                }
            }
        }
    }

    /// The predicted features, the true-peak estimate corrected.
    fn predict(&self, m: &Moves) -> FeatureVector {
        let mut v = self.model.predict(m);
        self.correct(m, &mut v);
        v
    }

    /// Headroom kept under the ceiling for the EQ and width of `m`: a quarter of their
    /// size, at most [`PEAK_MARGIN_DB`] unchecked and [`CHECKED_MARGIN_DB`] checked; none
    /// for a gain alone, where the estimate is exact.
    fn margin(&self, m: &Moves) -> f64 {
        let most = if self.checked {
            CHECKED_MARGIN_DB
        } else {
            PEAK_MARGIN_DB
        };
        (0.25 * eq_size_db(m)).min(most)
    }

    /// The true peak the ceiling sees after `m`: the estimate plus the margin.
    fn guarded_peak(&self, m: &Moves, v: &FeatureVector) -> Option<f64> {
        v.value(Feature::TruePeak).map(|tp| tp + self.margin(m))
    }

    /// The highest output gain that keeps the estimated true peak under the ceiling, less
    /// the margin, with the other moves as they are.
    fn gain_cap(&self, m: &Moves) -> f64 {
        let probe = Moves { gain_db: 0.0, ..*m };
        match self.guarded_peak(&probe, &self.predict(&probe)) {
            Some(tp) => self.ceiling - tp,
            None => f64::INFINITY,
        }
    }

    /// Where a fix for `f` from `x` aims: the policy's target, `amount` of the way.
    fn aim(&self, f: Feature, x: f64) -> Option<(f64, f64)> {
        let stats = self.profile.stats(f)?;
        let g = gaps::gap(f, stats, x);
        g.direction?;
        let t = super::target(self.profile, &g, self.policy.target_strategy)?;
        Some((t, x + self.policy.amount * (t - x)))
    }

    /// The lever's setting, between `from` and `to`, at which feature `f` predicted after
    /// `base` with the lever at that setting reaches `aim` (bisection: the features a lever
    /// owns move monotonically with it); `to` when even that falls short.
    #[allow(clippy::too_many_arguments)]
    fn reach(&self, base: &Moves, lever: Lever, f: Feature, aim: f64, from: f64, to: f64) -> f64 {
        let value = |s: f64| {
            let mut m = *base;
            lever.set(&mut m, s);
            self.predict(&m).value(f)
        };
        let (Some(v0), Some(v1)) = (value(from), value(to)) else {
            return from;
        };
        if (v1 - aim) * (v0 - aim) > 0.0 {
            return if (v1 - v0).abs() > 0.0 && (aim - v0) / (v1 - v0) > 0.0 {
                to
            } else {
                from
            };
        }
        let (mut a, mut b) = (from, to);
        for _ in 0..REACH_STEPS {
            let mid = 0.5 * (a + b);
            match value(mid) {
                Some(v) if (v - aim) * (v0 - aim) > 0.0 => a = mid,
                _ => b = mid,
            }
        }
        // The side that does not overshoot.
        a
    }
}

/// How much further outside its range a feature already outside may be taken by another
/// feature's fix, in its scales (a band cut raises every other band's share a little).
const COLLATERAL_SLACK: f64 = 0.1;

/// The change of a feature no listener hears, in its unit: a fifth of a dB (LU) of level,
/// a hundredth of width or correlation, 1 % of the centroid. A collateral move this small
/// does not count as pushing a feature out of its range.
fn unnoticed(f: Feature, centre: f64) -> f64 {
    use crate::features::Unit;
    match f.unit() {
        Unit::Lufs | Unit::Lu | Unit::Dbtp | Unit::Db => 0.2,
        Unit::Hz => 0.01 * centre.abs(),
        Unit::Ratio | Unit::Correlation => 0.01,
    }
}

/// Bisection steps of [`Problem::reach`]: the interval shrinks by 2⁻¹⁴, under a
/// thousandth of a dB over ±4 dB.
const REACH_STEPS: usize = 14;

/// The features of a report's gaps as a vector (what the plan works from when only the
/// gaps are known).
fn features_of(report: &GapReport) -> FeatureVector {
    let mut v = FeatureVector::new();
    for g in &report.gaps {
        let _ = v.set(g.feature, g.value);
    }
    v
}

/// A track's plan problem, built once and solved once or twice (a check corrects the
/// true-peak estimate in between).
struct Planner<'a> {
    profile: &'a Profile,
    report: &'a GapReport,
    policy: &'a Policy,
    current: FeatureVector,
    model: ResponseModel,
}

impl<'a> Planner<'a> {
    fn new(
        profile: &'a Profile,
        report: &'a GapReport,
        features: Option<&FeatureVector>,
        spectrum: Option<&SpectrumProfile>,
        policy: &'a Policy,
    ) -> Planner<'a> {
        let current = features.copied().unwrap_or_else(|| features_of(report));
        let model = ResponseModel::new(&current, spectrum, 48_000.0);
        Planner {
            profile,
            report,
            policy,
            current,
            model,
        }
    }

    fn problem(&self, peak_slope: f64, checked: bool) -> Problem<'_> {
        let mut empty_band = [false; 7];
        for (b, &f) in Feature::BANDS.iter().enumerate() {
            empty_band[b] = self
                .current
                .value(f)
                .is_none_or(|l| l < super::EMPTY_BAND_DB);
        }
        let goals = goals(self.profile, self.report);
        // The references' own highest true peak when they run hotter than the ceiling:
        // their practice is the producer's, and a cut below it is refused.
        let ceiling = goals
            .iter()
            .find(|g| g.feature == Feature::TruePeak)
            .map_or(self.policy.true_peak_ceiling_dbtp, |g| {
                self.policy.true_peak_ceiling_dbtp.max(g.high)
            });
        Problem {
            model: &self.model,
            profile: self.profile,
            policy: self.policy,
            goals,
            ceiling,
            ceiling_from_references: ceiling > self.policy.true_peak_ceiling_dbtp,
            peak_slope,
            checked,
            empty_band,
            near_mono: self
                .current
                .value(Feature::StereoWidth)
                .is_some_and(|w| w < super::NEAR_MONO_WIDTH),
            level_matched: std::cell::Cell::new(false),
        }
    }

    fn solve(&self, problem: &Problem<'_>) -> (Plan, Vec<Fix>) {
        self.solve_without(problem, &[])
    }

    /// The plan with the levers in `held` held where they are (a producer skipped them).
    fn solve_without(&self, problem: &Problem<'_>, held: &[Lever]) -> (Plan, Vec<Fix>) {
        let mut used: Vec<Lever> = held.to_vec();
        let mut moves = Moves::NONE;
        let mut state = problem.predict(&moves);
        let mut fixes = Vec::new();
        problem.level_matched.set(!held.contains(&Lever::Gain));
        // Over the ceiling: the cut comes first, whatever else the track needs.
        let mut ceiling_first = false;
        if let Some(step) = problem.ceiling_step(&moves, &state, &used) {
            used.extend(&step.levers);
            moves = step.moves;
            state = step.after;
            fixes.push(step.fix);
            ceiling_first = true;
        }
        let mut at_ceiling = moves;
        loop {
            // The output gain last, as in a mastering chain: it sets the level the other
            // moves leave.
            let best = |gain: bool| {
                LEVERS
                    .into_iter()
                    .filter(|l| !used.contains(l) && (*l == Lever::Gain) == gain)
                    .filter_map(|l| problem.step(l, &moves, &state, &used))
                    .filter(|s| s.gain >= MIN_IMPROVEMENT)
                    .max_by(|a, b| a.gain.total_cmp(&b.gain))
            };
            let best = best(false).or_else(|| best(true));
            let Some(step) = best else { break };
            used.extend(&step.levers);
            moves = step.moves;
            state = step.after;
            fixes.push(step.fix);
        }
        // The first cut was sized before the other moves were known: it is the output
        // gain, which sets the level last, so it is sized again for the level they leave.
        if ceiling_first && problem.level_matched.get() {
            let others = Moves {
                gain_db: 0.0,
                ..moves
            };
            if let Some(step) = problem.ceiling_step(&others, &problem.predict(&others), &[]) {
                let first = Moves {
                    gain_db: step.moves.gain_db,
                    ..Moves::NONE
                };
                let untouched = problem.predict(&Moves::NONE);
                if let Some(fix) = problem.fix_for(
                    Lever::Gain,
                    step.fix.gap_feature,
                    &Moves::NONE,
                    &first,
                    &untouched,
                    &problem.predict(&first),
                    Vec::new(),
                ) {
                    let mut fix = fix;
                    // Cut further than the ceiling alone asks, for the room the boosts
                    // after it need.
                    if fix.gap_feature == Feature::TruePeak && fix.new_value < fix.target_value {
                        problem.aim_at_plans_peak(&mut fix);
                    }
                    fixes[0] = fix;
                    moves.gain_db = first.gain_db;
                    state = problem.predict(&moves);
                    at_ceiling = first;
                }
            }
        }
        problem.level_matched.set(false);
        fixes.extend(self.advisories(problem, &moves, &state));
        let plan = Plan {
            predicted_controls: problem.predict(&moves.controls_only()),
            excess_before: problem.distance(&problem.predict(&Moves::NONE)),
            excess_after: problem.distance(&state),
            excess_at_ceiling: problem.distance(&problem.predict(&at_ceiling)),
            predicted: state,
            moves,
            checked: None,
            peak_correction_db: problem.peak_slope * eq_size_db(&moves),
        };
        (plan, fixes)
    }

    /// The advisory fixes no control makes, for what the plan leaves outside its range
    /// (proposed from the features the plan predicts, so each is sized for the mix as the
    /// plan leaves it): content in an empty band, width for a near-mono image, the
    /// loudness range. (The tonal balance as a whole, the centroid, is left to the bands'
    /// own moves: a tilt beside them would move the bands again.)
    fn advisories(&self, problem: &Problem<'_>, moves: &Moves, state: &FeatureVector) -> Vec<Fix> {
        let mut out = Vec::new();
        let now = gaps::compare(self.profile, state);
        let Ok(independent) = super::independent(self.profile, &now, self.policy) else {
            return out;
        };
        let still_out = |f: Feature| {
            problem
                .goal(f)
                .zip(state.value(f))
                .is_some_and(|(g, x)| !g.in_range(x))
        };
        for f in independent {
            let keep = match f.setting {
                FixSetting::AddContent { .. } => still_out(f.gap_feature),
                FixSetting::AddWidth => {
                    moves.width == 1.0
                        && still_out(f.gap_feature)
                        && !out.iter().any(|o: &Fix| o.setting == FixSetting::AddWidth)
                }
                // The response model's loudness range is a proportion of the
                // peak-to-loudness ratio, too rough to size a fix by: the independent fix
                // (the change of the loudness range itself) when no dynamics move is made.
                FixSetting::Dynamics { .. } if f.gap_feature == Feature::LoudnessRange => {
                    moves.dynamics_db == 0.0 && still_out(f.gap_feature)
                }
                _ => false,
            };
            if keep {
                out.push(f);
            }
        }
        out
    }
}

impl Problem<'_> {
    /// The cut a track over the ceiling needs first, also bringing an over-loud track
    /// toward its loudness target when that asks for more.
    fn ceiling_step(&self, moves: &Moves, state: &FeatureVector, used: &[Lever]) -> Option<Step> {
        if used.contains(&Lever::Gain) {
            return None;
        }
        let cap = self.gain_cap(moves);
        if cap >= 0.0 {
            return None;
        }
        let max = self.policy.max_move_db;
        let loud = state
            .value(Feature::Loudness)
            .and_then(|l| self.aim(Feature::Loudness, l).map(|a| a.1 - l))
            .filter(|&d| d < cap);
        let g = loud.unwrap_or(cap).max(-max);
        let mut m = *moves;
        m.gain_db = g;
        let after = self.predict(&m);
        let named = if loud.is_some() {
            Feature::Loudness
        } else {
            Feature::TruePeak
        };
        let fix = self.fix_for(Lever::Gain, named, moves, &m, state, &after, Vec::new())?;
        Some(Step {
            gain: self.distance(state) - self.distance(&after),
            moves: m,
            after,
            fix,
            levers: vec![Lever::Gain],
        })
    }

    /// The best decision for `lever` from `moves` (features `state`), if it is one to show.
    fn step(
        &self,
        lever: Lever,
        moves: &Moves,
        state: &FeatureVector,
        used: &[Lever],
    ) -> Option<Step> {
        // The feature the lever is for: the one it owns furthest outside its range.
        let (goal, x) = self
            .goals
            .iter()
            .filter(|g| {
                lever.owns(g.feature)
                    && g.feature != Feature::TruePeak
                    && g.feature != Feature::LoudnessRange
            })
            .filter_map(|g| Some((g, state.value(g.feature)?)))
            .filter(|(g, x)| !g.in_range(*x))
            .max_by(|a, b| a.0.outside(a.1).total_cmp(&b.0.outside(b.1)))?;
        let f = goal.feature;
        let stats = self.profile.stats(f)?;
        let gap = gaps::gap(f, stats, x);
        let action = f.default_fix(gap.direction?);
        let prior = self.profile.fix_confidence_for(action, f);
        if super::confidence(prior, gap.z) < self.policy.min_confidence {
            return None;
        }
        let (_, aim) = self.aim(f, x)?;
        let up = aim > x;
        let max = self.policy.max_move_db;
        let eq = self.policy.max_eq_db.min(max);
        let mut parts = Vec::new();
        let mut levers = vec![lever];
        let now_used: Vec<Lever> = used.iter().copied().chain([lever]).collect();
        let m = match lever {
            Lever::Band(b) => {
                if up && self.empty_band[b] {
                    return None;
                }
                // The band's own gain, toward the aim; the feature rises with the gain.
                let bound = if up { eq } else { -eq };
                let mut s = self.reach(moves, lever, f, aim, 0.0, bound);
                if up {
                    // A boost never takes the true peak over the ceiling, or over where it
                    // already is.
                    let room = |s: f64| {
                        let mut t = *moves;
                        t.band_db[b] = s;
                        let v = self.predict(&t);
                        let now = self.guarded_peak(moves, state);
                        match (self.guarded_peak(&t, &v), now) {
                            (Some(p), Some(n)) => p <= self.ceiling.max(n) + 1e-9,
                            _ => true,
                        }
                    };
                    if !room(s) {
                        let (mut lo, mut hi) = (0.0, s);
                        for _ in 0..REACH_STEPS {
                            let mid = 0.5 * (lo + hi);
                            if room(mid) {
                                lo = mid
                            } else {
                                hi = mid
                            }
                        }
                        s = lo;
                    }
                }
                let mut t = *moves;
                t.band_db[b] = s;
                t
            }
            Lever::Width => {
                if up == (f != Feature::StereoCorrelation) && self.near_mono {
                    return None;
                }
                // Width and low-end width rise with the side gain, correlation falls.
                let widen = up == (f != Feature::StereoCorrelation);
                let bound = if widen { super::MAX_WIDTH_RATIO } else { 0.0 };
                let s = self.reach(moves, lever, f, aim, 1.0, bound);
                let mut t = *moves;
                t.width = s;
                t
            }
            Lever::Gain => {
                let l = state.value(Feature::Loudness)?;
                let want = (aim - l).clamp(-max, max);
                let cap = self.gain_cap(moves);
                let g = want.min(cap);
                let mut t = *moves;
                t.gain_db = g;
                let short = want - g;
                if short > MIN_DB_MOVE && !used.contains(&Lever::Dynamics) && want > 0.0 {
                    // Raised only to the ceiling: limiting for the rest, as part of the
                    // same decision, when that is better than stopping at the ceiling.
                    let mut with = t;
                    with.dynamics_db = -short.min(max);
                    let (a, b) = (self.predict(&t), self.predict(&with));
                    if self.distance(&b) < self.distance(&a)
                        && self.keeps_ranges(state, &b, &now_used, false)
                    {
                        parts.push(FixPart {
                            feature: Feature::Plr,
                            action_type: FixType::Compression,
                            setting: FixSetting::Dynamics {
                                change_db: with.dynamics_db,
                            },
                        });
                        levers.push(Lever::Dynamics);
                        t = with;
                    }
                }
                t
            }
            Lever::Dynamics => {
                let bound = if up { max } else { -max };
                let s = self.reach(moves, lever, f, aim, 0.0, bound);
                let mut t = *moves;
                t.dynamics_db = s;
                t
            }
            Lever::Pumping => {
                let mut t = *moves;
                t.pumping_db = (aim - x).clamp(-max, max);
                t
            }
        };
        // As far toward the aim as the move can go without pushing another feature out of
        // its range (or further out than it is).
        let matched = self.matched(lever);
        let m = if self.keeps_ranges(state, &self.predict(&m), &now_used, matched) {
            m
        } else {
            let at = |k: f64| {
                let mut t = m;
                for l in &levers {
                    let (a, b) = (l.get(moves), l.get(&m));
                    l.set(&mut t, a + k * (b - a));
                }
                t
            };
            let (mut lo, mut hi) = (0.0, 1.0);
            for _ in 0..REACH_STEPS {
                let mid = 0.5 * (lo + hi);
                if self.keeps_ranges(state, &self.predict(&at(mid)), &now_used, matched) {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            at(lo)
        };
        if (lever.get(&m) - lever.get(moves)).abs() < lever.min_move() {
            return None;
        }
        let after = self.predict(&m);
        // Toward its target, never past it.
        let y = after.value(f)?;
        if (y - x) * (aim - x) <= 0.0 {
            return None;
        }
        let fix = self.fix_for(lever, f, moves, &m, state, &after, parts)?;
        Some(Step {
            gain: self.distance_by(state, matched) - self.distance_by(&after, matched),
            moves: m,
            after,
            fix,
            levers,
        })
    }

    /// Whether the change from `before` to `after` keeps every feature in range that
    /// was, moves none from one side of its range to the other, and takes none further
    /// outside by more than [`COLLATERAL_SLACK`] of its scale unless a control of its own
    /// is still free to bring it back (a band cut may lower the loudness the output gain
    /// sets last). `used`: the levers already moved, the one moving now included;
    /// `matched`: loudness and true peak are left to the output gain.
    fn keeps_ranges(
        &self,
        before: &FeatureVector,
        after: &FeatureVector,
        used: &[Lever],
        matched: bool,
    ) -> bool {
        self.goals.iter().all(|g| {
            if matched && is_level(g.feature) {
                return true;
            }
            let free = LEVERS
                .iter()
                .any(|l| l.owns(g.feature) && !used.contains(l));
            match (before.value(g.feature), after.value(g.feature)) {
                (Some(b), Some(a)) => {
                    let unheard = unnoticed(g.feature, g.centre) / g.scale;
                    if g.in_range(b) {
                        g.outside(a) <= unheard
                    } else {
                        let flipped = (b > g.high && a < g.low) || (b < g.low && a > g.high);
                        !flipped
                            && (free
                                || g.outside(a) <= g.outside(b) + COLLATERAL_SLACK.max(unheard))
                    }
                }
                _ => true,
            }
        })
    }

    /// The fix that moves `lever` from `before` to `after` (features `state` → `predicted`)
    /// for feature `f`.
    #[allow(clippy::too_many_arguments)]
    fn fix_for(
        &self,
        lever: Lever,
        f: Feature,
        before: &Moves,
        after: &Moves,
        state: &FeatureVector,
        predicted: &FeatureVector,
        parts: Vec<FixPart>,
    ) -> Option<Fix> {
        let x = state.value(f)?;
        let stats = self.profile.stats(f)?;
        let gap = gaps::gap(f, stats, x);
        let move_ = lever.get(after) - lever.get(before) + lever.neutral();
        let move_ = if lever == Lever::Width {
            lever.get(after) / lever.get(before).max(1e-9)
        } else {
            move_
        };
        let (action_type, setting) = match lever {
            Lever::Gain => (FixType::VolumeAdjust, FixSetting::Gain { gain_db: move_ }),
            Lever::Band(b) => (
                if move_ > 0.0 {
                    FixType::EqBandBoost
                } else {
                    FixType::EqBandCut
                },
                FixSetting::EqBand {
                    low_hz: BANDS[b].low_hz,
                    high_hz: BANDS[b].high_hz,
                    gain_db: move_,
                },
            ),
            Lever::Width => (
                FixType::WidthAdjust,
                FixSetting::Width { width_ratio: move_ },
            ),
            // A loudness-range fix says the loudness range's change, in LU.
            Lever::Dynamics => (
                FixType::Compression,
                FixSetting::Dynamics {
                    change_db: if f == Feature::LoudnessRange {
                        predicted.value(f).unwrap_or(x) - x
                    } else {
                        move_
                    },
                },
            ),
            Lever::Pumping => (
                FixType::ModulationAdjust,
                FixSetting::Pumping { change_db: move_ },
            ),
        };
        let ceiling_cut = f == Feature::TruePeak;
        let target_value = if ceiling_cut {
            self.ceiling
        } else {
            super::target(self.profile, &gap, self.policy.target_strategy).unwrap_or(x)
        };
        let new_value = predicted.value(f).unwrap_or(x);
        let prior = self.profile.fix_confidence_for(action_type, f);
        let confidence = if ceiling_cut {
            prior
        } else {
            super::confidence(prior, gap.z)
        };
        let effects = self.effects(state, predicted);
        let serves: Vec<Feature> = self
            .goals
            .iter()
            .filter(|g| lever.owns(g.feature) || parts.iter().any(|p| p.feature == g.feature))
            .filter(|g| {
                let (Some(b), Some(a)) = (state.value(g.feature), predicted.value(g.feature))
                else {
                    return false;
                };
                (a - g.centre).abs() < (b - g.centre).abs() - 1e-9
                    || g.outside(a) < g.outside(b) - 1e-9
            })
            .map(|g| g.feature)
            .collect();
        let mut serves = serves;
        if let Some(i) = serves.iter().position(|&s| s == f) {
            serves.swap(0, i);
        }
        let note = self.note(lever, f, move_, &gap, after, predicted, &parts);
        Some(Fix {
            fix_id: super::fix_id_with(f, action_type, x, target_value, lever.index()),
            action_type,
            gap_feature: f,
            current_value: x,
            target_value,
            new_value,
            setting,
            confidence,
            z_score: gap.z,
            serves,
            effects,
            note,
            parts,
        })
    }

    /// A gain cut sized for the room the moves after it need: the true peak it aims for
    /// is where the plan leaves it, and it says so.
    fn aim_at_plans_peak(&self, fix: &mut Fix) {
        fix.target_value = fix.new_value;
        fix.note = Some(format!(
            "keeps the true peak under the {} with the moves below",
            self.ceiling_words()
        ));
    }

    /// The ceiling in a fix's note: "−1.0 dBTP ceiling", or "−0.0 dBTP ceiling your
    /// references peak at" when it is theirs.
    fn ceiling_words(&self) -> String {
        let c = Feature::TruePeak.format_value(self.ceiling);
        if self.ceiling_from_references {
            format!("{c} ceiling your references peak at")
        } else {
            format!("{c} ceiling")
        }
    }

    /// What a decision moves, from `state` to `predicted`: every feature that moves by a
    /// fiftieth of its scale or more.
    fn effects(&self, state: &FeatureVector, predicted: &FeatureVector) -> Vec<Effect> {
        Feature::ALL
            .into_iter()
            .filter_map(|g| {
                let (b, a) = (state.value(g)?, predicted.value(g)?);
                let scale = self.profile.stats(g).map_or(1.0, gaps::scale);
                ((a - b).abs() >= 0.02 * scale).then_some(Effect {
                    feature: g,
                    before: b,
                    after: a,
                })
            })
            .collect()
    }

    /// Why a move is what it is, when its size alone does not say.
    #[allow(clippy::too_many_arguments)]
    fn note(
        &self,
        lever: Lever,
        f: Feature,
        x: f64,
        gap: &crate::gaps::Gap,
        moves: &Moves,
        predicted: &FeatureVector,
        parts: &[FixPart],
    ) -> Option<String> {
        let c = self.ceiling_words();
        let reached = |v: f64| {
            self.aim(f, gap.value).is_some_and(|(_, a)| {
                (v - a).abs() <= 0.05 * self.profile.stats(f).map_or(1.0, gaps::scale)
            })
        };
        let y = predicted.value(f).unwrap_or(gap.value);
        match lever {
            Lever::Gain if f == Feature::TruePeak => {
                Some(format!("keeps the true peak under the {c}"))
            }
            Lever::Gain if x > 0.0 && !reached(y) => {
                let at_ceiling = (moves.gain_db - self.gain_cap(moves)).abs() < 0.05;
                at_ceiling.then(|| {
                    if parts.is_empty() {
                        let short = self.aim(f, gap.value).map(|(_, a)| a - y).unwrap_or(0.0);
                        format!("raised only to the {c}, {short:.1} LU short of the target")
                    } else {
                        format!("raised only to the {c}; limiting does the rest")
                    }
                })
            }
            Lever::Band(_) if !reached(y) => {
                let full = self.policy.max_eq_db.min(self.policy.max_move_db);
                let what = match (f, gap.direction) {
                    (Feature::SubLevel | Feature::BassLevel, Some(Direction::Below)) => {
                        "far thinner in the low end"
                    }
                    (Feature::SubLevel | Feature::BassLevel, _) => "far heavier in the low end",
                    (
                        Feature::HighLevel | Feature::AirLevel | Feature::HighMidLevel,
                        Some(Direction::Below),
                    ) => "far darker",
                    (Feature::HighLevel | Feature::AirLevel | Feature::HighMidLevel, _) => {
                        "far brighter"
                    }
                    (_, Some(Direction::Below)) => "far thinner in this range",
                    _ => "far fuller in this range",
                };
                if (x.abs() - full).abs() < 1e-6 {
                    Some(format!(
                        "the mix is {what} than your references: the rest is a mix decision, not an EQ move"
                    ))
                } else if x > 0.0 {
                    Some(format!(
                        "boosted only as far as the {c} allows: boost it before your limiter for the rest"
                    ))
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// Solves the plan for a track (its gaps `report`, its features `features` when more are
/// known than the gaps hold, its spectrum profile when measured) under `policy`, from the
/// response model alone. The true peak is held [`PEAK_MARGIN_DB`] under the ceiling while
/// EQ or width move (the model only estimates their effect on peaks); [`solve_checked`]
/// measures it instead.
pub fn solve(
    profile: &Profile,
    report: &GapReport,
    features: Option<&FeatureVector>,
    spectrum: Option<&SpectrumProfile>,
    policy: &Policy,
) -> (Plan, Vec<Fix>) {
    let planner = Planner::new(profile, report, features, spectrum, policy);
    planner.solve(&planner.problem(0.0, false))
}

/// [`solve`] with the levers in `held` held neutral: the plan again after a producer
/// skipped the fixes that move them.
pub fn solve_without(
    profile: &Profile,
    report: &GapReport,
    features: Option<&FeatureVector>,
    spectrum: Option<&SpectrumProfile>,
    policy: &Policy,
    held: &[Lever],
) -> (Plan, Vec<Fix>) {
    let planner = Planner::new(profile, report, features, spectrum, policy);
    planner.solve_without(&planner.problem(0.0, false), held)
}

/// Renders a check makes at most.
const MAX_RENDERS: usize = 3;
/// A render whose true peak is this close to what the plan solved with the last
/// correction predicted needs no further solve, dB.
const OFFSET_TOLERANCE_DB: f64 = 0.1;

/// [`solve`], checked against the audio: `render` renders the track through the fix stage
/// at a plan's settings and re-analyses it (for a file,
/// [`crate::features::analyze_file_through`] with [`Moves::fix_settings`]).
///
/// The plan from the model is rendered; the difference between the measured true peak and
/// the model's estimate corrects the estimate, and the plan is solved again with it (a
/// tenth of a dB of headroom instead of [`PEAK_MARGIN_DB`]) and rendered again. If that
/// render still peaks over the ceiling, the output gain comes down by the excess, which
/// is exact (a gain moves the true peak and loudness one for one and nothing else), and
/// the measured features are shifted with it. [`Plan::checked`] holds what was measured;
/// the fixes are those of the final plan. At most three renders; one when no control
/// moves or only the output gain, where the model is exact.
pub fn solve_checked(
    profile: &Profile,
    report: &GapReport,
    features: Option<&FeatureVector>,
    spectrum: Option<&SpectrumProfile>,
    policy: &Policy,
    render: &mut dyn FnMut(&Moves) -> crate::Result<FeatureVector>,
) -> crate::Result<(Plan, Vec<Fix>)> {
    let planner = Planner::new(profile, report, features, spectrum, policy);
    let ceiling = policy.true_peak_ceiling_dbtp;
    let (mut plan, mut fixes) = planner.solve(&planner.problem(0.0, false));
    let mut measured;
    let (mut slope, mut solved) = (0.0, false);
    let mut renders = 0;
    loop {
        if !plan.moves.moves_a_control() {
            measured = planner.current;
            break;
        }
        measured = render(&plan.moves.controls_only())?;
        renders += 1;
        if !plan.moves.moves_eq_or_width() {
            break;
        }
        let estimate = planner.model.predict(&plan.moves.controls_only());
        let (Some(m), Some(e)) = (
            measured.value(Feature::TruePeak),
            estimate.value(Feature::TruePeak),
        ) else {
            break;
        };
        let size = eq_size_db(&plan.moves);
        // Solved with a correction that predicted this render, or out of renders: done.
        let predicted = e + slope * size;
        if (solved && (m - predicted).abs() < OFFSET_TOLERANCE_DB) || renders >= MAX_RENDERS {
            break;
        }
        slope = (m - e) / size;
        solved = true;
        (plan, fixes) = planner.solve(&planner.problem(slope, true));
    }
    // The last render calibrates the estimate for these very moves: the plan's true
    // peak is then the measured one. Over the ceiling, the gain comes down by the excess
    // (exact: a gain moves the true peak and loudness one for one and nothing else).
    if let Some(tp) = measured.value(Feature::TruePeak) {
        let estimate = planner
            .model
            .predict(&plan.moves.controls_only())
            .value(Feature::TruePeak);
        let size = eq_size_db(&plan.moves);
        if let (Some(e), true) = (estimate, size > 0.0) {
            slope = (tp - e) / size;
            solved = true;
        }
        let excess = (tp - ceiling).max(0.0);
        let excess = excess.min(plan.moves.gain_db + policy.max_move_db).max(0.0);
        let problem = planner.problem(slope, solved);
        if excess > 0.0 {
            let before = plan.moves;
            plan.moves.gain_db -= excess;
            for f in [Feature::Loudness, Feature::TruePeak] {
                if let Some(v) = measured.value(f) {
                    let _ = measured.set(f, v - excess);
                }
            }
            lower_gain(&problem, &before, &plan.moves, &mut fixes);
        }
        let moves = plan.moves;
        let predicted = problem.predict(&moves);
        plan.excess_after = problem.distance(&predicted);
        plan.predicted = predicted;
        plan.predicted_controls = problem.predict(&moves.controls_only());
        plan.peak_correction_db = slope * size;
    }
    plan.checked = Some(measured);
    Ok((plan, fixes))
}

/// The fixes of a plan whose output gain a check lowered from `before` to `after`: the
/// gain fix says the new gain, or, without one, a cut that keeps the ceiling comes first.
fn lower_gain(problem: &Problem<'_>, before: &Moves, after: &Moves, fixes: &mut Vec<Fix>) {
    let cut = after.gain_db - before.gain_db;
    if let Some(fix) = fixes
        .iter_mut()
        .find(|f| matches!(f.setting, FixSetting::Gain { .. }))
    {
        if let FixSetting::Gain { gain_db } = &mut fix.setting {
            *gain_db += cut;
        }
        fix.new_value += cut;
        for e in &mut fix.effects {
            if matches!(e.feature, Feature::Loudness | Feature::TruePeak) {
                e.after += cut;
            }
        }
        fix.note = Some(format!(
            "keeps the true peak under the {}",
            problem.ceiling_words()
        ));
        // A cut now past what its feature's target asks: it is sized by the peak the
        // check measured, so it is a true-peak fix aiming where the plan leaves the peak.
        let (x, y, t) = (fix.current_value, fix.new_value, fix.target_value);
        if (y - x) * (t - x) <= 0.0 || (y - x).abs() > (t - x).abs() {
            let total = match fix.setting {
                FixSetting::Gain { gain_db } => gain_db,
                _ => cut,
            };
            let m = Moves {
                gain_db: total,
                ..Moves::NONE
            };
            let untouched = problem.predict(&Moves::NONE);
            if let Some(mut peak) = problem.fix_for(
                Lever::Gain,
                Feature::TruePeak,
                &Moves::NONE,
                &m,
                &untouched,
                &problem.predict(&m),
                fix.parts.clone(),
            ) {
                problem.aim_at_plans_peak(&mut peak);
                *fix = peak;
            }
        }
        return;
    }
    let state = problem.predict(&Moves::NONE);
    let mut m = Moves::NONE;
    m.gain_db = cut;
    let after_v = problem.predict(&m);
    if let Some(fix) = problem.fix_for(
        Lever::Gain,
        Feature::TruePeak,
        &Moves::NONE,
        &m,
        &state,
        &after_v,
        Vec::new(),
    ) {
        // The room the plan's boosts need, measured.
        let mut fix = fix;
        problem.aim_at_plans_peak(&mut fix);
        fixes.insert(0, fix);
    }
}
