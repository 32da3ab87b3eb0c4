//! `fixloop demo`: the closed loop over several seeds, a control run with a producer whose
//! taste equals the profile, the A/A and conservative-vs-mean A/B simulations, and the
//! HTML report.

use crate::error::{Error, ErrorKind, Result};
use crate::fixes::{PlanMode, Policy, TargetStrategy};
use crate::sim::ab_sim::{simulate_ab, AbSimConfig, AbSimResult};
use crate::sim::closed_loop::{
    run_loop, LoopConfig, LoopRun, Outcome, RoundStats, TasteKind, World, WorldConfig,
};
use crate::sim::report::{html, ReportInput};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// What the demo runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DemoConfig {
    /// Seeds of the closed loop (1, 2, … `seeds`).
    pub seeds: u64,
    /// Rounds per seed.
    pub rounds: usize,
    /// Sessions per round.
    pub sessions_per_round: usize,
    /// The A/B simulations.
    pub ab: AbSimConfig,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            seeds: 3,
            rounds: 4,
            sessions_per_round: LoopConfig::default().sessions_per_round,
            ab: AbSimConfig::default(),
        }
    }
}

/// Everything the demo computed, and the report's path.
#[derive(Clone, Debug)]
pub struct DemoResult {
    /// One run per seed, producer with a shifted taste, independent fixes (the default
    /// loop).
    pub runs: Vec<LoopRun>,
    /// A control run (seed 1) whose producer's taste equals the profile.
    pub control: LoopRun,
    /// The same seeds with the joint plan (no confidence threshold).
    pub joint: Vec<LoopRun>,
    /// The joint and independent curves side by side, per round (means over seeds), both
    /// without a confidence threshold.
    pub plan_table: String,
    /// A/A simulation.
    pub aa: AbSimResult,
    /// Conservative (control) vs mean (treatment) simulation.
    pub ab: AbSimResult,
    /// The power of each stage of the A/B analysis (`crate::sim::ab_power`): d = 0.3,
    /// 0.5, 1.0 × 60, 120, 240 sessions.
    pub power: Vec<crate::sim::ab_power::PowerResult>,
    /// A/A at 5 and at 20 looks, 1000 tests each, every stage.
    pub power_aa: Vec<crate::sim::ab_power::PowerResult>,
    /// The learning-curve table.
    pub curve_table: String,
    /// The confidence threshold off, and on with per-type or per-feature confidence, under
    /// both outcome models (first and last round, means over seeds).
    pub confidence: Vec<ConfidenceRow>,
    /// [`confidence_table`] of `confidence`.
    pub confidence_table: String,
    /// The HTML report.
    pub report_path: PathBuf,
}

/// One variant of the confidence comparison: the loop's first and last round, means over
/// seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfidenceRow {
    /// The outcome model.
    pub outcome: Outcome,
    /// The policy's `min_confidence` (0: no threshold).
    pub min_confidence: f64,
    /// Whether confidence per (fix type, feature) was learned (else per type only).
    pub per_feature: bool,
    /// Round 0's means.
    pub first: RoundMeans,
    /// The last round's means.
    pub last: RoundMeans,
}

/// Means over seeds of one round.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RoundMeans {
    /// Fixes proposed.
    pub proposed: f64,
    /// Fixes rejected.
    pub rejected: f64,
    /// Accept rate.
    pub accept_rate: f64,
    /// Mean |gap to taste| after the kept fixes.
    pub gap_after: f64,
}

impl RoundMeans {
    fn of(rounds: &[&RoundStats]) -> RoundMeans {
        let n = rounds.len().max(1) as f64;
        let mean = |f: &dyn Fn(&RoundStats) -> f64| rounds.iter().map(|r| f(r)).sum::<f64>() / n;
        RoundMeans {
            proposed: mean(&|r| r.proposed as f64),
            rejected: mean(&|r| r.rejected as f64),
            accept_rate: mean(&|r| r.accept_rate),
            gap_after: mean(&|r| r.gap_after),
        }
    }
}

