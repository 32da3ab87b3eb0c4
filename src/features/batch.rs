//! Folders of reference tracks: finding audio files and analysing many files in parallel
//! (building a profile from them is [`crate::profile::build_profile`]).
//!
//! Files are analysed in parallel on rayon's pool (a file is the unit of work).
//! Progress is reported through a callback so the library does not depend on a terminal
//! progress bar; the CLI draws one.

use super::{analyze_file, FileAnalysis};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// File extensions (lower case) taken as audio files by [`list_audio_files`].
pub const AUDIO_EXTENSIONS: [&str; 9] = [
    "wav", "wave", "flac", "mp3", "ogg", "oga", "aif", "aiff", "aifc",
];

/// Progress of a batch analysis, passed to the callback after each file.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    /// Files finished so far (this one included).
    pub done: usize,
    /// Files in the batch.
    pub total: usize,
    /// The file just finished.
    pub path: &'a Path,
    /// Whether it was analysed (false: it failed and is skipped).
    pub ok: bool,
}

/// The outcome for one file of a batch.
#[derive(Debug)]
pub struct TrackResult {
    /// The file.
    pub path: PathBuf,
    /// Its features (and the non-finite samples replaced), or why it could not be
    /// analysed.
    pub analysis: Result<FileAnalysis>,
}

/// The audio files in `dir` and its subfolders (hidden entries skipped, symlinked folders
/// followed once), by extension (see [`AUDIO_EXTENSIONS`], case-insensitive), sorted by path.
pub fn list_audio_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    // Symlinked folders are followed once each, so a link to a parent cannot loop.
    let mut visited = std::collections::HashSet::new();
    while let Some(d) = pending.pop() {
        if let Ok(canonical) = std::fs::canonicalize(&d) {
            if !visited.insert(canonical) {
                continue;
            }
        }
        let entries = std::fs::read_dir(&d).map_err(|e| Error::io(&d, "read the folder", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&d, "read the folder", e))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let file_type = entry
                .file_type()
                .map_err(|e| Error::io(&path, "inspect", e))?;
            if file_type.is_dir() || (file_type.is_symlink() && path.is_dir()) {
                pending.push(path);
            } else if is_audio_file(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_audio_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
        .unwrap_or(false)
}

/// Analyses `paths` in parallel (rayon), calling `progress` after each file (from the
/// worker threads, in completion order). Results are in the order of `paths`; a file that
/// fails carries its error and does not stop the others.
pub fn analyze_files(
    paths: &[PathBuf],
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Vec<TrackResult> {
    use rayon::prelude::*;
    let total = paths.len();
    let done = AtomicUsize::new(0);
    paths
        .par_iter()
        .with_max_len(1)
        .map(|path| {
            let analysis = analyze_file(path);
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(Progress {
                done: finished,
                total,
                path,
                ok: analysis.is_ok(),
            });
            TrackResult {
                path: path.clone(),
                analysis,
            }
        })
        .collect()
}
