//! Reading a log directory: recovery of what is intact, reports of what is not, the
//! merge of every writer's segment, and JSON-lines import and export.

use super::frame::{decode_payload, FrameScanner, Scanned, SegmentHeader, HEADER_LEN};
use super::segment::{is_segment_name, lock_path, now_us, random_id, SegmentFile};
use crate::error::{Error, ErrorKind, Result};
use crate::feedback::records::{FoldReport, Folded, Folder, LogEntry, Record};
use crate::feedback::{jsonl, FeedbackEvent};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Every intact record of a log directory, merged, and the report of reading it.
#[derive(Clone, Debug, Default)]
pub struct Log {
    /// Records ordered by (time, writer, sequence).
    pub entries: Vec<LogEntry>,
    /// What was found on the way.
    pub report: VerifyReport,
}

fn empty_report(path: &Path) -> SegmentReport {
    SegmentReport {
        path: path.to_path_buf(),
        header: None,
        header_problem: None,
        records: 0,
        sealed: false,
        locked: lock_path(path).exists(),
        problems: Vec::new(),
    }
}

/// What decoding a segment's frames found. Kept apart from the scan (damaged and torn
/// stretches) so that decoding can run on another thread; [`Tally::apply`] puts it in
/// the segment's report.
#[derive(Clone, Debug, Default)]
struct Tally {
    records: u64,
    /// Whether the last record decoded is the end mark.
    sealed: bool,
    /// File offset of the last record decoded.
    last: Option<u64>,
    undecodable: Vec<FrameProblem>,
}

impl Tally {
    /// Decodes the intact frame at file offset `offset`; an undecodable one is noted.
    fn decode(&mut self, writer: u64, offset: u64, payload: &[u8]) -> Option<LogEntry> {
        match decode_payload(writer, payload) {
            Ok(e) => {
                self.records += 1;
                self.sealed = matches!(e.record, Record::SegmentEnd(_));
                self.last = Some(offset);
                Some(e)
            }
            Err(_) => {
                self.undecodable.push(FrameProblem {
                    kind: ProblemKind::Undecodable,
                    offset,
                    len_bytes: (super::frame::FRAME_OVERHEAD + payload.len()) as u64,
                });
                None
            }
        }
    }

    /// Adds the tally of other frames of the same segment.
    fn merge(&mut self, other: Tally) {
        self.records += other.records;
        if other.last > self.last {
            self.sealed = other.sealed;
            self.last = other.last;
        }
        self.undecodable.extend(other.undecodable);
    }

    fn apply(self, report: &mut SegmentReport) {
        report.records += self.records;
        report.sealed = self.sealed;
        if !self.undecodable.is_empty() {
            report.problems.extend(self.undecodable);
            report.problems.sort_by_key(|p| p.offset);
        }
    }
}

/// The decoded records of one segment, in file order, reporting problems as it goes.
struct SegmentStream<'a> {
    writer: u64,
    scanner: FrameScanner<'a>,
    tally: Tally,
}

impl SegmentStream<'_> {
    fn next(&mut self, report: &mut SegmentReport) -> Option<LogEntry> {
        for step in self.scanner.by_ref() {
            match step {
                Scanned::Frame { offset, payload } => {
                    if let Some(e) = self.tally.decode(self.writer, offset, payload) {
                        return Some(e);
                    }
                }
                other => report_damage(other, report),
            }
        }
        None
    }
}

fn open_stream<'a>(data: &'a [u8], report: &mut SegmentReport) -> Option<SegmentStream<'a>> {
    match SegmentHeader::decode(data) {
        Ok(h) => {
            report.header = Some(h);
            Some(SegmentStream {
                writer: h.writer,
                scanner: FrameScanner::new(&data[HEADER_LEN..], HEADER_LEN as u64),
                tally: Tally::default(),
            })
        }
        Err(e) => {
            report.header_problem = Some(e.to_string());
            None
        }
    }
}

