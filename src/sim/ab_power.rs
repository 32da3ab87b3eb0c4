//! The power of A/B tests at a producer's scale: how often [`AbStatus`] adopts a
//! treatment with a known per-session effect, for each stage of the analysis, on the same
//! simulated tests.
//!
//! **The model** (one session, seeded): `k` events, uniform on 4..=12 (mean 8, so the
//! delta method has varying denominators); a latent track quality `q ~ N(0, 1)`; the
//! session's accept probability `p = clamp(0.6 − 0.15·q + δ·[treatment], 0.01, 0.99)`;
//! each event accepted with probability `p`, else rejected. The covariate, the mean |z|
//! at session start, is `x = max(0.05, 1 + 0.3·(ρ·q + sqrt(1 − ρ²)·e))` with
//! `e ~ N(0, 1)`: measured before any fix, it depends on the track, never on the arm.
//!
//! **The effect** is a per-session Cohen's d: δ = d · σ_s, where σ_s is the standard
//! deviation of a session's accept rate,
//! `σ_s² = 0.15² + (0.6·0.4 − 0.15²)·E[1/k]` with `E[1/k] = (1/4 + … + 1/12)/9`
//! (the variance of the latent rate plus the binomial noise of `k` events; the clamp is
//! reached beyond 2.6 σ and is ignored) — σ_s = 0.2306.
//!
//! **The variants** ([`VARIANTS`]), each the same tests read through
//! [`AbStatus::compute_with`]: (a) the analysis before this module (session means, the
//! confidence sequence tuned at N* = 5000); (b) the delta-method ratio and the sequence
//! tuned at the test's `planned_sessions`; (c) (b) with the covariate adjustment; (d) (c)
//! with the sequential-hybrid decision (the product's analysis). A run counts as adopted
//! when any look recommends `adopt_treatment`.

use crate::error::Result;
use crate::features::FixType;
use crate::feedback::{Arm, FeedbackEvent, Text, Timestamp, UserAction};
use crate::fixes::{Policy, TargetStrategy};
use crate::learn::ab::{assign, AbRecommendation, AbStatus, AnalysisOptions, Estimator, Tuning};
use crate::rng::SplitMix64;
use crate::sim::ab_sim::sim_test;
use std::collections::BTreeMap;

/// The latent rate's standard deviation across sessions.
const LATENT_SD: f64 = 0.15;
/// The mean accept rate.
const BASE_RATE: f64 = 0.6;
/// Fewest and most events of a session.
const EVENTS: (u64, u64) = (4, 12);

/// The standard deviation of one session's accept rate under the model (module docs).
pub fn session_sd() -> f64 {
    let n = (EVENTS.1 - EVENTS.0 + 1) as f64;
    let e_inv_k = (EVENTS.0..=EVENTS.1).map(|k| 1.0 / k as f64).sum::<f64>() / n;
    let var =
        LATENT_SD * LATENT_SD + (BASE_RATE * (1.0 - BASE_RATE) - LATENT_SD * LATENT_SD) * e_inv_k;
    var.sqrt()
}

/// One stage of the analysis compared in the power table.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// Short label.
    pub label: &'static str,
    /// What it is.
    pub description: &'static str,
    /// The analysis.
    pub options: AnalysisOptions,
    /// Whether the test declares its `planned_sessions`.
    pub planned: bool,
}

/// (a)–(d) of the module docs.
pub const VARIANTS: [Variant; 4] = [
    Variant {
        label: "a",
        description: "before: session means, N* = 5000",
        options: AnalysisOptions {
            tuning: Tuning::Fixed(crate::learn::stats::DEFAULT_TUNING_N),
            estimator: Estimator::SessionMean,
            covariate: false,
            hybrid: false,
            effect_of_interest: None,
        },
        planned: false,
    },
    Variant {
        label: "b",
        description: "delta method, N* = planned_sessions",
        options: AnalysisOptions {
            tuning: Tuning::Horizon,
            estimator: Estimator::DeltaMethodRatio,
            covariate: false,
            hybrid: false,
            effect_of_interest: None,
        },
        planned: true,
    },
    Variant {
        label: "c",
        description: "(b) + covariate adjustment",
        options: AnalysisOptions {
            tuning: Tuning::Horizon,
            estimator: Estimator::DeltaMethodRatio,
            covariate: true,
            hybrid: false,
            effect_of_interest: None,
        },
        planned: true,
    },
    Variant {
        label: "d",
        description: "(c) + sequential-hybrid decision",
        options: AnalysisOptions {
            tuning: Tuning::Horizon,
            estimator: Estimator::DeltaMethodRatio,
            covariate: true,
            hybrid: true,
            effect_of_interest: None,
        },
        planned: true,
    },
];

