//! JSON-lines interchange (SPEC §3.1): importing a file into a log as one new sealed
//! segment, exporting a log's events.

use super::load::read_dir_events;
use super::report::VerifyReport;
use super::segment::{now_us, random_id, SegmentFile};
use crate::error::{Error, ErrorKind, Result};
use crate::feedback::records::Record;
use crate::feedback::{jsonl, FeedbackEvent};
use std::io::Write;
use std::path::{Path, PathBuf};

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