/// A segment read from its file in chunks, so reading a large log does not hold it all
/// in memory. Intact frames stream; at the first sign of damage the rest of the file is
/// read and scanned as a whole, exactly as [`FrameScanner`] does for a slice.
struct FileStream {
    writer: u64,
    file: std::fs::File,
    buf: Vec<u8>,
    /// Index in `buf` of the next unread byte.
    pos: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
}

const CHUNK_BYTES: usize = 1 << 20;

impl FileStream {
    /// Opens `path` and checks its header; `None` (with the problem in `report`) when the
    /// file holds no readable segment.
    fn open(path: &Path, report: &mut SegmentReport) -> Option<FileStream> {
        use std::io::Read;
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                report.header_problem = Some(format!("cannot read: {e}"));
                return None;
            }
        };
        let mut head = Vec::with_capacity(HEADER_LEN);
        if let Err(e) = (&file).take(HEADER_LEN as u64).read_to_end(&mut head) {
            report.header_problem = Some(format!("cannot read: {e}"));
            return None;
        }
        match SegmentHeader::decode(&head) {
            Ok(h) => {
                report.header = Some(h);
                Some(FileStream {
                    writer: h.writer,
                    file,
                    buf: Vec::new(),
                    pos: 0,
                    base: HEADER_LEN as u64,
                    eof: false,
                })
            }
            Err(e) => {
                report.header_problem = Some(e.to_string());
                None
            }
        }
    }

    /// Makes at least `need` unread bytes available, unless the file ends first.
    #[inline]
    fn fill(&mut self, need: usize, report: &mut SegmentReport) {
        if self.buf.len() - self.pos < need && !self.eof {
            self.refill(need, report);
        }
    }

    #[inline(never)]
    fn refill(&mut self, need: usize, report: &mut SegmentReport) {
        use std::io::Read;
        self.buf.drain(..self.pos);
        self.base += self.pos as u64;
        self.pos = 0;
        while self.buf.len() < need && !self.eof {
            let want = (need - self.buf.len()).max(CHUNK_BYTES);
            let start = self.buf.len();
            match (&self.file).take(want as u64).read_to_end(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(_) => {
                    self.buf.truncate(start);
                    self.eof = true;
                    report.problems.push(FrameProblem {
                        kind: ProblemKind::ReadError,
                        offset: self.base + start as u64,
                        len_bytes: 0,
                    });
                }
            }
        }
    }

    /// The next intact frame with its merge key; damaged and torn stretches go to
    /// `report` on the way. The frame's payload ([`FileStream::payload`]) stays valid
    /// until the next call.
    #[inline]
    fn next_frame(&mut self, report: &mut SegmentReport) -> Option<Head> {
        // Almost always a whole intact frame of the usual layout is in the buffer.
        if let Some((payload, end)) = super::frame::frame_at(&self.buf, self.pos) {
            if let Some((time_us, seq)) = super::decode::peek_key(payload) {
                let head = Head {
                    time_us,
                    seq,
                    offset: self.base + self.pos as u64,
                    start: self.pos + super::frame::FRAME_OVERHEAD,
                    len: payload.len(),
                };
                self.pos = end;
                return Some(head);
            }
        }
        self.next_frame_slow(report)
    }

    /// [`FileStream::next_frame`] when the buffer does not start with a whole intact
    /// frame of the usual layout: refills, reports damage, decodes other layouts.
    #[inline(never)]
    fn next_frame_slow(&mut self, report: &mut SegmentReport) -> Option<Head> {
        loop {
            self.fill(super::frame::FRAME_OVERHEAD, report);
            let avail = &self.buf[self.pos..];
            if avail.is_empty() {
                return None;
            }
            if avail.len() >= super::frame::FRAME_OVERHEAD && avail[..4] == super::frame::SYNC {
                let len = u32::from_le_bytes([avail[4], avail[5], avail[6], avail[7]]);
                if len <= super::frame::MAX_PAYLOAD_BYTES {
                    self.fill(super::frame::FRAME_OVERHEAD + len as usize, report);
                }
            }
            let offset = self.base + self.pos as u64;
            let step = FrameScanner::new(&self.buf[self.pos..], offset).next()?;
            if !matches!(step, Scanned::Frame { .. }) && !self.eof {
                // Damage: decide with the whole rest of the file, as a slice scan would.
                self.fill(usize::MAX, report);
                continue;
            }
            let at = self.pos;
            let (used, payload_len) = match step {
                Scanned::Frame { payload, .. } => {
                    (super::frame::FRAME_OVERHEAD + payload.len(), payload.len())
                }
                Scanned::Damaged { len_bytes, .. } | Scanned::TornTail { len_bytes, .. } => {
                    report_damage(step, report);
                    self.pos += len_bytes as usize;
                    continue;
                }
            };
            self.pos += used;
            let start = at + super::frame::FRAME_OVERHEAD;
            let payload = &self.buf[start..start + payload_len];
            let key = match super::decode::peek_key(payload) {
                Some(key) => key,
                // Another layout: decode it whole for its key (and to know it decodes).
                None => {
                    let mut tally = Tally::default();
                    match tally.decode(self.writer, offset, payload) {
                        Some(e) => (e.time_us, e.seq),
                        None => {
                            report.problems.extend(tally.undecodable);
                            continue;
                        }
                    }
                }
            };
            return Some(Head {
                time_us: key.0,
                seq: key.1,
                offset,
                start,
                len: payload_len,
            });
        }
    }

    fn payload(&self, head: &Head) -> &[u8] {
        &self.buf[head.start..head.start + head.len]
    }
}

