//! What learning reads of an event ([`EventOutcome`]), and the [`Outcomes`] trait through
//! which every learner reads a set of events, whatever holds them.

use super::event::{Arm, FeedbackEvent, Timestamp, UserAction};
use super::fold::Folded;
use super::Text;
use crate::features::FixType;
use std::collections::BTreeMap;

/// The part of a [`FeedbackEvent`] that effectiveness, confidence and refinement read
/// (SPEC §4) and A/B analysis: a borrowed view, so they can run over a log's compact fold
/// ([`Folded::outcomes`]) without building every event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EventOutcome<'a> {
    /// When the fix was applied.
    pub timestamp: Timestamp,
    /// The kind of fix.
    pub fix_type: FixType,
    /// The feature the fix addressed.
    pub feature_name: &'a str,
    /// The producer's explicit action, if any.
    pub user_action: Option<UserAction>,
    /// Whether it was undone.
    pub was_undone: bool,
    /// Relative reduction of |gap|, if measured.
    pub improvement_ratio: Option<f64>,
    /// The gap (z) before the fix.
    pub gap_before: f64,
    /// The value the fix aimed for (its target).
    pub target_value: f64,
    /// The feature's value before the fix.
    pub original_value: f64,
    /// The value the applied fix aimed for (its target, `amount` of the way).
    pub applied_value: f64,
    /// The value the producer set instead, for `modify`.
    pub user_modified_value: Option<f64>,
    /// The host session (the unit of A/B assignment; empty when none was recorded).
    pub session_id: &'a str,
    /// The profile version the fix was proposed under (empty when no session was
    /// recorded).
    pub profile_version: &'a str,
    /// The A/B assignments in force.
    pub ab: &'a BTreeMap<Text, Arm>,
    /// The session's pre-assignment covariate: the mean |z| of the track's gaps when the
    /// session started (`None` when not recorded).
    pub session_covariate: Option<f64>,
}

/// No A/B assignments (for events recorded outside any session).
pub(crate) static NO_ARMS: BTreeMap<Text, Arm> = BTreeMap::new();

/// Events as learning reads them: each one's [`EventOutcome`], in order. Every learner
/// (summary, refinement, confidence, A/B status) takes any `Outcomes`: a slice, array or
/// `Vec` of events, a log's [`Folded`] fold, or a [`crate::store::Feedback`] read by
/// [`crate::store::load_feedback`] from a log directory or a `.jsonl` file.
pub trait Outcomes {
    /// Number of events.
    fn count(&self) -> usize;
    /// Calls `f` with each event's outcome, in order.
    fn each<'a, F: FnMut(EventOutcome<'a>)>(&'a self, f: F);
}

impl Outcomes for [FeedbackEvent] {
    fn count(&self) -> usize {
        self.len()
    }
    fn each<'a, F: FnMut(EventOutcome<'a>)>(&'a self, f: F) {
        self.iter().map(FeedbackEvent::outcome).for_each(f)
    }
}

impl<const N: usize> Outcomes for [FeedbackEvent; N] {
    fn count(&self) -> usize {
        N
    }
    fn each<'a, F: FnMut(EventOutcome<'a>)>(&'a self, f: F) {
        self.as_slice().each(f)
    }
}

impl Outcomes for Vec<FeedbackEvent> {
    fn count(&self) -> usize {
        self.len()
    }
    fn each<'a, F: FnMut(EventOutcome<'a>)>(&'a self, f: F) {
        self.as_slice().each(f)
    }
}

/// The events of `events` that `keep` accepts, as [`Outcomes`] (nothing is copied).
pub struct Only<'e, E: ?Sized, P> {
    events: &'e E,
    keep: P,
    count: usize,
}

impl<'e, E: Outcomes + ?Sized, P: Fn(&EventOutcome<'_>) -> bool> Only<'e, E, P> {
    /// The events `keep` accepts (counted once here).
    pub fn new(events: &'e E, keep: P) -> Self {
        Only::visiting(events, keep, |_| {})
    }

    /// [`Only::new`], handing each accepted event to `visit` in the same pass (what a caller
    /// would otherwise learn from them in a pass of its own).
    pub fn visiting(events: &'e E, keep: P, mut visit: impl FnMut(&EventOutcome<'e>)) -> Self {
        let mut count = 0;
        events.each(|e| {
            if keep(&e) {
                count += 1;
                visit(&e);
            }
        });
        Only {
            events,
            keep,
            count,
        }
    }
}

impl<E: Outcomes + ?Sized, P: Fn(&EventOutcome<'_>) -> bool> Outcomes for Only<'_, E, P> {
    fn count(&self) -> usize {
        self.count
    }
    fn each<'a, F: FnMut(EventOutcome<'a>)>(&'a self, mut f: F) {
        self.events.each(|e| {
            if (self.keep)(&e) {
                f(e)
            }
        })
    }
}

impl Outcomes for Folded {
    fn count(&self) -> usize {
        self.len()
    }
    fn each<'a, F: FnMut(EventOutcome<'a>)>(&'a self, f: F) {
        self.outcomes().for_each(f)
    }
}
