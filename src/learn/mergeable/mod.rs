//! Learning statistics that merge exactly, so the feedback of many logs (many producers)
//! combines without reading the events again.
//!
//! Every number the summary ([`Summary`](crate::learn::Summary)) and the A/B analysis
//! ([`AbStatus`](crate::learn::AbStatus)) report is computed from these values:
//!
//! - [`OutcomeCounts`]: per fix type and per feature, counts of events, accepts, rejects,
//!   modifies, undos, the seed rule's confidence evidence, and the non-null improvement
//!   ratios with their [`ExactSum`]; the seed's formulas (SPEC §4.1) are functions of
//!   them, the per-feature score included.
//! - [`SummaryStats`]: those counts per fix type and per feature.
//! - [`SessionTable`]: per A/B test, arm and session, the sums the session-level analysis
//!   needs (events, accepts, undos, the improvement ratios' count, sum and sum of
//!   squares, the covariate, the first event's time).
//!
//! `merge` on each is associative and commutative, exactly: counts are integers, sums are
//! [`ExactSum`]s (rounded once, when read), the covariate is the smallest non-null one and
//! the first event the earliest. So the statistics of several logs merged give the same
//! summary and A/B status, bit for bit, as the statistics of their union.
//!
//! The seed's sequential confidence rule (SPEC §4.2) is not among them: it steps through
//! one fix type's events in time order, so it depends on how the events of different
//! producers interleave. A pooled confidence is the Beta view of merged counts instead
//! ([`FixTypeEffectiveness::confidence`](crate::learn::FixTypeEffectiveness::confidence)).

mod exact_sum;
mod sessions;

pub use exact_sum::ExactSum;
pub use sessions::{MetricSums, SessionRow, SessionTable, TestSessions};

use super::confidence::{outcome_evidence, Evidence};
use super::Outcomes;
use crate::features::FixType;
use crate::feedback::{EventOutcome, UserAction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counts and sums over a set of events, from which the seed's per-fix-type and
/// per-feature numbers follow (see [`OutcomeCounts::score_sum`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    /// Events.
    pub events: u64,
    /// Events whose `user_action` is `accept`.
    pub accepts: u64,
    /// … `reject`.
    pub rejects: u64,
    /// … `modify`.
    pub modifies: u64,
    /// Events with `was_undone`.
    pub undos: u64,
    /// Undone events the producer neither accepted nor rejected (the seed's −0.5 score).
    pub undone_unjudged: u64,
    /// Events with a (finite) improvement ratio.
    pub improvements: u64,
    /// The sum of those ratios.
    pub improvement_sum: ExactSum,
    /// Of the events with a ratio: accepted ones.
    pub improved_accepts: u64,
    /// Of the events with a ratio: rejected ones.
    pub improved_rejects: u64,
    /// Of the events with a ratio: undone, neither accepted nor rejected.
    pub improved_undone_unjudged: u64,
    /// Events the seed's confidence rule rewards (accepted with a ratio above 0.5).
    pub successes: u64,
    /// Events it punishes (undone or rejected).
    pub failures: u64,
}

impl OutcomeCounts {
    /// Counts one event.
    pub fn push(&mut self, e: &EventOutcome<'_>) {
        self.events += 1;
        let accept = e.user_action == Some(UserAction::Accept);
        let reject = e.user_action == Some(UserAction::Reject);
        let unjudged_undo = e.was_undone && !accept && !reject;
        self.accepts += u64::from(accept);
        self.rejects += u64::from(reject);
        self.modifies += u64::from(e.user_action == Some(UserAction::Modify));
        self.undos += u64::from(e.was_undone);
        self.undone_unjudged += u64::from(unjudged_undo);
        // The readers refuse NaN and infinities; events built in memory are treated the
        // same way (as null).
        if let Some(r) = e.improvement_ratio.filter(|r| r.is_finite()) {
            self.improvements += 1;
            self.improvement_sum.add(r);
            self.improved_accepts += u64::from(accept);
            self.improved_rejects += u64::from(reject);
            self.improved_undone_unjudged += u64::from(unjudged_undo);
        }
        match outcome_evidence(e) {
            Evidence::Success => self.successes += 1,
            Evidence::Undone | Evidence::Rejected => self.failures += 1,
            Evidence::Neutral => {}
        }
    }

