//! The per-session table of A/B tests: what the analysis reads, mergeable.

use super::ExactSum;
use crate::feedback::{Arm, EventOutcome, Outcomes, Timestamp, UserAction};
use crate::learn::ab::Metric;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One session of one arm of one test: the sums over its events that the A/B analysis
/// ([`AbStatus::from_sessions`](crate::learn::AbStatus::from_sessions)) needs, for every
/// metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRow {
    /// Events.
    pub events: u64,
    /// Accepted events.
    pub accepts: u64,
    /// Undone events.
    pub undos: u64,
    /// Events with a (finite) improvement ratio.
    pub improvements: u64,
    /// Their sum.
    pub improvement_sum: ExactSum,
    /// The sum of their squares.
    pub improvement_sum_sq: ExactSum,
    /// The session's covariate (mean |z| at session start): the smallest non-null value
    /// its events carry (they carry one value; the minimum makes the merge commutative).
    pub covariate: Option<f64>,
    /// The time of its earliest event (sessions are ordered by it).
    pub first_event: Timestamp,
}

/// One metric's sums over a session's (or an arm's) events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricSums {
    /// Events measuring the metric.
    pub n: u64,
    /// Sum of the values.
    pub sum: ExactSum,
    /// Sum of their squares.
    pub sum_sq: ExactSum,
}

impl MetricSums {
    /// Adds `other`.
    pub fn merge(&mut self, other: &MetricSums) {
        self.n += other.n;
        self.sum.merge(&other.sum);
        self.sum_sq.merge(&other.sum_sq);
    }
}

impl SessionRow {
    /// A row with no events yet, first seen at `t`.
    pub fn empty(t: Timestamp) -> SessionRow {
        SessionRow {
            events: 0,
            accepts: 0,
            undos: 0,
            improvements: 0,
            improvement_sum: ExactSum::new(),
            improvement_sum_sq: ExactSum::new(),
            covariate: None,
            first_event: t,
        }
    }

    /// Counts one event of the session.
    pub fn push(&mut self, e: &EventOutcome<'_>) {
        self.events += 1;
        self.accepts += u64::from(e.user_action == Some(UserAction::Accept));
        self.undos += u64::from(e.was_undone);
        // A non-finite value (only possible for events built in memory; the readers
        // refuse them) is treated as not measuring the metric.
        if let Some(r) = e.improvement_ratio.filter(|r| r.is_finite()) {
            self.improvements += 1;
            self.improvement_sum.add(r);
            self.improvement_sum_sq.add(r * r);
        }
        let c = e.session_covariate.filter(|c| c.is_finite());
        self.covariate = min_some(self.covariate, c);
        self.first_event = self.first_event.min(e.timestamp);
    }

    /// Adds `other` (the same session, other events).
    pub fn merge(&mut self, other: &SessionRow) {
        self.events += other.events;
        self.accepts += other.accepts;
        self.undos += other.undos;
        self.improvements += other.improvements;
        self.improvement_sum.merge(&other.improvement_sum);
        self.improvement_sum_sq.merge(&other.improvement_sum_sq);
        self.covariate = min_some(self.covariate, other.covariate);
        self.first_event = self.first_event.min(other.first_event);
    }

    /// The sums of `metric` over the session's events (accept and undo rates are
    /// zero-one outcomes, so their sum of squares is their sum).
    pub fn metric(&self, metric: Metric) -> MetricSums {
        let count = |k: u64| {
            let s: ExactSum = std::iter::once(k as f64).collect();
            MetricSums {
                n: self.events,
                sum: s.clone(),
                sum_sq: s,
            }
        };
        match metric {
            Metric::ImprovementRatio => MetricSums {
                n: self.improvements,
                sum: self.improvement_sum.clone(),
                sum_sq: self.improvement_sum_sq.clone(),
            },
            Metric::AcceptRate => count(self.accepts),
            Metric::UndoRate => count(self.undos),
        }
    }
}

