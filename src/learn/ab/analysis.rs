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
use crate::feedback::{Arm, Outcomes, Timestamp};
use crate::learn::mergeable::{MetricSums, SessionTable, TestSessions};
use crate::learn::stats::{
    ancova, anytime_test, cohens_d, fisher_exact, holm, linearize_ratio, minimum_detectable_d,
    pooled_t_test, sessions_needed, srm_chi_square, two_proportion_z_test, welch_t_test, Moments,
    RatioSession, DEFAULT_TUNING_N,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Significance level of the recommendation.
pub const ALPHA: f64 = 0.05;
/// Smallest Cohen's d (in the metric's good direction) worth adopting.
pub const MIN_EFFECT_SIZE: f64 = 0.2;
/// p-value below which the session split is a sample-ratio mismatch.
pub const SRM_THRESHOLD: f64 = 0.001;
/// Largest table on which Fisher's exact test is run.
const FISHER_LIMIT: u64 = 20_000;
/// The sequential-hybrid decision's share of [`ALPHA`] spent by the confidence sequence
/// before the fixed look; the fixed-horizon test gets the rest, `ALPHA − ALPHA_SEQUENTIAL`,
/// so the two together keep the false-positive rate at most [`ALPHA`] (Bonferroni over
/// the two parts).
pub const ALPHA_SEQUENTIAL: f64 = 0.01;
/// The power at which [`PowerSummary`] states minimum detectable effects.
pub const POWER: f64 = 0.8;
/// Fewest sessions with the covariate for the adjustment to be made.
const MIN_COVARIATE_SESSIONS: usize = 4;

/// How the session-level metric is estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// The unweighted mean of the sessions' means (every session counts the same).
    SessionMean,
    /// The arm's ratio Σ metric / Σ events over its sessions, its variance by the delta
    /// method ([`linearize_ratio`]): sessions count by their events, as the metric does.
    DeltaMethodRatio,
}

/// Where the confidence sequence is tuned.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tuning {
    /// At the test's [`Horizon`].
    Horizon,
    /// At a fixed N* (GrowthBook's 5000 in [`AnalysisOptions::baseline`]).
    Fixed(f64),
}

/// Which parts of the analysis run. The product uses [`AnalysisOptions::default`] (every
/// part on); [`AnalysisOptions::baseline`] is the analysis before horizons, the delta
/// method, the covariate and the hybrid decision, kept to measure what they bring.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnalysisOptions {
    /// Where the confidence sequence is tuned.
    pub tuning: Tuning,
    /// The session-level estimator.
    pub estimator: Estimator,
    /// Adjust by the session-start covariate when the sessions carry it.
    pub covariate: bool,
    /// The sequential-hybrid decision (see [`Decision`]).
    pub hybrid: bool,
    /// An effect (Cohen's d, session level) whose required sessions to state in
    /// [`PowerSummary::for_effect`].
    pub effect_of_interest: Option<f64>,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            tuning: Tuning::Horizon,
            estimator: Estimator::DeltaMethodRatio,
            covariate: true,
            hybrid: true,
            effect_of_interest: None,
        }
    }
}

impl AnalysisOptions {
    /// The analysis as it was before: session means, the sequence tuned at N* = 5000, no
    /// covariate, the anytime-valid p-value at α = 0.05 before `end_date`, Welch's after.
    pub fn baseline() -> AnalysisOptions {
        AnalysisOptions {
            tuning: Tuning::Fixed(DEFAULT_TUNING_N),
            estimator: Estimator::SessionMean,
            covariate: false,
            hybrid: false,
            effect_of_interest: None,
        }
    }
}

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
    /// The α the sequence is built for ([`ALPHA_SEQUENTIAL`] under the hybrid decision
    /// with a fixed look ahead, else [`ALPHA`]).
    pub alpha: f64,
    /// Whether it ran on the covariate-adjusted session values.
    pub adjusted: bool,
    /// Always `sessions`.
    pub unit: &'static str,
}

