//! Reading one segment: its header, then its frames from a file read in chunks (or from
//! bytes in memory), checked, resynchronised after damage, decoded and tallied.

use super::frame::{decode_payload, FrameScanner, Scanned, SegmentHeader, HEADER_LEN};
use super::report::{FrameProblem, ProblemKind, SegmentReport};
use super::segment::lock_path;
use crate::feedback::records::{LogEntry, Record};
use std::path::Path;

pub(super) fn empty_report(path: &Path) -> SegmentReport {
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
pub(super) struct Tally {
    records: u64,
    /// Whether the last record decoded is the end mark.
    sealed: bool,
    /// File offset of the last record decoded.
    last: Option<u64>,
    undecodable: Vec<FrameProblem>,
}

impl Tally {
    /// Decodes the intact frame at file offset `offset`; an undecodable one is noted.
    pub(super) fn decode(&mut self, writer: u64, offset: u64, payload: &[u8]) -> Option<LogEntry> {
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

    /// [`decode`](Self::decode) by the hand-written decoder only (the three records of
    /// every event); `None`, nothing counted, for anything else.
    pub(super) fn decode_fast(
        &mut self,
        writer: u64,
        offset: u64,
        payload: &[u8],
    ) -> Option<LogEntry> {
        let (seq, time_us, collector, record) = super::decode::decode(payload)?;
        self.count(offset);
        Some(LogEntry {
            time_us,
            writer,
            seq,
            collector,
            record,
        })
    }

    /// Counts a record at `offset` decoded elsewhere (never the end mark).
    pub(super) fn count(&mut self, offset: u64) {
        self.records += 1;
        self.sealed = false;
        self.last = Some(offset);
    }

    /// Adds the tally of other frames of the same segment.
    pub(super) fn merge(&mut self, other: Tally) {
        self.records += other.records;
        if other.last > self.last {
            self.sealed = other.sealed;
            self.last = other.last;
        }
        self.undecodable.extend(other.undecodable);
    }

    pub(super) fn apply(self, report: &mut SegmentReport) {
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
pub(super) struct FileStream {
    pub(super) writer: u64,
    pub(super) file: std::fs::File,
    pub(super) buf: Vec<u8>,
    /// Index in `buf` of the next unread byte.
    pub(super) pos: usize,
    /// File offset of `buf[0]`.
    pub(super) base: u64,
    pub(super) eof: bool,
}

const CHUNK_BYTES: usize = 1 << 20;

impl FileStream {
    /// Opens `path` and checks its header; `None` (with the problem in `report`) when the
    /// file holds no readable segment.
    pub(super) fn open(path: &Path, report: &mut SegmentReport) -> Option<FileStream> {
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
    pub(super) fn next_frame(&mut self, report: &mut SegmentReport) -> Option<Head> {
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

    pub(super) fn payload(&self, head: &Head) -> &[u8] {
        &self.buf[head.start..head.start + head.len]
    }
}

/// An intact frame of a [`FileStream`]: its merge key and where its payload lies.
#[derive(Clone, Copy, Debug)]
pub(super) struct Head {
    pub(super) time_us: i64,
    pub(super) seq: u64,
    /// File offset of the frame.
    pub(super) offset: u64,
    /// The payload's range in the stream's buffer.
    pub(super) start: usize,
    pub(super) len: usize,
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