/// How the power simulation runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PowerConfig {
    /// Tests simulated per cell.
    pub runs: usize,
    /// Sessions per test (both arms).
    pub sessions: usize,
    /// Evenly spaced looks (the last at the final session).
    pub looks: usize,
    /// Per-session Cohen's d of treatment over control (0: an A/A test).
    pub d: f64,
    /// ρ: the covariate's correlation with the latent rate.
    pub covariate_rho: f64,
    /// The test's `min_samples`.
    pub min_samples: u64,
}

impl Default for PowerConfig {
    fn default() -> Self {
        PowerConfig {
            runs: 200,
            sessions: 120,
            looks: 5,
            d: 0.5,
            covariate_rho: 0.8,
            min_samples: 50,
        }
    }
}

/// What [`simulate_power`] counted.
#[derive(Clone, Debug, PartialEq)]
pub struct PowerResult {
    /// The configuration.
    pub config: PowerConfig,
    /// Runs with `adopt_treatment` at any look, per variant of [`VARIANTS`].
    pub adopt: [u64; 4],
    /// The mean variance reduction the covariate achieved at the last look.
    pub variance_reduction: f64,
    /// The mean of the adjusted difference at the last look over the runs, and its
    /// standard error across runs (for the A/A check that the adjustment adds no effect).
    pub adjusted_diff: (f64, f64),
    /// Runs whose fixed-horizon adjusted p-value at the last look was below 0.05.
    pub adjusted_significant: u64,
}

impl PowerResult {
    /// The adoption rate of variant `i`.
    pub fn rate(&self, i: usize) -> f64 {
        self.adopt[i] as f64 / self.config.runs.max(1) as f64
    }

    /// The binomial standard error of a rate `p` over the runs.
    pub fn standard_error(&self, p: f64) -> f64 {
        (p * (1.0 - p) / self.config.runs.max(1) as f64).sqrt()
    }
}

fn event(session: &str, i: u64, accept: bool, arm: (&Text, Arm), x: f64, t: i64) -> FeedbackEvent {
    FeedbackEvent {
        event_id: format!("{session}-{i}").into(),
        timestamp: Timestamp::from_micros(t + i as i64),
        fix_id: "power".into(),
        fix_type: FixType::VolumeAdjust,
        feature_name: "low_level".into(),
        track_path: "wip.wav".into(),
        session_id: session.into(),
        profile_version: "v1".into(),
        original_value: 0.0,
        target_value: 0.0,
        applied_value: 0.0,
        user_action: Some(if accept {
            UserAction::Accept
        } else {
            UserAction::Reject
        }),
        was_applied: accept,
        was_undone: false,
        gap_before: 1.0,
        gap_after: None,
        improvement_ratio: None,
        user_modified_value: None,
        session_saved_after: false,
        track_bounced_after: false,
        notes: None,
        ab: BTreeMap::from([(arm.0.clone(), arm.1)]),
        session_start_mean_abs_z: Some(x),
    }
}

