//! The `fixloop` command-line tool: parses flags, calls the library, prints. One file per
//! subcommand; no logic of its own. Errors print as one line naming what and where, and
//! exit with status 1.

mod ab;
mod analyze;
mod demo;
mod feedback;
mod profile;
mod refine;
mod summary;

use clap::{Parser, Subcommand};
use fixloop::home::Home;
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
    /// The feedback summary: accept, undo and improvement rates by fix type and feature.
    Summary(summary::Args),
    /// Refine a profile from feedback; writes a new profile, never the input.
    Refine(refine::Args),
    /// Profiles from folders of reference tracks.
    #[command(subcommand)]
    Profile(profile::Command),
    /// A/B tests of fix-generation strategies.
    #[command(subcommand)]
    Ab(ab::Command),
    /// Import a JSON-lines feedback file into the log.
    Import(feedback::ImportArgs),
    /// Export the log: JSON lines (interchange) or Parquet (pooled analysis).
    Export(feedback::ExportArgs),
    /// Check a log: damaged or torn frames, dropped-record counts.
    Verify(feedback::VerifyArgs),
    /// Merge the log's small sealed segments into one (also done when a writer starts).
    Compact(feedback::CompactArgs),
    /// The whole loop on built-in data: simulated producers, refinement, A/B tests, an HTML report.
    Demo(demo::Args),
}

/// Whether `e` (or an error behind it) is a write to a pipe whose reader has gone.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        cause = c.source();
    }
    false
}

fn main() -> ExitCode {
    // A closed pipe (`fixloop export | head -1`) ends the output quietly, as command-line
    // tools do: `println!` panics on it ("failed printing to stdout"), so the panic hook
    // exits with success for that one panic and reports every other.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info);
    }));
    let cli = Cli::parse();
    let result = Home::resolve(cli.home.as_deref()).and_then(|home| match &cli.command {
        Command::Analyze(args) => analyze::run(args).map(|()| true),
        Command::Summary(args) => summary::run(&home, args).map(|()| true),
        Command::Refine(args) => refine::run(&home, args).map(|()| true),
        Command::Ab(command) => ab::run(&home, command).map(|()| true),
        Command::Profile(command) => profile::run(&home, command).map(|()| true),
        Command::Import(args) => feedback::import(&home, args).map(|()| true),
        Command::Export(args) => feedback::export(&home, args).map(|()| true),
        Command::Verify(args) => feedback::verify(&home, args),
        Command::Compact(args) => feedback::compact(&home, args).map(|()| true),
        Command::Demo(args) => demo::run(args).map(|()| true),
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fixloop: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `value` as pretty JSON on standard output.
fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("fixloop: cannot encode JSON: {e}"),
    }
}
