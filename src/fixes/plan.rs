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
//! bounds, until a sweep improves `J` by less than 1e-6·(1 + J) (at most 25 sweeps): eleven
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
    /// The features predicted after all of them (the advisory actions included).
    pub predicted: FeatureVector,
    /// The features predicted after the fix stage's controls alone (output gain, bands,
    /// width): what a render through the fix stage measures, [`Plan::checked`].
    pub predicted_controls: FeatureVector,
    /// The weighted excess `Σ weight·excess²` of the track as it is.
    pub excess_before: f64,
    /// The same, predicted after the plan.
    pub excess_after: f64,
    /// The same after the least the ceiling asks for: only the output gain, cut as far
    /// as the ceiling needs (equal to `excess_before` when the track is under it). The
    /// plan's excess is never higher.
    pub excess_at_ceiling: f64,
    /// The features measured on the track rendered through the fix stage at the plan's
    /// settings and re-analysed ([`solve_checked`]); `None` when the plan was not checked.
    pub checked: Option<FeatureVector>,
    /// What the check found the model's true-peak estimate short by, dB (0 unchecked):
    /// added to the estimate before the plan was solved again.
    pub peak_correction_db: f64,
}

/// Moves smaller than these are not worth a fix.
const MIN_DB_MOVE: f64 = 0.25;
const MIN_WIDTH_MOVE: f64 = 0.02;
const REGULARISATION: f64 = 0.01;
/// Headroom kept under the ceiling when the plan also moves EQ or width, whose effect on
/// a limited master's peaks the model only estimates.
pub const PEAK_MARGIN_DB: f64 = 1.0;

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
}

