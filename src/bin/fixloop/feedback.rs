//! Feedback commands: `verify`, `import`, `export`, and the `--feedback PATH` loader every
//! reading command shares.

use fixloop::home::Home;
use fixloop::pool;
use fixloop::store;
use fixloop::Result;
use std::path::{Path, PathBuf};

/// Reads the feedback at `--feedback PATH` (a log directory, a `.jsonl` file or a
/// `.parquet` export, `fixloop.events/1`), else the home's log, for any learner (a log stays
/// a compact fold: learning reads it without building every event). Damaged frames are
/// reported on stderr; they never stop the analysis.
pub fn load(home: &Home, feedback: Option<&Path>) -> Result<store::Feedback> {
    let Some(path) = source(home, feedback) else {
        return Ok(store::Feedback::Lines(Vec::new()));
    };
    let parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    let loaded = if parquet {
        store::Feedback::Lines(pool::read_events(&path)?.events)
    } else {
        store::load_feedback(&path)?
    };
    if let Some(report) = loaded.report().filter(|r| !r.is_clean()) {
        eprintln!(
            "fixloop: warning: {}: the log has problems (run `fixloop verify`):",
            path.display()
        );
        for line in report.to_string().lines().filter(|l| !l.trim().is_empty()) {
            eprintln!("  {line}");
        }
    }
    Ok(loaded)
}

/// Reads each of the `--feedback` sources in turn (the home's log when none is given),
/// for pooling: a source is loaded when the iterator reaches it, so the caller can reduce
/// it to mergeable statistics and drop it before the next.
pub fn load_each<'a>(
    home: &'a Home,
    feedback: &'a [PathBuf],
) -> Box<dyn Iterator<Item = Result<store::Feedback>> + 'a> {
    if feedback.is_empty() {
        Box::new(std::iter::once_with(move || load(home, None)))
    } else {
        Box::new(feedback.iter().map(move |p| load(home, Some(p))))
    }
}

/// Where feedback is read from: an explicit `--feedback PATH` (which must exist), else
/// the home's log, or `None` when nothing has been recorded in that home yet (its
/// `feedback/` folder does not exist). A fresh home is not an error (SPEC §5): the
/// commands read an empty log, and this says so on stderr.
fn source(home: &Home, feedback: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = feedback {
        return Some(path.to_path_buf());
    }
    let dir = home.feedback_dir();
    if dir.exists() {
        return Some(dir);
    }
    eprintln!(
        "fixloop: no feedback has been recorded yet in {}",
        home.root().display()
    );
    None
}

/// Arguments of `verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The log directory (default: the home's `feedback/`).
    #[arg(long, value_name = "DIR")]
    feedback: Option<PathBuf>,
}

/// `verify`: exit status 1 when the log has damaged or torn frames.
pub fn verify(home: &Home, args: &VerifyArgs) -> Result<bool> {
    let Some(dir) = source(home, args.feedback.as_deref()) else {
        println!("Feedback log {}", home.feedback_dir().display());
        println!("  empty: no feedback has been recorded yet (0 segments, 0 records)");
        return Ok(true);
    };
    let report = store::verify(&dir)?;
    let clean = report.is_clean();
    let report = report.to_string();
    print!("{report}");
    if !report.ends_with('\n') {
        println!();
    }
    Ok(clean)
}

/// Arguments of `import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// A JSON-lines file in the interchange format.
    file: PathBuf,
}

/// `import FILE.jsonl` into the home's log.
pub fn import(home: &Home, args: &ImportArgs) -> Result<()> {
    let report = store::import_jsonl(&args.file, &home.feedback_dir())?;
    println!(
        "Imported {} events from {} into {}",
        report.events,
        args.file.display(),
        report.segment.display()
    );
    Ok(())
}

/// The formats of `export`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON lines, SPEC §3.1: the interchange format (`import` reads it back).
    Jsonl,
    /// Parquet (`fixloop.events/1`) for pooled analysis on Spark, DuckDB…: a
    /// pseudonymous producer id, track paths replaced by a keyed hash.
    Parquet,
}