/// The covariate adjustment (CUPED / ANCOVA, [`ancova`]) of the session-level metric by
/// the sessions' mean |z| at session start, beside the unadjusted result (`sessions`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdjustedSummary {
    /// Whether the adjustment was made (else the analysis is unadjusted; `note` says why).
    pub applied: bool,
    /// The covariate: `session_start_mean_abs_z`.
    pub covariate: &'static str,
    /// Sessions analysed.
    pub sessions: u64,
    /// Of them, sessions that carried the covariate (the others take the mean of those
    /// that did, which keeps the adjustment unbiased: the value depends on no arm).
    pub sessions_with_covariate: u64,
    /// θ, the within-arm slope of the metric on the covariate.
    pub theta: Option<f64>,
    /// The adjusted difference `treatment − control`.
    pub diff: Option<f64>,
    /// Its standard error.
    pub std_error: Option<f64>,
    /// Lower end of its 95 % confidence interval.
    pub ci_low: Option<f64>,
    /// Upper end of its 95 % confidence interval.
    pub ci_high: Option<f64>,
    /// Its two-sided p-value (t on n − 3 degrees of freedom).
    pub p_value: Option<f64>,
    /// The share of the metric's within-arm variance the covariate explained.
    pub variance_reduction: Option<f64>,
    /// Why not, or a remark.
    pub note: Option<String>,
}

/// Which rule the recommendation rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionRule {
    /// The anytime-valid confidence sequence (before the horizon or `end_date`).
    Anytime,
    /// The fixed-horizon session-level test, once: on the first `planned_sessions`
    /// sessions when the plan is reached, or on every session after `end_date`.
    FixedHorizon,
}

/// The sequential-hybrid decision (as Eppo's "sequential hybrid"): before the planned
/// horizon and `end_date` the recommendation rests on the anytime-valid sequence at
/// [`ALPHA_SEQUENTIAL`]; once `planned_sessions` sessions have data, on the fixed-horizon
/// test of exactly those sessions at `ALPHA − ALPHA_SEQUENTIAL` (so every later look
/// repeats the same, single test); after `end_date` before the plan is reached, on the
/// fixed-horizon test of all sessions. A derived horizon is not a plan: without
/// `planned_sessions` the fixed look happens only at `end_date`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// The rule in force.
    pub rule: DecisionRule,
    /// The α the rule is tested at.
    pub alpha: f64,
    /// The p-value the rule compares with `alpha` (covariate-adjusted when the
    /// adjustment was made).
    pub p_value: Option<f64>,
    /// Sessions the rule's test used.
    pub sessions: u64,
    /// For the fixed look: the time of the last event of the session that reached the
    /// horizon (or `end_date`), i.e. the look at which the decision was made.
    pub at: Option<Timestamp>,
    /// In words.
    pub note: String,
}

/// The minimum detectable effect at one sample size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Detectable {
    /// Sessions of both arms.
    pub sessions: f64,
    /// The smallest Cohen's d (in the metric's unadjusted session-level standard
    /// deviation) detected with [`POWER`] by the fixed-horizon test.
    pub mde_d: Option<f64>,
    /// The same in the metric's units.
    pub mde: Option<f64>,
}

/// Sessions a given effect would need.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EffectNeed {
    /// The effect, Cohen's d.
    pub d: f64,
    /// Sessions of both arms for [`POWER`] with the fixed-horizon test.
    pub sessions: Option<f64>,
    /// Sessions beyond those so far (0 when already enough).
    pub more_sessions: Option<f64>,
}

/// Power and minimum detectable effects (normal approximation, [`minimum_detectable_d`];
/// with the covariate, the residual standard deviation shrinks each by
/// `sqrt(1 − variance_reduction)`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PowerSummary {
    /// The fixed-horizon test's α.
    pub alpha: f64,
    /// The power, [`POWER`].
    pub power: f64,
    /// At the sessions so far.
    pub now: Detectable,
    /// At the horizon.
    pub horizon: Detectable,
    /// For the observed effect.
    pub observed: Option<EffectNeed>,
    /// For [`AnalysisOptions::effect_of_interest`].
    pub for_effect: Option<EffectNeed>,
}

/// Holm's adjustment across the running tests on the same primary metric
/// ([`adjust_across_tests`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MultipleTesting {
    /// The tests of the family (this one included).
    pub tests: Vec<String>,
    /// The decision p-value after Holm's adjustment.
    pub p_value_holm: f64,
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
    /// The session-level estimator used.
    pub estimator: Estimator,
    /// The covariate-adjusted session-level result.
    pub adjusted: AdjustedSummary,
    /// Anytime-valid p-value and confidence sequence at session level.
    pub anytime: AnytimeSummary,
    /// The rule the recommendation rests on.
    pub decision: Decision,
    /// Minimum detectable effects now and at the horizon.
    pub power: PowerSummary,
    /// Holm's adjustment across running tests on the same metric, when there are several.
    pub multiple_testing: Option<MultipleTesting>,
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

