//! A/B tests of fix-generation policies (SPEC §4.5).
//!
//! - [`AbTest`]: the test file (one `<test_id>.json` per test), loaded, validated, saved.
//! - [`AbStore`]: the directory of test files (`abtests/` under the fixloop home).
//! - [`assign`]: the deterministic assignment of a session to an arm.
//! - [`AbStatus`]: the analysis of a test from the feedback events' `ab` field.
//! - [`bandit`]: Thompson sampling over the arms.

mod analysis;
pub mod bandit;
mod store;
mod test_file;

pub use analysis::{
    adjust_across_tests, AbRecommendation, AbStatus, AdjustedSummary, AnalysisOptions,
    AnytimeSummary, ArmSummary, Comparison, Decision, DecisionRule, Detectable, EffectNeed,
    Estimator, Horizon, HorizonSource, MultipleTesting, PowerSummary, SecondaryResult, SrmCheck,
    TestStatus, Tuning, ALPHA, ALPHA_SEQUENTIAL, MIN_EFFECT_SIZE, POWER, SRM_THRESHOLD,
};
pub use store::AbStore;
pub use test_file::{AbTest, Arms, BanditSettings, Metric};

use crate::feedback::Arm;
use crate::fixes::Policy;

/// Where a session falls in [0, 1) for a test: FNV-1a 64 of the UTF-8 bytes of
/// `test_id`, a zero byte and `session_id`, passed through SplitMix64's finaliser (FNV's
/// high bits mix poorly on its own), whose top 53 bits are read as a fraction.
///
/// Stable across processes, platforms and versions: the constants are FNV's
/// (offset basis 0xcbf29ce484222325, prime 0x100000001b3) and Vigna's SplitMix64.
pub fn assignment_point(test_id: &str, session_id: &str) -> f64 {
    let h = crate::rng::fnv1a64([test_id.as_bytes(), &[0u8], session_id.as_bytes()]);
    crate::rng::unit_interval(crate::rng::mix64(h))
}

/// The arm of `session_id` in a test with `test_id`: treatment when
/// [`assignment_point`] is below `treatment_ratio`.
pub fn assign_with_ratio(test_id: &str, session_id: &str, treatment_ratio: f64) -> Arm {
    if assignment_point(test_id, session_id) < treatment_ratio {
        Arm::Treatment
    } else {
        Arm::Control
    }
}

/// The arm of `session_id` in `test`, by its `assignment_ratio`.
pub fn assign(test: &AbTest, session_id: &str) -> Arm {
    assign_with_ratio(&test.test_id, session_id, test.assignment_ratio)
}

/// The fix-generation policy keys `test` sets: those in which its arms differ from each
/// other or from the default policy. Two running tests may not set the same key
/// ([`AbStore::create`] refuses it), so a session can be in every running test at once.
pub fn keys_set(test: &AbTest) -> Vec<&'static str> {
    let d = Policy::default();
    let (c, t) = (&test.control, &test.treatment);
    let differs = |get: &dyn Fn(&Policy) -> f64| get(c) != get(t) || get(c) != get(&d);
    let mut keys = Vec::new();
    if c.target_strategy != t.target_strategy || c.target_strategy != d.target_strategy {
        keys.push("target_strategy");
    }
    if differs(&|p| p.amount) {
        keys.push("amount");
    }
    if differs(&|p| p.min_confidence) {
        keys.push("min_confidence");
    }
    if differs(&|p| p.max_move_db) {
        keys.push("max_move_db");
    }
    if c.plan != t.plan || c.plan != d.plan {
        keys.push("plan");
    }
    if differs(&|p| p.true_peak_ceiling_dbtp) {
        keys.push("true_peak_ceiling_dbtp");
    }
    if c.targets != t.targets || c.targets != d.targets {
        keys.push("targets");
    }
    keys
}

/// `base` with the keys `test` sets ([`keys_set`]) taken from `arm`'s policy.
pub fn apply_arm(base: &Policy, test: &AbTest, arm: Arm) -> Policy {
    let from = match arm {
        Arm::Control => &test.control,
        Arm::Treatment => &test.treatment,
    };
    let mut p = *base;
    for key in keys_set(test) {
        match key {
            "target_strategy" => p.target_strategy = from.target_strategy,
            "amount" => p.amount = from.amount,
            "min_confidence" => p.min_confidence = from.min_confidence,
            "max_move_db" => p.max_move_db = from.max_move_db,
            "plan" => p.plan = from.plan,
            "targets" => p.targets = from.targets,
            _ => p.true_peak_ceiling_dbtp = from.true_peak_ceiling_dbtp,
        }
    }
    p
}

