//! The analysis behind `fixloop ab status` (SPEC §4.5, §5).
//!
//! Results are read from the events' `ab` field only. Two levels are reported:
//!
//! - **Events** (top-level fields, to compare with the seed): each event is one
//!   observation. For `improvement_ratio`, Welch's t-test (`p_value`), Student's pooled
//!   test (`p_value_pooled`, the seed's) and the Welch 95 % interval of the difference;
//!   for the proportions `accept_rate` and `undo_rate`, the two-proportion z-test
//!   (`p_value`) with a Wald interval, the pooled t-test on the zero-one outcomes
//!   (`p_value_pooled`, what the seed's code would compute) and Fisher's exact test
//!   (`p_value_exact`, up to 20 000 events). Cohen's d uses sample variances.
//! - **Sessions** (`sessions{…}`): sessions are the unit of assignment and the events of
//!   a session are correlated, so each session contributes one observation, the mean of
//!   the metric over its events; the same statistics are computed on those means
//!   (Welch's t-test — t-based, honest at small samples). **The recommendation rests on
//!   this level.**
//!
//! **Sample-ratio mismatch**: Pearson's chi-square of the number of sessions per arm
//! against `assignment_ratio`; a mismatch is declared at p < [`SRM_THRESHOLD`] (0.001,
//! the usual industry threshold, since SRM checks run on every look). Not applicable to
//! a bandit, whose shares move by design.
//!
//! **Anytime-valid**: the asymptotic confidence sequence of Waudby-Smith et al. (2023) on
//! the session means ([`anytime_test`](crate::learn::stats::anytime_test)); valid however
//! often one looks. It is tuned at the test's horizon ([`Horizon`]): `planned_sessions`
//! when the test declares it; else the sessions at which the arm that needs most reaches
//! `min_samples` events at the events per session seen so far (said so in the status);
//! GrowthBook's N* = 5000, tuned for web traffic, only before any session has data. At 120
//! sessions a sequence tuned at 5000 is 3.17× as wide as the fixed-horizon 95 % interval,
//! one tuned at 120 1.55× (closed form; checked in `tests/learn_ab.rs`).
//!
//! **Recommendation** (in this order):
//! 1. an arm without data, or with fewer than `min_samples` events measuring the metric
//!    → `keep_running` (after `end_date`: `keep_control`);
//! 2. sample-ratio mismatch → `keep_control`: the assignment is broken, results are
//!    untrustworthy;
//! 3. fewer than 2 sessions with data in an arm, or no session-level variance →
//!    `keep_running`;
//! 4. the session-level p-value — the anytime-valid one before `end_date`, Welch's after
//!    it — below [`ALPHA`] and Cohen's d in the metric's good direction above
//!    [`MIN_EFFECT_SIZE`] (for `undo_rate`, lower is better) → `adopt_treatment`;
//! 5. otherwise `keep_control`, with the reason.

use super::bandit::{thompson_shares, ArmCounts, BanditShares};
use super::{AbTest, Arms, Metric};
use crate::error::Result;
use crate::feedback::{Arm, Outcomes, Timestamp, UserAction};
use crate::learn::stats::{
    anytime_test, cohens_d, fisher_exact, pooled_t_test, srm_chi_square, two_proportion_z_test,
    welch_t_test, Moments, DEFAULT_TUNING_N,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Significance level of the recommendation.
pub const ALPHA: f64 = 0.05;
/// Smallest Cohen's d (in the metric's good direction) worth adopting.
pub const MIN_EFFECT_SIZE: f64 = 0.2;
/// p-value below which the session split is a sample-ratio mismatch.
pub const SRM_THRESHOLD: f64 = 0.001;
/// Largest table on which Fisher's exact test is run.
const FISHER_LIMIT: u64 = 20_000;

/// Where a test stands in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    /// Before `start_date`.
    NotStarted,
    /// Between `start_date` and `end_date` (or open-ended).
    Running,
    /// At or after `end_date`.
    Ended,
}

impl TestStatus {
    fn title(self) -> &'static str {
        match self {
            TestStatus::NotStarted => "Not started",
            TestStatus::Running => "Running",
            TestStatus::Ended => "Ended",
        }
    }
}

