//! `fixloop refine --profile IN --feedback P --output OUT [--dry-run] [--json]`.

use fixloop::error::{Error, ErrorKind};
use fixloop::home::Home;
use fixloop::learn::{refine, RefineOptions};
use fixloop::profile::Profile;
use fixloop::Result;
use std::path::PathBuf;

/// Arguments of `refine`.
#[derive(clap::Args)]
pub struct Args {
    /// The profile to refine (never modified).
    #[arg(long, value_name = "IN.json")]
    profile: PathBuf,
    /// A log directory, a `.jsonl` file or a `.parquet` export (default: the home's log).
    #[arg(long, value_name = "PATH")]
    feedback: Option<PathBuf>,
    /// Where to write the refined profile (required unless --dry-run).
    #[arg(long, value_name = "OUT.json", required_unless_present = "dry_run")]
    output: Option<PathBuf>,
    /// Show what would change; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Events a feature needs before its range is touched.
    #[arg(long, default_value_t = 20)]
    min_events: u64,
    /// Print JSON instead of the report.
    #[arg(long)]
    json: bool,
}

pub fn run(home: &Home, args: &Args) -> Result<()> {
    let profile = Profile::load(&args.profile)?;
    if let Some(out) = &args.output {
        let same = match (args.profile.canonicalize(), out.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "--output is the input profile; refine never overwrites its input, choose another file",
            )
            .with_origin(out.display().to_string()));
        }
    }
    let events = super::feedback::load(home, args.feedback.as_deref())?;
    let mut options = RefineOptions::new(chrono::Utc::now().date_naive());
    options.min_events = args.min_events;
    let refined = refine(&profile, &events, &options)?;
    if !args.dry_run {
        let out = args
            .output
            .as_ref()
            .expect("clap requires --output without --dry-run");
        refined.profile.save(out)?;
    }
    if args.json {
        super::print_json(&refined.report);
        return Ok(());
    }
    print!("{}", refined.report);
    println!();
    match (&args.output, args.dry_run) {
        (_, true) => println!("Dry run: nothing written."),
        (Some(out), false) => println!("Refined profile saved to: {}", out.display()),
        (None, false) => {}
    }
    Ok(())
}
