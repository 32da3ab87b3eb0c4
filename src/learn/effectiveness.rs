//! Effectiveness of fixes per fix type and per feature (SPEC §4.1), the feedback summary
//! built on them, and its recommendations.
//!
//! The formulas are the seed's, reproduced exactly:
//!
//! - per fix type: `effectiveness = 0.4·accept_rate + 0.4·avg_improvement + 0.2·(1 − undo_rate)`
//!   where `accept_rate` is the share of events whose `user_action` is `accept`,
//!   `avg_improvement` the mean of the non-null improvement ratios (0 when there are none)
//!   and `undo_rate` the share with `was_undone`;
//! - per feature: each event scores 1.0 when accepted, 0.0 when rejected, −0.5 when undone,
//!   else 0.5, checked in that order (so an accepted event later undone still scores 1.0,
//!   as in the seed); a non-null improvement ratio averages in: `(score + ratio) / 2`; the
//!   feature's score is the mean and its adjustment factor `0.5 + (score − 0.5)·0.5`.
//!
//! fixloop adds the evidence behind each rate: counts, and the Beta(1 + k, 1 + n − k)
//! posterior (uniform prior) with its 90 % equal-tailed interval.

use super::confidence::confidence_posterior;
use super::mergeable::{OutcomeCounts, SummaryStats};
use super::stats::{rate_posterior, BetaSummary};
use super::{Outcomes, Since};
use crate::error::{Error, ErrorKind, Result};
use crate::features::FixType;
use crate::feedback::{EventOutcome, FeedbackEvent, Timestamp, UserAction};
use crate::profile::DEFAULT_FIX_CONFIDENCE;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Effectiveness of one fix type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FixTypeEffectiveness {
    /// Number of events.
    pub samples: u64,
    /// Share of events the producer accepted.
    pub accept_rate: f64,
    /// Mean of the non-null improvement ratios (0 when none).
    pub avg_improvement: f64,
    /// Share of events that were undone.
    pub undo_rate: f64,
    /// The seed's weighted score (see the module docs).
    pub effectiveness: f64,
    /// Number of accepted events.
    pub accepts: u64,
    /// Number of rejected events.
    pub rejects: u64,
    /// Number of modified events.
    pub modifies: u64,
    /// Number of undone events.
    pub undos: u64,
    /// Number of events with an improvement ratio.
    pub improvement_samples: u64,
    /// Posterior of the accept rate (uniform prior, 90 % interval).
    pub accept_rate_posterior: Option<BetaSummary>,
    /// Posterior of the undo rate (uniform prior, 90 % interval).
    pub undo_rate_posterior: Option<BetaSummary>,
    /// Events the seed's confidence rule rewards (accepted with a ratio above 0.5).
    pub successes: u64,
    /// Events it punishes (undone or rejected).
    pub failures: u64,
    /// The confidence as the Beta view of `successes` and `failures` (SPEC §4.2) from the
    /// default prior confidence ([`DEFAULT_FIX_CONFIDENCE`], worth two events): the
    /// confidence that pools across producers. The seed's sequential rule steps through
    /// events in time order, so it depends on how different producers' events interleave;
    /// counts do not.
    pub confidence: Option<BetaSummary>,
}

/// Effectiveness of fixes aimed at one feature.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeatureEffectiveness {
    /// Number of events.
    pub samples: u64,
    /// Mean outcome score (see the module docs), in [−0.5, 1] for ratios in [0, 1].
    pub score: f64,
    /// Adjustment factor `0.5 + (score − 0.5)·0.5`; refinement widens below 0.4 and
    /// narrows above 0.6.
    pub factor: f64,
    /// Accepted events.
    pub accepts: u64,
    /// Rejected events.
    pub rejects: u64,
    /// Modified events.
    pub modifies: u64,
    /// Undone events.
    pub undos: u64,
    /// Events with an improvement ratio.
    pub improvement_samples: u64,
}

/// The seed's per-event outcome score for the per-feature analysis.
pub fn event_score(event: &FeedbackEvent) -> f64 {
    outcome_score(&event.outcome())
}

/// [`event_score`] of an event's outcome.
pub fn outcome_score(event: &EventOutcome<'_>) -> f64 {
    let base = match event.user_action {
        Some(UserAction::Accept) => 1.0,
        Some(UserAction::Reject) => 0.0,
        _ if event.was_undone => -0.5,
        _ => 0.5,
    };
    match event.improvement_ratio.filter(|r| r.is_finite()) {
        Some(r) => (base + r) / 2.0,
        None => base,
    }
}