/// Arguments of `export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// Write here instead of standard output (required for Parquet).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The log directory or `.jsonl` file (default: the home's `feedback/`).
    #[arg(long, value_name = "PATH")]
    feedback: Option<PathBuf>,
    /// The output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: ExportFormat,
    /// Parquet: keep track paths as recorded instead of their keyed hash.
    #[arg(long)]
    keep_track_paths: bool,
}

/// `export [--format jsonl|parquet] [--output FILE]`.
pub fn export(home: &Home, args: &ExportArgs) -> Result<()> {
    if args.format == ExportFormat::Parquet {
        return export_parquet(home, args);
    }
    if args.keep_track_paths {
        eprintln!("fixloop: --keep-track-paths only applies to --format parquet");
    }
    let Some(dir) = source(home, args.feedback.as_deref()) else {
        if let Some(path) = &args.output {
            std::fs::File::create(path).map_err(|e| fixloop::Error::io(path, "create", e))?;
            eprintln!("Exported 0 events to {}", path.display());
        }
        return Ok(());
    };
    match &args.output {
        Some(path) => {
            let report = store::export_jsonl_file(&dir, path)?;
            eprintln!("Exported {} events to {}", report.events, path.display());
        }
        None => {
            let stdout = std::io::stdout();
            store::export_jsonl(&dir, stdout.lock())?;
        }
    }
    Ok(())
}

/// `export --format parquet --output FILE [--keep-track-paths]`.
fn export_parquet(home: &Home, args: &ExportArgs) -> Result<()> {
    let Some(out) = &args.output else {
        return Err(fixloop::Error::new(
            fixloop::ErrorKind::InvalidInput,
            "--format parquet needs --output FILE.parquet (Parquet is not written to a terminal)",
        ));
    };
    let events = match source(home, args.feedback.as_deref()) {
        Some(path) => load(home, Some(&path))?.into_loaded().events,
        None => Vec::new(),
    };
    let identity = pool::Identity::load_or_create(home)?;
    let options = pool::ExportOptions {
        identity: &identity,
        keep_track_paths: args.keep_track_paths,
    };
    let written = pool::export_events(out, &events, &options)?;
    eprintln!(
        "Exported {} events to {} ({} bytes; producer {}, track paths {})",
        written.events,
        out.display(),
        written.bytes,
        identity.producer_id,
        if args.keep_track_paths {
            "kept"
        } else {
            "hashed"
        }
    );
    Ok(())
}

/// Arguments of `compact`.
#[derive(clap::Args)]
pub struct CompactArgs {
    /// The log directory (default: the home's `feedback/`).
    #[arg(long, value_name = "DIR")]
    feedback: Option<PathBuf>,
    /// Merge only when at least this many small sealed segments exist.
    #[arg(long, default_value_t = 2)]
    min_segments: usize,
}

/// `compact`: merges small sealed segments of writers that are gone.
pub fn compact(home: &Home, args: &CompactArgs) -> Result<()> {
    let Some(dir) = source(home, args.feedback.as_deref()) else {
        return Ok(());
    };
    if !dir.is_dir() {
        return Err(
            fixloop::Error::new(fixloop::ErrorKind::NotFound, "no such log directory")
                .with_origin(dir.display().to_string()),
        );
    }
    let options = store::CompactOptions {
        min_segments: args.min_segments,
        ..store::CompactOptions::default()
    };
    let r = store::compact(&dir, &options)?;
    if r.busy {
        println!("Another compaction of {} is running", dir.display());
    } else if let Some(out) = &r.output {
        println!(
            "Merged {} segments ({} bytes) into {} ({} frames, {} bytes)",
            r.replaced.len(),
            r.bytes_before,
            out.display(),
            r.frames,
            r.bytes_after
        );
    } else {
        println!("Nothing to compact in {}", dir.display());
    }
    Ok(())
}