/// One session of an arm: the metric's sum and count over its events, its covariate and
/// the time of its first event.
#[derive(Clone, Copy)]
struct SessionAcc {
    sum: f64,
    n: u64,
    covariate: Option<f64>,
    first_us: i64,
}

/// One arm as the analysis reads it: event-level sums of the metric and its sessions.
#[derive(Default)]
struct ArmData<'a> {
    events: u64,
    accepts: u64,
    /// Event-level sums of the metric over the arm.
    metric: MetricSums,
    /// Sessions measuring the metric.
    sessions: Vec<(&'a str, SessionAcc)>,
    /// Every session of the arm, measuring the metric or not.
    session_ids: std::collections::HashSet<&'a str>,
}

impl ArmData<'_> {
    /// The event-level moments of the metric.
    fn moments(&self) -> Moments {
        let m = &self.metric;
        Moments::from_sums(m.n, m.sum.value(), m.sum_sq.value())
    }
}

fn collect(metric: Metric, table: &TestSessions) -> [ArmData<'_>; 2] {
    [Arm::Control, Arm::Treatment].map(|arm| {
        let mut a = ArmData::default();
        for (id, row) in table.arm(arm) {
            a.events += row.events;
            a.accepts += row.accepts;
            a.session_ids.insert(id.as_str());
            let m = row.metric(metric);
            if m.n > 0 {
                a.sessions.push((
                    id.as_str(),
                    SessionAcc {
                        sum: m.sum.value(),
                        n: m.n,
                        covariate: row.covariate,
                        first_us: row.first_event.as_micros(),
                    },
                ));
                a.metric.merge(&m);
            }
        }
        a
    })
}

/// The session-level observations of one arm's `sessions` by `estimator`.
fn session_values(sessions: &[SessionAcc], estimator: Estimator) -> Vec<f64> {
    match estimator {
        Estimator::SessionMean => sessions.iter().map(|s| s.sum / s.n as f64).collect(),
        Estimator::DeltaMethodRatio => linearize_ratio(
            &sessions
                .iter()
                .map(|s| RatioSession {
                    numerator: s.sum,
                    denominator: s.n as f64,
                })
                .collect::<Vec<_>>(),
        ),
    }
}

/// Each arm's sessions, in order of their first event (ties by id).
fn arm_sessions<'a>(arms: &[ArmData<'a>; 2]) -> Vec<(usize, &'a str, SessionAcc)> {
    let mut all: Vec<(usize, &str, SessionAcc)> = arms
        .iter()
        .enumerate()
        .flat_map(|(i, a)| a.sessions.iter().map(move |(id, s)| (i, *id, *s)))
        .collect();
    all.sort_by(|a, b| (a.2.first_us, a.1).cmp(&(b.2.first_us, b.1)));
    all
}

fn split(sessions: &[(usize, &str, SessionAcc)]) -> [Vec<SessionAcc>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    for (arm, _, s) in sessions {
        out[*arm].push(*s);
    }
    out
}

/// The event-level comparison: each event one observation.
fn event_level(metric: Metric, arms: &[ArmData; 2]) -> Comparison {
    let ev = [arms[0].moments(), arms[1].moments()];
    // Zero-one outcomes: the sum is the number of ones.
    let ones = |a: &ArmData| a.metric.sum.value() as u64;
    let counts = metric
        .is_proportion()
        .then(|| [ones(&arms[0]), ev[0].n, ones(&arms[1]), ev[1].n]);
    compare(metric, "events", &ev[0], &ev[1], counts)
}

fn levels(metric: Metric, arms: &[ArmData; 2], estimator: Estimator) -> (Comparison, Comparison) {
    let events = event_level(metric, arms);
    let [c, t] = split(&arm_sessions(arms));
    let ses = [
        Moments::from_slice(&session_values(&c, estimator)),
        Moments::from_slice(&session_values(&t, estimator)),
    ];
    (events, compare(metric, "sessions", &ses[0], &ses[1], None))
}