/// The row of `runs` (one per seed) run under `config`.
fn confidence_row(config: &LoopConfig, runs: &[LoopRun]) -> ConfidenceRow {
    let pick = |last: bool| {
        let rounds: Vec<&RoundStats> = runs
            .iter()
            .filter_map(|r| {
                if last {
                    r.rounds.last()
                } else {
                    r.rounds.first()
                }
            })
            .collect();
        RoundMeans::of(&rounds)
    };
    ConfidenceRow {
        outcome: config.outcome,
        min_confidence: config.policy.min_confidence,
        per_feature: config.refine.min_confidence_events != u64::MAX,
        first: pick(false),
        last: pick(true),
    }
}

/// The loop's variants of the confidence comparison beside `main` (the demo's loop):
/// no threshold, and thresholds 0.3 and 0.5 with confidence per type or per (type,
/// feature), under the response and the single-feature outcome models.
fn confidence_variants(main: &LoopConfig) -> Vec<LoopConfig> {
    let mut out = Vec::new();
    for outcome in [Outcome::Response, Outcome::FeatureOnly] {
        for (min_confidence, per_feature) in [
            (0.0, true),
            (0.3, false),
            (0.3, true),
            (0.5, false),
            (0.5, true),
        ] {
            let mut c = LoopConfig { outcome, ..*main };
            c.policy.min_confidence = min_confidence;
            if !per_feature {
                c.refine.min_confidence_events = u64::MAX;
            }
            out.push(c);
        }
    }
    out
}

/// The confidence comparison as text: one row per variant, first → last round.
pub fn confidence_table(rows: &[ConfidenceRow]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<13} {:>9} {:>11} | {:>11} {:>15} {:>11} {:>15}",
        "outcome", "threshold", "confidence", "fixes", "accept", "refused", "gap after"
    );
    for r in rows {
        let outcome = match r.outcome {
            Outcome::Response => "response",
            Outcome::FeatureOnly => "feature only",
        };
        let (threshold, kind) = if r.min_confidence == 0.0 {
            ("off".to_owned(), "-")
        } else {
            (
                format!("{:.1}", r.min_confidence),
                if r.per_feature {
                    "per feature"
                } else {
                    "per type"
                },
            )
        };
        let _ = writeln!(
            t,
            "{outcome:<13} {threshold:>9} {kind:>11} | {:>4.0} → {:>4.0} {:>5.1}% → {:>5.1}% {:>4.0} → {:>4.0} {:>6.3} → {:>6.3}",
            r.first.proposed,
            r.last.proposed,
            100.0 * r.first.accept_rate,
            100.0 * r.last.accept_rate,
            r.first.rejected,
            r.last.rejected,
            r.first.gap_after,
            r.last.gap_after
        );
    }
    t
}

/// The learning curves of the joint plan and of independent fixes, per round: means over
/// seeds of fixes proposed, accept and undo rates, and the gap to taste after the session.
pub fn plan_table(joint: &[LoopRun], independent: &[LoopRun]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:>5} | {:>7} {:>7} {:>6} {:>9} | {:>7} {:>7} {:>6} {:>9}",
        "", "joint", "", "", "", "indep.", "", "", ""
    );
    let _ = writeln!(
        t,
        "{:>5} | {:>7} {:>7} {:>6} {:>9} | {:>7} {:>7} {:>6} {:>9}",
        "round", "fixes", "accept", "undo", "gap after", "fixes", "accept", "undo", "gap after"
    );
    let rounds = joint
        .iter()
        .chain(independent)
        .map(|r| r.rounds.len())
        .min()
        .unwrap_or(0);
    let mean =
        |runs: &[LoopRun], i: usize, f: &dyn Fn(&crate::sim::closed_loop::RoundStats) -> f64| {
            runs.iter().map(|r| f(&r.rounds[i])).sum::<f64>() / runs.len().max(1) as f64
        };
    for i in 0..rounds {
        let cells = |runs: &[LoopRun]| {
            format!(
                "{:>7.0} {:>6.1}% {:>5.1}% {:>9.3}",
                mean(runs, i, &|s| s.proposed as f64),
                100.0 * mean(runs, i, &|s| s.accept_rate),
                100.0 * mean(runs, i, &|s| s.undo_rate),
                mean(runs, i, &|s| s.gap_after)
            )
        };
        let _ = writeln!(t, "{i:>5} | {} | {}", cells(joint), cells(independent));
    }
    t
}