/// An intact frame of a [`FileStream`]: its merge key and where its payload lies.
#[derive(Clone, Copy, Debug)]
struct Head {
    time_us: i64,
    seq: u64,
    /// File offset of the frame.
    offset: u64,
    /// The payload's range in the stream's buffer.
    start: usize,
    len: usize,
}

/// Records a damaged or torn stretch in `report` (an intact frame is not a problem).
fn report_damage(step: Scanned<'_>, report: &mut SegmentReport) {
    let (kind, offset, len_bytes) = match step {
        Scanned::Frame { .. } => return,
        Scanned::Damaged { offset, len_bytes } => (ProblemKind::Damaged, offset, len_bytes),
        Scanned::TornTail { offset, len_bytes } => (ProblemKind::TornTail, offset, len_bytes),
    };
    report.problems.push(FrameProblem {
        kind,
        offset,
        len_bytes,
    });
}

/// Reads one segment's bytes into `entries` (file order); never panics, whatever they are.
pub fn read_segment_bytes(path: &Path, data: &[u8], entries: &mut Vec<LogEntry>) -> SegmentReport {
    let mut report = empty_report(path);
    if let Some(mut stream) = open_stream(data, &mut report) {
        while let Some(e) = stream.next(&mut report) {
            entries.push(e);
        }
        stream.tally.apply(&mut report);
    }
    report
}

/// An intact frame handed on by [`merge_dir`].
struct Frame<'a> {
    /// Index of its segment in the report.
    segment: usize,
    writer: u64,
    /// File offset of the frame.
    offset: u64,
    payload: &'a [u8],
}

