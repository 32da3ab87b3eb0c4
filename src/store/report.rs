//! What reading a log found: per segment, its records and the damaged or torn stretches
//! by file and offset ([`VerifyReport`], printed by `fixloop verify`).

use super::frame::SegmentHeader;
use crate::feedback::fold::FoldReport;
use std::fmt;
use std::path::PathBuf;

/// What is wrong with a stretch of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// Bytes in the middle that are not an intact frame (checksum mismatch, bad sync
    /// word or length); skipped, and reading resumed at the next intact frame.
    Damaged,
    /// Bytes at the end that are not an intact frame: an interrupted write (or one in
    /// progress, if the segment's writer is alive). Nothing after them was lost.
    TornTail,
    /// An intact frame (checksum good) whose payload this build cannot decode, e.g. a
    /// record kind from a newer version.
    Undecodable,
    /// The file could not be read from this offset on (an I/O error).
    ReadError,
}

/// One damaged, torn or undecodable stretch of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameProblem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// Byte offset in the file.
    pub offset: u64,
    /// Length in bytes.
    pub len_bytes: u64,
}

/// What the reader found in one segment file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentReport {
    /// The file.
    pub path: PathBuf,
    /// The header, when it is intact.
    pub header: Option<SegmentHeader>,
    /// Why the header was refused (the file then contributes no records).
    pub header_problem: Option<String>,
    /// Intact records read (collector records, dropped counts and end marks).
    pub records: u64,
    /// Whether the segment ends with its end mark (closed cleanly or recovered).
    pub sealed: bool,
    /// Whether its lock file exists (writer running, or died and not yet recovered).
    pub locked: bool,
    /// Damaged, torn and undecodable stretches, in file order.
    pub problems: Vec<FrameProblem>,
}

/// The result of reading a log directory: per-segment findings and totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// The directory.
    pub dir: PathBuf,
    /// Every segment-named file, in name order.
    pub segments: Vec<SegmentReport>,
    /// Files in the directory that are neither segments nor their lock files (ignored).
    pub foreign_files: Vec<PathBuf>,
    /// Intact records in all segments.
    pub records: u64,
    /// What folding them found (collector records, dropped counts, orphans).
    pub fold: FoldReport,
}

impl VerifyReport {
    /// Whether no segment has a bad header or a damaged, torn or undecodable stretch.
    pub fn is_clean(&self) -> bool {
        self.segments
            .iter()
            .all(|s| s.header_problem.is_none() && s.problems.is_empty())
    }

    /// Count of problems of `kind` over all segments.
    pub fn count(&self, kind: ProblemKind) -> usize {
        self.segments
            .iter()
            .flat_map(|s| &s.problems)
            .filter(|p| p.kind == kind)
            .count()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Feedback log {}", self.dir.display())?;
        writeln!(
            f,
            "  {} segment(s), {} record(s) ({} collected, {} dropped by full queues)",
            self.segments.len(),
            self.records,
            self.fold.collected,
            self.fold.dropped
        )?;
        for s in &self.segments {
            let name = s
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let state = match (&s.header_problem, s.sealed, s.locked) {
                (Some(_), _, _) => "unreadable",
                (None, true, _) => "sealed",
                (None, false, true) => "open (writer running, or died and not yet recovered)",
                (None, false, false) => "unsealed",
            };
            writeln!(f, "  {name}: {} record(s), {state}", s.records)?;
            if let Some(h) = &s.header_problem {
                writeln!(f, "    ✗ {}: offset 0: {h}", s.path.display())?;
            }
            for p in &s.problems {
                let what = match p.kind {
                    ProblemKind::Damaged => "damaged frame(s) skipped",
                    ProblemKind::TornTail => "torn tail (interrupted write)",
                    ProblemKind::Undecodable => "undecodable record skipped",
                    ProblemKind::ReadError => "read error: the rest of the file was not read",
                };
                writeln!(
                    f,
                    "    ✗ {}: offset {}: {} bytes: {what}",
                    s.path.display(),
                    p.offset,
                    p.len_bytes
                )?;
            }
        }
        for p in &self.foreign_files {
            writeln!(f, "  ignored (not a segment): {}", p.display())?;
        }
        if self.fold.orphans > 0 {
            writeln!(
                f,
                "  {} action(s)/outcome(s) refer to fixes not in the log",
                self.fold.orphans
            )?;
        }
        if self.is_clean() {
            write!(f, "✓ no damaged or torn frames")
        } else {
            write!(
                f,
                "⚠ {} damaged, {} torn, {} undecodable stretch(es), {} unreadable segment(s); every intact record was read",
                self.count(ProblemKind::Damaged),
                self.count(ProblemKind::TornTail),
                self.count(ProblemKind::Undecodable),
                self.segments.iter().filter(|s| s.header_problem.is_some()).count()
            )
        }
    }
}