/// What to do with a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbRecommendation {
    /// The treatment is significantly and meaningfully better.
    AdoptTreatment,
    /// Keep the control policy.
    KeepControl,
    /// Not enough data yet.
    KeepRunning,
}

impl AbRecommendation {
    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            AbRecommendation::AdoptTreatment => "adopt_treatment",
            AbRecommendation::KeepControl => "keep_control",
            AbRecommendation::KeepRunning => "keep_running",
        }
    }
}

/// One arm's data for a metric.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ArmSummary {
    /// Observations (events, or sessions at session level) measuring the metric.
    pub n: u64,
    /// Their mean (`null` without data).
    pub mean: Option<f64>,
    /// Their sample standard deviation (`null` with fewer than 2).
    pub std: Option<f64>,
}

impl ArmSummary {
    fn of(m: &Moments) -> ArmSummary {
        ArmSummary {
            n: m.n,
            mean: (m.n > 0).then_some(m.mean),
            std: (m.n > 1).then(|| m.std()),
        }
    }
}

/// The comparison of the arms on one metric at one level. Fields are `null` when
/// undefined for the data, with `note` saying why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The metric.
    pub metric: Metric,
    /// `events` or `sessions`.
    pub unit: &'static str,
    /// Control arm.
    pub control: ArmSummary,
    /// Treatment arm.
    pub treatment: ArmSummary,
    /// `(treatment − control) / |control|` (so a positive lift is always an increase);
    /// `null` when the control mean is 0 or missing.
    pub lift: Option<f64>,
    /// Why `lift` is `null`, when it is.
    pub lift_note: Option<String>,
    /// `treatment mean − control mean`.
    pub diff: Option<f64>,
    /// Lower end of the 95 % confidence interval of `diff`.
    pub ci_low: Option<f64>,
    /// Upper end of the 95 % confidence interval of `diff`.
    pub ci_high: Option<f64>,
    /// Two-sided p-value: Welch's t-test, or the two-proportion z-test for a proportion
    /// at event level.
    pub p_value: Option<f64>,
    /// Student's pooled t-test p-value (the seed's test).
    pub p_value_pooled: Option<f64>,
    /// Fisher's exact test p-value (proportions at event level, small tables).
    pub p_value_exact: Option<f64>,
    /// Which test gave `p_value`.
    pub test: &'static str,
    /// Cohen's d of `treatment − control` with the pooled sample standard deviation.
    pub cohens_d: Option<f64>,
    /// Why statistics are missing, when they are.
    pub note: Option<String>,
}

fn lift_of(c: &Moments, t: &Moments) -> (Option<f64>, Option<String>) {
    if c.n == 0 || t.n == 0 {
        (None, Some("undefined: an arm has no data".into()))
    } else if c.mean == 0.0 {
        (
            None,
            Some(
                "undefined: the control mean is 0, so a relative change has no meaning; see diff"
                    .into(),
            ),
        )
    } else {
        (Some((t.mean - c.mean) / c.mean.abs()), None)
    }
}

fn compare(
    metric: Metric,
    unit: &'static str,
    c: &Moments,
    t: &Moments,
    proportion_counts: Option<[u64; 4]>,
) -> Comparison {
    let (lift, lift_note) = lift_of(c, t);
    let welch = welch_t_test(c, t, 0.95);
    let pooled = pooled_t_test(c, t, 0.95);
    let mut out = Comparison {
        metric,
        unit,
        control: ArmSummary::of(c),
        treatment: ArmSummary::of(t),
        lift,
        lift_note,
        diff: (c.n > 0 && t.n > 0).then_some(t.mean - c.mean),
        ci_low: welch.map(|w| w.ci_low),
        ci_high: welch.map(|w| w.ci_high),
        p_value: welch.map(|w| w.p_value),
        p_value_pooled: pooled.map(|p| p.p_value),
        p_value_exact: None,
        test: "welch_t",
        cohens_d: cohens_d(c, t),
        note: None,
    };
    if let Some([xc, nc, xt, nt]) = proportion_counts {
        let z = two_proportion_z_test(xc, nc, xt, nt, 0.95);
        out.test = "two_proportion_z";
        out.p_value = z.map(|z| z.p_value);
        out.ci_low = z.map(|z| z.ci_low);
        out.ci_high = z.map(|z| z.ci_high);
        out.p_value_exact = fisher_exact(xc, nc, xt, nt, FISHER_LIMIT);
    }
    if out.p_value.is_none() {
        out.note = Some(if c.n == 0 || t.n == 0 {
            format!(
                "no test: the {} arm has no {unit} measuring {metric}",
                if c.n == 0 { "control" } else { "treatment" }
            )
        } else if c.n < 2 || t.n < 2 {
            format!(
                "no test: each arm needs at least 2 {unit} (control {}, treatment {})",
                c.n, t.n
            )
        } else {
            "no test: the metric does not vary in either arm".into()
        });
    }
    out
}