/// A session's place in every running test.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionAssignment {
    /// The policy the session's fixes are proposed under.
    pub policy: Policy,
    /// Test id → arm, for every test the session is in (recorded with the session).
    pub arms: std::collections::BTreeMap<String, Arm>,
    /// Tests left out, and why (not running, or setting a key an earlier test sets).
    pub left_out: Vec<(String, String)>,
}

/// Assigns `session_id` to an arm of every test of `tests` running at `now` (the stable
/// hash of [`assign`]; for a bandit, the same hash at the Thompson-sampling share computed
/// from `events`, the feedback so far) and composes their arms' keys onto `base`. Tests
/// are taken in `test_id` order; one setting a key an earlier one sets is left out.
pub fn assign_session<E: crate::feedback::Outcomes + ?Sized>(
    tests: &[AbTest],
    session_id: &str,
    base: &Policy,
    now: crate::feedback::Timestamp,
    events: &E,
) -> SessionAssignment {
    let mut sorted: Vec<&AbTest> = tests.iter().collect();
    sorted.sort_by(|a, b| a.test_id.cmp(&b.test_id));
    let mut out = SessionAssignment {
        policy: *base,
        arms: Default::default(),
        left_out: Vec::new(),
    };
    let mut taken: Vec<&'static str> = Vec::new();
    for test in sorted {
        if now < test.start_date || test.end_date.is_some_and(|end| now >= end) {
            out.left_out
                .push((test.test_id.clone(), "not running now".into()));
            continue;
        }
        let keys = keys_set(test);
        if let Some(k) = keys.iter().find(|k| taken.contains(k)) {
            out.left_out.push((
                test.test_id.clone(),
                format!("sets {k}, which an earlier running test sets"),
            ));
            continue;
        }
        let arm = match test.bandit {
            Some(_) => {
                let share = AbStatus::compute(test, events, now)
                    .ok()
                    .and_then(|s| s.bandit)
                    .map_or(test.assignment_ratio, |b| b.treatment);
                assign_with_ratio(&test.test_id, session_id, share)
            }
            None => assign(test, session_id),
        };
        out.policy = apply_arm(&out.policy, test, arm);
        out.arms.insert(test.test_id.clone(), arm);
        taken.extend(keys);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_assignments() {
        // Reference values from an independent Python implementation:
        //   fnv = FNV-1a 64 over test_id.encode() + b"\0" + session_id.encode()
        //   mix = splitmix64 finaliser; u = (mix(fnv) >> 11) / 2**53
        let cases = [
            ("targeting_strategy_001", "session-1", 0.43171234129866176),
            ("targeting_strategy_001", "session-5", 0.534670667257642),
            ("targeting_strategy_001", "session-6", 0.9778512922569942),
            ("targeting_strategy_001", "session-8", 0.07151672102027795),
            ("confidence_threshold_001", "session-1", 0.2807688156991047),
            ("targeting_strategy_001", "", 0.1727174988607526),
        ];
        for (t, s, u) in cases {
            assert_eq!(assignment_point(t, s), u, "{t} {s}");
        }
        assert_eq!(
            assign_with_ratio("targeting_strategy_001", "session-1", 0.5),
            Arm::Treatment
        );
        assert_eq!(
            assign_with_ratio("targeting_strategy_001", "session-5", 0.5),
            Arm::Control
        );
        assert_eq!(
            assign_with_ratio("targeting_strategy_001", "session-6", 0.5),
            Arm::Control
        );
    }

    #[test]
    fn shares_follow_the_ratio() {
        // 100 000 sessions at ratio 0.3: the treatment count is Binomial(1e5, 0.3),
        // sd ≈ 145; accept within 5 sd.
        let n = (0..100_000)
            .filter(|i| assign_with_ratio("t", &format!("s{i}"), 0.3) == Arm::Treatment)
            .count() as f64;
        assert!((n - 30_000.0).abs() < 725.0, "{n}");
    }
}
