//! Compaction: many small sealed segments become one, so a log that hosts and restarts
//! fill with short segments keeps a bounded number of files.
//!
//! Every writer appends to its own segment, so a log gains a file for every process (and
//! every time the last collector of a process closes and a new one opens). Compaction
//! merges the small **sealed** segments of writers that are gone (no lock file, sealed,
//! undamaged) into one new segment, frames copied byte for byte in the readers' merged
//! order (no record is re-encoded, none rewritten in place), then removes the old files:
//!
//! 1. write `<new>.fxl.tmp` (header, the frames, its own `segment_end`) and sync it;
//! 2. write and sync `<new>.fxl.replaces`, the names of the segments it replaces;
//! 3. rename the temporary file to `<new>.fxl`, sync the directory;
//! 4. remove the replaced segments, sync the directory, remove the manifest.
//!
//! Readers skip every segment named in the manifest of a segment that exists, and list
//! the directory again if a segment vanished between listing and opening it, so at every
//! moment of this sequence, and after a crash at any of them, a reader sees each record
//! exactly once. The next compaction finishes an interrupted one (removes what a manifest
//! names, or a temporary file whose rename never happened). Segments of live writers
//! (their lock file exists) and damaged or unsealed segments are never touched; one
//! compaction runs at a time per directory (`compact.lock`).

use super::frame::{decode_payload, raw_frame, SegmentHeader, FORMAT_VERSION, HEADER_LEN};
use super::scan::read_segment_bytes;
use super::segment::{is_segment_name, lock_path, now_us, random_id, segment_name, sync_dir};
use crate::error::{Error, Result};
use crate::feedback::records::{Record, SegmentEnd};
use std::collections::HashSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Suffix of a compacted segment's manifest (`<segment>.replaces`).
pub const MANIFEST_SUFFIX: &str = ".replaces";
/// Suffix of a compacted segment while it is written (`<segment>.tmp`).
pub const TEMP_SUFFIX: &str = ".tmp";
/// The file that keeps two compactions of one directory apart.
pub const COMPACT_LOCK: &str = "compact.lock";

/// When to compact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactOptions {
    /// Segments at most this long are merged (default 1 MiB).
    pub small_segment_bytes: u64,
    /// Compact only when at least this many small sealed segments exist (default 8).
    pub min_segments: usize,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            small_segment_bytes: 1 << 20,
            min_segments: 8,
        }
    }
}

/// What a compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// The segments merged and removed.
    pub replaced: Vec<PathBuf>,
    /// The new segment, when one was written.
    pub output: Option<PathBuf>,
    /// Frames copied into it (every record of the replaced segments).
    pub frames: u64,
    /// Bytes of the replaced segments.
    pub bytes_before: u64,
    /// Bytes of the new segment.
    pub bytes_after: u64,
    /// Leftovers of an interrupted compaction cleaned up (files removed).
    pub finished_earlier: usize,
    /// Whether another compaction of the directory was running (nothing was done).
    pub busy: bool,
}

/// The names of a log directory's files, sorted, split into what readers use.
pub(super) struct Listing {
    /// Segments to read (those a manifest replaces left out).
    pub(super) segments: Vec<PathBuf>,
    /// Segments a compacted segment replaces, still on disk.
    pub(super) replaced: Vec<PathBuf>,
    /// Files that are no part of the log.
    pub(super) foreign: Vec<PathBuf>,
    /// Manifests (of existing segments or not) and temporary files.
    manifests: Vec<PathBuf>,
    temps: Vec<PathBuf>,
}

/// Lists `dir` as readers see it.
pub(super) fn list(dir: &Path) -> Result<Listing> {
    let read = std::fs::read_dir(dir).map_err(|e| Error::io(dir, "list log directory", e))?;
    let mut paths: Vec<PathBuf> = read.flatten().map(|e| e.path()).collect();
    paths.sort();
    let names: HashSet<PathBuf> = paths.iter().cloned().collect();
    let mut l = Listing {
        segments: Vec::new(),
        replaced: Vec::new(),
        foreign: Vec::new(),
        manifests: Vec::new(),
        temps: Vec::new(),
    };
    let mut skip = HashSet::new();
    for path in &paths {
        if let Some(segment) = strip(path, MANIFEST_SUFFIX) {
            if names.contains(&segment) {
                // Written and synced before its segment was renamed into place, so
                // complete whenever the segment exists.
                if let Ok(text) = std::fs::read_to_string(path) {
                    skip.extend(text.lines().map(|n| dir.join(n)));
                }
            }
            l.manifests.push(path.clone());
        }
    }
    for path in paths {
        if is_segment_name(&path) {
            if skip.contains(&path) {
                l.replaced.push(path);
            } else {
                l.segments.push(path);
            }
        } else if strip(&path, MANIFEST_SUFFIX).is_some() {
        } else if strip(&path, TEMP_SUFFIX).is_some_and(|s| is_segment_name(&s)) {
            l.temps.push(path);
        } else if strip(&path, super::segment::LOCK_SUFFIX).is_some_and(|s| is_segment_name(&s))
            || path.file_name().is_some_and(|n| n == COMPACT_LOCK)
        {
        } else {
            l.foreign.push(path);
        }
    }
    Ok(l)
}

fn strip(path: &Path, suffix: &str) -> Option<PathBuf> {
    path.to_str()?.strip_suffix(suffix).map(PathBuf::from)
}

