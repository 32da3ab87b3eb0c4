//! JSON-lines interchange of [`FeedbackEvent`]s (SPEC §3.1): one object per line,
//! exactly the seed's fields. Import ignores unknown fields and blank lines, refuses
//! NaN/Infinity and malformed lines with the line number; export then import is the
//! identity.

use super::event::FeedbackEvent;
use crate::error::{Error, ErrorKind, Result};
use std::io::{BufRead, Write};
use std::path::Path;

/// Reads every event of a JSON-lines file.
pub fn read_file(path: &Path) -> Result<Vec<FeedbackEvent>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    read(std::io::BufReader::new(file), &path.display().to_string())
}

/// Reads every event from `reader`; `origin` names the source in errors.
pub fn read(mut reader: impl BufRead, origin: &str) -> Result<Vec<FeedbackEvent>> {
    let mut events = Vec::new();
    // One line buffer for the whole file: a million-line log is a million fewer allocations.
    let mut line = String::new();
    for line_no in 1.. {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|e| {
            Error::new(ErrorKind::Io, format!("line {line_no}: cannot read: {e}"))
                .with_origin(origin)
                .with_source(e)
        })?;
        if n == 0 {
            break;
        }
        if let Some(event) = parse_line(&line, origin, line_no)? {
            events.push(event);
        }
    }
    Ok(events)
}

/// Parses one line: `None` for a blank line.
///
/// The fast path is a plain `serde_json` parse; only a line that fails (or holds a
/// non-finite number) is parsed again to name the field and position in the error.
pub fn parse_line(line: &str, origin: &str, line_no: usize) -> Result<Option<FeedbackEvent>> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let located = || format!("{origin}: line {line_no}");
    let event: FeedbackEvent = match serde_json::from_str(line) {
        Ok(event) => event,
        Err(_) => crate::json::parse(line, &located())?,
    };
    event.validate().map_err(|e| e.with_origin(located()))?;
    Ok(Some(event))
}

/// Writes `events` as JSON lines.
pub fn write<'a>(
    mut writer: impl Write,
    events: impl IntoIterator<Item = &'a FeedbackEvent>,
) -> std::io::Result<()> {
    for event in events {
        serde_json::to_writer(&mut writer, event)?;
        writer.write_all(b"\n")?;
    }
    writer.flush()
}

/// Writes `events` to the file at `path` (created or truncated).
pub fn write_file<'a>(
    path: &Path,
    events: impl IntoIterator<Item = &'a FeedbackEvent>,
) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, "create", e))?;
    write(std::io::BufWriter::new(file), events).map_err(|e| Error::io(path, "write", e))
}
