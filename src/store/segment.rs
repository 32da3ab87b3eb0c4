//! Segment files on disk: creation with a held lock file, appends, syncs, sealing, and
//! recovery of the segments of dead writers.

use super::frame::{
    decode_payload, encode_frame, FrameScanner, Scanned, SegmentHeader, FORMAT_VERSION, HEADER_LEN,
};
use crate::error::{Error, ErrorKind, Result};
use crate::feedback::records::{Record, SegmentEnd};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File name extension of segments.
pub const SEGMENT_EXT: &str = "fxl";
/// Suffix of a segment's sidecar lock file (`<segment>.lock`).
pub const LOCK_SUFFIX: &str = ".lock";

/// Microseconds since the Unix epoch, now.
pub(crate) fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// A random 64-bit id from the operating system (never 0, which marks the writer's own
/// records): the ids of writers and collectors, and of plugin sessions, unique across
/// processes without coordination.
///
/// # Real-time safety
/// Not real-time safe: a system call.
pub fn random_id() -> u64 {
    let mut id = getrandom::u64().unwrap_or(0);
    while id == 0 {
        // Without an OS source, fall back on time and pid mixed by a SplitMix64 step.
        let z = (now_us() as u64) ^ (u64::from(std::process::id()) << 32);
        id = crate::rng::SplitMix64::new(z).next_u64();
    }
    id
}

/// The file name of a segment: `seg-<created µs, 16 digits>-<pid, 10 digits>-<writer id,
/// 16 hex>.fxl`.
pub(crate) fn segment_name(created_us: i64, pid: u32, writer: u64) -> String {
    format!("seg-{created_us:016}-{pid:010}-{writer:016x}.{SEGMENT_EXT}")
}

/// Whether `path` is named like a segment (`seg-….fxl`).
pub fn is_segment_name(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == SEGMENT_EXT)
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("seg-"))
}

/// The lock file of a segment.
pub fn lock_path(segment: &Path) -> PathBuf {
    let mut p = segment.as_os_str().to_owned();
    p.push(LOCK_SUFFIX);
    PathBuf::from(p)
}

/// Syncs a directory so a file created in it survives a power cut (no-op where
/// directories cannot be opened, e.g. Windows).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// A segment being written by this process. The lock file stays locked while it lives.
pub(crate) struct SegmentFile {
    path: PathBuf,
    lock_path: PathBuf,
    file: File,
    _lock: File,
    /// Length of intact data; appends start here, failed appends are cut back to it.
    len_bytes: u64,
    next_seq: u64,
}

impl SegmentFile {
    /// Creates `seg-<time>-<pid>-<writer>.fxl` in `dir` with its lock file held, writes
    /// and syncs the header, and syncs the directory.
    pub(crate) fn create(dir: &Path, writer: u64) -> Result<SegmentFile> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
        let created_us = now_us();
        let pid = std::process::id();
        let path = dir.join(segment_name(created_us, pid, writer));
        let lock_path = lock_path(&path);
        let lock = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, "create lock file", e))?;
        // The file is new, so whoever holds it is another process's recovery probing it
        // for a moment (it cannot tell a writer between these two steps from a dead one);
        // wait for the probe to let go.
        let mut tries = 0;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if tries < 200 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(
                        Error::new(ErrorKind::Io, "lock file is held by another writer")
                            .with_origin(lock_path.display().to_string()),
                    )
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(&lock_path, "lock", e)),
            }
        }
        let fail = |e: std::io::Error, doing: &str| {
            let _ = std::fs::remove_file(&lock_path);
            Error::io(&path, doing, e)
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| fail(e, "create segment"))?;
        let header = SegmentHeader {
            version: FORMAT_VERSION,
            writer,
            created_us,
            pid,
        };
        file.write_all(&header.encode())
            .map_err(|e| fail(e, "write segment header"))?;
        file.sync_data()
            .map_err(|e| fail(e, "sync segment header"))?;
        sync_dir(dir).map_err(|e| Error::io(dir, "sync directory", e))?;
        Ok(SegmentFile {
            path,
            lock_path,
            file,
            _lock: lock,
            len_bytes: HEADER_LEN as u64,
            next_seq: 1,
        })
    }

    /// The segment's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the next sequence number.
    pub(crate) fn take_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// The last sequence number taken (0 when none).
    pub(crate) fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Appends whole frames. On failure the file is cut back to its last intact length
    /// (best effort; a reader skips anything left over) and nothing counts as written.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let result = self
            .file
            .seek(SeekFrom::Start(self.len_bytes))
            .and_then(|_| self.file.write_all(bytes));
        match result {
            Ok(()) => {
                self.len_bytes += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len_bytes);
                Err(e)
            }
        }
    }

    /// `fdatasync`.
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Appends the end record, syncs and removes the lock file.
    pub(crate) fn seal(mut self, records: u64) -> std::io::Result<()> {
        let mut buf = Vec::new();
        let seq = self.take_seq();
        encode_frame(
            &mut buf,
            seq,
            now_us(),
            0,
            &Record::SegmentEnd(SegmentEnd {
                records,
                recovered: false,
            }),
        );
        self.append(&buf)?;
        self.sync()?;
        std::fs::remove_file(&self.lock_path)
    }
}