/// The sample-ratio-mismatch check on sessions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SrmCheck {
    /// Sessions assigned to control (seen in the log).
    pub control_sessions: u64,
    /// Sessions assigned to treatment.
    pub treatment_sessions: u64,
    /// The intended treatment share.
    pub expected_treatment_ratio: f64,
    /// Chi-square statistic.
    pub statistic: Option<f64>,
    /// Its p-value.
    pub p_value: Option<f64>,
    /// Whether p < [`SRM_THRESHOLD`].
    pub mismatch: bool,
    /// Sessions recorded in both arms (a broken assignment if not 0).
    pub sessions_in_both_arms: u64,
    /// Why the check was not made, when it was not.
    pub note: Option<String>,
}

/// Where the tuning sample size N* of the confidence sequence came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HorizonSource {
    /// The test's `planned_sessions`.
    Planned,
    /// Derived: the sessions at which the arm that needs most reaches `min_samples` events,
    /// at each arm's events per session so far and the assignment ratio.
    Derived,
    /// No session yet to derive from: GrowthBook's default, 5000.
    Default,
}

/// The horizon the confidence sequence is tuned at: it is tightest there and valid at
/// every look (Waudby-Smith et al. 2023: any ρ gives a valid sequence; ρ tuned at N*
/// minimises the width at N = N*).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Horizon {
    /// N*, sessions of both arms together.
    pub sessions: f64,
    /// Where it came from.
    pub source: HorizonSource,
    /// How, in words.
    pub note: String,
}

impl Horizon {
    /// The horizon of `test` given each arm's events measuring the metric and its sessions
    /// with such events so far.
    pub fn of(test: &AbTest, events: [u64; 2], sessions: [u64; 2]) -> Horizon {
        if let Some(n) = test.planned_sessions {
            return Horizon {
                sessions: n as f64,
                source: HorizonSource::Planned,
                note: format!("planned_sessions {n}"),
            };
        }
        let shares = [1.0 - test.assignment_ratio, test.assignment_ratio];
        let mut needed: f64 = 0.0;
        let mut per_session = [0.0; 2];
        for arm in 0..2 {
            if sessions[arm] == 0 || events[arm] == 0 {
                return Horizon {
                    sessions: DEFAULT_TUNING_N,
                    source: HorizonSource::Default,
                    note: format!(
                        "no sessions with data in an arm yet: N* = {DEFAULT_TUNING_N} (GrowthBook's default) until events per session are known; set planned_sessions to tune it"
                    ),
                };
            }
            per_session[arm] = events[arm] as f64 / sessions[arm] as f64;
            let arm_sessions = (test.min_samples as f64 / per_session[arm]).ceil().max(2.0);
            needed = needed.max(arm_sessions / shares[arm]);
        }
        let n = needed.ceil().max(4.0);
        Horizon {
            sessions: n,
            source: HorizonSource::Derived,
            note: format!(
                "no planned_sessions: derived from min_samples {} at {:.1} and {:.1} events per session so far",
                test.min_samples, per_session[0], per_session[1]
            ),
        }
    }
}

/// The anytime-valid test on session means.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnytimeSummary {
    /// Anytime-valid p-value.
    pub p_value: Option<f64>,
    /// Lower end of the 95 % confidence sequence of the difference.
    pub ci_low: Option<f64>,
    /// Upper end of the 95 % confidence sequence of the difference.
    pub ci_high: Option<f64>,
    /// Tuning sample size N* (`horizon.sessions`).
    pub tuning_n: f64,
    /// The horizon N* came from.
    pub horizon: Horizon,
    /// Always `sessions`.
    pub unit: &'static str,
}

