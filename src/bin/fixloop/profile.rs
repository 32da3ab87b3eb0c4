//! `fixloop profile build --refs DIR --name N --output OUT` and
//! `fixloop profile add --profile IN --refs DIR --output OUT`: profiles from folders of
//! audio, analysed in parallel, with a progress bar. A file that fails is reported and
//! skipped; the rest still count.
//!
//! `fixloop profile history NAME`, `revert NAME VERSION`, `learn NAME [--adopt FILE]`,
//! `pause NAME [--resume]`: a profile's lineage in the home (`fixloop::learn::Lineage`).

use fixloop::error::{Error, ErrorKind};
use fixloop::features::{self, Progress};
use fixloop::home::Home;
use fixloop::learn::{HistoryKind, Learned, Lineage, RefineOptions};
use fixloop::profile::{merge_references, Profile};
use fixloop::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Profile commands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Build a profile from a folder of reference tracks.
    Build {
        /// Folder of reference tracks (WAV, FLAC, MP3, OGG, AIFF; searched recursively).
        #[arg(long, value_name = "DIR")]
        refs: PathBuf,
        /// The profile's name (its version becomes NAME_v1).
        #[arg(long)]
        name: String,
        /// Where to write the profile.
        #[arg(long, value_name = "OUT.json")]
        output: PathBuf,
    },
    /// Merge new reference tracks into a profile (exact mean, variance and percentiles).
    Add {
        /// The profile to extend (never modified).
        #[arg(long, value_name = "IN.json")]
        profile: PathBuf,
        /// Folder of new reference tracks.
        #[arg(long, value_name = "DIR")]
        refs: PathBuf,
        /// Where to write the merged profile.
        #[arg(long, value_name = "OUT.json")]
        output: PathBuf,
    },
    /// What the profile NAME has learned: every version, refinement and revert in the
    /// home, and what changed since its first version.
    History {
        /// The profile's name (its folder under the home's profiles/).
        name: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Put an earlier version of the profile NAME back in force (nothing is deleted).
    Revert {
        /// The profile's name.
        name: String,
        /// The version to go back to (see `history`).
        version: String,
    },
    /// One step of learning: refine the version in force of NAME from the feedback
    /// recorded under it, when enough has arrived (what the plugin does at session start
    /// and end).
    Learn {
        /// The profile's name.
        name: String,
        /// A profile file to adopt into the lineage first (its first version, or a new
        /// one of the same name).
        #[arg(long, value_name = "FILE.json")]
        adopt: Option<PathBuf>,
        /// Events a feature needs before its range is touched.
        #[arg(long, default_value_t = 20)]
        min_events: u64,
        /// JSON instead of text (the step's `result` and its fields).
        #[arg(long)]
        json: bool,
    },
    /// Pause (or with --resume, resume) learning for the profile NAME.
    Pause {
        /// The profile's name.
        name: String,
        /// Resume instead.
        #[arg(long)]
        resume: bool,
    },
}

pub fn run(home: &Home, command: &Command) -> Result<()> {
    match command {
        Command::History { name, json } => history(home, name, *json)?,
        Command::Revert { name, version } => {
            let lineage = Lineage::open(home, name)?;
            let entry = lineage.revert(version, chrono::Utc::now())?;
            println!(
                "Profile {name}: {} in force again (was {})",
                entry.version,
                entry.parent.as_deref().unwrap_or("none")
            );
        }
        Command::Learn {
            name,
            adopt,
            min_events,
            json,
        } => {
            let lineage = Lineage::open(home, name)?;
            let now = chrono::Utc::now();
            if let Some(path) = adopt {
                lineage.adopt(&Profile::load(path)?, now)?;
            }
            let options = RefineOptions {
                min_events: *min_events,
                ..RefineOptions::new(now.date_naive())
            };
            let learned = lineage.learn(&home.feedback_dir(), &options, now)?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&learned).unwrap_or_default()
                );
                return Ok(());
            }
            match learned {
                Learned::Paused => println!("Profile {name}: learning is paused"),
                Learned::NotDue {
                    events,
                    most_per_feature,
                    needed,
                    ..
                } => println!(
                    "Profile {name}: not yet ({events} events for the version in force; the most on one feature {most_per_feature}, {needed} needed)"
                ),
                Learned::Unchanged { events } => println!(
                    "Profile {name}: {events} events changed nothing"
                ),
                Learned::Refined { entry, .. } => println!(
                    "Profile {name}: refined {} → {} from {} events ({} range change(s))",
                    entry.parent.as_deref().unwrap_or("?"),
                    entry.version,
                    entry.events_used,
                    entry.adjustments.len()
                ),
            }
        }
        Command::Pause { name, resume } => {
            Lineage::open(home, name)?.set_paused(!resume)?;
            println!(
                "Profile {name}: learning {}",
                if *resume { "resumed" } else { "paused" }
            );
        }
        Command::Build { refs, name, output } => {
            let paths = audio_files(refs)?;
            let bar = bar(paths.len());
            let built = fixloop::profile::build_profile(name, &paths, &|p| tick(&bar, p));
            bar.finish_and_clear();
            let built = built?;
            report_failures(&built.failed);
            report_repairs(&built.repaired);
            built.unfinalised.iter().for_each(|p| report_unfinalised(p));
            built.profile.save(output)?;
            println!(
                "Profile {} built from {} of {} tracks, saved to {}",
                built.profile,
                built.profile.track_count,
                paths.len(),
                output.display()
            );
        }
        Command::Add {
            profile,
            refs,
            output,
        } => {
            let base = Profile::load(profile)?;
            let paths = audio_files(refs)?;
            let bar = bar(paths.len());
            let results = features::analyze_files(&paths, &|p| tick(&bar, p));
            bar.finish_and_clear();
            let mut failed = Vec::new();
            let mut repaired = Vec::new();
            let mut tracks: Vec<BTreeMap<String, f64>> = Vec::new();
            for r in results {
                match r.analysis {
                    Ok(a) => {
                        if a.info.header_unfinalised {
                            report_unfinalised(&r.path);
                        }
                        if a.info.non_finite_samples > 0 {
                            repaired.push((r.path, a.info.non_finite_samples));
                        }
                        tracks.push(
                            a.features
                                .iter_values()
                                .map(|(f, x)| (f.name().to_string(), x))
                                .collect(),
                        )
                    }
                    Err(e) => failed.push((r.path, e)),
                }
            }
            report_failures(&failed);
            report_repairs(&repaired);
            if tracks.is_empty() {
                return Err(Error::new(
                    ErrorKind::Audio,
                    format!("none of the {} files could be analysed", paths.len()),
                )
                .with_origin(refs.display().to_string()));
            }
            let merged = merge_references(&base, &tracks)?;
            merged.profile.save(output)?;
            print!("{}", merged.report);
            println!("Merged profile saved to: {}", output.display());
        }
    }
    Ok(())
}