/// The covariate adjustment of the session values `values` (per arm) by the sessions'
/// covariates, as the report and the adjusted moments.
fn adjust(
    sessions: &[Vec<SessionAcc>; 2],
    values: &[Vec<f64>; 2],
    wanted: bool,
) -> (AdjustedSummary, Option<crate::learn::stats::Adjusted>) {
    let total = (values[0].len() + values[1].len()) as u64;
    let present: Vec<f64> = sessions
        .iter()
        .flatten()
        .filter_map(|s| s.covariate)
        .collect();
    let mut out = AdjustedSummary {
        applied: false,
        covariate: "session_start_mean_abs_z",
        sessions: total,
        sessions_with_covariate: present.len() as u64,
        theta: None,
        diff: None,
        std_error: None,
        ci_low: None,
        ci_high: None,
        p_value: None,
        variance_reduction: None,
        note: None,
    };
    if !wanted {
        out.note = Some("not requested: the analysis runs unadjusted".into());
        return (out, None);
    }
    if present.len() < MIN_COVARIATE_SESSIONS {
        out.note = Some(format!(
            "unadjusted: {} of {total} sessions carry session_start_mean_abs_z (the adjustment needs {MIN_COVARIATE_SESSIONS})",
            present.len()
        ));
        return (out, None);
    }
    let fill = present.iter().sum::<f64>() / present.len() as f64;
    let pairs = |arm: usize| -> Vec<(f64, f64)> {
        values[arm]
            .iter()
            .zip(&sessions[arm])
            .map(|(&y, s)| (y, s.covariate.unwrap_or(fill)))
            .collect()
    };
    let Some(a) = ancova(&pairs(0), &pairs(1), 0.95) else {
        out.note = Some(
            "unadjusted: the covariate or the metric does not vary within the arms, or an arm has fewer than 2 sessions"
                .into(),
        );
        return (out, None);
    };
    out.applied = true;
    out.theta = Some(a.theta);
    out.diff = Some(a.diff);
    out.std_error = Some(a.std_error);
    out.ci_low = Some(a.ci_low);
    out.ci_high = Some(a.ci_high);
    out.p_value = Some(a.p_value);
    out.variance_reduction = Some(a.variance_reduction);
    if present.len() < total as usize {
        out.note = Some(format!(
            "{} sessions without the covariate take the mean of the others ({fill:.3})",
            total as usize - present.len()
        ));
    }
    (out, Some(a))
}

fn pooled_sd(m: &[Moments; 2]) -> Option<f64> {
    let df = (m[0].n + m[1].n).checked_sub(2).filter(|&d| d > 0)? as f64;
    let v = (m[0].n.saturating_sub(1) as f64 * m[0].var
        + m[1].n.saturating_sub(1) as f64 * m[1].var)
        / df;
    (v > 0.0).then(|| v.sqrt())
}

impl AbStatus {
    /// Analyses `test` from `events` as of `now` with every part of the analysis on
    /// ([`AnalysisOptions::default`]; see the module docs). Errors only for an invalid
    /// test; a test without data gets a status whose reason says so.
    pub fn compute<E: Outcomes + ?Sized>(
        test: &AbTest,
        events: &E,
        now: Timestamp,
    ) -> Result<AbStatus> {
        AbStatus::compute_with(test, events, now, &AnalysisOptions::default())
    }

    /// [`AbStatus::compute`] with the parts of the analysis `options` selects.
    pub fn compute_with<E: Outcomes + ?Sized>(
        test: &AbTest,
        events: &E,
        now: Timestamp,
        options: &AnalysisOptions,
    ) -> Result<AbStatus> {
        let table = SessionTable::of_test(events, &test.test_id);
        AbStatus::from_sessions(test, table.test(&test.test_id), now, options)
    }

