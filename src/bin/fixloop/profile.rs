//! `fixloop profile build --refs DIR --name N --output OUT` and
//! `fixloop profile add --profile IN --refs DIR --output OUT`: profiles from folders of
//! audio, analysed in parallel, with a progress bar. A file that fails is reported and
//! skipped; the rest still count.

use fixloop::error::{Error, ErrorKind};
use fixloop::features::{self, Progress};
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
}

pub fn run(command: &Command) -> Result<()> {
    match command {
        Command::Build { refs, name, output } => {
            let paths = audio_files(refs)?;
            let bar = bar(paths.len());
            let built = fixloop::profile::build_profile(name, &paths, &|p| tick(&bar, p));
            bar.finish_and_clear();
            let built = built?;
            report_failures(&built.failed);
            report_repairs(&built.repaired);
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

fn report_failures(failed: &[(PathBuf, Error)]) {
    for (_, e) in failed {
        eprintln!("fixloop: skipped: {e:#}");
    }
}