const VARS: [Lever; 11] = [
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

impl Lever {
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

    fn typical(self) -> f64 {
        if self == Lever::Width {
            0.5
        } else {
            6.0
        }
    }

    fn min_move(self) -> f64 {
        if self == Lever::Width {
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
    /// The correction of the model's true-peak estimate per dB of EQ and width move
    /// ([`eq_size_db`]), from what a check measured; 0 unchecked.
    peak_slope: f64,
    /// Whether a check has measured the estimate (then the headroom shrinks to
    /// [`CHECKED_MARGIN_DB`]).
    checked: bool,
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

impl Problem<'_> {
    fn excess(&self, v: &FeatureVector) -> f64 {
        self.targets.iter().map(|t| t.excess(v)).sum()
    }

    fn objective(&self, m: &Moves) -> f64 {
        self.objective_with_eq(m, &self.model.band_power(&m.band_db))
    }

    /// The excess after `m` with its gain brought under the ceiling (as [`Problem::solve`]
    /// will bring it), plus the regularisation: a band boost that would force a gain cut
    /// pays for the loudness it costs.
    fn objective_with_eq(&self, m: &Moves, eq: &[f64]) -> f64 {
        let mut v = self.model.predict_with_eq(m, eq);
        self.correct(m, &mut v);
        if let Some(tp) = v.value(Feature::TruePeak) {
            let over = tp + self.margin(m) - self.ceiling;
            if over > 0.0 && m.gain_db > self.bounds[0].0 {
                let cut = over.min(m.gain_db - self.bounds[0].0);
                for f in [Feature::Loudness, Feature::TruePeak] {
                    if let Some(x) = v.value(f) {
                        let _ = v.set(f, x - cut);
                    }
                }
            }
        }
        let reg: f64 = VARS
            .iter()
            .map(|var| ((var.get(m) - var.neutral()) / var.typical()).powi(2))
            .sum();
        self.excess(&v) + REGULARISATION * reg
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

    /// The highest output gain that keeps the estimated true peak under the ceiling, less
    /// the margin, with the other moves as they are.
    fn gain_cap(&self, m: &Moves) -> f64 {
        let probe = Moves { gain_db: 0.0, ..*m };
        match self.predict(&probe).value(Feature::TruePeak) {
            Some(tp) => self.ceiling - self.margin(m) - tp,
            None => f64::INFINITY,
        }
    }

    /// Solves with the variables in `frozen` held neutral. A frozen gain still yields to
    /// the ceiling: the gain never stays where the other moves would push the peak over.
    fn solve(&self, frozen: &[Lever]) -> Moves {
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
                if var == Lever::Gain {
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
                    Lever::Band(k) => {
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
                        Lever::Band(k) => {
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
            if before - j < 1e-6 * (1.0 + j) {
                break;
            }
        }
        // Small moves are not worth a fix; then the ceiling, exactly.
        for var in VARS {
            if (var.get(&m) - var.neutral()).abs() < var.min_move() {
                var.set(&mut m, var.neutral());
            }
        }
        let cap = self.gain_cap(&m);
        if m.gain_db > cap {
            m.gain_db = cap.max(self.bounds[0].0);
        }
        // Never worse than the least the ceiling asks for (coordinate descent under a
        // moving gain cap can end there).
        let floor = self.ceiling_only();
        if self.excess(&self.predict(&floor)) < self.excess(&self.predict(&m)) {
            return floor;
        }
        m
    }

    /// The plan that moves nothing but the gain, and that only as far down as the ceiling
    /// needs (no move when the track is under it).
    fn ceiling_only(&self) -> Moves {
        let cap = self.gain_cap(&Moves::NONE);
        Moves {
            gain_db: if cap < 0.0 {
                cap.max(self.bounds[0].0)
            } else {
                0.0
            },
            ..Moves::NONE
        }
    }
}

/// Steps of the golden-section search: the interval shrinks by 0.618¹⁶ ≈ 4.5e-4, a
/// hundredth of a dB over ±12 dB (a band gain's smallest audible step is ten times that).
const GOLDEN_STEPS: usize = 16;

/// Golden-section search for the minimum of `f` on `[lo, hi]` ([`GOLDEN_STEPS`] steps).
fn golden(lo: f64, hi: f64, f: impl Fn(f64) -> f64) -> f64 {
    let r = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (lo, hi);
    let mut c = b - r * (b - a);
    let mut d = a + r * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..GOLDEN_STEPS {
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
        let max = self.policy.max_move_db;
        let mut bounds = [(-max, max); 11];
        for (b, &f) in Feature::BANDS.iter().enumerate() {
            // No boost of a band with no energy, or whose energy is not known.
            if self
                .current
                .value(f)
                .is_none_or(|l| l < super::EMPTY_BAND_DB)
            {
                bounds[1 + b].1 = 0.0;
            }
        }
        let width = self.current.value(Feature::StereoWidth).unwrap_or(1.0);
        bounds[8] = (
            0.0,
            if width < super::NEAR_MONO_WIDTH {
                1.0
            } else {
                super::MAX_WIDTH_RATIO
            },
        );
        Problem {
            model: &self.model,
            targets: targets(self.profile, self.report, self.policy),
            bounds,
            ceiling: self.policy.true_peak_ceiling_dbtp,
            peak_slope,
            checked,
        }
    }

    /// Solves `problem`, dropping the moves below `min_confidence` or serving none of
    /// their own features and solving again without them.
    fn solve(&self, problem: &Problem<'_>) -> (Plan, Vec<Fix>) {
        self.solve_without(problem, &[])
    }

    /// [`Planner::solve`] with the levers in `held` held where they are (a producer
    /// skipped them).
    fn solve_without(&self, problem: &Problem<'_>, held: &[Lever]) -> (Plan, Vec<Fix>) {
        let mut frozen: Vec<Lever> = held.to_vec();
        // Advisory actions only for features that are measured.
        if self.current.value(Feature::Plr).is_none()
            && self.current.value(Feature::LoudnessRange).is_none()
        {
            frozen.push(Lever::Dynamics);
        }
        if self.current.value(Feature::ModulationDepth).is_none() {
            frozen.push(Lever::Pumping);
        }
        let (moves, fixes) = loop {
            let moves = problem.solve(&frozen);
            let fixes = fixes_of(self.profile, self.report, problem, &moves, self.policy);
            let dropped: Vec<Lever> = fixes
                .iter()
                .filter(|c| !c.keep(self.policy))
                .map(|c| c.var)
                .filter(|v| !frozen.contains(v))
                .collect();
            if dropped.is_empty() {
                break (moves, fixes);
            }
            frozen.extend(dropped);
        };
        let predicted = problem.predict(&moves);
        let plan = Plan {
            predicted_controls: problem.predict(&moves.controls_only()),
            moves,
            excess_before: problem.excess(&self.current),
            excess_after: problem.excess(&predicted),
            excess_at_ceiling: problem.excess(&problem.predict(&problem.ceiling_only())),
            predicted,
            checked: None,
            peak_correction_db: problem.peak_slope * eq_size_db(&moves),
        };
        let mut fixes: Vec<Fix> = fixes.into_iter().map(|c| c.fix).collect();
        fixes.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then(a.gap_feature.cmp(&b.gap_feature))
        });
        (plan, fixes)
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

/// Renders a check makes at most.
const MAX_RENDERS: usize = 3;
/// A render whose true peak is this close to what the plan solved with the last
/// correction predicted needs no further solve, dB.
const OFFSET_TOLERANCE_DB: f64 = 0.1;

/// [`solve`] with the levers in `held` held neutral: the plan again after a producer
/// skipped the fixes that move them (the gain still yields to the ceiling).
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

/// Headroom kept under the ceiling once a check has measured the true peak: the second
/// solve moves the bands a little differently from the first, and its own peaks are
/// measured again.
const CHECKED_MARGIN_DB: f64 = 0.1;

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
/// the fixes are those of the final plan. At most two renders; one when no control moves
/// or only the output gain, where the model is exact.
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
        plan.moves.gain_db -= excess;
        for f in [Feature::Loudness, Feature::TruePeak] {
            if let Some(v) = measured.value(f) {
                let _ = measured.set(f, v - excess);
            }
        }
        let problem = planner.problem(slope, solved);
        let moves = plan.moves;
        let predicted = problem.predict(&moves);
        plan.excess_after = problem.excess(&predicted);
        plan.predicted = predicted;
        plan.predicted_controls = problem.predict(&moves.controls_only());
        plan.peak_correction_db = slope * size;
        if excess > 0.0 {
            fixes = rebuilt(&planner, &problem, &moves, fixes);
        }
    }
    plan.checked = Some(measured);
    Ok((plan, fixes))
}

/// The fixes of `moves` (a plan whose output gain a check lowered), in the order of `old`.
fn rebuilt(planner: &Planner<'_>, problem: &Problem<'_>, moves: &Moves, old: Vec<Fix>) -> Vec<Fix> {
    let mut new: Vec<Fix> = fixes_of(
        planner.profile,
        planner.report,
        problem,
        moves,
        planner.policy,
    )
    .into_iter()
    .map(|c| c.fix)
    .collect();
    let rank = |f: &Fix| {
        old.iter()
            .position(|o| std::mem::discriminant(&o.setting) == std::mem::discriminant(&f.setting))
            .unwrap_or(usize::MAX)
    };
    new.sort_by_key(rank);
    new
}

/// A fix of the plan and the variable it moves.
struct Candidate {
    var: Lever,
    fix: Fix,
    /// It holds the ceiling (an output gain cut no feature asked for): kept whatever its
    /// confidence, or the other moves would cross the ceiling.
    holds_ceiling: bool,
}

impl Candidate {
    fn keep(&self, policy: &Policy) -> bool {
        self.holds_ceiling
            || (!self.fix.serves.is_empty() && self.fix.confidence >= policy.min_confidence)
    }
}

impl Lever {
    /// Whether a move of this lever is for `f`: a fix is credited only with these (a band
    /// boost that raises loudness does not serve loudness; the output gain does).
    fn serves(self, f: Feature) -> bool {
        use Feature as F;
        match self {
            Lever::Gain => f == F::Loudness,
            Lever::Band(_) => f.band().is_some() || f == F::SpectralCentroid,
            Lever::Width => matches!(f, F::StereoWidth | F::StereoCorrelation | F::LowEndWidth),
            Lever::Dynamics => matches!(f, F::Plr | F::LoudnessRange | F::Loudness),
            Lever::Pumping => f == F::ModulationDepth,
        }
    }

    /// The feature a move of this variable is first about.
    fn home(self) -> Feature {
        match self {
            Lever::Gain => Feature::Loudness,
            Lever::Band(b) => Feature::BANDS[b],
            Lever::Width => Feature::StereoWidth,
            Lever::Dynamics => Feature::Plr,
            Lever::Pumping => Feature::ModulationDepth,
        }
    }
}

/// One fix per move of `moves`.
fn fixes_of(
    profile: &Profile,
    report: &GapReport,
    problem: &Problem<'_>,
    moves: &Moves,
    policy: &Policy,
) -> Vec<Candidate> {
    let model = problem.model;
    let current = model.current();
    let after = problem.predict(moves);
    let ceiling = problem.ceiling;
    let mut out = Vec::new();
    for var in VARS {
        let x = var.get(moves);
        if x == var.neutral() {
            continue;
        }
        // Served: the features of its domain whose excess after the plan is larger
        // without this move.
        let mut without = *moves;
        var.set(&mut without, var.neutral());
        let without = problem.predict(&without);
        let mut served: Vec<(Feature, f64)> = problem
            .targets
            .iter()
            .filter(|t| var.serves(t.feature))
            .map(|t| (t.feature, t.excess(&without) - t.excess(&after)))
            .filter(|(_, gain)| *gain > 1e-9)
            .collect();
        served.sort_by(|a, b| b.1.total_cmp(&a.1));
        let home = var.home();
        // A gain cut that no feature asked for, or that the ceiling set exactly (it is
        // then kept even when its loudness move alone would be below min_confidence).
        let holds_ceiling = var == Lever::Gain
            && x < 0.0
            && (served.is_empty() || (x - problem.gain_cap(moves)).abs() < 1e-6);
        // The control's own feature when it serves it (a band move is about its band),
        // else the one it serves most; the true peak for a cut only the ceiling asks for.
        let gap_feature = if holds_ceiling && served.is_empty() {
            Feature::TruePeak
        } else if served.iter().any(|s| s.0 == home) {
            home
        } else if matches!(var, Lever::Band(_))
            && served.iter().any(|s| s.0 == Feature::SpectralCentroid)
        {
            // A band moved for the tonal balance as a whole, not for another band.
            Feature::SpectralCentroid
        } else {
            served.first().map_or(home, |s| s.0)
        };
        let Some(gap) = report.gap(gap_feature).or_else(|| report.gap(home)) else {
            continue;
        };
        let gap_feature = gap.feature;
        let mut alone = Moves::NONE;
        var.set(&mut alone, x);
        // Alone: the model's own estimate (the check's correction is for the whole plan).
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
            Lever::Gain => (FixType::VolumeAdjust, FixSetting::Gain { gain_db: x }),
            Lever::Band(b) => (
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
            Lever::Width => (FixType::WidthAdjust, FixSetting::Width { width_ratio: x }),
            Lever::Dynamics => (FixType::Compression, FixSetting::Dynamics { change_db: x }),
            Lever::Pumping => (
                FixType::ModulationAdjust,
                FixSetting::Pumping { change_db: x },
            ),
        };
        let target_value = if holds_ceiling {
            ceiling
        } else {
            super::target(profile, gap, policy.target_strategy).unwrap_or(gap.value)
        };
        let new_value = alone_v.value(gap_feature).unwrap_or(gap.value);
        // The confidence of the strongest gap it serves (the seed's rule, with the z
        // of the feature that most needs the move).
        let prior = profile.fix_confidence_for(action_type, gap_feature);
        let strongest = served
            .iter()
            .filter_map(|s| report.gap(s.0))
            .map(|g| g.z.abs())
            .fold(gap.z.abs(), f64::max);
        let confidence = if holds_ceiling {
            prior
        } else {
            super::confidence(prior, strongest)
        };
        let note = note(var, x, problem, moves, &after, holds_ceiling);
        let control = VARS.iter().position(|v| *v == var).unwrap_or(0) as u64;
        out.push(Candidate {
            var,
            holds_ceiling,
            fix: Fix {
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
                note,
            },
        });
    }
    out
}

/// Why a move is what it is, when its size alone does not say: a gain held by the ceiling,
/// a cut that holds it, limiting for the loudness the ceiling leaves.
fn note(
    var: Lever,
    x: f64,
    problem: &Problem<'_>,
    moves: &Moves,
    after: &FeatureVector,
    holds_ceiling: bool,
) -> Option<String> {
    let c = Feature::TruePeak.format_value(problem.ceiling);
    let loudness_short = problem
        .targets
        .iter()
        .find(|t| t.feature == Feature::Loudness)
        .zip(after.value(Feature::Loudness))
        .map(|(t, l)| t.low - l)
        .filter(|s| *s > 0.05);
    let at_ceiling = (moves.gain_db - problem.gain_cap(moves)).abs() < 0.05;
    match var {
        Lever::Gain if holds_ceiling => Some(format!("keeps the true peak under the {c} ceiling")),
        Lever::Gain if x > 0.0 && at_ceiling => Some(match loudness_short {
            _ if moves.dynamics_db < 0.0 => {
                format!("raised only to the {c} ceiling; limiting does the rest")
            }
            Some(s) => {
                format!("raised only to the {c} ceiling, {s:.1} LU short of the target")
            }
            None => format!("raised only to the {c} ceiling"),
        }),
        Lever::Dynamics if x < 0.0 && at_ceiling && moves.gain_db > 0.0 => Some(format!(
            "limiting at the {c} ceiling for the loudness the gain cannot reach"
        )),
        _ => None,
    }
}