/// A secondary metric at both levels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SecondaryResult {
    /// Event level.
    pub events: Comparison,
    /// Session level.
    pub sessions: Comparison,
}

/// The status of an A/B test: SPEC §5's `ab status` JSON; the seed's layout on display.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AbStatus {
    /// Test id.
    pub test_id: String,
    /// Test name.
    pub name: String,
    /// Where the test stands in time.
    pub status: TestStatus,
    /// Start of the test.
    pub start_date: Timestamp,
    /// End of the test, if fixed.
    pub end_date: Option<Timestamp>,
    /// Labels of the arms (the policy keys in which they differ).
    pub arm_labels: Arms<String>,
    /// Events of the test per arm, measuring the metric or not.
    pub events_total: Arms<u64>,
    /// Event-level comparison on the primary metric (flattened: `control{n, mean}`,
    /// `treatment{n, mean}`, `lift`, `diff`, `ci_low`, `ci_high`, `p_value`,
    /// `p_value_pooled`, `cohens_d` …).
    #[serde(flatten)]
    pub events: Comparison,
    /// The sample-ratio-mismatch p-value (`null` when not applicable).
    pub srm_p_value: Option<f64>,
    /// The sample-ratio-mismatch check in full.
    pub srm: SrmCheck,
    /// Session-level comparison on the primary metric; the recommendation rests on it.
    pub sessions: Comparison,
    /// Anytime-valid p-value and confidence sequence at session level.
    pub anytime: AnytimeSummary,
    /// Secondary metrics by name.
    pub secondary: BTreeMap<Metric, SecondaryResult>,
    /// Current bandit shares, for a bandit test.
    pub bandit: Option<BanditShares>,
    /// The recommendation.
    pub recommendation: AbRecommendation,
    /// Why, in words.
    pub reason: String,
    /// `min_samples` of the test.
    pub min_samples: u64,
}

#[derive(Default)]
struct ArmData<'a> {
    events: u64,
    values: Vec<f64>,
    successes: u64,
    sessions: HashMap<&'a str, (f64, u64)>,
    session_ids: std::collections::HashSet<&'a str>,
    accepts: u64,
}

fn collect<'a, E: Outcomes + ?Sized>(
    test_id: &str,
    metric: Metric,
    events: &'a E,
) -> [ArmData<'a>; 2] {
    let mut arms = [ArmData::default(), ArmData::default()];
    events.each(|e| {
        let Some(&arm) = e.ab.get(test_id) else {
            return;
        };
        let a = &mut arms[usize::from(arm == Arm::Treatment)];
        a.events += 1;
        a.accepts += u64::from(e.user_action == Some(UserAction::Accept));
        a.session_ids.insert(e.session_id);
        // A non-finite value (only possible for events built in memory; the readers
        // refuse them) is treated as not measuring the metric.
        if let Some(v) = metric.value(&e).filter(|v| v.is_finite()) {
            a.values.push(v);
            a.successes += u64::from(v == 1.0);
            let s = a.sessions.entry(e.session_id).or_insert((0.0, 0));
            s.0 += v;
            s.1 += 1;
        }
    });
    arms
}

fn session_moments(a: &ArmData) -> Moments {
    let means: Vec<f64> = a.sessions.values().map(|(s, n)| s / *n as f64).collect();
    Moments::from_slice(&means)
}

fn levels(metric: Metric, arms: &[ArmData; 2]) -> (Comparison, Comparison, [Moments; 2]) {
    let ev = [
        Moments::from_slice(&arms[0].values),
        Moments::from_slice(&arms[1].values),
    ];
    let counts = metric
        .is_proportion()
        .then(|| [arms[0].successes, ev[0].n, arms[1].successes, ev[1].n]);
    let events = compare(metric, "events", &ev[0], &ev[1], counts);
    let ses = [session_moments(&arms[0]), session_moments(&arms[1])];
    let sessions = compare(metric, "sessions", &ses[0], &ses[1], None);
    (events, sessions, ses)
}

