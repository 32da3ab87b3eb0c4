//! `fixloop summary [--feedback P]… [--since 30d|DATE] [--json]`.

use fixloop::feedback::Timestamp;
use fixloop::home::Home;
use fixloop::learn::effectiveness::RecommendationThresholds;
use fixloop::learn::{Since, Summary};
use fixloop::store;
use fixloop::Result;
use std::path::PathBuf;

/// Arguments of `summary`.
#[derive(clap::Args)]
pub struct Args {
    /// A log directory, a `.jsonl` file or a `.parquet` export (default: the home's
    /// log). Give it several times to pool several producers' feedback: the summary of
    /// their union.
    #[arg(long, value_name = "PATH")]
    feedback: Vec<PathBuf>,
    /// Only events newer than this: `30d`, `12h`, `2w`, a date or an RFC 3339 time.
    #[arg(long, value_name = "30d|DATE")]
    since: Option<String>,
    /// Print JSON instead of the report.
    #[arg(long)]
    json: bool,
}

pub fn run(home: &Home, args: &Args) -> Result<()> {
    let since = args.since.as_deref().map(Since::parse).transpose()?;
    let summary = Summary::compute_pooled::<store::Feedback, _>(
        super::feedback::load_each(home, &args.feedback),
        since,
        Timestamp::now(),
        &RecommendationThresholds::default(),
    )?;
    if args.json {
        super::print_json(&summary);
    } else {
        print!("{summary}");
    }
    Ok(())
}