    /// The analysis of `test` from its per-session table (`None`: no session carries the
    /// test), the one implementation behind [`AbStatus::compute_with`], the merge of
    /// several logs' tables and the table an engine computed with `sql/ab_sessions.sql`.
    /// Built from the table of the union of some events, it gives exactly the status of
    /// those events.
    pub fn from_sessions(
        test: &AbTest,
        sessions: Option<&TestSessions>,
        now: Timestamp,
        options: &AnalysisOptions,
    ) -> Result<AbStatus> {
        test.validate()?;
        let empty = TestSessions::default();
        let table = sessions.unwrap_or(&empty);
        let metric = test.primary_metric;
        let arms = collect(metric, table);
        let ev = event_level(metric, &arms);

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

        let status = if now < test.start_date {
            TestStatus::NotStarted
        } else if test.end_date.is_some_and(|end| now >= end) {
            TestStatus::Ended
        } else {
            TestStatus::Running
        };

        // Sessions in order of arrival; the decision's test may use only the first ones.
        let ordered = arm_sessions(&arms);
        let all = split(&ordered);
        let horizon = Horizon::of(
            test,
            [ev.control.n, ev.treatment.n],
            [all[0].len() as u64, all[1].len() as u64],
        );
        let tuning_n = match options.tuning {
            Tuning::Horizon => horizon.sessions,
            Tuning::Fixed(n) => n,
        };
        let planned = test.planned_sessions.filter(|_| options.hybrid);
        let fixed_look_ahead = options.hybrid && (planned.is_some() || test.end_date.is_some());
        let alpha_seq = if fixed_look_ahead {
            ALPHA_SEQUENTIAL
        } else {
            ALPHA
        };
        let alpha_fixed = if options.hybrid {
            ALPHA - ALPHA_SEQUENTIAL
        } else {
            ALPHA
        };

        // Every session so far: the anytime-valid sequence and the power.
        let values_all = [
            session_values(&all[0], options.estimator),
            session_values(&all[1], options.estimator),
        ];
        let raw_all = [
            Moments::from_slice(&values_all[0]),
            Moments::from_slice(&values_all[1]),
        ];
        let (adjusted_all, adj_all) = adjust(&all, &values_all, options.covariate);
        let seq_m = adj_all.map_or(raw_all, |a| a.moments);
        let any = anytime_test(&seq_m[0], &seq_m[1], alpha_seq, tuning_n);
        let anytime = AnytimeSummary {
            p_value: any.map(|a| a.p_value),
            ci_low: any.map(|a| a.ci_low),
            ci_high: any.map(|a| a.ci_high),
            tuning_n,
            horizon: horizon.clone(),
            alpha: alpha_seq,
            adjusted: adj_all.is_some(),
            unit: "sessions",
        };

        // The decision's sessions.
        let total = ordered.len() as u64;
        let (rule, used, at, why) = match planned {
            Some(p) if total >= p => {
                let used = &ordered[..p as usize];
                (
                    DecisionRule::FixedHorizon,
                    split(used),
                    used.last().map(|s| Timestamp::from_micros(s.2.first_us)),
                    format!(
                        "fixed-horizon: planned_sessions {p} reached (now {total}); the test of the first {p} sessions decides, once"
                    ),
                )
            }
            _ if status == TestStatus::Ended => (
                DecisionRule::FixedHorizon,
                split(&ordered),
                test.end_date,
                format!("fixed-horizon: the test ended with {total} sessions"),
            ),
            _ => (
                DecisionRule::Anytime,
                split(&ordered),
                None,
                match planned {
                    Some(p) => format!(
                        "anytime-valid: {total} of planned_sessions {p}; the fixed-horizon test decides once the plan is reached"
                    ),
                    None if options.hybrid && test.end_date.is_some() => format!(
                        "anytime-valid: {total} sessions; the fixed-horizon test decides at end_date"
                    ),
                    None => format!("anytime-valid: {total} sessions, no planned horizon"),
                },
            ),
        };
        let values = [
            session_values(&used[0], options.estimator),
            session_values(&used[1], options.estimator),
        ];
        let raw = [
            Moments::from_slice(&values[0]),
            Moments::from_slice(&values[1]),
        ];
        let ses = compare(metric, "sessions", &raw[0], &raw[1], None);
        let (adjusted, adj) = if rule == DecisionRule::Anytime {
            (adjusted_all, adj_all)
        } else {
            adjust(&used, &values, options.covariate)
        };
        let (p_value, alpha) = match rule {
            DecisionRule::Anytime => (anytime.p_value, alpha_seq),
            DecisionRule::FixedHorizon => (
                adj.map(|a| a.p_value).or(ses.p_value),
                if options.hybrid { alpha_fixed } else { ALPHA },
            ),
        };
        let diff = adj.map(|a| a.diff).or(ses.diff);
        let sd = pooled_sd(&raw);
        let d = diff.zip(sd).map(|(x, s)| x / s);
        let decision = Decision {
            rule,
            alpha,
            p_value,
            sessions: (used[0].len() + used[1].len()) as u64,
            at,
            note: why,
        };

        // Power of the fixed-horizon test.
        let shrink = adj_all.map_or(1.0, |a| (1.0 - a.variance_reduction).max(0.0).sqrt());
        let sd_all = pooled_sd(&raw_all);
        let r = test.assignment_ratio;
        let detectable = |n: [f64; 2]| {
            let mde_d = minimum_detectable_d(n[0], n[1], alpha_fixed, POWER).map(|d| d * shrink);
            Detectable {
                sessions: n[0] + n[1],
                mde_d,
                mde: mde_d.zip(sd_all).map(|(d, s)| d * s),
            }
        };
        let need = |effect: f64| {
            let sessions = sessions_needed(effect / shrink.max(1e-12), r, alpha_fixed, POWER);
            EffectNeed {
                d: effect,
                sessions,
                more_sessions: sessions.map(|n| (n.ceil() - total as f64).max(0.0)),
            }
        };
        let d_all = adj_all
            .map(|a| a.diff)
            .or((raw_all[0].n > 0 && raw_all[1].n > 0).then(|| raw_all[1].mean - raw_all[0].mean))
            .zip(sd_all)
            .map(|(x, s)| x / s);
        let power = PowerSummary {
            alpha: alpha_fixed,
            power: POWER,
            now: detectable([all[0].len() as f64, all[1].len() as f64]),
            horizon: detectable([(1.0 - r) * horizon.sessions, r * horizon.sessions]),
            observed: d_all.filter(|d| *d != 0.0 && d.is_finite()).map(need),
            for_effect: options.effect_of_interest.map(need),
        };

        let secondary = test
            .secondary_metrics
            .iter()
            .filter(|&&m| m != metric)
            .map(|&m| {
                let arms = collect(m, table);
                let (events, sessions) = levels(m, &arms, options.estimator);
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

        let (recommendation, reason) = recommend(test, status, &ev, &ses, &decision, d, &srm);
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
            estimator: options.estimator,
            adjusted,
            anytime,
            decision,
            power,
            multiple_testing: None,
            secondary,
            bandit,
            recommendation,
            reason,
            min_samples: test.min_samples,
        })
    }
}