/// The learning-curve table: one row per seed and round, then the mean per round.
pub fn curve_table(runs: &[LoopRun]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:>5} {:>5} {:>8} {:>8} {:>8} {:>8} {:>11} {:>10}",
        "seed", "round", "fixes", "accept", "modify", "undo", "gap before", "gap after"
    );
    let row = |t: &mut String, seed: &str, s: &crate::sim::closed_loop::RoundStats| {
        let p = s.proposed.max(1) as f64;
        let _ = writeln!(
            t,
            "{:>5} {:>5} {:>8} {:>7.1}% {:>7.1}% {:>7.1}% {:>11.3} {:>10.3}",
            seed,
            s.round,
            s.proposed,
            100.0 * s.accept_rate,
            100.0 * s.modified as f64 / p,
            100.0 * s.undo_rate,
            s.gap_before,
            s.gap_after
        );
    };
    for r in runs {
        for s in &r.rounds {
            row(&mut t, &r.seed.to_string(), s);
        }
    }
    let rounds = runs.iter().map(|r| r.rounds.len()).min().unwrap_or(0);
    let n = runs.len().max(1) as f64;
    for i in 0..rounds {
        let mean = |f: &dyn Fn(&crate::sim::closed_loop::RoundStats) -> f64| {
            runs.iter().map(|r| f(&r.rounds[i])).sum::<f64>() / n
        };
        let _ = writeln!(
            t,
            "{:>5} {:>5} {:>8.0} {:>7.1}% {:>7.1}% {:>7.1}% {:>11.3} {:>10.3}",
            "mean",
            i,
            mean(&|s| s.proposed as f64),
            100.0 * mean(&|s| s.accept_rate),
            100.0 * mean(&|s| s.modified as f64 / s.proposed.max(1) as f64),
            100.0 * mean(&|s| s.undo_rate),
            mean(&|s| s.gap_before),
            mean(&|s| s.gap_after)
        );
    }
    t
}

/// The learning curve against its floor: the gap to taste the oracle (a profile that
/// already knows the producer's taste, [`World::oracle`]) reaches in round 0, and the share
/// of the distance from round 0 to it that learning closed by the last round (means over
/// seeds; `floors` per seed, in the order of `runs`).
pub fn floor_line(runs: &[LoopRun], floors: &[f64]) -> String {
    let n = runs.len().max(1) as f64;
    let rounds = runs.iter().map(|r| r.rounds.len()).min().unwrap_or(0);
    if rounds == 0 || floors.is_empty() {
        return String::new();
    }
    let first = runs.iter().map(|r| r.rounds[0].gap_after).sum::<f64>() / n;
    let last = runs
        .iter()
        .map(|r| r.rounds[rounds - 1].gap_after)
        .sum::<f64>()
        / n;
    let floor = floors.iter().sum::<f64>() / floors.len() as f64;
    let closed = if first > floor {
        format!(
            "; learning closed {:.0} % of the distance from round 0 to it by round {}",
            100.0 * (first - last) / (first - floor),
            rounds - 1
        )
    } else {
        String::new()
    };
    format!(
        "floor (a profile that already knows the taste), round 0: gap after {floor:.3}{closed}\n"
    )
}