    /// Adds `other`'s counts and sums.
    pub fn merge(&mut self, other: &OutcomeCounts) {
        self.events += other.events;
        self.accepts += other.accepts;
        self.rejects += other.rejects;
        self.modifies += other.modifies;
        self.undos += other.undos;
        self.undone_unjudged += other.undone_unjudged;
        self.improvements += other.improvements;
        self.improvement_sum.merge(&other.improvement_sum);
        self.improved_accepts += other.improved_accepts;
        self.improved_rejects += other.improved_rejects;
        self.improved_undone_unjudged += other.improved_undone_unjudged;
        self.successes += other.successes;
        self.failures += other.failures;
    }

    /// The mean improvement ratio (0 when there is none, as in the seed).
    pub fn avg_improvement(&self) -> f64 {
        if self.improvements > 0 {
            self.improvement_sum.value() / self.improvements as f64
        } else {
            0.0
        }
    }

    /// The sum of the seed's per-event feature scores (SPEC §4.1): an event scores 1
    /// accepted, 0 rejected, −0.5 undone, else 0.5, and `(score + ratio) / 2` with a
    /// ratio. Summed over events that is
    /// `B_all − B_ratio/2 + Σratio/2`, where `B` is the sum of the base scores of all
    /// events and of those with a ratio: multiples of ¼ computed exactly from the counts.
    /// The `sql/` files compute the same expression.
    pub fn score_sum(&self) -> f64 {
        let base = |accepts: u64, rejects: u64, undone: u64, n: u64| {
            let other = n - accepts - rejects - undone;
            accepts as f64 - 0.5 * undone as f64 + 0.5 * other as f64
        };
        let all = base(
            self.accepts,
            self.rejects,
            self.undone_unjudged,
            self.events,
        );
        let with_ratio = base(
            self.improved_accepts,
            self.improved_rejects,
            self.improved_undone_unjudged,
            self.improvements,
        );
        (all - 0.5 * with_ratio) + 0.5 * self.improvement_sum.value()
    }
}

/// The summary's statistics: [`OutcomeCounts`] per fix type and per feature name.
/// [`Summary::from_stats`](crate::learn::Summary::from_stats) turns them into the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SummaryStats {
    /// Per fix type (types without events are absent).
    pub by_fix_type: BTreeMap<FixType, OutcomeCounts>,
    /// Per feature name (features without events are absent).
    pub by_feature: BTreeMap<String, OutcomeCounts>,
}

impl SummaryStats {
    /// The statistics of the events of `events` that `keep` accepts: two passes (per fix
    /// type, per feature), side by side on two threads for large inputs.
    pub fn of<E: Outcomes + Sync + ?Sized>(
        events: &E,
        keep: impl Fn(&EventOutcome<'_>) -> bool + Sync,
    ) -> SummaryStats {
        let (types, features) = super::join(
            events.count() >= super::PARALLEL_EVENTS,
            || {
                let mut acc: [OutcomeCounts; FixType::ALL.len()] = Default::default();
                events.each(|e| {
                    if keep(&e) {
                        acc[e.fix_type as usize].push(&e);
                    }
                });
                acc
            },
            || {
                // Found by name with `rustc-hash`; owned names only at the end.
                let mut index: rustc_hash::FxHashMap<&str, usize> = Default::default();
                let mut accs: Vec<(&str, OutcomeCounts)> = Vec::new();
                events.each(|e| {
                    if keep(&e) {
                        let next = accs.len();
                        let i = *index.entry(e.feature_name).or_insert(next);
                        if i == next {
                            accs.push((e.feature_name, OutcomeCounts::default()));
                        }
                        accs[i].1.push(&e);
                    }
                });
                accs.into_iter()
                    .map(|(name, c)| (name.to_string(), c))
                    .collect::<BTreeMap<_, _>>()
            },
        );
        SummaryStats {
            by_fix_type: FixType::ALL
                .into_iter()
                .zip(types)
                .filter(|(_, c)| c.events > 0)
                .collect(),
            by_feature: features,
        }
    }

    /// Adds `other` (the statistics of the union of both event sets).
    pub fn merge(&mut self, other: &SummaryStats) {
        for (t, c) in &other.by_fix_type {
            self.by_fix_type.entry(*t).or_default().merge(c);
        }
        for (f, c) in &other.by_feature {
            match self.by_feature.get_mut(f) {
                Some(mine) => mine.merge(c),
                None => {
                    self.by_feature.insert(f.clone(), c.clone());
                }
            }
        }
    }

    /// The counts over every event.
    pub fn total(&self) -> OutcomeCounts {
        let mut all = OutcomeCounts::default();
        for c in self.by_fix_type.values() {
            all.merge(c);
        }
        all
    }
}

#[cfg(test)]
mod tests;
