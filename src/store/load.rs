//! Feedback as learning reads it, from a log directory or a `.jsonl` file: the one entry
//! point [`load_feedback`]. A log is read, merged, decoded and folded on two threads
//! (read and merge | decode and fold), kept compact for learning.

use super::merge::{apply_tallies, merge_dir, Decoder};
use super::report::VerifyReport;
use crate::error::{Error, ErrorKind, Result};
use crate::feedback::fold::{EventSpans, Folded, Folder};
use crate::feedback::records::LogEntry;
use crate::feedback::{jsonl, FeedbackEvent};
use std::path::Path;

/// Records on their way from the reading thread to the folding one, in merged order:
/// each decoded by the reader or handed on as raw payload bytes for the folder.
#[derive(Default)]
struct Batch {
    items: Vec<Item>,
    /// Raw payloads, end to end.
    bytes: Vec<u8>,
}

enum Item {
    /// A record the reading thread decoded.
    Decoded(LogEntry),
    /// An intact frame for the folder to decode.
    Raw(RawFrame),
    /// An imported whole event the reading thread decoded, its strings in `Batch::bytes`.
    Event(RawFrame, EventSpans),
}

struct RawFrame {
    segment: usize,
    writer: u64,
    offset: u64,
    /// The payload's range in `Batch::bytes`.
    start: usize,
    len: usize,
}

impl Batch {
    fn clear(&mut self) {
        self.items.clear();
        self.bytes.clear();
    }

    /// Copies the frame's payload into the batch.
    fn copy(&mut self, f: &super::merge::Frame<'_>) -> RawFrame {
        let raw = RawFrame {
            segment: f.segment,
            writer: f.writer,
            offset: f.offset,
            start: self.bytes.len(),
            len: f.payload.len(),
        };
        self.bytes.extend_from_slice(f.payload);
        raw
    }

    /// An imported whole event: decoded here, its strings left in place for the folder
    /// (or handed on raw when it does not decode that way).
    fn push_event(&mut self, f: &super::merge::Frame<'_>) {
        let raw = self.copy(f);
        let payload = &self.bytes[raw.start..raw.start + raw.len];
        let spans = super::frame::decode_event_ref(payload)
            .and_then(|ev| EventSpans::new(&ev, &self.bytes));
        self.items.push(match spans {
            Some(spans) => Item::Event(raw, spans),
            None => Item::Raw(raw),
        });
    }
}

/// Folds a frame handed on raw: an imported whole event decoded in place (no copies of
/// its strings), anything else decoded and pushed.
fn fold_raw(folder: &mut Folder, decoder: &mut Decoder, f: &RawFrame, bytes: &[u8]) {
    let payload = &bytes[f.start..f.start + f.len];
    if let Some(e) = decoder.decode_fast(f.segment, f.writer, f.offset, payload) {
        folder.push(&e);
        return;
    }
    if super::decode::is_event(payload) {
        let spans =
            super::frame::decode_event_ref(payload).and_then(|ev| EventSpans::new(&ev, bytes));
        if spans.is_some_and(|spans| folder.push_event_spans(&spans, bytes)) {
            decoder.count(f.segment, f.offset);
            return;
        }
    }
    if let Some(e) = decoder.decode(f.segment, f.writer, f.offset, payload) {
        folder.push(&e);
    }
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
pub(crate) fn read_dir_events(dir: &Path) -> Result<LoadedEvents> {
    read_dir_folded(dir).map(FoldedLog::into_loaded)
}

/// Reads a log directory and folds it, keeping the events compact: what learning reads
/// ([`crate::feedback::Outcomes`]) without building every [`FeedbackEvent`].
pub(crate) fn read_dir_folded(dir: &Path) -> Result<FoldedLog> {
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
    // so both cores stay busy whatever their relative speed. Imported whole events are
    // decoded in place whichever thread decodes them (their strings stay in the batch's
    // bytes: no per-event allocation on one thread freed on the other). Batches go back
    // to the reader once folded, so their memory is reused.
    const BATCH_FRAMES: usize = 4096;
    const IN_FLIGHT: usize = 8;
    let (tx, rx) = crossbeam_channel::bounded::<Batch>(IN_FLIGHT);
    let (back_tx, back_rx) = crossbeam_channel::bounded::<Batch>(IN_FLIGHT + 2);
    let (merged, folded) = std::thread::scope(|s| {
        let folding = std::thread::Builder::new()
            .name("fixloop-fold".into())
            .spawn_scoped(s, move || {
                let mut folder = Folder::new();
                let mut decoder = Decoder::default();
                for mut batch in rx {
                    for item in &batch.items {
                        match item {
                            Item::Decoded(e) => folder.push(e),
                            Item::Event(f, spans)
                                if folder.push_event_spans(spans, &batch.bytes) =>
                            {
                                decoder.count(f.segment, f.offset);
                            }
                            Item::Raw(f) | Item::Event(f, _) => {
                                fold_raw(&mut folder, &mut decoder, f, &batch.bytes)
                            }
                        }
                    }
                    batch.clear();
                    let _ = back_tx.try_send(batch);
                }
                (folder.into_folded(), decoder)
            });
        let mut decoder = Decoder::default();
        let decode_here = || match decode_on {
            // The folder has a backlog: decode here.
            DecodeOn::Either => !tx.is_empty(),
            #[cfg(test)]
            DecodeOn::Reader => true,
            #[cfg(test)]
            DecodeOn::Folder => false,
        };
        let next_batch = || back_rx.try_recv().unwrap_or_default();
        let mut batch = next_batch();
        let mut here = decode_here();
        let merged = merge_dir(dir, |f| {
            if !here {
                let raw = batch.copy(&f);
                batch.items.push(Item::Raw(raw));
            } else if let Some(e) = decoder.decode_fast(f.segment, f.writer, f.offset, f.payload) {
                batch.items.push(Item::Decoded(e));
            } else if super::decode::is_event(f.payload) {
                batch.push_event(&f);
            } else if let Some(e) = decoder.decode(f.segment, f.writer, f.offset, f.payload) {
                batch.items.push(Item::Decoded(e));
            }
            if batch.items.len() == BATCH_FRAMES {
                let _ = tx.send(std::mem::replace(&mut batch, next_batch()));
                here = decode_here();
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

/// The events at `path` (a log directory or a `.jsonl` file), built:
/// `load_feedback(path)?.into_loaded().events`.
pub fn read_events(path: &Path) -> Result<Vec<FeedbackEvent>> {
    load_feedback(path).map(|f| f.into_loaded().events)
}

/// Checks a log directory: segments, records, damaged and torn frames with file and
/// offset, dropped-record counts. `Display` the result for people.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    read_dir_events(dir).map(|l| l.report.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{Feature, FixType};
    use crate::feedback::records::{EventId, FixApplied, FixId, Record, SessionMark};
    use crate::feedback::UserAction;
    use crate::store::frame::{encode_frame, raw_frame};
    use crate::store::merge::read_log;
    use crate::store::report::ProblemKind;
    use crate::store::segment::{random_id, SegmentFile};
    use std::path::PathBuf;

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
        let expected: Vec<FeedbackEvent> = crate::feedback::fold::fold(&reference.entries).events;
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