/// Merges the small sealed segments of `dir` (see the module doc). Safe to run while
/// writers append to their own segments and readers read; never on the audio thread
/// (file I/O). Errors name the file; a failed compaction leaves the log as it was (its
/// leftovers are cleaned up by the next one).
pub fn compact(dir: &Path, options: &CompactOptions) -> Result<CompactReport> {
    let mut report = CompactReport::default();
    if !dir.is_dir() {
        return Ok(report);
    }
    let lock_file = dir.join(COMPACT_LOCK);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_file)
        .map_err(|e| Error::io(&lock_file, "open", e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            report.busy = true;
            return Ok(report);
        }
        Err(TryLockError::Error(e)) => return Err(Error::io(&lock_file, "lock", e)),
    }
    let listing = list(dir)?;
    report.finished_earlier = finish_earlier(dir, &listing)?;

    let mut chosen = Vec::new();
    for path in &listing.segments {
        if lock_path(path).exists() {
            continue; // a live writer, or a dead one not yet recovered
        }
        let Ok(meta) = std::fs::metadata(path) else {
            continue;
        };
        if meta.len() > options.small_segment_bytes {
            continue;
        }
        let data = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
        let mut entries = Vec::new();
        let seg = read_segment_bytes(path, &data, &mut entries);
        if seg.header.is_some() && seg.sealed && seg.problems.is_empty() {
            chosen.push((path.clone(), data, seg.header.map_or(0, |h| h.writer)));
        }
    }
    if chosen.len() < options.min_segments.max(2) {
        return Ok(report);
    }
    write_compacted(dir, chosen, &mut report)?;
    Ok(report)
}

/// Removes what an interrupted compaction left: the segments a manifest names (its
/// segment exists: they are in it), manifests whose work is done, temporary files.
fn finish_earlier(dir: &Path, listing: &Listing) -> Result<usize> {
    let mut removed = 0;
    for path in &listing.replaced {
        remove(path)?;
        removed += 1;
    }
    if removed > 0 {
        sync_dir(dir).map_err(|e| Error::io(dir, "sync directory", e))?;
    }
    for path in listing.manifests.iter().chain(&listing.temps) {
        remove(path)?;
        removed += 1;
    }
    Ok(removed)
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, "remove", e)),
    }
}

/// A frame of a chosen segment: merge key and payload range.
struct Pending {
    time_us: i64,
    writer: u64,
    seq: u64,
    segment: usize,
    start: usize,
    len: usize,
    collected: bool,
}

fn write_compacted(
    dir: &Path,
    chosen: Vec<(PathBuf, Vec<u8>, u64)>,
    report: &mut CompactReport,
) -> Result<()> {
    // Every frame of every chosen segment, in the readers' merged order.
    let mut frames = Vec::new();
    for (i, (_, data, writer)) in chosen.iter().enumerate() {
        for s in super::frame::FrameScanner::new(&data[HEADER_LEN..], HEADER_LEN as u64) {
            if let super::frame::Scanned::Frame { offset, payload } = s {
                let start = offset as usize + super::frame::FRAME_OVERHEAD;
                let Ok(e) = decode_payload(*writer, payload) else {
                    continue;
                };
                frames.push(Pending {
                    time_us: e.time_us,
                    writer: *writer,
                    seq: e.seq,
                    segment: i,
                    start,
                    len: payload.len(),
                    collected: e.record.is_collected(),
                });
            }
        }
    }
    frames.sort_by_key(|f| (f.time_us, f.writer, f.seq, f.segment));

    let writer = random_id();
    let created_us = now_us();
    let pid = std::process::id();
    let final_path = dir.join(segment_name(created_us, pid, writer));
    let temp = PathBuf::from(format!("{}{TEMP_SUFFIX}", final_path.display()));
    let manifest = PathBuf::from(format!("{}{MANIFEST_SUFFIX}", final_path.display()));
    let header = SegmentHeader {
        version: FORMAT_VERSION,
        writer,
        created_us,
        pid,
    };
    let mut buf = Vec::with_capacity(1 << 16);
    buf.extend_from_slice(&header.encode());
    let mut collected = 0u64;
    let mut last_seq = 0u64;
    for f in &frames {
        let data = &chosen[f.segment].1;
        raw_frame(&mut buf, &data[f.start..f.start + f.len]);
        collected += u64::from(f.collected);
        last_seq = last_seq.max(f.seq);
    }
    super::frame::encode_frame(
        &mut buf,
        last_seq + 1,
        created_us,
        0,
        &Record::SegmentEnd(SegmentEnd {
            records: collected,
            recovered: false,
        }),
    );
    let write = |path: &Path, bytes: &[u8]| -> Result<()> {
        let mut f = File::create(path).map_err(|e| Error::io(path, "create", e))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::io(path, "write", e))
    };
    write(&temp, &buf)?;
    let names: Vec<String> = chosen
        .iter()
        .filter_map(|(p, _, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    write(&manifest, format!("{}\n", names.join("\n")).as_bytes())?;
    std::fs::rename(&temp, &final_path).map_err(|e| Error::io(&final_path, "rename", e))?;
    sync_dir(dir).map_err(|e| Error::io(dir, "sync directory", e))?;
    for (path, data, _) in &chosen {
        remove(path)?;
        report.bytes_before += data.len() as u64;
        report.replaced.push(path.clone());
    }
    sync_dir(dir).map_err(|e| Error::io(dir, "sync directory", e))?;
    remove(&manifest)?;
    report.frames = frames.len() as u64;
    report.bytes_after = buf.len() as u64;
    report.output = Some(final_path);
    Ok(())
}
