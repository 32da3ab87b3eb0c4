//! Confidence in each fix type (SPEC §4.2): the seed's update rule, and a Beta-posterior
//! view beside it so a reader sees how much evidence stands behind each number.
//!
//! **Seed rule**, over a fix type's events in time order, starting from the profile's
//! confidence `c`: an accepted event with `improvement_ratio > 0.5` gives
//! `c ← c + 0.05·(1 − c)`; else an undone one `c ← 0.9·c`; else a rejected one
//! `c ← 0.95·c`; anything else leaves `c`. The result is clamped to [0.1, 0.99] once, at
//! the end, as in the seed. The order of the tests is the seed's: an event both accepted
//! (with a good improvement) and undone counts as a success.
//!
//! **Beta view**: successes are the events the seed rule rewards, failures those it
//! punishes (undone or rejected); the rest are neutral. The prior is Beta(2c₀, 2(1 − c₀))
//! for the profile's confidence c₀ — centred on it and worth two events, so evidence
//! dominates quickly. Reported: α, β, the posterior mean and its 90 % equal-tailed interval.

use super::stats::{beta_summary, BetaSummary};
use super::Outcomes;
use crate::features::FixType;
use crate::feedback::{EventOutcome, FeedbackEvent, Timestamp, UserAction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Lower clamp of the seed rule.
pub const MIN_CONFIDENCE: f64 = 0.1;
/// Upper clamp of the seed rule.
pub const MAX_CONFIDENCE: f64 = 0.99;
/// Weight of the prior in the Beta view, in events.
pub const PRIOR_WEIGHT: f64 = 2.0;
/// Level of the Beta view's interval.
pub const INTERVAL_LEVEL: f64 = 0.9;

/// How the seed rule classifies one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// Accepted with an improvement ratio above 0.5.
    Success,
    /// Undone.
    Undone,
    /// Rejected.
    Rejected,
    /// Neither.
    Neutral,
}

/// The seed rule's reading of `event`.
pub fn evidence(event: &FeedbackEvent) -> Evidence {
    outcome_evidence(&event.outcome())
}

/// [`evidence`] of an event's outcome.
pub fn outcome_evidence(event: &EventOutcome<'_>) -> Evidence {
    if event.user_action == Some(UserAction::Accept)
        && event.improvement_ratio.is_some_and(|r| r > 0.5)
    {
        Evidence::Success
    } else if event.was_undone {
        Evidence::Undone
    } else if event.user_action == Some(UserAction::Reject) {
        Evidence::Rejected
    } else {
        Evidence::Neutral
    }
}

/// The per-feature reading of `event`: the seed rule's, except that an accepted fix is a
/// success when its measured improvement reached more than half of the improvement its
/// **target** aimed for, `r·|z_before| > 0.5·(|z_before| − |z_target|)`, where `aimed_z`
/// is the target's z (`None`: the seed's reading).
///
/// Deviation from the seed, for fixloop's per-feature confidence only (the per-type numbers
/// keep the seed's reading): the seed measures improvement against the profile's mean, so
/// a fix aimed at the mean (`z_target` = 0) reads exactly as in the seed, but a
/// conservative fix, aimed at the nearest edge of the range, could never count as a
/// success (from z = 2 to an edge at z = 1.3 is a ratio of 0.35), and the confidence of
/// every feature only fell.
pub fn aimed_evidence(event: &EventOutcome<'_>, aimed_z: Option<f64>) -> Evidence {
    let seed = outcome_evidence(event);
    if seed != Evidence::Success && event.user_action == Some(UserAction::Accept) {
        if let (Some(r), Some(zt)) = (event.improvement_ratio, aimed_z) {
            let before = event.gap_before.abs();
            let aim = before - zt.abs();
            if aim > 0.0 && r * before > 0.5 * aim {
                return Evidence::Success;
            }
        }
    }
    seed
}

/// One step of the seed rule (unclamped).
pub fn seed_step(confidence: f64, evidence: Evidence) -> f64 {
    match evidence {
        Evidence::Success => confidence + 0.05 * (1.0 - confidence),
        Evidence::Undone => confidence * 0.9,
        Evidence::Rejected => confidence * 0.95,
        Evidence::Neutral => confidence,
    }
}