/// Reads every segment of `dir` and hands each intact frame to `sink` in merged
/// (time, writer, sequence) order: a k-way merge of the segments, each already in
/// order. The report has the scan's findings (headers, damaged and torn stretches);
/// the caller decodes the frames and applies its [`Tally`]s.
fn merge_dir(dir: &Path, mut sink: impl FnMut(Frame<'_>)) -> Result<VerifyReport> {
    let listing = std::fs::read_dir(dir).map_err(|e| Error::io(dir, "list log directory", e))?;
    let mut paths: Vec<PathBuf> = listing.flatten().map(|e| e.path()).collect();
    paths.sort();
    let mut report = VerifyReport {
        dir: dir.to_path_buf(),
        ..VerifyReport::default()
    };
    let mut streams: Vec<Option<FileStream>> = Vec::new();
    for path in paths {
        if is_segment_name(&path) {
            let mut seg = empty_report(&path);
            streams.push(FileStream::open(&path, &mut seg));
            report.segments.push(seg);
        } else {
            let is_lock = path
                .to_str()
                .and_then(|p| p.strip_suffix(super::segment::LOCK_SUFFIX))
                .is_some_and(|seg| is_segment_name(Path::new(seg)));
            if !is_lock {
                report.foreign_files.push(path);
            }
        }
    }
    let emit = |i: usize, s: &FileStream, h: &Head, sink: &mut dyn FnMut(Frame<'_>)| {
        sink(Frame {
            segment: i,
            writer: s.writer,
            offset: h.offset,
            payload: s.payload(h),
        })
    };
    if streams.len() == 1 {
        // One segment is already in order: no merge needed.
        if let Some(stream) = streams[0].as_mut() {
            while let Some(h) = stream.next_frame(&mut report.segments[0]) {
                emit(0, stream, &h, &mut sink);
            }
        }
        return Ok(report);
    }
    type Key = (i64, u64, u64);
    let mut heads: Vec<Option<Head>> = Vec::with_capacity(streams.len());
    let mut heap: BinaryHeap<Reverse<(Key, usize)>> = BinaryHeap::new();
    for (i, s) in streams.iter_mut().enumerate() {
        let head = s
            .as_mut()
            .and_then(|s| s.next_frame(&mut report.segments[i]));
        if let (Some(h), Some(s)) = (&head, s) {
            heap.push(Reverse(((h.time_us, s.writer, h.seq), i)));
        }
        heads.push(head);
    }
    while let Some(Reverse((_, i))) = heap.pop() {
        let (Some(head), Some(stream)) = (heads[i].take(), streams[i].as_mut()) else {
            continue;
        };
        emit(i, stream, &head, &mut sink);
        let next = stream.next_frame(&mut report.segments[i]);
        if let Some(h) = &next {
            heap.push(Reverse(((h.time_us, stream.writer, h.seq), i)));
        }
        heads[i] = next;
    }
    Ok(report)
}

/// Records on their way from the reading thread to the folding one.
enum Batch {
    /// Intact frames, to decode.
    Raw(RawBatch),
    /// Records the reading thread decoded.
    Decoded(Vec<LogEntry>),
}

impl Batch {
    fn clear(&mut self) {
        match self {
            Batch::Raw(raw) => {
                raw.bytes.clear();
                raw.frames.clear();
            }
            Batch::Decoded(entries) => entries.clear(),
        }
    }
}

/// Intact frames: payloads end to end in `bytes`.
#[derive(Default)]
struct RawBatch {
    bytes: Vec<u8>,
    frames: Vec<RawFrame>,
}

struct RawFrame {
    segment: usize,
    writer: u64,
    offset: u64,
    /// The payload's range in `RawBatch::bytes`.
    start: usize,
    len: usize,
}

/// Applies the decoding tallies of every segment and totals the records.
fn apply_tallies(report: &mut VerifyReport, tallies: Vec<Tally>) {
    for (tally, seg) in tallies.into_iter().zip(&mut report.segments) {
        tally.apply(seg);
    }
    report.records = report.segments.iter().map(|s| s.records).sum();
}

/// Decodes frames, keeping a tally per segment.
#[derive(Default)]
struct Decoder {
    tallies: Vec<Tally>,
}

impl Decoder {
    fn decode(
        &mut self,
        segment: usize,
        writer: u64,
        offset: u64,
        payload: &[u8],
    ) -> Option<LogEntry> {
        if self.tallies.len() <= segment {
            self.tallies.resize_with(segment + 1, Tally::default);
        }
        self.tallies[segment].decode(writer, offset, payload)
    }

    /// Adds the tallies of another decoder of the same segments.
    fn merge(&mut self, other: Decoder) {
        if self.tallies.len() < other.tallies.len() {
            self.tallies
                .resize_with(other.tallies.len(), Tally::default);
        }
        for (mine, theirs) in self.tallies.iter_mut().zip(other.tallies) {
            mine.merge(theirs);
        }
    }
}

/// Reads every segment of `dir` (read-only: nothing is repaired), merges the records of
/// all writers by (time, writer, sequence) and reports damage per file and offset.
///
/// Fails only when the directory itself cannot be listed; unreadable files are reported
/// in their [`SegmentReport`].
pub fn read_log(dir: &Path) -> Result<Log> {
    let mut entries = Vec::new();
    let mut decoder = Decoder::default();
    let mut report = merge_dir(dir, |f| {
        entries.extend(decoder.decode(f.segment, f.writer, f.offset, f.payload))
    })?;
    apply_tallies(&mut report, decoder.tallies);
    Ok(Log { entries, report })
}

/// Checks a log directory: segments, records, damaged and torn frames with file and
/// offset, dropped-record counts. `Display` the result for people.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    read_dir_events(dir).map(|l| l.report.unwrap_or_default())
}

