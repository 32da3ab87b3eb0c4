//! `fixloop analyze TRACK [--profile P] [--json]`.

use fixloop::analysis::TrackAnalysis;
use fixloop::features::FeatureVector;
use fixloop::fixes::{PlanMode, Policy, TargetStrategy};
use fixloop::profile::Profile;
use fixloop::Result;
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
    /// The largest move one fix makes, ± dB (gain, dynamics, pumping; bands of
    /// independent fixes).
    #[arg(long, value_name = "DB", default_value_t = fixloop::fixes::DEFAULT_MAX_MOVE_DB)]
    max_move_db: f64,
    /// The largest band move of one joint-plan fix, ± dB: larger gaps are named as mix
    /// decisions.
    #[arg(long, value_name = "DB", default_value_t = fixloop::fixes::DEFAULT_MAX_EQ_DB)]
    max_eq_db: f64,
    /// Fixes as one joint plan (each control moved once, side effects predicted) or one
    /// per feature.
    #[arg(long, value_enum, default_value = "joint")]
    plan: PlanArg,
    /// The joint plan keeps the true peak at or under this, dBTP.
    #[arg(long, value_name = "DBTP", default_value_t = fixloop::fixes::DEFAULT_TRUE_PEAK_CEILING_DBTP, allow_hyphen_values = true)]
    true_peak_ceiling: f64,
    /// Aim at the targets the profile has learned from your decisions (where it has
    /// them), or at the references' statistics alone.
    #[arg(long, value_enum, default_value = "learned")]
    targets: TargetsArg,
    /// Do not check the joint plan on the audio (by default an audio file is rendered
    /// through the fix stage at the plan's settings and re-analysed, and the true peak
    /// measured there holds the ceiling).
    #[arg(long)]
    no_check: bool,
    /// Print JSON instead of the report.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PlanArg {
    Joint,
    Independent,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TargetsArg {
    Learned,
    References,
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
    let (features, non_finite_samples, spectrum) = if is_json {
        (FeatureVector::load(&args.track)?, None, None)
    } else {
        let a = fixloop::features::analyze_file(&args.track)?;
        if a.info.header_unfinalised {
            super::profile::report_unfinalised(&args.track);
        }
        (a.features, Some(a.info.non_finite_samples), a.spectrum)
    };
    let policy = Policy {
        target_strategy: match args.target_strategy {
            Strategy::Conservative => TargetStrategy::Conservative,
            Strategy::Mean => TargetStrategy::Mean,
            Strategy::Median => TargetStrategy::Median,
        },
        amount: args.amount,
        min_confidence: args.min_confidence,
        max_move_db: args.max_move_db,
        max_eq_db: args.max_eq_db,
        plan: match args.plan {
            PlanArg::Joint => PlanMode::Joint,
            PlanArg::Independent => PlanMode::Independent,
        },
        true_peak_ceiling_dbtp: args.true_peak_ceiling,
        targets: match args.targets {
            TargetsArg::Learned => fixloop::learn::Targets::Learned,
            TargetsArg::References => fixloop::learn::Targets::References,
        },
    };
    let profile = args.profile.as_deref().map(Profile::load).transpose()?;
    let track = args.track.display().to_string();
    // An audio file's plan is checked on the file rendered through the fix stage.
    let path = args.track.clone();
    let mut render = |moves: &fixloop::fixes::response::Moves| {
        fixloop::features::analyze_file_through(&path, &moves.fix_settings()).map(|a| a.features)
    };
    let render: Option<fixloop::fixes::Render<'_>> =
        (!is_json && !args.no_check).then_some(&mut render);
    let mut analysis = TrackAnalysis::checked(
        &track,
        features,
        spectrum,
        profile.as_ref(),
        &policy,
        render,
    )?;
    analysis.non_finite_samples = non_finite_samples;
    if args.json {
        super::print_json(&analysis.to_json());
    } else {
        print!("{analysis}");
    }
    Ok(())
}