impl AbStatus {
    /// Analyses `test` from `events` as of `now` (see the module docs). Errors only for
    /// an invalid test; a test without data gets a status whose reason says so.
    pub fn compute<E: Outcomes + ?Sized>(
        test: &AbTest,
        events: &E,
        now: Timestamp,
    ) -> Result<AbStatus> {
        test.validate()?;
        let metric = test.primary_metric;
        let arms = collect(&test.test_id, metric, events);
        let (ev, ses, ses_m) = levels(metric, &arms);

        let both = arms[0]
            .session_ids
            .iter()
            .filter(|s| arms[1].session_ids.contains(*s))
            .count() as u64;
        let (nc_s, nt_s) = (
            arms[0].session_ids.len() as u64,
            arms[1].session_ids.len() as u64,
        );
        let mut srm = SrmCheck {
            control_sessions: nc_s,
            treatment_sessions: nt_s,
            expected_treatment_ratio: test.assignment_ratio,
            statistic: None,
            p_value: None,
            mismatch: false,
            sessions_in_both_arms: both,
            note: None,
        };
        if test.bandit.is_some() {
            srm.note = Some("not applicable: a bandit moves the shares by design".into());
        } else if let Some(c) = srm_chi_square(nc_s, nt_s, test.assignment_ratio) {
            srm.statistic = Some(c.statistic);
            srm.p_value = Some(c.p_value);
            srm.mismatch = c.p_value < SRM_THRESHOLD;
        } else {
            srm.note = Some("no sessions yet".into());
        }

        let horizon = Horizon::of(
            test,
            [ev.control.n, ev.treatment.n],
            [ses_m[0].n, ses_m[1].n],
        );
        let any = anytime_test(&ses_m[0], &ses_m[1], ALPHA, horizon.sessions);
        let anytime = AnytimeSummary {
            p_value: any.map(|a| a.p_value),
            ci_low: any.map(|a| a.ci_low),
            ci_high: any.map(|a| a.ci_high),
            tuning_n: horizon.sessions,
            horizon,
            unit: "sessions",
        };

        let status = if now < test.start_date {
            TestStatus::NotStarted
        } else if test.end_date.is_some_and(|end| now >= end) {
            TestStatus::Ended
        } else {
            TestStatus::Running
        };

        let secondary = test
            .secondary_metrics
            .iter()
            .filter(|&&m| m != metric)
            .map(|&m| {
                let arms = collect(&test.test_id, m, events);
                let (events, sessions, _) = levels(m, &arms);
                (m, SecondaryResult { events, sessions })
            })
            .collect();

        let bandit = test.bandit.map(|settings| {
            let counts = |a: &ArmData| ArmCounts {
                accepts: a.accepts,
                events: a.events,
            };
            thompson_shares(counts(&arms[0]), counts(&arms[1]), &settings)
        });

        let (recommendation, reason) = recommend(test, status, &ev, &ses, &anytime, &srm);
        Ok(AbStatus {
            test_id: test.test_id.clone(),
            name: test.name.clone(),
            status,
            start_date: test.start_date,
            end_date: test.end_date,
            arm_labels: test.arm_labels(),
            events_total: Arms {
                control: arms[0].events,
                treatment: arms[1].events,
            },
            srm_p_value: srm.p_value,
            events: ev,
            srm,
            sessions: ses,
            anytime,
            secondary,
            bandit,
            recommendation,
            reason,
            min_samples: test.min_samples,
        })
    }
}