/// Simulates `config.runs` tests (module docs) and reads each through every variant.
pub fn simulate_power(config: &PowerConfig, seed: u64) -> Result<PowerResult> {
    let looks: Vec<usize> = (1..=config.looks.max(1))
        .map(|k| (config.sessions * k).div_ceil(config.looks.max(1)))
        .collect();
    let delta = config.d * session_sd();
    let rho = config.covariate_rho.clamp(-1.0, 1.0);
    let policy = |s| Policy {
        target_strategy: s,
        ..Policy::default()
    };
    let mut result = PowerResult {
        config: *config,
        adopt: [0; 4],
        variance_reduction: 0.0,
        adjusted_diff: (0.0, 0.0),
        adjusted_significant: 0,
    };
    let mut diffs = Vec::with_capacity(config.runs);
    let mut reduction_sum = 0.0;
    for run in 0..config.runs {
        let test_id = format!("power_{seed}_{run}");
        let mut base = sim_test(
            &test_id,
            policy(TargetStrategy::Conservative),
            policy(TargetStrategy::Mean),
            config.min_samples,
        );
        base.secondary_metrics.clear();
        let tests = VARIANTS.map(|v| {
            let mut t = base.clone();
            t.planned_sessions = v.planned.then_some(config.sessions.max(4) as u64);
            t
        });
        let id = Text::from(test_id.as_str());
        let mut rng = SplitMix64::new(seed ^ (run as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut events: Vec<FeedbackEvent> = Vec::new();
        let mut adopted = [false; 4];
        let mut next_look = 0;
        for s in 0..config.sessions {
            let session = format!("s{s:04}");
            let arm = assign(&base, &session);
            let q = rng.next_normal();
            let e = rng.next_normal();
            let x = (1.0 + 0.3 * (rho * q + (1.0 - rho * rho).sqrt() * e)).max(0.05);
            let lift = if arm == Arm::Treatment { delta } else { 0.0 };
            let p = (BASE_RATE - LATENT_SD * q + lift).clamp(0.01, 0.99);
            let k = EVENTS.0 + rng.next_u64() % (EVENTS.1 - EVENTS.0 + 1);
            let t = base.start_date.as_micros() + (s as i64 + 1) * 60_000_000;
            for i in 0..k {
                events.push(event(&session, i, rng.chance(p), (&id, arm), x, t));
            }
            if next_look < looks.len() && s + 1 == looks[next_look] {
                next_look += 1;
                let now = Timestamp::from_micros(t + 30_000_000);
                for (v, (variant, test)) in VARIANTS.iter().zip(&tests).enumerate() {
                    let status = AbStatus::compute_with(test, &events, now, &variant.options)?;
                    adopted[v] |= status.recommendation == AbRecommendation::AdoptTreatment;
                    if v == 2 && next_look == looks.len() {
                        let a = &status.adjusted;
                        reduction_sum += a.variance_reduction.unwrap_or(0.0);
                        if let Some(diff) = a.diff {
                            diffs.push(diff);
                        }
                        result.adjusted_significant +=
                            u64::from(a.p_value.is_some_and(|p| p < 0.05));
                    }
                }
            }
        }
        for (count, a) in result.adopt.iter_mut().zip(adopted) {
            *count += u64::from(a);
        }
    }
    let m = crate::learn::stats::Moments::from_slice(&diffs);
    result.adjusted_diff = (m.mean, (m.var / m.n.max(1) as f64).sqrt());
    result.variance_reduction = reduction_sum / config.runs.max(1) as f64;
    Ok(result)
}

/// The power table: the adoption rate of every variant for each per-session effect
/// `ds` at each test length `sessions`, `runs` tests per cell (seeded).
pub fn power_table(
    ds: &[f64],
    sessions: &[usize],
    base: &PowerConfig,
    seed: u64,
) -> Result<Vec<PowerResult>> {
    let mut out = Vec::new();
    for (i, &d) in ds.iter().enumerate() {
        for (j, &n) in sessions.iter().enumerate() {
            let config = PowerConfig {
                d,
                sessions: n,
                ..*base
            };
            out.push(simulate_power(&config, seed + 100 * i as u64 + j as u64)?);
        }
    }
    Ok(out)
}

/// The power table as text, one row per cell, a column per variant.
pub fn format_power_table(rows: &[PowerResult]) -> String {
    let mut s = String::from("    d  sessions");
    for v in VARIANTS {
        s.push_str(&format!("  ({}) {:>6}", v.label, ""));
    }
    s.push_str("  variance reduction\n");
    for r in rows {
        s.push_str(&format!("{:>5.1}  {:>8}", r.config.d, r.config.sessions));
        for i in 0..4 {
            s.push_str(&format!("  {:>9.1}%", 100.0 * r.rate(i)));
        }
        s.push_str(&format!("  {:>17.0}%\n", 100.0 * r.variance_reduction));
    }
    for v in VARIANTS {
        s.push_str(&format!("  ({}) {}\n", v.label, v.description));
    }
    s
}