/// The seed's adjustment factor of a feature score.
pub fn adjustment_factor(score: f64) -> f64 {
    0.5 + (score - 0.5) * 0.5
}

impl OutcomeCounts {
    /// The seed's per-fix-type numbers of these counts.
    pub fn fix_type_effectiveness(&self) -> FixTypeEffectiveness {
        let n = self.events.max(1) as f64;
        let accept_rate = self.accepts as f64 / n;
        let undo_rate = self.undos as f64 / n;
        let avg_improvement = self.avg_improvement();
        FixTypeEffectiveness {
            samples: self.events,
            accept_rate,
            avg_improvement,
            undo_rate,
            effectiveness: 0.4 * accept_rate + 0.4 * avg_improvement + 0.2 * (1.0 - undo_rate),
            accepts: self.accepts,
            rejects: self.rejects,
            modifies: self.modifies,
            undos: self.undos,
            improvement_samples: self.improvements,
            accept_rate_posterior: rate_posterior(self.accepts, self.events),
            undo_rate_posterior: rate_posterior(self.undos, self.events),
            successes: self.successes,
            failures: self.failures,
            confidence: confidence_posterior(DEFAULT_FIX_CONFIDENCE, self.successes, self.failures),
        }
    }

    /// The seed's per-feature numbers of these counts.
    pub fn feature_effectiveness(&self) -> FeatureEffectiveness {
        // The seed falls back to 0.5 for a feature without events; a feature only
        // appears in a summary once it has one.
        let score = if self.events > 0 {
            self.score_sum() / self.events as f64
        } else {
            0.5
        };
        FeatureEffectiveness {
            samples: self.events,
            score,
            factor: adjustment_factor(score),
            accepts: self.accepts,
            rejects: self.rejects,
            modifies: self.modifies,
            undos: self.undos,
            improvement_samples: self.improvements,
        }
    }
}

/// Effectiveness per fix type of `events` (fix types without events are absent).
pub fn by_fix_type<E: Outcomes + Sync + ?Sized>(
    events: &E,
) -> BTreeMap<FixType, FixTypeEffectiveness> {
    SummaryStats::of(events, |_| true)
        .by_fix_type
        .iter()
        .map(|(t, c)| (*t, c.fix_type_effectiveness()))
        .collect()
}

/// Effectiveness per feature name of `events`.
pub fn by_feature<E: Outcomes + Sync + ?Sized>(
    events: &E,
) -> BTreeMap<String, FeatureEffectiveness> {
    SummaryStats::of(events, |_| true)
        .by_feature
        .iter()
        .map(|(f, c)| (f.clone(), c.feature_effectiveness()))
        .collect()
}

/// Thresholds of the summary's recommendations. Each recommendation needs at least
/// `min_samples` events behind it, so a handful of events never triggers one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RecommendationThresholds {
    /// Events needed before anything is said about a fix type or feature (default 20,
    /// the refinement's minimum).
    pub min_samples: u64,
    /// "✓ working well" at or above this fix-type effectiveness (default 0.75).
    pub working_well: f64,
    /// "⚠ lower confidence" below this fix-type effectiveness (default 0.5)…
    pub lower_confidence: f64,
    /// …or at or above this undo rate (default 0.2).
    pub high_undo_rate: f64,
    /// "⚠ consider widening" below this feature factor (default 0.4, the factor below
    /// which refinement widens the range).
    pub widen_factor: f64,
}

impl Default for RecommendationThresholds {
    fn default() -> Self {
        RecommendationThresholds {
            min_samples: 20,
            working_well: 0.75,
            lower_confidence: 0.5,
            high_undo_rate: 0.2,
            widen_factor: 0.4,
        }
    }
}

/// What a recommendation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationKind {
    /// A fix type works well (✓).
    WorkingWell,
    /// A feature's fixes do poorly: widen its acceptable range (⚠).
    WidenRange,
    /// A fix type does poorly or is often undone: lower its confidence (⚠).
    LowerConfidence,
}

/// One line of the summary's recommendations.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// What kind of advice.
    pub kind: RecommendationKind,
    /// The fix type or feature name it is about.
    pub subject: String,
    /// The sentence shown to people, without the ✓/⚠ mark.
    pub message: String,
}

impl fmt::Display for Recommendation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = match self.kind {
            RecommendationKind::WorkingWell => '✓',
            _ => '⚠',
        };
        write!(f, "{mark} {}", self.message)
    }
}

