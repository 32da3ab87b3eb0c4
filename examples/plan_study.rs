//! Plays the producer against the fix plans: for each producer (a taste equal to the
//! references, one inside their ranges but off-centre, one shifted from them, and that one
//! with twice the decision noise) and each plan (joint, independent, and the joint plan
//! against a profile that already knows the taste: the floor; for the picky producer, who
//! cares more about some features than others, also that profile without the weights it
//! knows), the simulated producer's
//! sessions over four learning rounds, under the default policy. Prints, per round, the
//! share of fixes kept (accepted or modified and not undone), the accept rate and the mean
//! capped distance to the producer's taste after the session.
//!
//! `cargo run --release --example plan_study [SEEDS]` (default 3 seeds). With
//! `PLAN_STUDY_FEATURES=1` it also prints, per round, each feature's mean distance to the
//! taste after the session and the fixes kept per feature; with `PLAN_STUDY_MEAN=1` both
//! plans aim at the references' mean instead of the nearest edge; `PLAN_STUDY_ONLY=shifted`
//! plays one producer.

use fixloop::fixes::{PlanMode, Policy};
use fixloop::sim::closed_loop::{run_loop, LoopConfig, TasteKind, World, WorldConfig};
use fixloop::sim::producer::Noise;

fn main() -> fixloop::Result<()> {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let dir = std::env::temp_dir().join(format!("fixloop-plan-study-{}", std::process::id()));
    println!("taste            plan          round  kept    accept  gap before  gap after");
    let noisy = Noise {
        judge: 2.0 * Noise::default().judge,
        listen: 2.0 * Noise::default().listen,
        ..Noise::default()
    };
    let producers = [
        (
            "matches_profile",
            TasteKind::MatchesProfile,
            Noise::default(),
        ),
        ("off_centre", TasteKind::OffCentre, Noise::default()),
        ("shifted", TasteKind::Shifted, Noise::default()),
        ("shifted_noisy", TasteKind::Shifted, noisy),
        ("picky", TasteKind::Picky, Noise::default()),
    ];
    let only = std::env::var("PLAN_STUDY_ONLY").ok();
    for (label, taste, noise) in producers {
        if only.as_deref().is_some_and(|o| o != label) {
            continue;
        }
        let worlds: Vec<World> = (1..=seeds)
            .map(|seed| {
                World::build(
                    &WorldConfig {
                        taste,
                        noise,
                        ..WorldConfig::default()
                    },
                    seed,
                )
            })
            .collect::<fixloop::Result<_>>()?;
        // The floor: the joint plan against a profile that already knows the taste.
        let oracles: Vec<World> = worlds.iter().map(World::oracle).collect();
        // For the picky producer, also the oracle's targets without its weights: what
        // knowing how much the producer cares adds.
        let unweighted: Vec<World> = oracles
            .iter()
            .map(|w| {
                let mut w = w.clone();
                if let Some(t) = w.profile.taste.as_mut() {
                    t.features.values_mut().for_each(|l| l.weight = 1.0);
                }
                w
            })
            .collect();
        let mut variants = vec![
            (PlanMode::Joint, 0),
            (PlanMode::Independent, 0),
            (PlanMode::Joint, 1),
        ];
        if taste == TasteKind::Picky {
            variants.push((PlanMode::Joint, 2));
        }
        for (plan, oracle) in variants {
            let worlds = match oracle {
                1 => &oracles,
                2 => &unweighted,
                _ => &worlds,
            };
            let name = match (plan, oracle) {
                (_, 1) => "joint_oracle".to_string(),
                (_, 2) => "oracle_unweighted".to_string(),
                (p, _) => format!("{p:?}").to_lowercase(),
            };
            let config = LoopConfig {
                policy: Policy {
                    plan,
                    target_strategy: if std::env::var_os("PLAN_STUDY_MEAN").is_some() {
                        fixloop::fixes::TargetStrategy::Mean
                    } else {
                        LoopConfig::default().policy.target_strategy
                    },
                    ..Policy::default()
                },
                ..LoopConfig::default()
            };
            let runs = std::thread::scope(|s| {
                let handles: Vec<_> = worlds
                    .iter()
                    .map(|w| {
                        let d = dir.join(format!("{label}-{name}-{}", w.seed));
                        let config = &config;
                        s.spawn(move || run_loop(w, config, &d))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a simulation thread panicked"))
                    .collect::<fixloop::Result<Vec<_>>>()
            })?;
            for round in 0..config.rounds {
                let (mut proposed, mut kept, mut accepted, mut before, mut after) =
                    (0u64, 0u64, 0u64, 0.0, 0.0);
                for r in &runs {
                    let s = &r.rounds[round];
                    proposed += s.proposed;
                    kept += s.accepted + s.modified;
                    accepted += s.accepted;
                    before += s.gap_before;
                    after += s.gap_after;
                }
                let n = runs.len() as f64;
                let p = proposed.max(1) as f64;
                if std::env::var_os("PLAN_STUDY_FEATURES").is_some() {
                    let mut per: std::collections::BTreeMap<_, f64> = Default::default();
                    for r in &runs {
                        for (f, d) in &r.rounds[round].feature_gaps {
                            *per.entry(f.name()).or_default() += d / n;
                        }
                    }
                    let line: Vec<String> =
                        per.iter().map(|(f, d)| format!("{f} {d:.2}")).collect();
                    println!("    {}", line.join(", "));
                    let mut by: std::collections::BTreeMap<_, (u64, u64)> = Default::default();
                    for r in &runs {
                        for (f, (p, k)) in &r.rounds[round].fixes_by_feature {
                            let e = by.entry(f.name()).or_default();
                            e.0 += p;
                            e.1 += k;
                        }
                    }
                    let line: Vec<String> = by
                        .iter()
                        .map(|(f, (p, k))| format!("{f} {k}/{p}"))
                        .collect();
                    println!("    fixes kept/proposed: {}", line.join(", "));
                    // Where the first seed's profile aims, against the producer's taste
                    // (standard units of the references).
                    let (w, r) = (&worlds[0], &runs[0]);
                    let p = &r.profiles[round];
                    let line: Vec<String> = w
                        .producer
                        .taste
                        .target
                        .iter()
                        .filter_map(|(f, t)| {
                            let s = w.profile.stats(*f)?;
                            let sc = fixloop::gaps::scale(s);
                            let l = p.learned_target(*f)?;
                            ((t - s.mean).abs() > 0.3 * sc || l.decisions > 0).then(|| {
                                format!(
                                    "{} taste {:+.2} learned {:+.2}±{:.2} w{:.2} n{}{}",
                                    f.name(),
                                    (t - s.mean) / sc,
                                    (l.target - s.mean) / sc,
                                    l.sd / sc,
                                    l.weight,
                                    l.decisions,
                                    if l.known() { " known" } else { "" }
                                )
                            })
                        })
                        .collect();
                    println!("    targets: {}", line.join("; "));
                }
                println!(
                    "{:<16} {:<12} {round:>5}  {:>5.1} %  {:>5.1} %  {:>10.3}  {:>9.3}   ({proposed} fixes)",
                    label,
                    name,
                    100.0 * kept as f64 / p,
                    100.0 * accepted as f64 / p,
                    before / n,
                    after / n,
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
