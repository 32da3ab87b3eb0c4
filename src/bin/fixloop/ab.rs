//! `fixloop ab create FILE.json | list | status [--test ID] [--feedback P]…
//! [--sessions FILE.parquet]… [--effect D] [--json]`.

use fixloop::feedback::Timestamp;
use fixloop::home::Home;
use fixloop::learn::ab::{adjust_across_tests, AnalysisOptions};
use fixloop::learn::{AbStatus, AbStore, AbTest, SessionTable};
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
    /// Results of a test, read from the feedback log (every test of the home without
    /// `--test`). Running tests on the same primary metric get Holm-adjusted p-values.
    Status {
        /// A test id in `abtests/`, or a path to a test file.
        #[arg(long, value_name = "ID")]
        test: Option<String>,
        /// An effect (session-level Cohen's d) whose required sessions to report.
        #[arg(long, value_name = "D", allow_hyphen_values = true)]
        effect: Option<f64>,
        /// A log directory, a `.jsonl` file or a `.parquet` export (default: the home's
        /// log). Give it several times to pool several producers' feedback.
        #[arg(long, value_name = "PATH")]
        feedback: Vec<PathBuf>,
        /// A per-session table an engine computed with `sql/ab_sessions.sql` (Parquet),
        /// instead of (or besides) `--feedback`; may be given several times.
        #[arg(long, value_name = "FILE.parquet")]
        sessions: Vec<PathBuf>,
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
            sessions,
            effect,
            json,
        } => {
            if let Some(d) = effect.filter(|d| !d.is_finite() || *d == 0.0) {
                return Err(fixloop::Error::new(
                    fixloop::ErrorKind::InvalidInput,
                    format!("--effect {d}: give a finite, non-zero Cohen's d"),
                ));
            }
            let options = AnalysisOptions {
                effect_of_interest: *effect,
                ..AnalysisOptions::default()
            };
            // Every test of the home is analysed, so a test's Holm family is complete.
            let mut tests = match (store.list(), test) {
                (Ok(t), _) => t,
                (Err(e), Some(_)) => {
                    eprintln!("warning: {e:#}; the test is analysed without the home's other tests (no Holm adjustment)");
                    Vec::new()
                }
                (Err(e), None) => return Err(e),
            };
            let wanted = match test {
                Some(t) => {
                    let t = store.resolve(t)?;
                    if !tests.iter().any(|x| x.test_id == t.test_id) {
                        tests.push(t.clone());
                    }
                    Some(t.test_id)
                }
                None => None,
            };
            // One per-session table, merged from every source; each log is dropped once
            // its sessions are taken.
            let mut table = SessionTable::default();
            for path in sessions {
                table.merge(&fixloop::pool::read_sessions(path)?);
            }
            if sessions.is_empty() || !feedback.is_empty() {
                for events in super::feedback::load_each(home, feedback) {
                    table.merge(&SessionTable::of(&events?));
                }
            }
            let now = Timestamp::now();
            let mut statuses = tests
                .iter()
                .map(|t| AbStatus::from_sessions(t, table.test(&t.test_id), now, &options))
                .collect::<Result<Vec<_>>>()?;
            adjust_across_tests(&mut statuses);
            if let Some(id) = wanted {
                statuses.retain(|s| s.test_id == id);
            }
            match (json, test.is_some()) {
                (true, true) => super::print_json(&statuses[0]),
                (true, false) => super::print_json(&statuses),
                (false, _) => {
                    if statuses.is_empty() {
                        println!("No A/B tests in {}", home.abtests_dir().display());
                    }
                    for (i, s) in statuses.iter().enumerate() {
                        if i > 0 {
                            println!();
                        }
                        print!("{s}");
                    }
                }
            }
        }
    }
    Ok(())
}