fn audio_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let paths = features::list_audio_files(dir)?;
    if paths.is_empty() {
        return Err(Error::new(
            ErrorKind::NotFound,
            "no audio files (wav, flac, mp3, ogg, aiff) in this folder",
        )
        .with_origin(dir.display().to_string()));
    }
    Ok(paths)
}

fn bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}

fn tick(bar: &ProgressBar, p: Progress<'_>) {
    bar.set_position(p.done as u64);
    if let Some(name) = p.path.file_name() {
        bar.set_message(name.to_string_lossy().into_owned());
    }
}

fn report_repairs(repaired: &[(PathBuf, u64)]) {
    for (path, n) in repaired {
        eprintln!(
            "fixloop: warning: {}: {n} sample(s) were not finite numbers (NaN or infinity) and \
             were replaced by silence before analysis",
            path.display()
        );
    }
}

/// Says that `path`'s WAV header sizes were never finalised and it was read to its end.
pub(crate) fn report_unfinalised(path: &std::path::Path) {
    eprintln!(
        "fixloop: warning: {}: the WAV header's sizes were never finalised (a streaming writer \
         or an interrupted recording); read to the end of the file",
        path.display()
    );
}

fn report_failures(failed: &[(PathBuf, Error)]) {
    for (_, e) in failed {
        eprintln!("fixloop: skipped: {e:#}");
    }
}

fn history(home: &Home, name: &str, json: bool) -> Result<()> {
    let lineage = Lineage::open(home, name)?;
    let report = lineage.report()?;
    if report.history.is_empty() {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "profile {name} has no history in {} (the plugin starts one the first time it uses the profile; or `fixloop profile learn {name} --adopt FILE`)",
                lineage.dir().display()
            ),
        ));
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "Profile {name} ({}), learning {}",
        lineage.dir().display(),
        if report.paused { "paused" } else { "on" }
    );
    for h in &report.history {
        let when = h.time.format("%Y-%m-%d %H:%M");
        match h.kind {
            HistoryKind::Created => println!("  {when}  created   {}", h.version),
            HistoryKind::Reverted => println!(
                "  {when}  reverted  to {} (from {})",
                h.version,
                h.parent.as_deref().unwrap_or("?")
            ),
            HistoryKind::Refined => {
                println!(
                    "  {when}  refined   {} from {}, {} events",
                    h.version,
                    h.parent.as_deref().unwrap_or("?"),
                    h.events_used
                );
                for a in &h.adjustments {
                    let r = |r: Option<[f64; 2]>| {
                        r.map(|[lo, hi]| format!("[{lo:.3}, {hi:.3}]"))
                            .unwrap_or_default()
                    };
                    println!(
                        "      {}: {} {} → {} ({} events, {} refused)",
                        a.feature,
                        a.decision.name(),
                        r(a.old_range),
                        r(a.new_range),
                        a.events,
                        a.refused
                    );
                }
                // The learned targets the step moved (by at least a hundredth of the
                // interval's width, or held by a guard rail), with their evidence.
                for m in &h.targets {
                    let width = (m.interval[1] - m.interval[0]).abs();
                    if (m.to - m.from).abs() < 0.01 * width && !m.held {
                        continue;
                    }
                    println!(
                        "      {}: target {:.3} → {:.3} (90 % [{:.3}, {:.3}]; {} modified, {} kept, {} refused; {} decisions in all{}){}",
                        m.feature,
                        m.from,
                        m.to,
                        m.interval[0],
                        m.interval[1],
                        m.modified,
                        m.kept,
                        m.refused,
                        m.decisions,
                        if m.held { "; held by a guard rail" } else { "" },
                        if m.weight == 1.0 {
                            String::new()
                        } else {
                            format!("; weight {:.2}", m.weight)
                        }
                    );
                }
                for (t, c) in &h.confidence {
                    if c.before != c.after {
                        println!(
                            "      {} confidence {:.2} → {:.2}",
                            t.title(),
                            c.before,
                            c.after
                        );
                    }
                }
            }
        }
    }
    if let Some(last) = report.history.last() {
        println!("In force: {}", last.version);
    }
    if !report.changes_since_original.is_empty() {
        println!("What changed since {}:", report.history[0].version);
        for c in &report.changes_since_original {
            println!("  {c}");
        }
    }
    Ok(())
}
