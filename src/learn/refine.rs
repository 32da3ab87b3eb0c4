//! Profile refinement from feedback (SPEC §4.3): the seed's rule with guard rails and an
//! audit record of every decision.
//!
//! **Seed rule**, per feature, from its adjustment factor (see
//! [`effectiveness`](super::effectiveness)): factor < 0.4 widens the acceptable range by
//! 20 % of its width on each side; factor > 0.6 narrows it by 10 % of its width on each
//! side; otherwise the range is kept. The factor is compared after rounding to 12
//! decimals, so that an exact boundary (a score of 0.3 from 3 accepts in 10) is not moved
//! across it by a floating-point artefact.
//!
//! **Guard rails** (fixloop's additions, each reported):
//! 1. *Minimum evidence*: a feature with fewer than [`RefineOptions::min_events`] events
//!    (default 20) is not touched (`skipped`).
//! 2. *Floor*: a refined range must still contain the feature's p50 and be at least
//!    [`RefineOptions::floor_std_fraction`] × std wide (default 0.5·std, a quarter of a
//!    standard deviation on each side of the centre). A narrowing that would break the
//!    floor is limited to the floor — never beyond the old range — and when the old range
//!    is already at or below the floor the decision is `keep`.
//! 3. *Unknown feature*: a feature in the feedback but not in the profile is reported as
//!    `skipped` with that reason; nothing fails.
//! 4. *Audit*: every feature of the profile or the feedback gets an [`Adjustment`] with
//!    its events, factor, decision, old and new range and reason, so a refinement can be
//!    reviewed and reverted.
//!
//! The profile's `fix_confidence` is updated by the seed rule of
//! [`confidence`](super::confidence), and the version becomes `{old}_refined_{YYYYMMDD}`
//! for the date given. The input profile is never modified.

use super::confidence::{update_confidences, update_confidences_by_feature, ConfidenceUpdate};
use super::effectiveness::{by_feature, FeatureEffectiveness};
use super::Outcomes;
use crate::error::{Error, ErrorKind, Result};
use crate::features::FixType;
use crate::profile::{FeatureStats, Profile};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Factor below which the range is widened (the seed's 0.4).
pub const WIDEN_BELOW: f64 = 0.4;
/// Factor above which the range is narrowed (the seed's 0.6).
pub const NARROW_ABOVE: f64 = 0.6;
/// Share of the width added on each side when widening (the seed's 20 %).
pub const WIDEN_SHARE: f64 = 0.2;
/// Share of the width removed on each side when narrowing (the seed's 10 %).
pub const NARROW_SHARE: f64 = 0.1;

/// Settings of a refinement.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RefineOptions {
    /// Events a feature needs before its range is touched (default 20).
    pub min_events: u64,
    /// Narrowest allowed range as a multiple of the feature's std (default 0.5).
    pub floor_std_fraction: f64,
    /// Events a (fix type, feature) pair needs before its own confidence is learned
    /// (default 10); below it the pair uses its type's confidence.
    pub min_confidence_events: u64,
    /// The date written into the new version string.
    pub date: NaiveDate,
}

impl RefineOptions {
    /// The default guard rails, dated `date`.
    pub fn new(date: NaiveDate) -> Self {
        RefineOptions {
            min_events: 20,
            floor_std_fraction: 0.5,
            min_confidence_events: 10,
            date,
        }
    }
}

/// What refinement did to one feature's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Widened (low effectiveness).
    Widen,
    /// Narrowed (high effectiveness).
    Narrow,
    /// Left as it was.
    Keep,
    /// Not considered (too few events, or not in the profile).
    Skipped,
}

impl Decision {
    /// The stable lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Widen => "widen",
            Decision::Narrow => "narrow",
            Decision::Keep => "keep",
            Decision::Skipped => "skipped",
        }
    }
}

/// The audit record of one feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adjustment {
    /// Feature name.
    pub feature: String,
    /// Feedback events about it.
    pub events: u64,
    /// Of those, how many the producer rejected (skipped) or undid.
    #[serde(default)]
    pub refused: u64,
    /// Its adjustment factor (`null` without events).
    pub factor: Option<f64>,
    /// Its outcome score (`null` without events).
    pub score: Option<f64>,
    /// What was done.
    pub decision: Decision,
    /// The range before (`null` when the profile lacks the feature).
    pub old_range: Option<[f64; 2]>,
    /// The range after (`null` when the profile lacks the feature).
    pub new_range: Option<[f64; 2]>,
    /// Whether the floor guard rail limited the change.
    pub floor_applied: bool,
    /// Why, in words.
    pub reason: String,
}