/// Holm's adjustment across the running tests of `statuses` that share a primary metric
/// (tests that are not running, or alone on their metric, are left as they are): each
/// gets [`AbStatus::multiple_testing`], and an `adopt_treatment` whose adjusted p-value
/// is no longer below its decision's α becomes `keep_control` (`keep_running` before the
/// decision is final), the reason saying so.
pub fn adjust_across_tests(statuses: &mut [AbStatus]) {
    let mut families: BTreeMap<Metric, Vec<usize>> = BTreeMap::new();
    for (i, s) in statuses.iter().enumerate() {
        if s.status == TestStatus::Running && s.decision.p_value.is_some() {
            families.entry(s.events.metric).or_default().push(i);
        }
    }
    for (metric, members) in families.into_iter().filter(|(_, m)| m.len() > 1) {
        let p: Vec<f64> = members
            .iter()
            .map(|&i| statuses[i].decision.p_value.unwrap_or(1.0))
            .collect();
        let adjusted = holm(&p);
        let ids: Vec<String> = members
            .iter()
            .map(|&i| statuses[i].test_id.clone())
            .collect();
        for (&i, p_holm) in members.iter().zip(adjusted) {
            let s = &mut statuses[i];
            s.multiple_testing = Some(MultipleTesting {
                tests: ids.clone(),
                p_value_holm: p_holm,
            });
            if s.recommendation == AbRecommendation::AdoptTreatment && p_holm >= s.decision.alpha {
                s.recommendation = match s.decision.rule {
                    DecisionRule::Anytime => AbRecommendation::KeepRunning,
                    DecisionRule::FixedHorizon => AbRecommendation::KeepControl,
                };
                s.reason = format!(
                    "{}; but across the {} running tests on {metric}, Holm's adjusted p = {p_holm:.4} is not below {}",
                    s.reason,
                    ids.len(),
                    s.decision.alpha
                );
            }
        }
    }
}

