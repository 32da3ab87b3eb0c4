//! `fixloop demo [--out DIR] [--seeds N] [--rounds N]`.

use fixloop::sim::demo::{run_demo, DemoConfig};
use fixloop::Result;
use std::path::PathBuf;

/// Arguments of `demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Where logs and report.html go (default: `fixloop-demo` in the temporary directory).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Seeds of the closed loop.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Rounds per seed (round 0 uses the original profile).
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// Simulated tests per A/B scenario.
    #[arg(long, default_value_t = 200)]
    ab_runs: usize,
}

pub fn run(args: &Args) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("fixloop-demo"));
    let mut config = DemoConfig {
        seeds: args.seeds,
        rounds: args.rounds,
        ..DemoConfig::default()
    };
    config.ab.runs = args.ab_runs;
    let r = run_demo(&config, &out)?;
    let first = &r.runs[0];
    if let Some(s) = first.summaries.first() {
        println!(
            "=== Round 0 feedback (seed {}, original profile) ===",
            first.seed
        );
        print!("{s}");
    }
    if let Some(rep) = first.refinements.first() {
        println!("\n=== Refinement after round 0 (seed {}) ===", first.seed);
        print!("{rep}");
    }
    if let Some(st) = &r.ab.example {
        println!("\n=== A/B status: conservative vs mean targeting (first simulated test) ===");
        print!("{st}");
    }
    println!("\n=== Learning curve (producer with a shifted taste) ===");
    print!("{}", r.curve_table);
    println!("\n=== Confidence threshold: off, per fix type, per fix type and feature (round 0 → last, means over seeds) ===");
    print!("{}", r.confidence_table);
    println!(
        "\n=== Joint plan beside independent fixes (means over seeds, no confidence threshold) ==="
    );
    print!("{}", r.plan_table);
    println!("\n=== Control: producer whose taste equals the profile (seed 1) ===");
    print!(
        "{}",
        fixloop::sim::demo::curve_table(std::slice::from_ref(&r.control))
    );
    let looks = r.aa.looks.len();
    println!(
        "\n=== A/B simulation ({} tests each, {} sessions, {looks} looks, min_samples {}) ===",
        r.aa.runs,
        r.aa.looks.last().unwrap_or(&0),
        config.ab.min_samples
    );
    for (name, s) in [
        ("A/A (no difference)", &r.aa),
        ("conservative vs mean", &r.ab),
    ] {
        let p = s.rate(s.adopt);
        println!(
            "{name:<22} adopt_treatment at any look {:>5.1}% ± {:.1}  anytime p<0.05 {:>5.1}%  naive p<0.05 any look {:>5.1}% / last look {:>5.1}%  ({:.0} events per arm)",
            100.0 * p,
            100.0 * s.standard_error(p),
            100.0 * s.rate(s.anytime),
            100.0 * s.rate(s.naive_any_look),
            100.0 * s.rate(s.naive_final),
            s.mean_events_per_arm
        );
    }
    if let Some(a) = r.ab.example.as_ref().map(|s| &s.adjusted) {
        println!(
            "  the session-start mean |z| in this world: variance reduction {} ({} of {} sessions carried it)",
            a.variance_reduction
                .map_or_else(|| "n/a".to_string(), |v| format!("{:.1}%", 100.0 * v)),
            a.sessions_with_covariate,
            a.sessions
        );
    }
    println!(
        "\n=== A/B power: adopt_treatment at any look, {} tests per cell, 5 looks, covariate ρ 0.8 (fixloop::sim::ab_power) ===",
        config.ab.runs
    );
    print!("{}", fixloop::sim::ab_power::format_power_table(&r.power));
    for aa in &r.power_aa {
        let rates: Vec<String> = (0..4)
            .map(|i| {
                format!(
                    "({}) {:.1}%",
                    fixloop::sim::ab_power::VARIANTS[i].label,
                    100.0 * aa.rate(i)
                )
            })
            .collect();
        println!(
            "A/A, {} tests, {} looks: {} (bound 5% + 2 SE = {:.1}%)",
            aa.config.runs,
            aa.config.looks,
            rates.join(", "),
            100.0 * (0.05 + 2.0 * aa.standard_error(0.05))
        );
    }
    println!("\nReport: {}", r.report_path.display());
    Ok(())
}