/// The events of a log directory and the report of reading it.
#[derive(Clone, Debug, Default)]
pub struct LoadedEvents {
    /// The folded events.
    pub events: Vec<FeedbackEvent>,
    /// The reading report (`None` for a JSON-lines file).
    pub report: Option<VerifyReport>,
}

/// A log directory's fold, kept compact (see [`Folded`]), and the report of reading it.
#[derive(Debug)]
pub struct FoldedLog {
    /// The events, compact.
    pub folded: Folded,
    /// The reading report (its `fold` counts are the fold's).
    pub report: VerifyReport,
}

impl FoldedLog {
    /// The events, built, with the report.
    pub fn into_loaded(self) -> LoadedEvents {
        LoadedEvents {
            events: self.folded.into_fold().events,
            report: Some(self.report),
        }
    }
}

/// Reads a log directory and folds it into events.
pub fn read_dir_events(dir: &Path) -> Result<LoadedEvents> {
    read_dir_folded(dir).map(FoldedLog::into_loaded)
}

/// Reads a log directory and folds it, keeping the events compact: what learning reads
/// ([`crate::feedback::Outcomes`]) without building every [`FeedbackEvent`].
pub fn read_dir_folded(dir: &Path) -> Result<FoldedLog> {
    fold_dir(dir, DecodeOn::Either)
}

/// Which thread of [`fold_dir`] decodes the records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DecodeOn {
    /// The reader while the folder keeps up, else the folder (batch by batch).
    Either,
    /// Always the reader (tests).
    #[cfg(test)]
    Reader,
    /// Always the folder (tests).
    #[cfg(test)]
    Folder,
}