fn min_some(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The sessions of one test: per arm, by session id. A session is in an arm's table when
/// at least one of its events carries that arm.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TestSessions {
    /// Control sessions.
    pub control: BTreeMap<String, SessionRow>,
    /// Treatment sessions.
    pub treatment: BTreeMap<String, SessionRow>,
}

impl TestSessions {
    /// The sessions of `arm`.
    pub fn arm(&self, arm: Arm) -> &BTreeMap<String, SessionRow> {
        match arm {
            Arm::Control => &self.control,
            Arm::Treatment => &self.treatment,
        }
    }

    fn arm_mut(&mut self, arm: Arm) -> &mut BTreeMap<String, SessionRow> {
        match arm {
            Arm::Control => &mut self.control,
            Arm::Treatment => &mut self.treatment,
        }
    }

    /// Adds `row` to the session `session_id` of `arm` (merging with a row already there).
    pub fn insert(&mut self, arm: Arm, session_id: &str, row: SessionRow) {
        let rows = self.arm_mut(arm);
        match rows.get_mut(session_id) {
            Some(mine) => mine.merge(&row),
            None => {
                rows.insert(session_id.to_string(), row);
            }
        }
    }

    /// Adds `other`'s sessions.
    pub fn merge(&mut self, other: &TestSessions) {
        for arm in [Arm::Control, Arm::Treatment] {
            for (id, row) in other.arm(arm) {
                self.insert(arm, id, row.clone());
            }
        }
    }
}

/// The per-session table of every A/B test in a set of events, by test id: the one input
/// of the A/B analysis, whether it was built from events, merged from several logs, or
/// read from the table an engine computed (`sql/ab_sessions.sql`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionTable {
    /// Sessions by test id.
    pub tests: BTreeMap<String, TestSessions>,
}

impl SessionTable {
    /// The table of every test the events of `events` carry.
    pub fn of<E: Outcomes + ?Sized>(events: &E) -> SessionTable {
        SessionTable::build(events, None)
    }

    /// The table of the test `test_id` only.
    pub fn of_test<E: Outcomes + ?Sized>(events: &E, test_id: &str) -> SessionTable {
        SessionTable::build(events, Some(test_id))
    }

    fn build<E: Outcomes + ?Sized>(events: &E, only: Option<&str>) -> SessionTable {
        type Rows<'a> = [FxHashMap<&'a str, SessionRow>; 2];
        let mut tests: FxHashMap<&str, Rows<'_>> = FxHashMap::default();
        events.each(|e| {
            for (test_id, &arm) in e.ab {
                if only.is_some_and(|t| t != test_id.as_str()) {
                    continue;
                }
                let rows = tests.entry(test_id.as_str()).or_default();
                rows[usize::from(arm == Arm::Treatment)]
                    .entry(e.session_id)
                    .or_insert_with(|| SessionRow::empty(e.timestamp))
                    .push(&e);
            }
        });
        let own = |rows: FxHashMap<&str, SessionRow>| {
            rows.into_iter()
                .map(|(id, r)| (id.to_string(), r))
                .collect::<BTreeMap<_, _>>()
        };
        SessionTable {
            tests: tests
                .into_iter()
                .map(|(id, [c, t])| {
                    let sessions = TestSessions {
                        control: own(c),
                        treatment: own(t),
                    };
                    (id.to_string(), sessions)
                })
                .collect(),
        }
    }

    /// The sessions of `test_id` (`None` when no event carries the test).
    pub fn test(&self, test_id: &str) -> Option<&TestSessions> {
        self.tests.get(test_id)
    }

    /// Adds `other`'s sessions (the table of the union of both event sets).
    pub fn merge(&mut self, other: &SessionTable) {
        for (id, t) in &other.tests {
            match self.tests.get_mut(id) {
                Some(mine) => mine.merge(t),
                None => {
                    self.tests.insert(id.clone(), t.clone());
                }
            }
        }
    }

    /// Number of (test, arm, session) rows.
    pub fn rows(&self) -> usize {
        self.tests
            .values()
            .map(|t| t.control.len() + t.treatment.len())
            .sum()
    }
}