/// Notes shown at the top of the report: the model and the definitions.
pub fn notes(config: &DemoConfig) -> Vec<String> {
    vec![
        format!(
            "Reference loops are rendered by the built-in trance synthesiser and analysed by the real analyser into the starting profile. \
             The simulated producer likes more bass (+2 std), a wider image (+2 std) and less top (high_level −2 std) than the references, and the profile's means elsewhere; \
             tolerances are the references' standard deviations. Their work-in-progress loops are rendered with an unfinished mix's spread, analysed, and sit around that taste. \
             {} seeds × {} rounds × {} sessions; round 0 uses the profile built from the references, each later round the version the profile's lineage refined from the previous round's feedback (what the plugin does after a session ends).",
            config.seeds, config.rounds, config.sessions_per_round
        ),
        "Fixes are proposed with conservative targets (nearest edge of the acceptable range), amount 1 and a confidence threshold of 0.3, \
         with confidence learned per fix type and feature (per type only, the threshold let rejections on one band silence useful fixes on the others; the confidence table compares them). \
         Applying a fix moves every feature by the fix stage's response model (the track's own band energies, mid/side energies and loudness weighting; \
         checked against re-analysed renders through the plugin's fix stage in the tests), so a fix's side effects count. \
         The producer hears the whole change: they reject a fix that moves the mix away from their taste overall (judged with noise), modify it to their own target when it overshoots, \
         and undo a kept fix when the result sounds worse on a second listen. After a rejection or an undo the fixes are proposed again from the track as it now is."
            .to_string(),
        "accept = accepted / proposed fixes; undo = undone / proposed; gap = per session, the mean over features of min(|value − taste target| / tolerance, 5), after the session's kept fixes (gap before: the untouched track).".to_string(),
    ]
}

fn shifted_world(seed: u64) -> Result<World> {
    World::build(&WorldConfig::default(), seed)
}

