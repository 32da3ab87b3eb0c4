//! `fixloop analyze TRACK [--profile P] [--json]`.

use fixloop::features::{Feature, FeatureVector, Measurement};
use fixloop::fixes::{self, Fix, Policy, TargetStrategy};
use fixloop::gaps::{self, GapReport};
use fixloop::profile::Profile;
use fixloop::Result;
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `analyze`.
#[derive(clap::Args)]
pub struct Args {
    /// The track: an audio file (WAV, FLAC, MP3, OGG, AIFF) or a features file (`.json`).
    track: PathBuf,
    /// Compare with this profile: gaps, score and fixes.
    #[arg(long, value_name = "PROFILE.json")]
    profile: Option<PathBuf>,
    /// Where fixes aim.
    #[arg(long, value_enum, default_value = "conservative")]
    target_strategy: Strategy,
    /// How far toward the target a fix goes (0–1).
    #[arg(long, default_value_t = 1.0)]
    amount: f64,
    /// Fixes below this confidence are not proposed (0–1).
    #[arg(long, default_value_t = 0.5)]
    min_confidence: f64,
    /// Print JSON instead of the report.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Strategy {
    Conservative,
    Mean,
    Median,
}

pub fn run(args: &Args) -> Result<()> {
    let is_json = args
        .track
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let features = if is_json {
        FeatureVector::load(&args.track)?
    } else {
        fixloop::features::analyze_file(&args.track)?
    };
    let policy = Policy {
        target_strategy: match args.target_strategy {
            Strategy::Conservative => TargetStrategy::Conservative,
            Strategy::Mean => TargetStrategy::Mean,
            Strategy::Median => TargetStrategy::Median,
        },
        amount: args.amount,
        min_confidence: args.min_confidence,
    };
    policy.validate()?;
    let compared = match &args.profile {
        Some(path) => {
            let profile = Profile::load(path)?;
            let report = gaps::compare(&profile, &features);
            let fixes = fixes::propose(&profile, &report, &policy)?;
            Some((profile, report, fixes))
        }
        None => None,
    };
    if args.json {
        let mut doc = features.to_json_value();
        doc["track"] = json!(args.track.display().to_string());
        if let Some((profile, report, fixes)) = &compared {
            doc["profile"] = json!({"name": profile.name, "version": profile.version});
            doc["score"] = json!(report.score);
            doc["gaps"] = report
                .gaps
                .iter()
                .map(|g| {
                    (
                        g.feature.name().to_string(),
                        json!({"value": g.value, "z": g.z, "in_range": g.in_range}),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
                .into();
            doc["policy"] = json!(policy);
            doc["fixes"] = json!(fixes);
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON values serialise")
        );
        return Ok(());
    }
    println!("Track: {}", args.track.display());
    match &compared {
        None => print!("{features}"),
        Some((profile, report, fixes)) => print_report(profile, &features, report, fixes, &policy),
    }
    Ok(())
}

fn print_report(
    profile: &Profile,
    features: &FeatureVector,
    report: &GapReport,
    fixes: &[Fix],
    policy: &Policy,
) {
    println!("Profile: {profile}");
    println!();
    match report.score {
        Some(score) => println!(
            "Score: {score:.1} / 100  ({} of {} features in range)",
            report.in_range_count(),
            report.gaps.len()
        ),
        None => println!("Score: none (no feature of the track is in the profile)"),
    }
    println!();
    println!(
        "  {:<20} {:>12}  {:<22} {:>7}",
        "Feature", "Value", "Acceptable range", "z"
    );
    for feature in Feature::ALL {
        let unit = feature.unit().symbol();
        let value = match features.get(feature) {
            Measurement::Value(v) => format!("{v:.2} {unit}"),
            Measurement::Absent(reason) => format!("— ({})", reason.describe()),
        };
        let Some(stats) = profile.stats(feature) else {
            println!("  {:<20} {:>12}  (not in profile)", feature.name(), value);
            continue;
        };
        let [lo, hi] = stats.acceptable_range;
        let range = format!("[{lo:.2}, {hi:.2}]");
        match report.gap(feature) {
            Some(g) => {
                let mark = match g.direction {
                    None => "✓",
                    Some(fixloop::features::Direction::Below) => "▼ below",
                    Some(fixloop::features::Direction::Above) => "▲ above",
                };
                println!(
                    "  {:<20} {:>12}  {:<22} {:>+7.2}  {mark}",
                    feature.name(),
                    value,
                    range,
                    g.z
                );
            }
            None => println!("  {:<20} {:>12}  {:<22}", feature.name(), value, range),
        }
    }
    println!();
    if fixes.is_empty() {
        println!("No fixes proposed ({policy}).");
        return;
    }
    println!("Fixes ({policy}):");
    for (i, fix) in fixes.iter().enumerate() {
        let unit = fix.gap_feature.unit().symbol();
        println!("  {:>2}. {}", i + 1, fix.describe());
        println!(
            "      {} {:.2} → {:.2} {unit} · {} · confidence {:.2}",
            fix.gap_feature, fix.current_value, fix.new_value, fix.action_type, fix.confidence
        );
    }
}