/// The feedback summary of SPEC §5 (`summary`): totals, by fix type, by feature,
/// recommendations. Serialises to the §5 JSON fields; displays the seed's layout.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The window, when one was given.
    pub since: Option<Since>,
    /// Number of events in the window.
    pub total: u64,
    /// Share of events accepted.
    pub accept_rate: f64,
    /// Share of events undone.
    pub undo_rate: f64,
    /// Mean of the non-null improvement ratios (0 when none).
    pub avg_improvement: f64,
    /// Posterior of the overall accept rate (uniform prior, 90 % interval).
    pub accept_rate_posterior: Option<BetaSummary>,
    /// Per fix type, by snake_case name.
    pub by_fix_type: BTreeMap<FixType, FixTypeEffectiveness>,
    /// Per feature name.
    pub by_feature: BTreeMap<String, FeatureEffectiveness>,
    /// Recommendations, fix types first, then features.
    pub recommendations: Vec<Recommendation>,
}

impl Summary {
    /// Summarises the events of `events` inside `since` (all of them when `None`), with
    /// the window ending at `now`, using the default thresholds.
    ///
    /// No events at all (a fresh home) give a summary with zero totals (SPEC §5: not an
    /// error). Events that all lie outside `since` are an error that says how many were
    /// left out, so a mistyped window does not read as an empty log.
    pub fn compute<E: Outcomes + Sync + ?Sized>(
        events: &E,
        since: Option<Since>,
        now: Timestamp,
    ) -> Result<Summary> {
        Summary::compute_with(events, since, now, &RecommendationThresholds::default())
    }

    /// [`Summary::compute`] with explicit recommendation thresholds.
    pub fn compute_with<E: Outcomes + Sync + ?Sized>(
        events: &E,
        since: Option<Since>,
        now: Timestamp,
        thresholds: &RecommendationThresholds,
    ) -> Result<Summary> {
        Summary::compute_pooled::<&E, E>(std::iter::once(Ok(events)), since, now, thresholds)
    }

    /// The summary of several event sets together (the logs of many producers, say),
    /// read one after the other: each source is taken, reduced to its
    /// [`SummaryStats`] and dropped before the next, so the sources never need to fit in
    /// memory together. The result is the summary of their union, bit for bit.
    pub fn compute_pooled<S: std::borrow::Borrow<E>, E: Outcomes + Sync + ?Sized>(
        sources: impl IntoIterator<Item = Result<S>>,
        since: Option<Since>,
        now: Timestamp,
        thresholds: &RecommendationThresholds,
    ) -> Result<Summary> {
        let cutoff = since.map(|s| s.cutoff(now));
        let inside =
            |e: &EventOutcome<'_>| cutoff.is_none_or(|c| c <= e.timestamp && e.timestamp <= now);
        let mut stats = SummaryStats::default();
        let mut seen = 0usize;
        for source in sources {
            let source = source?;
            let events = source.borrow();
            seen += events.count();
            stats.merge(&SummaryStats::of(events, inside));
        }
        if stats.by_fix_type.is_empty() && seen > 0 {
            let s = since.expect("every event is inside an absent window");
            let msg = format!(
                "no feedback events in the window ({}, from {} to {now}); {seen} event(s) lie \
                 outside it",
                s.title().to_lowercase(),
                s.cutoff(now),
            );
            return Err(Error::new(ErrorKind::NotFound, msg));
        }
        Ok(Summary::from_stats(&stats, since, thresholds))
    }

    /// The summary of merged statistics (see [`crate::learn::mergeable`]): the same
    /// numbers, bit for bit, as [`Summary::compute_with`] over the union of the events
    /// the statistics came from. `since` is only the label of the window the statistics
    /// were taken over.
    pub fn from_stats(
        stats: &SummaryStats,
        since: Option<Since>,
        thresholds: &RecommendationThresholds,
    ) -> Summary {
        let overall = stats.total().fix_type_effectiveness();
        let by_fix_type: BTreeMap<FixType, FixTypeEffectiveness> = stats
            .by_fix_type
            .iter()
            .map(|(t, c)| (*t, c.fix_type_effectiveness()))
            .collect();
        let by_feature: BTreeMap<String, FeatureEffectiveness> = stats
            .by_feature
            .iter()
            .map(|(f, c)| (f.clone(), c.feature_effectiveness()))
            .collect();
        let recommendations = recommend(&by_fix_type, &by_feature, thresholds);
        Summary {
            since,
            total: overall.samples,
            accept_rate: overall.accept_rate,
            undo_rate: overall.undo_rate,
            avg_improvement: overall.avg_improvement,
            accept_rate_posterior: overall.accept_rate_posterior,
            by_fix_type,
            by_feature,
            recommendations,
        }
    }
}

