//! `fixloop ab create FILE.json | list | status --test ID [--feedback P] [--json]`.

use fixloop::feedback::Timestamp;
use fixloop::home::Home;
use fixloop::learn::{AbStatus, AbStore, AbTest};
use fixloop::Result;
use std::path::PathBuf;

/// A/B test commands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Validate a test file and add it to the home's `abtests/`.
    Create {
        /// The test definition.
        file: PathBuf,
    },
    /// List the tests in the home's `abtests/`.
    List,
    /// Results of a test, read from the feedback log.
    Status {
        /// A test id in `abtests/`, or a path to a test file.
        #[arg(long, value_name = "ID")]
        test: String,
        /// A log directory or a `.jsonl` file (default: the home's log).
        #[arg(long, value_name = "PATH")]
        feedback: Option<PathBuf>,
        /// Print JSON instead of the report.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Home, command: &Command) -> Result<()> {
    let store = AbStore::new(home.abtests_dir());
    match command {
        Command::Create { file } => {
            let test = AbTest::load(file)?;
            let path = store.create(&test)?;
            println!("Created A/B test {} at {}", test.test_id, path.display());
        }
        Command::List => {
            let tests = store.list()?;
            if tests.is_empty() {
                println!("No A/B tests in {}", home.abtests_dir().display());
            }
            for test in tests {
                println!("{test}");
            }
        }
        Command::Status {
            test,
            feedback,
            json,
        } => {
            let test = store.resolve(test)?;
            let events = super::feedback::load(home, feedback.as_deref())?;
            let status = AbStatus::compute(&test, &events, Timestamp::now())?;
            if *json {
                super::print_json(&status);
            } else {
                print!("{status}");
            }
        }
    }
    Ok(())
}