fn recommend(
    test: &AbTest,
    status: TestStatus,
    ev: &Comparison,
    ses: &Comparison,
    anytime: &AnytimeSummary,
    srm: &SrmCheck,
) -> (AbRecommendation, String) {
    use AbRecommendation::*;
    let ended = status == TestStatus::Ended;
    let wait = if ended { KeepControl } else { KeepRunning };
    let metric = test.primary_metric;
    let (nc, nt) = (ev.control.n, ev.treatment.n);
    if nc == 0 || nt == 0 {
        let empty = match (nc, nt) {
            (0, 0) => "both arms have".to_string(),
            (0, _) => "the control arm has".to_string(),
            _ => "the treatment arm has".to_string(),
        };
        let mut r = format!(
            "{empty} no events measuring {metric} yet (control {nc}, treatment {nt}); nothing to compare"
        );
        if ended {
            r.push_str("; the test has ended without data");
        }
        return (wait, r);
    }
    if nc < test.min_samples || nt < test.min_samples {
        let mut r = format!(
            "not enough samples: control {nc}, treatment {nt}; each arm needs {} events measuring {metric}",
            test.min_samples
        );
        if ended {
            r.push_str("; the test ended before reaching them");
        }
        return (wait, r);
    }
    if srm.mismatch {
        return (
            KeepControl,
            format!(
                "sample-ratio mismatch: {} control vs {} treatment sessions against an intended treatment share of {} (p = {:.2e} < {SRM_THRESHOLD}); the assignment is broken, so the results cannot be trusted",
                srm.control_sessions,
                srm.treatment_sessions,
                test.assignment_ratio,
                srm.p_value.unwrap_or(0.0)
            ),
        );
    }
    let (p, which) = if ended {
        (ses.p_value, "session-level Welch")
    } else {
        (anytime.p_value, "session-level anytime-valid")
    };
    let (Some(p), Some(d)) = (p, ses.cohens_d) else {
        return (
            wait,
            format!(
                "the session-level analysis needs at least 2 sessions with data and some variation in each arm (control {}, treatment {} sessions)",
                ses.control.n, ses.treatment.n
            ),
        );
    };
    let good_d = d * metric.direction();
    let stats = format!("{which} p = {p:.4}, session-level Cohen's d = {d:.2}");
    if p < ALPHA && good_d > MIN_EFFECT_SIZE {
        (
            AdoptTreatment,
            format!(
                "treatment is better on {metric}: {stats} (p < {ALPHA}, d beyond {MIN_EFFECT_SIZE} in the good direction), both arms ≥ {} samples, no sample-ratio mismatch",
                test.min_samples
            ),
        )
    } else if p < ALPHA && good_d < -MIN_EFFECT_SIZE {
        (
            KeepControl,
            format!("treatment is worse on {metric}: {stats}"),
        )
    } else {
        let mut r = format!("no significant, meaningful improvement on {metric}: {stats}");
        if !ended {
            r.push_str("; the test is still running, and looking again later is safe (the p-value is anytime-valid)");
        }
        (KeepControl, r)
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.digits$}"))
}

fn fmt_value(metric: Metric, v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if metric.is_proportion() => format!("{:.1}%", v * 100.0),
        Some(v) => format!("{v:.2}"),
    }
}

fn effect_words(d: f64) -> &'static str {
    // Cohen (1988): 0.2 small, 0.5 medium, 0.8 large.
    match d.abs() {
        x if x < 0.2 => "negligible effect",
        x if x < 0.5 => "small effect",
        x if x < 0.8 => "medium effect",
        _ => "large effect",
    }
}

