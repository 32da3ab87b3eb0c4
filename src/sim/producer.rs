//! Simulated producers: a hidden taste per feature and a noisy decision rule for each
//! proposed fix, plus the feature-level outcome model of applying a fix.
//!
//! # Taste
//! A producer likes feature `f` at `target[f]` with tolerance `tolerance[f]` (both in the
//! feature's unit). How far a value `v` is from the taste is `|v − target| / tolerance`,
//! the **taste distance**.
//!
//! # Decision rule (one fix moving `f` from `v` to `new_value`)
//! - `benefit = d(v) − d(new_value)` in taste distances (positive = the fix helps);
//! - first judgement `u = benefit + judge_noise · ε₁`: `u ≤ 0` → **reject**;
//! - if the taste target lies between `v` and `new_value` (the fix overshoots what the
//!   producer wants) by more than [`MODIFY_OVERSHOOT`] tolerances → **modify**: the value is
//!   set to the taste target instead; otherwise → **accept**;
//! - after applying, a second listen `benefit_kept + listen_noise · ε₂ < −UNDO_MARGIN` →
//!   **undo** (the value reverts).
//!
//! # Outcome model
//! [`Producer::play`]: applying a fix moves every feature by the response model of the
//! fix stage ([`crate::fixes::response`]: gain, band gains, width, and the advisory
//! dynamics and pumping), from the track's features as they are after the fixes before
//! it, so side effects count and a second fix on the same control moves it again. The
//! gap feature gets measurement noise `N(0, (outcome_noise · tolerance)²)`. The model is
//! checked against re-analysed renders through the plugin's own fix stage in
//! `tests/fix_response.rs` and `tests/fix_plan_audio.rs` (loudness, band levels, width,
//! correlation). Fixes it has no move for (tilt, loudness range, added content) move their
//! feature alone to the applied value plus noise ([`Producer::decide`]).

use crate::features::{Feature, FeatureVector};
use crate::feedback::UserAction;
use crate::rng::SplitMix64;
use std::collections::BTreeMap;

/// Overshoot, in tolerances, past the taste target above which a producer modifies a fix
/// instead of accepting it.
pub const MODIFY_OVERSHOOT: f64 = 0.5;
/// Taste distance a kept fix must lose on the second listen before it is undone.
pub const UNDO_MARGIN: f64 = 0.25;

/// A producer's hidden taste: target and tolerance per feature.
#[derive(Clone, Debug, PartialEq)]
pub struct Taste {
    /// Preferred value per feature.
    pub target: BTreeMap<Feature, f64>,
    /// Tolerance per feature (> 0), in the feature's unit.
    pub tolerance: BTreeMap<Feature, f64>,
}

impl Taste {
    /// The taste distance `|value − target| / tolerance` of `feature`, if the taste has it.
    pub fn distance(&self, feature: Feature, value: f64) -> Option<f64> {
        let t = self.target.get(&feature)?;
        let tol = self.tolerance.get(&feature)?;
        Some((value - t).abs() / tol)
    }

    /// The mean taste distance over the taste's features present in `values`
    /// (the learning curve's "mean |gap to taste|"); `None` when none is present.
    pub fn mean_distance(&self, values: &BTreeMap<Feature, f64>) -> Option<f64> {
        let d: Vec<f64> = values
            .iter()
            .filter_map(|(f, v)| self.distance(*f, *v))
            .collect();
        (!d.is_empty()).then(|| d.iter().sum::<f64>() / d.len() as f64)
    }
}

/// The noise of a producer's judgement, in taste distances.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Noise {
    /// Noise of the first judgement (reading the proposal).
    pub judge: f64,
    /// Noise of the second listen (after applying).
    pub listen: f64,
    /// Measurement noise of the outcome, in tolerances.
    pub outcome: f64,
}

impl Default for Noise {
    fn default() -> Self {
        Noise {
            judge: 0.6,
            listen: 0.3,
            outcome: 0.05,
        }
    }
}

/// A simulated producer.
#[derive(Clone, Debug, PartialEq)]
pub struct Producer {
    /// Name for reports.
    pub name: String,
    /// The hidden taste.
    pub taste: Taste,
    /// Decision noise.
    pub noise: Noise,
}

/// What the producer did with one fix, and the feature value afterwards.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// The producer's action.
    pub action: UserAction,
    /// The value set by a modify.
    pub modified_value: Option<f64>,
    /// The feature value measured after the fix was applied (before any undo); `None`
    /// when it was rejected.
    pub measured_after: Option<f64>,
    /// The feature value at the end (the original value when rejected or undone).
    pub final_value: f64,
}

/// The feature-level outcome model: the value measured after applying a fix whose applied
/// value is `applied`, with measurement noise of `noise_sd` (feature units).
pub fn outcome(applied: f64, noise_sd: f64, rng: &mut SplitMix64) -> f64 {
    applied + noise_sd * rng.next_normal()
}

/// Most taste distance one feature counts for in the second listen (as the learning
/// curve's capped gap).
pub const LISTEN_CAP: f64 = 5.0;