fn fold_dir(dir: &Path, decode_on: DecodeOn) -> Result<FoldedLog> {
    // Two stages on two threads: read, check and merge frames | decode and fold. Which
    // thread decodes is decided batch by batch: the reader hands on raw payloads while
    // the folder keeps up, and decodes batches itself while the folder has a backlog,
    // so both cores stay busy whatever their relative speed. Batches go back to the
    // reader once folded, so their memory is reused.
    const BATCH_FRAMES: usize = 4096;
    const IN_FLIGHT: usize = 8;
    let (tx, rx) = crossbeam_channel::bounded::<Batch>(IN_FLIGHT);
    let (raw_back_tx, raw_back_rx) = crossbeam_channel::bounded::<Batch>(IN_FLIGHT + 2);
    let (decoded_back_tx, decoded_back_rx) = crossbeam_channel::bounded::<Batch>(IN_FLIGHT + 2);
    let (merged, folded) = std::thread::scope(|s| {
        let folding = std::thread::Builder::new()
            .name("fixloop-fold".into())
            .spawn_scoped(s, move || {
                let mut folder = Folder::new();
                let mut decoder = Decoder::default();
                for mut batch in rx {
                    match &mut batch {
                        Batch::Raw(raw) => {
                            for f in &raw.frames {
                                let payload = &raw.bytes[f.start..f.start + f.len];
                                let entry = decoder.decode(f.segment, f.writer, f.offset, payload);
                                if let Some(e) = entry {
                                    folder.push(&e);
                                }
                            }
                        }
                        Batch::Decoded(entries) => entries.iter().for_each(|e| folder.push(e)),
                    }
                    batch.clear();
                    let _ = match batch {
                        Batch::Raw(_) => raw_back_tx.try_send(batch),
                        Batch::Decoded(_) => decoded_back_tx.try_send(batch),
                    };
                }
                (folder.into_folded(), decoder)
            });
        let mut decoder = Decoder::default();
        let next_batch = || {
            let on_folder = match decode_on {
                DecodeOn::Either => tx.is_empty(),
                #[cfg(test)]
                DecodeOn::Reader => false,
                #[cfg(test)]
                DecodeOn::Folder => true,
            };
            if on_folder {
                raw_back_rx
                    .try_recv()
                    .unwrap_or_else(|_| Batch::Raw(RawBatch::default()))
            } else {
                // The folder has a backlog: decode here.
                decoded_back_rx
                    .try_recv()
                    .unwrap_or_else(|_| Batch::Decoded(Vec::with_capacity(BATCH_FRAMES)))
            }
        };
        let mut batch = next_batch();
        let mut frames = 0;
        let merged = merge_dir(dir, |f| {
            match &mut batch {
                Batch::Raw(raw) => {
                    raw.frames.push(RawFrame {
                        segment: f.segment,
                        writer: f.writer,
                        offset: f.offset,
                        start: raw.bytes.len(),
                        len: f.payload.len(),
                    });
                    raw.bytes.extend_from_slice(f.payload);
                }
                Batch::Decoded(entries) => {
                    entries.extend(decoder.decode(f.segment, f.writer, f.offset, f.payload))
                }
            }
            frames += 1;
            if frames == BATCH_FRAMES {
                frames = 0;
                let _ = tx.send(std::mem::replace(&mut batch, next_batch()));
            }
        });
        let _ = tx.send(batch);
        drop(tx);
        let folded = match folding {
            Ok(handle) => handle.join().map_err(|_| "it panicked".to_string()),
            Err(e) => Err(format!("its thread could not start: {e}")),
        };
        let folded = folded.map(|(folded, theirs)| {
            decoder.merge(theirs);
            (folded, decoder.tallies)
        });
        (merged, folded)
    });
    let mut report = merged?;
    let (folded, tallies) = folded.map_err(|why| {
        Error::new(ErrorKind::Io, format!("folding the log failed: {why}"))
            .with_origin(dir.display().to_string())
    })?;
    apply_tallies(&mut report, tallies);
    report.fold = folded.report().clone();
    Ok(FoldedLog { folded, report })
}

/// Feedback as learning reads it: a log directory's compact fold, or a JSON-lines
/// file's events. Both are [`crate::feedback::Outcomes`].
#[derive(Debug)]
pub enum Feedback {
    /// A log directory, folded.
    Log(Box<FoldedLog>),
    /// The events of a JSON-lines file.
    Lines(Vec<FeedbackEvent>),
}

impl Feedback {
    /// The reading report (`None` for a JSON-lines file).
    pub fn report(&self) -> Option<&VerifyReport> {
        match self {
            Feedback::Log(l) => Some(&l.report),
            Feedback::Lines(_) => None,
        }
    }

    /// The events, built.
    pub fn into_loaded(self) -> LoadedEvents {
        match self {
            Feedback::Log(l) => l.into_loaded(),
            Feedback::Lines(events) => LoadedEvents {
                events,
                report: None,
            },
        }
    }
}

impl crate::feedback::Outcomes for Feedback {
    fn count(&self) -> usize {
        match self {
            Feedback::Log(l) => l.folded.count(),
            Feedback::Lines(e) => e.count(),
        }
    }

    fn each<'a, F: FnMut(crate::feedback::EventOutcome<'a>)>(&'a self, f: F) {
        match self {
            Feedback::Log(l) => l.folded.each(f),
            Feedback::Lines(e) => e.each(f),
        }
    }
}

/// Reads the feedback at `path`, a log directory or a JSON-lines file in the
/// interchange format of SPEC §3.1, for learning: a log stays compact (see [`Folded`]).
pub fn load_feedback(path: &Path) -> Result<Feedback> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io
        };
        Error::new(kind, format!("cannot read feedback: {e}"))
            .with_origin(path.display().to_string())
            .with_source(e)
    })?;
    if meta.is_dir() {
        read_dir_folded(path).map(|l| Feedback::Log(Box::new(l)))
    } else {
        jsonl::read_file(path).map(Feedback::Lines)
    }
}

