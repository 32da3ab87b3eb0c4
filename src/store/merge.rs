//! The merge of every writer's segment of a log directory, by (time, writer, sequence),
//! and the two read-only entry points on it: [`read_log`] and [`verify`].

use super::report::VerifyReport;
use super::scan::{empty_report, FileStream, Head, Tally};
use crate::error::Result;
use crate::feedback::records::LogEntry;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

/// An intact frame handed on by [`merge_dir`].
pub(super) struct Frame<'a> {
    /// Index of its segment in the report.
    pub(super) segment: usize,
    pub(super) writer: u64,
    /// File offset of the frame.
    pub(super) offset: u64,
    pub(super) payload: &'a [u8],
}

/// Reads every segment of `dir` and hands each intact frame to `sink` in merged
/// (time, writer, sequence) order: a k-way merge of the segments, each already in
/// order. The report has the scan's findings (headers, damaged and torn stretches);
/// the caller decodes the frames and applies its [`Tally`]s.
pub(super) fn merge_dir(dir: &Path, mut sink: impl FnMut(Frame<'_>)) -> Result<VerifyReport> {
    // Every segment is opened before the first frame is handed on: a segment that a
    // compaction removed between the listing and its opening (its records are then in
    // the compacted segment the next listing shows) makes the whole listing start over,
    // so no record is missed or seen twice.
    let mut attempts = 0;
    let (mut report, mut streams) = loop {
        attempts += 1;
        let listing = super::compact::list(dir)?;
        let mut report = VerifyReport {
            dir: dir.to_path_buf(),
            foreign_files: listing.foreign,
            ..VerifyReport::default()
        };
        let mut streams: Vec<Option<FileStream>> = Vec::new();
        let mut vanished = false;
        for path in listing.segments {
            let mut seg = empty_report(&path);
            let stream = FileStream::open(&path, &mut seg);
            vanished |= stream.is_none() && !path.exists();
            streams.push(stream);
            report.segments.push(seg);
        }
        if !vanished || attempts >= 8 {
            break (report, streams);
        }
    };
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

/// Applies the decoding tallies of every segment and totals the records.
pub(super) fn apply_tallies(report: &mut VerifyReport, tallies: Vec<Tally>) {
    for (tally, seg) in tallies.into_iter().zip(&mut report.segments) {
        tally.apply(seg);
    }
    report.records = report.segments.iter().map(|s| s.records).sum();
}

/// Decodes frames, keeping a tally per segment.
#[derive(Default)]
pub(super) struct Decoder {
    pub(super) tallies: Vec<Tally>,
}

impl Decoder {
    /// The tally of `segment`.
    fn tally(&mut self, segment: usize) -> &mut Tally {
        if self.tallies.len() <= segment {
            self.tallies.resize_with(segment + 1, Tally::default);
        }
        &mut self.tallies[segment]
    }

    pub(super) fn decode(
        &mut self,
        segment: usize,
        writer: u64,
        offset: u64,
        payload: &[u8],
    ) -> Option<LogEntry> {
        self.tally(segment).decode(writer, offset, payload)
    }

    /// [`decode`](Self::decode) by the hand-written decoder only; `None`, nothing
    /// counted, for a record it does not take.
    pub(super) fn decode_fast(
        &mut self,
        segment: usize,
        writer: u64,
        offset: u64,
        payload: &[u8],
    ) -> Option<LogEntry> {
        self.tally(segment).decode_fast(writer, offset, payload)
    }

    /// Counts a record of `segment` at `offset` decoded elsewhere (an imported event
    /// folded in place).
    pub(super) fn count(&mut self, segment: usize, offset: u64) {
        self.tally(segment).count(offset);
    }

    /// Adds the tallies of another decoder of the same segments.
    pub(super) fn merge(&mut self, other: Decoder) {
        if self.tallies.len() < other.tallies.len() {
            self.tallies
                .resize_with(other.tallies.len(), Tally::default);
        }
        for (mine, theirs) in self.tallies.iter_mut().zip(other.tallies) {
            mine.merge(theirs);
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

/// Reads every segment of `dir` (read-only: nothing is repaired), merges the records of
/// all writers by (time, writer, sequence) and reports damage per file and offset.
///
/// Fails only when the directory itself cannot be listed; unreadable files are reported
/// in their [`SegmentReport`](super::SegmentReport).
pub fn read_log(dir: &Path) -> Result<Log> {
    let mut entries = Vec::new();
    let mut decoder = Decoder::default();
    let mut report = merge_dir(dir, |f| {
        entries.extend(decoder.decode(f.segment, f.writer, f.offset, f.payload))
    })?;
    apply_tallies(&mut report, decoder.tallies);
    Ok(Log { entries, report })
}