impl Producer {
    /// Plays one proposed fix on a track whose features are `values`, with the response
    /// model of the fix stage ([`crate::fixes::response`], validated against re-analysed
    /// audio) as the outcome model:
    ///
    /// - the producer hears what the fix does *now* (after the fixes before it): the
    ///   model's prediction of its moves from `values`, not the value the fix was
    ///   computed for, and judges its gap feature as [`Producer::decide`] does;
    /// - a modify sets the move part way, so that the gap feature lands on the taste;
    /// - applying moves every feature the model moves (side effects included), the gap
    ///   feature with measurement noise;
    /// - the second listen weighs the change over every feature of the taste (each capped
    ///   at [`LISTEN_CAP`]): a fix whose side effects hurt more than it helps is undone.
    ///
    /// Fixes the model has no move for (tilt, loudness range, added content) keep the
    /// single-feature outcome of [`Producer::decide`]. `values` is updated to the
    /// features after the decision.
    pub fn play(
        &self,
        fix: &crate::fixes::Fix,
        values: &mut BTreeMap<Feature, f64>,
        rng: &mut SplitMix64,
    ) -> Decision {
        use crate::fixes::response::{Moves, ResponseModel};
        let feature = fix.gap_feature;
        let current = values.get(&feature).copied().unwrap_or(fix.current_value);
        let Some(moves) = Moves::of_fix(fix) else {
            let d = self.decide(feature, current, fix.new_value, rng);
            values.insert(feature, d.final_value);
            return d;
        };
        let model = ResponseModel::new(&vector_of(values), None, 48_000.0);
        let after =
            |m: &Moves| -> BTreeMap<Feature, f64> { model.predict(m).iter_values().collect() };
        let full = after(&moves);
        let heard = full.get(&feature).copied().unwrap_or(fix.new_value);
        let (Some(&t), Some(&tol)) = (
            self.taste.target.get(&feature),
            self.taste.tolerance.get(&feature),
        ) else {
            *values = full;
            return Decision {
                action: UserAction::Accept,
                modified_value: None,
                measured_after: Some(heard),
                final_value: heard,
            };
        };
        let listen = |v: &BTreeMap<Feature, f64>| -> f64 {
            v.iter()
                .filter_map(|(f, x)| self.taste.distance(*f, *x))
                .map(|d| d.min(LISTEN_CAP))
                .sum()
        };
        // The producer hears the whole change, not only the feature the fix names.
        if listen(values) - listen(&full) + self.noise.judge * rng.next_normal() <= 0.0 {
            return Decision {
                action: UserAction::Reject,
                modified_value: None,
                measured_after: None,
                final_value: current,
            };
        }
        let between = (t - current) * (t - heard) < 0.0;
        let (action, mut result, modified_value) =
            if between && (heard - t).abs() / tol > MODIFY_OVERSHOOT {
                let k = ((t - current) / (heard - current)).clamp(0.0, 1.0);
                (UserAction::Modify, after(&moves.scaled(k)), Some(t))
            } else {
                (UserAction::Accept, full, None)
            };
        let measured = outcome(
            result.get(&feature).copied().unwrap_or(heard),
            self.noise.outcome * tol,
            rng,
        );
        result.insert(feature, measured);
        let kept = listen(values) - listen(&result);
        if kept + self.noise.listen * rng.next_normal() < -UNDO_MARGIN {
            return Decision {
                action: UserAction::Undo,
                modified_value,
                measured_after: Some(measured),
                final_value: current,
            };
        }
        *values = result;
        Decision {
            action,
            modified_value,
            measured_after: Some(measured),
            final_value: measured,
        }
    }

    /// Decides on a fix moving `feature` from `current` to `new_value` (see the module
    /// docs). Features outside the taste are accepted as proposed.
    pub fn decide(
        &self,
        feature: Feature,
        current: f64,
        new_value: f64,
        rng: &mut SplitMix64,
    ) -> Decision {
        let (Some(&t), Some(&tol)) = (
            self.taste.target.get(&feature),
            self.taste.tolerance.get(&feature),
        ) else {
            return Decision {
                action: UserAction::Accept,
                modified_value: None,
                measured_after: Some(new_value),
                final_value: new_value,
            };
        };
        let d = |v: f64| (v - t).abs() / tol;
        let benefit = d(current) - d(new_value);
        if benefit + self.noise.judge * rng.next_normal() <= 0.0 {
            return Decision {
                action: UserAction::Reject,
                modified_value: None,
                measured_after: None,
                final_value: current,
            };
        }
        let between = (t - current) * (t - new_value) < 0.0;
        let (action, applied, modified_value) =
            if between && (new_value - t).abs() / tol > MODIFY_OVERSHOOT {
                (UserAction::Modify, t, Some(t))
            } else {
                (UserAction::Accept, new_value, None)
            };
        let measured = outcome(applied, self.noise.outcome * tol, rng);
        let kept = d(current) - d(measured);
        if kept + self.noise.listen * rng.next_normal() < -UNDO_MARGIN {
            return Decision {
                action: UserAction::Undo,
                modified_value,
                measured_after: Some(measured),
                final_value: current,
            };
        }
        Decision {
            action,
            modified_value,
            measured_after: Some(measured),
            final_value: measured,
        }
    }
}

/// A map of values as a feature vector (the inverse of [`values_of`]).
pub fn vector_of(values: &BTreeMap<Feature, f64>) -> FeatureVector {
    let mut fv = FeatureVector::new();
    for (f, v) in values {
        let _ = fv.set(*f, *v);
    }
    fv
}

/// The values of `fv` as a map (absent features left out).
pub fn values_of(fv: &FeatureVector) -> BTreeMap<Feature, f64> {
    fv.iter_values().collect()
}