/// Everything a refinement did: SPEC §5's refine JSON, the seed's layout on display.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RefineReport {
    /// The refined profile's version.
    pub version: String,
    /// The input profile's version.
    pub previous_version: String,
    /// Number of feedback events analysed.
    pub events: u64,
    /// The guard rails in force.
    pub options: RefineOptions,
    /// One record per feature of the profile or the feedback, by name.
    pub adjustments: Vec<Adjustment>,
    /// Confidence updates of the fix types with events.
    pub confidence: BTreeMap<FixType, ConfidenceUpdate>,
    /// Confidence updates per (fix type, feature), for the pairs with at least
    /// [`RefineOptions::min_confidence_events`] events.
    pub confidence_by_feature: BTreeMap<FixType, BTreeMap<String, ConfidenceUpdate>>,
}

impl RefineReport {
    /// Whether the refinement changed any range or confidence.
    pub fn changes_anything(&self) -> bool {
        self.adjustments
            .iter()
            .any(|a| matches!(a.decision, Decision::Widen | Decision::Narrow))
            || self.confidence.values().any(|c| c.after != c.before)
            || self
                .confidence_by_feature
                .values()
                .flat_map(|m| m.values())
                .any(|c| c.after != c.before)
    }
}

/// A refined profile and the report of what changed.
#[derive(Clone, Debug, PartialEq)]
pub struct Refinement {
    /// The new profile (validated).
    pub profile: Profile,
    /// What changed and why.
    pub report: RefineReport,
}

/// The refined version string `{old}_refined_{YYYYMMDD}`.
pub fn refined_version(old: &str, date: NaiveDate) -> String {
    format!("{old}_refined_{}", date.format("%Y%m%d"))
}

/// Refines `profile` from `events` (see the module docs). The input is not modified; the
/// returned profile is validated. Errors: no events, or options out of range.
pub fn refine<E: Outcomes + Sync + ?Sized>(
    profile: &Profile,
    events: &E,
    options: &RefineOptions,
) -> Result<Refinement> {
    if events.count() == 0 {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "no feedback events: nothing to refine profile {} with",
                profile.version
            ),
        ));
    }
    if !(options.floor_std_fraction.is_finite() && options.floor_std_fraction >= 0.0) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "floor_std_fraction is {}; expected a non-negative number",
                options.floor_std_fraction
            ),
        ));
    }
    // Per-feature effectiveness and the confidence updates: two passes, side by side on
    // two threads for large inputs.
    let ((effectiveness, confidence), confidence_by_feature) = super::join(
        events.count() >= super::PARALLEL_EVENTS,
        || {
            (
                by_feature(events),
                update_confidences(events, |t| profile.fix_confidence(t)),
            )
        },
        || {
            update_confidences_by_feature(
                events,
                |t, f| {
                    profile
                        .fix_confidence_by_feature
                        .get(&t)
                        .and_then(|m| m.get(f))
                        .copied()
                        .unwrap_or_else(|| profile.fix_confidence(t))
                },
                |e| {
                    let stats = profile.features.get(e.feature_name)?;
                    Some((e.target_value - stats.mean) / crate::gaps::scale(stats))
                },
                options.min_confidence_events,
            )
        },
    );
    let mut refined = profile.clone();
    let names: BTreeSet<&str> = profile
        .features
        .keys()
        .map(String::as_str)
        .chain(effectiveness.keys().map(String::as_str))
        .collect();
    let mut adjustments = Vec::with_capacity(names.len());
    for name in names {
        let eff = effectiveness.get(name);
        let adj = match refined.features.get_mut(name) {
            Some(stats) => adjust_feature(name, stats, eff, options),
            None => Adjustment {
                feature: name.to_string(),
                events: eff.map_or(0, |e| e.samples),
                refused: eff.map_or(0, |e| e.rejects + e.undos),
                factor: eff.map(|e| e.factor),
                score: eff.map(|e| e.score),
                decision: Decision::Skipped,
                old_range: None,
                new_range: None,
                floor_applied: false,
                reason: format!(
                    "feature {name} is in the feedback but not in profile {}; nothing to adjust",
                    profile.version
                ),
            },
        };
        adjustments.push(adj);
    }
    for (t, c) in &confidence {
        refined.fix_confidence.insert(*t, c.after);
    }
    // One answer per disagreement: a feature whose range this refinement moves keeps its
    // previous per-feature confidence. Its refusals (or acceptances) are answered by the
    // range, and the new range proposes different fixes; lowering the confidence too
    // counted the same refusals twice and silenced fixes the producer then kept.
    let moved: BTreeSet<&str> = adjustments
        .iter()
        .filter(|a| matches!(a.decision, Decision::Widen | Decision::Narrow))
        .map(|a| a.feature.as_str())
        .collect();
    let mut confidence_by_feature = confidence_by_feature;
    for m in confidence_by_feature.values_mut() {
        for (f, c) in m.iter_mut() {
            if moved.contains(f.as_str()) {
                c.after = c.before;
                c.held_by_range = true;
            }
        }
    }
    for (t, m) in &confidence_by_feature {
        let learned = refined.fix_confidence_by_feature.entry(*t).or_default();
        for (f, c) in m {
            learned.insert(f.clone(), c.after);
        }
    }
    refined.version = refined_version(&profile.version, options.date);
    refined
        .validate()
        .map_err(|e| e.context("refined profile"))?;
    Ok(Refinement {
        report: RefineReport {
            version: refined.version.clone(),
            previous_version: profile.version.clone(),
            events: events.count() as u64,
            options: *options,
            adjustments,
            confidence,
            confidence_by_feature,
        },
        profile: refined,
    })
}