impl fmt::Display for AbStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = format!("A/B Test: {}", self.name);
        writeln!(f, "{title}")?;
        writeln!(f, "{}", "=".repeat(title.chars().count()))?;
        writeln!(f)?;
        writeln!(f, "Status: {}", self.status.title())?;
        writeln!(
            f,
            "Started: {}",
            self.start_date.as_datetime().format("%Y-%m-%d")
        )?;
        if let Some(end) = self.end_date {
            writeln!(f, "Ends: {}", end.as_datetime().format("%Y-%m-%d"))?;
        }
        writeln!(
            f,
            "Samples: Control={}, Treatment={} (sessions: Control={}, Treatment={})",
            self.events.control.n,
            self.events.treatment.n,
            self.sessions.control.n,
            self.sessions.treatment.n
        )?;
        writeln!(f)?;
        let m = self.events.metric;
        writeln!(f, "Current Results:")?;
        let labels = [
            format!("Control ({}):", self.arm_labels.control),
            format!("Treatment ({}):", self.arm_labels.treatment),
        ];
        let w = labels
            .iter()
            .map(|l| l.chars().count() + 3)
            .max()
            .unwrap_or(0)
            .max(26);
        for (label, arm) in labels
            .iter()
            .zip([&self.events.control, &self.events.treatment])
        {
            writeln!(f, "  {label:<w$}{} {}", fmt_value(m, arm.mean), m.label())?;
        }
        match self.events.lift {
            Some(l) => writeln!(f, "  Lift: {:+.1}%", l * 100.0)?,
            None => writeln!(
                f,
                "  Lift: undefined ({})",
                self.events.lift_note.as_deref().unwrap_or("no data")
            )?,
        }
        writeln!(f)?;
        writeln!(f, "Statistical Analysis:")?;
        match self.events.p_value {
            Some(p) => writeln!(
                f,
                "  P-value: {p:.3} ({} at p<0.05; {}, per event; pooled t {})",
                if p < ALPHA {
                    "significant"
                } else {
                    "not significant"
                },
                if self.events.test == "welch_t" {
                    "Welch"
                } else {
                    "two-proportion z"
                },
                fmt_opt(self.events.p_value_pooled, 3)
            )?,
            None => writeln!(
                f,
                "  P-value: n/a ({})",
                self.events.note.as_deref().unwrap_or("")
            )?,
        }
        if let Some(p) = self.events.p_value_exact {
            writeln!(f, "  Fisher exact p-value: {p:.3}")?;
        }
        if let Some(d) = self.events.cohens_d {
            writeln!(f, "  Cohen's d: {d:.2} ({})", effect_words(d))?;
        }
        if let (Some(lo), Some(hi)) = (self.events.ci_low, self.events.ci_high) {
            writeln!(f, "  95% CI of the difference: [{lo:.3}, {hi:.3}]")?;
        }
        writeln!(
            f,
            "  Per session (n={} vs {}): p = {}, d = {}, 95% CI [{}, {}]",
            self.sessions.control.n,
            self.sessions.treatment.n,
            fmt_opt(self.sessions.p_value, 3),
            fmt_opt(self.sessions.cohens_d, 2),
            fmt_opt(self.sessions.ci_low, 3),
            fmt_opt(self.sessions.ci_high, 3)
        )?;
        writeln!(
            f,
            "  Anytime-valid (per session, N*={}): p = {}, 95% CS [{}, {}]\n    horizon: {}",
            self.anytime.tuning_n,
            fmt_opt(self.anytime.p_value, 3),
            fmt_opt(self.anytime.ci_low, 3),
            fmt_opt(self.anytime.ci_high, 3),
            self.anytime.horizon.note
        )?;
        match self.srm.p_value {
            Some(p) => writeln!(
                f,
                "  Sample ratio (sessions {}:{}, expected treatment share {}): p = {p:.3}{}",
                self.srm.control_sessions,
                self.srm.treatment_sessions,
                self.srm.expected_treatment_ratio,
                if self.srm.mismatch {
                    " — MISMATCH"
                } else {
                    " (ok)"
                }
            )?,
            None => writeln!(
                f,
                "  Sample ratio: {}",
                self.srm.note.as_deref().unwrap_or("n/a")
            )?,
        }
        if let Some(b) = &self.bandit {
            writeln!(
                f,
                "  Bandit shares: control {:.1}%, treatment {:.1}% (P(treatment best) = {:.3})",
                b.control * 100.0,
                b.treatment * 100.0,
                b.prob_treatment_best
            )?;
        }
        for (metric, s) in &self.secondary {
            writeln!(
                f,
                "  Secondary {}: control {}, treatment {}, per-session p = {}",
                metric,
                fmt_value(*metric, s.events.control.mean),
                fmt_value(*metric, s.events.treatment.mean),
                fmt_opt(s.sessions.p_value, 3)
            )?;
        }
        writeln!(f)?;
        let rec = match self.recommendation {
            AbRecommendation::AdoptTreatment => {
                format!("ADOPT TREATMENT ({})", self.arm_labels.treatment)
            }
            AbRecommendation::KeepControl => format!("KEEP CONTROL ({})", self.arm_labels.control),
            AbRecommendation::KeepRunning => "KEEP RUNNING".to_string(),
        };
        writeln!(f, "Recommendation: {rec}")?;
        writeln!(f, "  {}", self.reason)
    }
}
