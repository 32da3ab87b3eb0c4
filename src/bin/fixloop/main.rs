//! The `fixloop` command-line tool: parses flags, calls the library, prints.
//! Errors print as one line naming what and where, and exit with status 1.

mod analyze;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Reference-track profiles, mix gaps, fixes, and a feedback loop that learns.
#[derive(Parser)]
#[command(name = "fixloop", version, about)]
struct Cli {
    /// Home directory (else FIXLOOP_HOME, else the platform data directory).
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Features of a track; with a profile also gaps, score and fixes.
    Analyze(analyze::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fixloop: {e:#}");
            ExitCode::FAILURE
        }
    }
}