fn round12(x: f64) -> f64 {
    (x * 1e12).round() / 1e12
}

fn adjust_feature(
    name: &str,
    stats: &mut FeatureStats,
    eff: Option<&FeatureEffectiveness>,
    options: &RefineOptions,
) -> Adjustment {
    let old = stats.acceptable_range;
    let mut adj = Adjustment {
        feature: name.to_string(),
        events: eff.map_or(0, |e| e.samples),
        refused: eff.map_or(0, |e| e.rejects + e.undos),
        factor: eff.map(|e| e.factor),
        score: eff.map(|e| e.score),
        decision: Decision::Skipped,
        old_range: Some(old),
        new_range: Some(old),
        floor_applied: false,
        reason: String::new(),
    };
    let Some(eff) = eff.filter(|e| e.samples >= options.min_events) else {
        adj.reason = format!(
            "{} event(s); at least {} needed before the range is touched",
            adj.events, options.min_events
        );
        return adj;
    };
    let factor = round12(eff.factor);
    let width = old[1] - old[0];
    let floor_width = options.floor_std_fraction * stats.std;
    if factor < WIDEN_BELOW {
        let grow = width * WIDEN_SHARE;
        let mut new = [old[0] - grow, old[1] + grow];
        // Widening keeps the floor unless the old range missed p50; include it.
        new[0] = new[0].min(stats.p50);
        new[1] = new[1].max(stats.p50);
        adj.decision = if new == old {
            Decision::Keep
        } else {
            Decision::Widen
        };
        adj.new_range = Some(new);
        stats.acceptable_range = new;
        adj.reason = if adj.decision == Decision::Widen {
            format!("low effectiveness (factor {factor:.3} < {WIDEN_BELOW}): widened by 20 % of the width on each side")
        } else {
            format!("low effectiveness (factor {factor:.3} < {WIDEN_BELOW}) but the range has zero width and contains p50; kept")
        };
    } else if factor > NARROW_ABOVE {
        let shrink = width * NARROW_SHARE;
        let wanted = [old[0] + shrink, old[1] - shrink];
        let (new, limited) = apply_floor(wanted, old, stats.p50, floor_width);
        adj.floor_applied = limited;
        if new == old {
            adj.decision = Decision::Keep;
            adj.reason = format!(
                "high effectiveness (factor {factor:.3} > {NARROW_ABOVE}) but the range is \
                 already at the floor (must contain p50 {} and be at least {} × std = {} wide); kept",
                stats.p50, options.floor_std_fraction, floor_width
            );
        } else {
            adj.decision = Decision::Narrow;
            adj.reason = if limited {
                format!(
                    "high effectiveness (factor {factor:.3} > {NARROW_ABOVE}): narrowed, \
                     limited by the floor (contain p50 {}, width ≥ {} × std = {})",
                    stats.p50, options.floor_std_fraction, floor_width
                )
            } else {
                format!("high effectiveness (factor {factor:.3} > {NARROW_ABOVE}): narrowed by 10 % of the width on each side")
            };
        }
        adj.new_range = Some(new);
        stats.acceptable_range = new;
    } else {
        adj.decision = Decision::Keep;
        adj.reason =
            format!("factor {factor:.3} within [{WIDEN_BELOW}, {NARROW_ABOVE}]: no change");
    }
    adj
}