fn recommend(
    test: &AbTest,
    status: TestStatus,
    ev: &Comparison,
    ses: &Comparison,
    decision: &Decision,
    d: Option<f64>,
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
    let which = match decision.rule {
        DecisionRule::Anytime => "session-level anytime-valid",
        DecisionRule::FixedHorizon => "session-level fixed-horizon",
    };
    let (Some(p), Some(d)) = (decision.p_value, d) else {
        return (
            wait,
            format!(
                "the session-level analysis needs at least 2 sessions with data and some variation in each arm (control {}, treatment {} sessions)",
                ses.control.n, ses.treatment.n
            ),
        );
    };
    let alpha = decision.alpha;
    let good_d = d * metric.direction();
    let stats = format!("{which} p = {p:.4}, session-level Cohen's d = {d:.2}");
    let final_look = decision.rule == DecisionRule::FixedHorizon;
    if p < alpha && good_d > MIN_EFFECT_SIZE {
        (
            AdoptTreatment,
            format!(
                "treatment is better on {metric}: {stats} (p < {alpha}, d beyond {MIN_EFFECT_SIZE} in the good direction), both arms ≥ {} samples, no sample-ratio mismatch",
                test.min_samples
            ),
        )
    } else if p < alpha && good_d < -MIN_EFFECT_SIZE {
        (
            KeepControl,
            format!("treatment is worse on {metric}: {stats}"),
        )
    } else if final_look {
        (
            KeepControl,
            format!(
                "no significant, meaningful improvement on {metric} at the fixed look: {stats} (α {alpha})"
            ),
        )
    } else {
        let mut r =
            format!("no significant, meaningful improvement on {metric} yet: {stats} (α {alpha})");
        r.push_str("; the test is still running, and looking again later is safe (the p-value is anytime-valid)");
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
            "    estimator: {}",
            match self.estimator {
                Estimator::SessionMean => "mean of session means",
                Estimator::DeltaMethodRatio => "ratio over sessions, delta-method variance",
            }
        )?;
        let a = &self.adjusted;
        if a.applied {
            writeln!(
                f,
                "  Adjusted by session-start mean |z| ({} of {} sessions): diff = {}, 95% CI [{}, {}], p = {}, variance reduction {:.0}%{}",
                a.sessions_with_covariate,
                a.sessions,
                fmt_opt(a.diff, 3),
                fmt_opt(a.ci_low, 3),
                fmt_opt(a.ci_high, 3),
                fmt_opt(a.p_value, 3),
                a.variance_reduction.unwrap_or(0.0) * 100.0,
                a.note.as_deref().map(|n| format!("; {n}")).unwrap_or_default()
            )?;
        } else {
            writeln!(f, "  Covariate: {}", a.note.as_deref().unwrap_or("n/a"))?;
        }
        writeln!(
            f,
            "  Anytime-valid (per session{}, N*={}, α {}): p = {}, {:.0}% CS [{}, {}]\n    horizon: {}",
            if self.anytime.adjusted { ", adjusted" } else { "" },
            self.anytime.tuning_n,
            self.anytime.alpha,
            fmt_opt(self.anytime.p_value, 3),
            (1.0 - self.anytime.alpha) * 100.0,
            fmt_opt(self.anytime.ci_low, 3),
            fmt_opt(self.anytime.ci_high, 3),
            self.anytime.horizon.note
        )?;
        writeln!(
            f,
            "  Decision: {} (α {}, p = {}, {} sessions{})",
            self.decision.note,
            self.decision.alpha,
            fmt_opt(self.decision.p_value, 4),
            self.decision.sessions,
            self.decision
                .at
                .map(|t| format!(", at {}", t.as_datetime().format("%Y-%m-%d %H:%M")))
                .unwrap_or_default()
        )?;
        let pw = &self.power;
        writeln!(
            f,
            "  Power {:.0}% at α {}: detectable d = {} now ({} sessions), {} at the horizon ({} sessions){}{}",
            pw.power * 100.0,
            pw.alpha,
            fmt_opt(pw.now.mde_d, 2),
            pw.now.sessions,
            fmt_opt(pw.horizon.mde_d, 2),
            pw.horizon.sessions,
            pw.observed
                .as_ref()
                .map(|o| format!(
                    "; the observed d = {:.2} needs {} sessions ({} more)",
                    o.d,
                    fmt_opt(o.sessions.map(f64::ceil), 0),
                    fmt_opt(o.more_sessions, 0)
                ))
                .unwrap_or_default(),
            pw.for_effect
                .as_ref()
                .map(|o| format!(
                    "; d = {:.2} needs {} sessions ({} more)",
                    o.d,
                    fmt_opt(o.sessions.map(f64::ceil), 0),
                    fmt_opt(o.more_sessions, 0)
                ))
                .unwrap_or_default()
        )?;
        if let Some(m) = &self.multiple_testing {
            writeln!(
                f,
                "  Holm across {} running tests on {} ({}): adjusted p = {:.4}",
                m.tests.len(),
                self.events.metric,
                m.tests.join(", "),
                m.p_value_holm
            )?;
        }
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