/// The summary's recommendations from the per-type and per-feature results.
pub fn recommend(
    by_fix_type: &BTreeMap<FixType, FixTypeEffectiveness>,
    by_feature: &BTreeMap<String, FeatureEffectiveness>,
    t: &RecommendationThresholds,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for (fix_type, e) in by_fix_type {
        if e.samples < t.min_samples {
            continue;
        }
        if e.effectiveness >= t.working_well && e.undo_rate < t.high_undo_rate {
            out.push(Recommendation {
                kind: RecommendationKind::WorkingWell,
                subject: fix_type.name().into(),
                message: format!(
                    "{} fixes working well ({:.1}% effective, {} samples)",
                    fix_type.title(),
                    e.effectiveness * 100.0,
                    e.samples
                ),
            });
        } else if e.effectiveness < t.lower_confidence || e.undo_rate >= t.high_undo_rate {
            out.push(Recommendation {
                kind: RecommendationKind::LowerConfidence,
                subject: fix_type.name().into(),
                message: format!(
                    "Lower confidence for {} fixes ({:.1}% effective, {:.1}% undone, {} samples)",
                    fix_type.title(),
                    e.effectiveness * 100.0,
                    e.undo_rate * 100.0,
                    e.samples
                ),
            });
        }
    }
    for (feature, e) in by_feature {
        if e.samples >= t.min_samples && e.factor < t.widen_factor {
            out.push(Recommendation {
                kind: RecommendationKind::WidenRange,
                subject: feature.clone(),
                message: format!(
                    "Consider widening {feature} acceptable range (factor {:.2}, {} samples)",
                    e.factor, e.samples
                ),
            });
        }
    }
    out
}

fn label_width<'a>(labels: impl Iterator<Item = &'a str>) -> usize {
    // The seed's layout: labels (with their colon) padded to 20 columns.
    labels
        .map(|l| l.chars().count() + 2)
        .max()
        .unwrap_or(0)
        .max(20)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = format!(
            "Feedback Summary ({})",
            self.since
                .map_or_else(|| "All Time".to_string(), |s| s.title())
        );
        writeln!(f, "{title}")?;
        writeln!(f, "{}", "=".repeat(title.chars().count()))?;
        writeln!(f)?;
        writeln!(f, "Total Fixes Applied: {}", self.total)?;
        if self.total == 0 {
            writeln!(f)?;
            return writeln!(f, "No feedback has been recorded yet.");
        }
        writeln!(f, "Accept Rate: {:.1}%", self.accept_rate * 100.0)?;
        writeln!(f, "Undo Rate: {:.1}%", self.undo_rate * 100.0)?;
        writeln!(f, "Average Improvement: {:.2}", self.avg_improvement)?;
        writeln!(f)?;
        writeln!(f, "By Fix Type:")?;
        let mut types: Vec<_> = self.by_fix_type.iter().collect();
        types.sort_by(|a, b| b.1.samples.cmp(&a.1.samples).then(a.0.cmp(b.0)));
        let w = label_width(types.iter().map(|(t, _)| t.title()));
        for (t, e) in types {
            let label = format!("{}:", t.title());
            writeln!(
                f,
                "  {label:<w$}{:.1}% effective ({} samples)",
                e.effectiveness * 100.0,
                e.samples
            )?;
        }
        writeln!(f)?;
        writeln!(f, "By Feature:")?;
        let mut features: Vec<_> = self.by_feature.iter().collect();
        features.sort_by(|a, b| b.1.score.total_cmp(&a.1.score).then(a.0.cmp(b.0)));
        let w = label_width(features.iter().map(|(n, _)| n.as_str()));
        for (name, e) in features {
            let label = format!("{name}:");
            writeln!(
                f,
                "  {label:<w$}{:.1}% effective ({} samples, factor {:.2})",
                e.score * 100.0,
                e.samples,
                e.factor
            )?;
        }
        writeln!(f)?;
        writeln!(f, "Recommendations:")?;
        if self.recommendations.is_empty() {
            writeln!(f, "  (none: no fix type or feature has a clear signal yet)")?;
        }
        for r in &self.recommendations {
            writeln!(f, "  {r}")?;
        }
        Ok(())
    }
}