/// Reads the events at `path`, which is either a log directory or a JSON-lines file in
/// the interchange format of SPEC §3.1 (`--feedback PATH`).
pub fn load_events(path: &Path) -> Result<LoadedEvents> {
    load_feedback(path).map(Feedback::into_loaded)
}

/// [`load_events`] without the report.
pub fn read_events(path: &Path) -> Result<Vec<FeedbackEvent>> {
    load_events(path).map(|l| l.events)
}

/// What an import wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    /// Events imported.
    pub events: usize,
    /// The new segment holding them.
    pub segment: PathBuf,
}

/// Imports the events of a JSON-lines file into log directory `dir` as one new sealed
/// segment of complete-event records. They fold back to the same events, in file
/// order; re-importing an event id replaces the earlier copy rather than duplicating it.
pub fn import_jsonl(jsonl_path: &Path, dir: &Path) -> Result<ImportReport> {
    let events = jsonl::read_file(jsonl_path)?;
    import_events(&events, dir)
}

/// Writes `events` into `dir` as one new sealed segment (see [`import_jsonl`]).
pub fn import_events(events: &[FeedbackEvent], dir: &Path) -> Result<ImportReport> {
    for (i, e) in events.iter().enumerate() {
        e.validate()
            .map_err(|err| err.context(format!("event {} ({})", i + 1, e.event_id)))?;
    }
    let mut seg = SegmentFile::create(dir, random_id())?;
    let path = seg.path().to_path_buf();
    let mut buf = Vec::new();
    let time_us = now_us();
    for e in events {
        let seq = seg.take_seq();
        super::frame::encode_frame(
            &mut buf,
            seq,
            time_us,
            0,
            &Record::Event(Box::new(e.clone())),
        );
        if buf.len() >= 1 << 20 {
            seg.append(&buf).map_err(|e| Error::io(&path, "write", e))?;
            buf.clear();
        }
    }
    seg.append(&buf).map_err(|e| Error::io(&path, "write", e))?;
    seg.sync().map_err(|e| Error::io(&path, "sync", e))?;
    seg.seal(events.len() as u64)
        .map_err(|e| Error::io(&path, "seal", e))?;
    Ok(ImportReport {
        events: events.len(),
        segment: path,
    })
}

/// What an export wrote.
#[derive(Clone, Debug)]
pub struct ExportReport {
    /// Events written.
    pub events: usize,
    /// The reading report of the log.
    pub report: VerifyReport,
}

/// Exports the events of log directory `dir` as JSON lines to `out`.
pub fn export_jsonl(dir: &Path, out: impl Write) -> Result<ExportReport> {
    let loaded = read_dir_events(dir)?;
    jsonl::write(out, &loaded.events).map_err(|e| {
        Error::new(ErrorKind::Io, format!("cannot write export: {e}")).with_source(e)
    })?;
    Ok(ExportReport {
        events: loaded.events.len(),
        report: loaded.report.unwrap_or_default(),
    })
}