/// The seed rule over `events`, taken in the order given (callers sort by time), clamped
/// to [[`MIN_CONFIDENCE`], [`MAX_CONFIDENCE`]].
pub fn seed_update<'a>(prior: f64, events: impl IntoIterator<Item = &'a FeedbackEvent>) -> f64 {
    let c = events
        .into_iter()
        .fold(prior, |c, e| seed_step(c, evidence(e)));
    c.clamp(MIN_CONFIDENCE, MAX_CONFIDENCE)
}

/// A fix type's confidence before and after its feedback, with the Beta view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceUpdate {
    /// The prior confidence (the profile's).
    pub before: f64,
    /// After the seed rule.
    pub after: f64,
    /// Number of events of this fix type.
    pub events: u64,
    /// Events the seed rule rewards.
    pub successes: u64,
    /// Events the seed rule punishes.
    pub failures: u64,
    /// Beta posterior α = 2·before + successes.
    pub alpha: f64,
    /// Beta posterior β = 2·(1 − before) + failures.
    pub beta: f64,
    /// Posterior mean α / (α + β).
    pub mean: f64,
    /// Lower end of the 90 % equal-tailed posterior interval.
    pub low: f64,
    /// Upper end of the 90 % equal-tailed posterior interval.
    pub high: f64,
    /// Per (fix type, feature) only: the refinement moved the feature's range, so the
    /// confidence was held at `before` (the range answers these events; see
    /// [`crate::learn::refine()`]). The counts and the Beta view are still the events'.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held_by_range: bool,
}

/// Updates the confidence of every fix type that has events. `prior` gives a fix type's
/// starting confidence (e.g. `|t| profile.fix_confidence(t)`). Events are taken in time
/// order (stable for equal timestamps), whatever order they come in.
pub fn update_confidences<E: Outcomes + ?Sized>(
    events: &E,
    prior: impl Fn(FixType) -> f64,
) -> BTreeMap<FixType, ConfidenceUpdate> {
    let mut acc = ConfidenceAcc::new(&prior);
    events.each(|e| acc.push(&e));
    acc.finish(events, &prior)
}

