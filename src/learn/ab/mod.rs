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
    AbRecommendation, AbStatus, AnytimeSummary, ArmSummary, Comparison, SecondaryResult, SrmCheck,
    TestStatus, ALPHA, MIN_EFFECT_SIZE, SRM_THRESHOLD,
};
pub use store::AbStore;
pub use test_file::{AbTest, Arms, BanditSettings, Metric};

use crate::feedback::Arm;

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