/// Exports the events of log directory `dir` to the JSON-lines file `path`.
pub fn export_jsonl_file(dir: &Path, path: &Path) -> Result<ExportReport> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, "create", e))?;
    export_jsonl(dir, std::io::BufWriter::new(file))
        .map_err(|e| e.with_origin(path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{Feature, FixType};
    use crate::feedback::records::{EventId, FixApplied, FixId, SessionMark};
    use crate::feedback::UserAction;
    use crate::store::frame::{encode_frame, raw_frame};

    fn fix(collector: u64, serial: u32) -> Record {
        Record::FixApplied(FixApplied {
            event: EventId { collector, serial },
            session: 0,
            fix_id: FixId::new("f").unwrap(),
            feature: Feature::BassLevel.id(),
            fix_type: FixType::VolumeAdjust as u32,
            original_value: 1.0,
            target_value: 0.0,
            applied_value: 0.5,
            gap_before: 2.0,
            was_applied: true,
        })
    }

    /// A segment of `n` fixes with an accept for each, an intact frame of an unknown
    /// kind after fix `bad_at`, an intact frame that is not MessagePack after the next,
    /// and a session mark; sealed or not.
    fn segment(dir: &Path, writer: u64, t0: i64, n: u32, bad_at: u32, sealed: bool) {
        let mut seg = SegmentFile::create(dir, writer).unwrap();
        let mut buf = Vec::new();
        let mut records = 0;
        for i in 1..=n {
            let t = t0 + 10 * i64::from(i);
            encode_frame(&mut buf, seg.take_seq(), t, writer, &fix(writer, i));
            let accept = Record::UserAction(crate::feedback::records::UserActionRecord {
                event: EventId {
                    collector: writer,
                    serial: i,
                },
                action: UserAction::Accept,
                modified_value: None,
            });
            encode_frame(&mut buf, seg.take_seq(), t + 1, writer, &accept);
            records += 2;
            if i == bad_at {
                // The writer's envelope around a record kind from the future.
                let mut unknown = b"\x84\xa1s".to_vec();
                unknown.push(0xcf);
                unknown.extend_from_slice(&seg.take_seq().to_be_bytes());
                unknown.extend_from_slice(b"\xa1t\xd3");
                unknown.extend_from_slice(&(t + 2).to_be_bytes());
                unknown.extend_from_slice(b"\xa1c\x01\xa1r\x81\xa6future\x80");
                raw_frame(&mut buf, &unknown);
            }
            if i == bad_at + 1 {
                raw_frame(&mut buf, b"not messagepack");
            }
        }
        encode_frame(
            &mut buf,
            seg.take_seq(),
            t0 + 10 * i64::from(n) + 5,
            writer,
            &Record::SessionSaved(SessionMark { session: 0 }),
        );
        seg.append(&buf).unwrap();
        if sealed {
            seg.seal(records + 1).unwrap();
        }
    }

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "fixloop-reader-{tag}-{}-{}",
            std::process::id(),
            random_id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn decoding_on_either_thread_gives_the_same_events_and_report() {
        let d = dir("placement");
        // Two writers whose records interleave in time, one sealed, one not. Enough
        // records for many batches, so batches change hands.
        segment(&d, 1, 1_000, 40_000, 4_000, true);
        segment(&d, 2, 1_003, 30_000, 100, false);
        let reference = read_log(&d).unwrap();
        let expected: Vec<FeedbackEvent> =
            crate::feedback::records::fold(&reference.entries).events;
        assert_eq!(expected.len(), 70_000);
        assert!(expected
            .iter()
            .all(|e| e.user_action == Some(UserAction::Accept)));
        // Built (on several threads when there are cores) in the order of their fixes.
        let fixes: Vec<String> = reference
            .entries
            .iter()
            .filter_map(|e| match &e.record {
                Record::FixApplied(f) => Some(f.event.to_string()),
                _ => None,
            })
            .collect();
        let built: Vec<&str> = expected.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(built, fixes);
        let r = &reference.report;
        assert_eq!(r.count(ProblemKind::Undecodable), 4, "{r}");
        assert_eq!(
            r.count(ProblemKind::Damaged) + r.count(ProblemKind::TornTail),
            0
        );
        let sealed: Vec<bool> = r.segments.iter().map(|s| s.sealed).collect();
        assert_eq!(sealed, [true, false]);
        let records: Vec<u64> = r.segments.iter().map(|s| s.records).collect();
        assert_eq!(records, [80_002, 60_001]); // fixes, accepts, the mark (+ the end)
        for s in &r.segments {
            assert!(s.problems.windows(2).all(|w| w[0].offset < w[1].offset));
        }
        for on in [DecodeOn::Either, DecodeOn::Reader, DecodeOn::Folder] {
            let log = fold_dir(&d, on).unwrap();
            let mut report = reference.report.clone();
            report.fold = log.folded.report().clone();
            assert_eq!(log.report, report, "{on:?}");
            assert_eq!(log.folded.into_fold().events, expected, "{on:?}");
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
