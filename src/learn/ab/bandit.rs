//! Thompson sampling over the two arms of a test (Thompson 1933; Russo et al. 2018,
//! "A Tutorial on Thompson Sampling", §3 Beta-Bernoulli).
//!
//! Each arm's acceptance probability has the posterior Beta(1 + accepts, 1 + others)
//! (uniform prior). Thompson sampling assigns each new session to an arm with the
//! probability that the arm is the better one; that probability is estimated here by
//! Monte Carlo (`draws` paired draws, seeded, so a share is reproducible), then clamped to
//! `[min_share, 1 − min_share]` so neither arm starves. Sessions are then assigned with
//! the same stable hash as a fixed split ([`assign_with_ratio`](super::assign_with_ratio))
//! using the treatment share, and recorded on events the same way.
//!
//! Draws use statrs' inverse regularised incomplete beta on uniform numbers (inverse
//! transform sampling), so no sampler is hand-written.

use super::BanditSettings;
use crate::learn::SplitMix64;
use serde::Serialize;
use statrs::distribution::{Beta, ContinuousCDF};

/// Acceptance counts of one arm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ArmCounts {
    /// Events with `user_action` accept.
    pub accepts: u64,
    /// All events.
    pub events: u64,
}

/// The current shares of a bandit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BanditShares {
    /// Estimated probability that treatment's acceptance rate is the higher.
    pub prob_treatment_best: f64,
    /// Share of new sessions for control, after the floor.
    pub control: f64,
    /// Share of new sessions for treatment, after the floor.
    pub treatment: f64,
}

/// The Thompson-sampling shares for the next sessions.
pub fn thompson_shares(
    control: ArmCounts,
    treatment: ArmCounts,
    settings: &BanditSettings,
) -> BanditShares {
    let posterior = |c: ArmCounts| {
        let a = 1.0 + c.accepts as f64;
        let b = 1.0 + c.events.saturating_sub(c.accepts) as f64;
        Beta::new(a, b).ok()
    };
    let mut rng = SplitMix64::new(settings.seed);
    let draws = settings.draws.max(1);
    let p = match (posterior(control), posterior(treatment)) {
        (Some(pc), Some(pt)) => {
            let mut wins = 0u32;
            for _ in 0..draws {
                let xc = pc.inverse_cdf(rng.next_f64());
                let xt = pt.inverse_cdf(rng.next_f64());
                wins += u32::from(xt > xc);
            }
            f64::from(wins) / f64::from(draws)
        }
        _ => 0.5,
    };
    let floor = settings.min_share.clamp(0.0, 0.5);
    let treatment_share = p.clamp(floor, 1.0 - floor);
    BanditShares {
        prob_treatment_best: p,
        control: 1.0 - treatment_share,
        treatment: treatment_share,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn favours_the_better_arm_within_the_floor() {
        let s = BanditSettings::default();
        // 80 % vs 40 % acceptance on 100 events each: treatment is almost surely best.
        let b = thompson_shares(
            ArmCounts {
                accepts: 40,
                events: 100,
            },
            ArmCounts {
                accepts: 80,
                events: 100,
            },
            &s,
        );
        assert!(b.prob_treatment_best > 0.99, "{b:?}");
        assert_eq!(b.treatment, 0.9);
        assert!((b.control - 0.1).abs() < 1e-12);
        // No data: an even split (up to Monte-Carlo error, sd ≈ 0.011 at 2000 draws).
        let e = thompson_shares(ArmCounts::default(), ArmCounts::default(), &s);
        assert!((e.treatment - 0.5).abs() < 0.05, "{e:?}");
        // Reproducible for a seed.
        assert_eq!(
            e,
            thompson_shares(ArmCounts::default(), ArmCounts::default(), &s)
        );
    }
}