/// What recovery did to one dead writer's segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// The segment.
    pub path: PathBuf,
    /// Bytes of torn tail cut off.
    pub torn_bytes: u64,
    /// Intact records found.
    pub records: u64,
}

/// Finds segments in `dir` whose lock file exists but is not held (their writer died),
/// cuts their torn tails, seals them and removes their lock files. Segments of live
/// writers are left alone. Problems with one segment do not stop the others.
pub(crate) fn recover_dead(dir: &Path) -> Vec<Result<Recovered>> {
    let mut out = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut paths: Vec<PathBuf> = read.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if !is_segment_name(&path) {
            remove_stale_lock(&path);
            continue;
        }
        let lock_path = lock_path(&path);
        let Ok(lock) = OpenOptions::new().write(true).open(&lock_path) else {
            continue; // no lock file: sealed, or not ours to touch
        };
        match lock.try_lock() {
            Ok(()) => out.push(recover_one(&path, &lock_path)),
            Err(TryLockError::WouldBlock) => {} // a live writer
            Err(TryLockError::Error(e)) => out.push(Err(Error::io(&lock_path, "lock", e))),
        }
    }
    out
}

/// How old a lock file without its segment must be before it counts as stale.
const STALE_LOCK_AGE: std::time::Duration = std::time::Duration::from_secs(10);

/// Removes a lock file whose segment was never created (a writer that died between the
/// two), if no one holds it.
fn remove_stale_lock(path: &Path) {
    let Some(segment) = path
        .to_str()
        .and_then(|p| p.strip_suffix(LOCK_SUFFIX))
        .map(PathBuf::from)
    else {
        return;
    };
    if !is_segment_name(&segment) || segment.exists() {
        return;
    }
    if let Ok(lock) = OpenOptions::new().write(true).open(path) {
        // A young lock file may be a writer between creating it and its segment: leave it.
        let young = lock
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age < STALE_LOCK_AGE);
        if !young && lock.try_lock().is_ok() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn recover_one(path: &Path, lock_path: &Path) -> Result<Recovered> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    let header = match SegmentHeader::decode(&data) {
        Ok(h) => h,
        Err(_) if data.len() < HEADER_LEN => {
            // Died while creating the segment: no record can be in it.
            std::fs::remove_file(path).map_err(|e| Error::io(path, "remove empty segment", e))?;
            let _ = std::fs::remove_file(lock_path);
            return Ok(Recovered {
                path: path.to_path_buf(),
                torn_bytes: data.len() as u64,
                records: 0,
            });
        }
        Err(e) => {
            return Err(Error::new(ErrorKind::Corrupt, e.to_string())
                .with_origin(path.display().to_string()))
        }
    };
    let mut records = 0u64;
    let mut last_seq = 0u64;
    let mut sealed = false;
    let mut intact_end = HEADER_LEN as u64;
    let mut torn_bytes = 0u64;
    for s in FrameScanner::new(&data[HEADER_LEN..], HEADER_LEN as u64) {
        match s {
            Scanned::Frame { offset, payload } => {
                intact_end = offset + (super::frame::FRAME_OVERHEAD + payload.len()) as u64;
                if let Ok(e) = decode_payload(header.writer, payload) {
                    last_seq = last_seq.max(e.seq);
                    sealed = matches!(e.record, Record::SegmentEnd(_));
                    if e.record.is_collected() {
                        records += 1;
                    }
                }
            }
            Scanned::Damaged { .. } => {}
            Scanned::TornTail { len_bytes, .. } => torn_bytes = len_bytes,
        }
    }
    let mut file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, "open for recovery", e))?;
    if torn_bytes > 0 {
        file.set_len(intact_end)
            .map_err(|e| Error::io(path, "cut torn tail", e))?;
    }
    if !sealed || torn_bytes > 0 {
        let mut buf = Vec::new();
        encode_frame(
            &mut buf,
            last_seq + 1,
            now_us(),
            0,
            &Record::SegmentEnd(SegmentEnd {
                records,
                recovered: true,
            }),
        );
        file.seek(SeekFrom::Start(intact_end))
            .and_then(|_| file.write_all(&buf))
            .and_then(|_| file.sync_data())
            .map_err(|e| Error::io(path, "seal recovered segment", e))?;
    }
    std::fs::remove_file(lock_path).map_err(|e| Error::io(lock_path, "remove lock file", e))?;
    Ok(Recovered {
        path: path.to_path_buf(),
        torn_bytes,
        records,
    })
}