/// Runs the demo, writing logs and `report.html` under `out`.
pub fn run_demo(config: &DemoConfig, out: &Path) -> Result<DemoResult> {
    std::fs::create_dir_all(out).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot create {}: {e}", out.display()),
        )
    })?;
    let loop_config = LoopConfig {
        rounds: config.rounds.max(1),
        sessions_per_round: config.sessions_per_round,
        ..LoopConfig::default()
    };
    // The joint plan on the same worlds, compared with independent fixes without a
    // confidence threshold (the variant of the confidence table that has none).
    let joint_config = LoopConfig {
        policy: Policy {
            plan: PlanMode::Joint,
            min_confidence: 0.0,
            ..loop_config.policy
        },
        ..loop_config
    };
    let mut runs = Vec::new();
    let mut joint = Vec::new();
    let mut worlds = Vec::new();
    // The joint plan's sessions solve a plan after every decision: each seed's two runs
    // go on threads of their own (each run is the one-thread computation, so results do
    // not depend on the threads).
    for seed in 1..=config.seeds.max(1) {
        let world = shifted_world(seed)?;
        let (main, j) = std::thread::scope(|scope| {
            let world = &world;
            let jc = &joint_config;
            let jd = out.join(format!("feedback/joint/seed{seed}"));
            let j = scope.spawn(move || run_loop(world, jc, &jd));
            let main = run_loop(
                world,
                &loop_config,
                &out.join(format!("feedback/seed{seed}")),
            );
            let lost = || Error::new(ErrorKind::Io, "a simulation thread panicked");
            (main, j.join().unwrap_or_else(|_| Err(lost())))
        });
        runs.push(main?);
        joint.push(j?);
        worlds.push(world);
    }
    // The floor learning should approach: each world's oracle (a profile that already
    // knows the producer's taste), one round.
    let oracle_config = LoopConfig {
        rounds: 1,
        ..loop_config
    };
    let floors: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = worlds
            .iter()
            .map(|w| {
                let dir = out.join(format!("feedback/oracle/seed{}", w.seed));
                let c = &oracle_config;
                scope.spawn(move || run_loop(&w.oracle(), c, &dir))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| {
                        Err(Error::new(ErrorKind::Io, "a simulation thread panicked"))
                    })
                    .map(|r| r.rounds[0].gap_after)
            })
            .collect::<Result<Vec<_>>>()
    })?;
    // Each variant's seeds on a thread of its own (each run is the one-thread computation).
    let variants = confidence_variants(&loop_config);
    let variant_runs: Vec<Result<Vec<LoopRun>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = variants
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != loop_config)
            .map(|(i, v)| {
                let worlds = &worlds;
                let dir = out.join(format!("feedback/confidence/variant{i}"));
                scope.spawn(move || {
                    worlds
                        .iter()
                        .map(|w| run_loop(w, v, &dir.join(format!("seed{}", w.seed))))
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::new(ErrorKind::Io, "a simulation thread panicked"))
                })
            })
            .collect()
    });
    let mut variant_runs = variant_runs.into_iter();
    let mut confidence = Vec::new();
    let mut unthresholded = None;
    for variant in &variants {
        if *variant == loop_config {
            confidence.push(confidence_row(variant, &runs));
            continue;
        }
        let row_runs = variant_runs.next().unwrap_or_else(|| Ok(Vec::new()))?;
        confidence.push(confidence_row(variant, &row_runs));
        if variant.outcome == loop_config.outcome && variant.policy.min_confidence == 0.0 {
            unthresholded = Some(row_runs);
        }
    }
    let confidence_table = confidence_table(&confidence);
    let matching = World::build(
        &WorldConfig {
            taste: TasteKind::MatchesProfile,
            ..WorldConfig::default()
        },
        1,
    )?;
    let control = run_loop(&matching, &loop_config, &out.join("feedback/matching"))?;
    let conservative = Policy {
        target_strategy: TargetStrategy::Conservative,
        amount: 1.0,
        min_confidence: 0.3,
        plan: PlanMode::Independent,
        ..Policy::default()
    };
    let mean = Policy {
        target_strategy: TargetStrategy::Mean,
        ..conservative
    };
    let aa = simulate_ab(&matching, conservative, conservative, &config.ab, 101)?;
    let ab = simulate_ab(&matching, conservative, mean, &config.ab, 202)?;
    let power_base = crate::sim::ab_power::PowerConfig {
        runs: config.ab.runs,
        ..Default::default()
    };
    let power =
        crate::sim::ab_power::power_table(&[0.3, 0.5, 1.0], &[60, 120, 240], &power_base, 7)?;
    let power_aa = [5, 20]
        .iter()
        .map(|&looks| {
            crate::sim::ab_power::simulate_power(
                &crate::sim::ab_power::PowerConfig {
                    runs: 1000,
                    looks,
                    d: 0.0,
                    ..power_base
                },
                10 + looks as u64,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let mut curve_table = curve_table(&runs);
    curve_table.push_str(&floor_line(&runs, &floors));
    let summary_text = runs[0]
        .summaries
        .first()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let refine_text = runs[0]
        .refinements
        .first()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "no refinement (one round only)".into());
    let ab_text = ab
        .example
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let report_path = out.join("report.html");
    let doc = html(&ReportInput {
        runs: &runs,
        curve_table: &curve_table,
        summary_text: &summary_text,
        refine_text: &refine_text,
        ab_text: &ab_text,
        aa: &aa,
        ab: &ab,
        notes: &notes(config),
    });
    std::fs::write(&report_path, doc).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot write {}: {e}", report_path.display()),
        )
    })?;
    let plan_table = plan_table(&joint, unthresholded.as_deref().unwrap_or(&runs));
    Ok(DemoResult {
        runs,
        control,
        joint,
        plan_table,
        aa,
        ab,
        power,
        power_aa,
        curve_table,
        confidence,
        confidence_table,
        report_path,
    })
}
