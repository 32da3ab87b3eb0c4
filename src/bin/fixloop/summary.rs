//! `fixloop summary [--feedback P] [--since 30d|DATE] [--json]`.

use fixloop::feedback::Timestamp;
use fixloop::home::Home;
use fixloop::learn::{Since, Summary};
use fixloop::Result;
use std::path::PathBuf;

/// Arguments of `summary`.
#[derive(clap::Args)]
pub struct Args {
    /// A log directory or a `.jsonl` file (default: the home's log).
    #[arg(long, value_name = "PATH")]
    feedback: Option<PathBuf>,
    /// Only events newer than this: `30d`, `12h`, `2w`, a date or an RFC 3339 time.
    #[arg(long, value_name = "30d|DATE")]
    since: Option<String>,
    /// Print JSON instead of the report.
    #[arg(long)]
    json: bool,
}

pub fn run(home: &Home, args: &Args) -> Result<()> {
    let since = args.since.as_deref().map(Since::parse).transpose()?;
    let events = super::feedback::load(home, args.feedback.as_deref())?;
    let summary = Summary::compute(&events, since, Timestamp::now())?;
    if args.json {
        super::print_json(&summary);
    } else {
        print!("{summary}");
    }
    Ok(())
}