/// Limits a narrowed range `wanted` (inside `old`) so it contains `p50` and is at least
/// `floor_width` wide, never reaching beyond `old` for the width. Returns the range and
/// whether the floor changed it.
fn apply_floor(wanted: [f64; 2], old: [f64; 2], p50: f64, floor_width: f64) -> ([f64; 2], bool) {
    let mut new = [wanted[0].min(p50), wanted[1].max(p50)];
    let width = new[1] - new[0];
    if width < floor_width {
        let deficit = floor_width - width;
        new[0] -= deficit / 2.0;
        new[1] += deficit / 2.0;
        // Shift back inside the old range where possible, keeping the width.
        if new[0] < old[0] {
            let d = old[0] - new[0];
            new[0] += d;
            new[1] += d;
        }
        if new[1] > old[1] {
            let d = new[1] - old[1];
            new[0] -= d;
            new[1] -= d;
        }
        if new[0] < old[0] || new[1] - new[0] >= old[1] - old[0] {
            // The old range is itself no wider than the floor: keep it.
            new = old;
        }
        new[0] = new[0].min(p50);
        new[1] = new[1].max(p50);
    }
    (new, new != wanted)
}

fn fmt_range(r: Option<[f64; 2]>) -> String {
    match r {
        Some([a, b]) => format!("[{a:.3}, {b:.3}]"),
        None => "—".into(),
    }
}

impl fmt::Display for RefineReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Analyzing {} feedback events...", self.events)?;
        writeln!(f)?;
        writeln!(f, "Adjustments:")?;
        for a in &self.adjustments {
            let what = match a.decision {
                Decision::Widen => "Widening acceptable range (low effectiveness)".to_string(),
                Decision::Narrow if a.floor_applied => {
                    "Narrowing acceptable range (high effectiveness, limited by floor)".into()
                }
                Decision::Narrow => "Narrowing acceptable range (high effectiveness)".into(),
                Decision::Keep => "No change".into(),
                Decision::Skipped => "Skipped".into(),
            };
            write!(f, "  {}: {what}", a.feature)?;
            match a.decision {
                Decision::Widen | Decision::Narrow => writeln!(
                    f,
                    " {} → {} (factor {:.2}, {} events)",
                    fmt_range(a.old_range),
                    fmt_range(a.new_range),
                    a.factor.unwrap_or(f64::NAN),
                    a.events
                )?,
                _ => writeln!(f, " ({})", a.reason)?,
            }
        }
        writeln!(f)?;
        writeln!(f, "Confidence Updates:")?;
        if self.confidence.is_empty() {
            writeln!(f, "  (none)")?;
        }
        for (t, c) in &self.confidence {
            writeln!(
                f,
                "  {} fixes: {:.2} → {:.2}  (Beta mean {:.2}, 90% [{:.2}, {:.2}], {} events: {} good, {} bad)",
                t.title(),
                c.before,
                c.after,
                c.mean,
                c.low,
                c.high,
                c.events,
                c.successes,
                c.failures
            )?;
        }
        if !self.confidence_by_feature.is_empty() {
            writeln!(f)?;
            writeln!(f, "Confidence per feature:")?;
            for (t, m) in &self.confidence_by_feature {
                for (feature, c) in m {
                    writeln!(
                        f,
                        "  {} fixes on {feature}: {:.2} → {:.2}  ({} events: {} good, {} bad){}",
                        t.title(),
                        c.before,
                        c.after,
                        c.events,
                        c.successes,
                        c.failures,
                        if c.held_by_range {
                            "; held: its range moved"
                        } else {
                            ""
                        }
                    )?;
                }
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "New version: {} (from {})",
            self.version, self.previous_version
        )
    }
}
