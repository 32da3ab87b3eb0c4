//! Reads the fixes aloud: for the first tracks of a simulated producer's world, the joint
//! plan's and the independent fixes, with their predicted effects.
//!
//! `cargo run --release --example plan_read [TRACKS]`.

use fixloop::fixes::{propose_plan, PlanMode, Policy};
use fixloop::gaps::compare;
use fixloop::sim::closed_loop::{TasteKind, World, WorldConfig};

fn main() -> fixloop::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let world = World::build(
        &WorldConfig {
            taste: TasteKind::MatchesProfile,
            ..WorldConfig::default()
        },
        1,
    )?;
    let profile = &world.profile;
    for (i, track) in world.wip.iter().take(n).enumerate() {
        let report = compare(profile, track);
        println!("track {i}: score {:.1}", report.score.unwrap_or(0.0));
        for g in report.gaps.iter().filter(|g| !g.in_range) {
            println!(
                "   {:<20} {:>9.2}  z {:+.2}",
                g.feature.name(),
                g.value,
                g.z
            );
        }
        for plan in [PlanMode::Joint, PlanMode::Independent] {
            let policy = Policy {
                plan,
                ..Policy::default()
            };
            let (p, fixes) = propose_plan(profile, &report, Some(track), None, &policy, None)?;
            println!("  {plan:?}:");
            if let Some(p) = p {
                println!(
                    "    objective {:.2} -> {:.2}",
                    p.excess_before, p.excess_after
                );
            }
            for f in &fixes {
                println!(
                    "    {}  [{}]",
                    f.describe(),
                    f.why(profile, policy.target_strategy)
                );
                for e in &f.effects {
                    println!(
                        "        {:<20} {:>8.2} -> {:>8.2}",
                        e.feature.name(),
                        e.before,
                        e.after
                    );
                }
            }
        }
    }
    Ok(())
}