/// The seed rule per (fix type, feature) (SPEC §4.3): the same steps as
/// [`update_confidences`] over the events of each pair, in time order (stable for equal
/// timestamps), for the pairs with at least `min_events` events, each event read by
/// [`aimed_evidence`] with `aimed_z` (the z of an event's target; `|_| None` reads every
/// event as the seed does); `prior` gives a pair's starting confidence (its learned value,
/// else the type's). Pairs with fewer events are left out: fix generation then falls back
/// to the type's value.
pub fn update_confidences_by_feature<E: Outcomes + ?Sized>(
    events: &E,
    prior: impl Fn(FixType, &str) -> f64,
    aimed_z: impl Fn(&EventOutcome<'_>) -> Option<f64>,
    min_events: u64,
) -> BTreeMap<FixType, BTreeMap<String, ConfidenceUpdate>> {
    // Per fix type, per feature: (time, evidence) of each event.
    type Steps = Vec<(Timestamp, Evidence)>;
    let mut pairs: BTreeMap<FixType, BTreeMap<String, Steps>> = BTreeMap::new();
    events.each(|e| {
        let by_feature = pairs.entry(e.fix_type).or_default();
        let step = (e.timestamp, aimed_evidence(&e, aimed_z(&e)));
        match by_feature.get_mut(e.feature_name) {
            Some(v) => v.push(step),
            None => {
                by_feature.insert(e.feature_name.to_owned(), vec![step]);
            }
        }
    });
    let mut out: BTreeMap<FixType, BTreeMap<String, ConfidenceUpdate>> = BTreeMap::new();
    for (t, feature, mut steps) in pairs
        .into_iter()
        .flat_map(|(t, m)| m.into_iter().map(move |(f, v)| (t, f, v)))
    {
        if (steps.len() as u64) < min_events {
            continue;
        }
        steps.sort_by_key(|&(time, _)| time); // stable: equal times keep their order
        let before = prior(t, &feature);
        let (mut c, mut s, mut f) = (before, 0u64, 0u64);
        for &(_, ev) in &steps {
            c = seed_step(c, ev);
            match ev {
                Evidence::Success => s += 1,
                Evidence::Undone | Evidence::Rejected => f += 1,
                Evidence::Neutral => {}
            }
        }
        let after = c.clamp(MIN_CONFIDENCE, MAX_CONFIDENCE);
        out.entry(t)
            .or_default()
            .insert(feature, beta_view(before, after, steps.len() as u64, s, f));
    }
    out
}

/// [`update_confidences`] fed one event at a time. Events are assumed in time order; if
/// they turn out not to be, [`ConfidenceAcc::finish`] starts again in time order.
struct ConfidenceAcc {
    c: Vec<f64>,
    /// Per fix type: events, successes, failures.
    counts: Vec<[u64; 3]>,
    last: Option<Timestamp>,
    sorted: bool,
}

impl ConfidenceAcc {
    fn new(prior: &impl Fn(FixType) -> f64) -> ConfidenceAcc {
        ConfidenceAcc {
            c: FixType::ALL.iter().map(|&t| prior(t)).collect(),
            counts: vec![[0u64; 3]; FixType::ALL.len()],
            last: None,
            sorted: true,
        }
    }

    fn push(&mut self, e: &EventOutcome<'_>) {
        self.sorted &= self.last.is_none_or(|t| t <= e.timestamp);
        self.last = Some(e.timestamp);
        self.step(e.fix_type, outcome_evidence(e));
    }

    fn step(&mut self, fix_type: FixType, ev: Evidence) {
        let i = fix_type as usize;
        self.c[i] = seed_step(self.c[i], ev);
        self.counts[i][0] += 1;
        match ev {
            Evidence::Success => self.counts[i][1] += 1,
            Evidence::Undone | Evidence::Rejected => self.counts[i][2] += 1,
            Evidence::Neutral => {}
        }
    }

    /// The updates; `events` are those pushed (read again only if they were not in
    /// time order).
    fn finish<E: Outcomes + ?Sized>(
        mut self,
        events: &E,
        prior: &impl Fn(FixType) -> f64,
    ) -> BTreeMap<FixType, ConfidenceUpdate> {
        if !self.sorted {
            let mut order = Vec::with_capacity(events.count());
            events.each(|e| order.push((e.timestamp, e.fix_type, outcome_evidence(&e))));
            order.sort_by_key(|&(t, _, _)| t); // stable: equal times keep their order
            self = ConfidenceAcc::new(prior);
            order.into_iter().for_each(|(_, t, ev)| self.step(t, ev));
        }
        FixType::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.counts[*i][0] > 0)
            .map(|(i, t)| {
                let before = prior(t);
                let [n, s, f] = self.counts[i];
                let after = self.c[i].clamp(MIN_CONFIDENCE, MAX_CONFIDENCE);
                (t, beta_view(before, after, n, s, f))
            })
            .collect()
    }
}

fn beta_view(
    before: f64,
    after: f64,
    events: u64,
    successes: u64,
    failures: u64,
) -> ConfidenceUpdate {
    let (alpha, beta) = posterior_shape(before, successes, failures);
    let b = beta_summary(alpha, beta, INTERVAL_LEVEL);
    ConfidenceUpdate {
        before,
        after,
        events,
        successes,
        failures,
        alpha,
        beta,
        mean: alpha / (alpha + beta),
        low: b.map_or(0.0, |b| b.low),
        high: b.map_or(1.0, |b| b.high),
        held_by_range: false,
    }
}

/// The Beta view's α and β from a prior confidence and the evidence counts.
fn posterior_shape(prior: f64, successes: u64, failures: u64) -> (f64, f64) {
    // Keep the prior proper even for a confidence of exactly 0 or 1.
    let c0 = prior.clamp(1e-6, 1.0 - 1e-6);
    (
        PRIOR_WEIGHT * c0 + successes as f64,
        PRIOR_WEIGHT * (1.0 - c0) + failures as f64,
    )
}

/// The Beta view of a confidence (see the module docs) from counts alone: the prior
/// Beta(2·`prior`, 2·(1 − `prior`)) updated by `successes` and `failures`, with its
/// mean and 90 % interval. Counts merge across logs, so this is the confidence that
/// pools across producers (the seed's rule depends on the order of events).
pub fn confidence_posterior(prior: f64, successes: u64, failures: u64) -> Option<BetaSummary> {
    let (alpha, beta) = posterior_shape(prior, successes, failures);
    beta_summary(alpha, beta, INTERVAL_LEVEL)
}
