//! JSON-lines interchange of [`FeedbackEvent`]s (SPEC §3.1): one object per line,
//! exactly the seed's fields. Import ignores unknown fields and blank lines, refuses
//! NaN/Infinity and malformed lines with the line number; export then import is the
//! identity.
//!
//! Reading splits the input into blocks of whole lines and parses the blocks on every
//! core, then puts the events back in file order: a million-line file reads in about a
//! second on two cores (docs/measurements.md, "Benchmarks"). The result, and the first error by line
//! number, are exactly those of reading line by line.

use super::event::FeedbackEvent;
use crate::error::{Error, ErrorKind, Result};
use std::io::{BufRead, Write};
use std::path::Path;

/// Bytes per block handed to a parsing thread (whole lines; a longer line makes a
/// longer block).
const BLOCK_BYTES: usize = 1 << 21;

/// Reads every event of a JSON-lines file.
pub fn read_file(path: &Path) -> Result<Vec<FeedbackEvent>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    read(std::io::BufReader::new(file), &path.display().to_string())
}

/// What parsing one block found.
#[derive(Default)]
struct Parsed {
    events: Vec<FeedbackEvent>,
    /// Lines in the block.
    lines: usize,
    /// The first bad line: its number within the block (from 1) and its bytes.
    bad: Option<(usize, Vec<u8>)>,
}

/// Parses the lines of `block`, stopping at the first bad one.
fn parse_block(block: &[u8]) -> Parsed {
    // Valid UTF-8 (the usual case) is checked once for the whole block, so the parser
    // need not check each string again.
    match std::str::from_utf8(block) {
        // Newlines are ASCII, so every line of a valid `str` is a valid `str`.
        Ok(text) => parse_lines(block, |r| serde_json::from_str(&text[r])),
        Err(_) => parse_lines(block, |r| serde_json::from_slice(&block[r])),
    }
}

/// [`parse_block`]'s loop: `parse` gets each line's byte range.
fn parse_lines(
    block: &[u8],
    parse: impl Fn(std::ops::Range<usize>) -> serde_json::Result<FeedbackEvent>,
) -> Parsed {
    let mut out = Parsed::default();
    let mut start = 0;
    let unterminated = !block.is_empty() && !block.ends_with(b"\n");
    let ends = memchr::memchr_iter(b'\n', block).map(|i| i + 1);
    for end in ends.chain(unterminated.then_some(block.len())) {
        let range = start..end;
        start = end;
        out.lines += 1;
        if block[range.clone()].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse(range.clone()) {
            Ok(event) if event.validate().is_ok() => out.events.push(event),
            _ => {
                out.bad = Some((out.lines, block[range].to_vec()));
                break;
            }
        }
    }
    out
}

/// Appends whole lines to the empty `block` until it holds at least [`BLOCK_BYTES`]
/// or the input ends; false when nothing was left to read.
fn fill_block(reader: &mut impl BufRead, block: &mut Vec<u8>) -> std::io::Result<bool> {
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(!block.is_empty());
        }
        if block.len() < BLOCK_BYTES {
            let n = buf.len().min(BLOCK_BYTES - block.len());
            block.extend_from_slice(&buf[..n]);
            reader.consume(n);
        } else if let Some(i) = memchr::memchr(b'\n', buf) {
            // Full: end the block with the line under way.
            block.extend_from_slice(&buf[..=i]);
            reader.consume(i + 1);
            return Ok(true);
        } else {
            let n = buf.len();
            block.extend_from_slice(buf);
            reader.consume(n);
        }
    }
}

/// Reads every event from `reader`; `origin` names the source in errors.
///
/// Reads a batch of blocks of whole lines (two per worker), parses the batch's blocks on
/// every core (rayon), appends their events in order, and goes on with the next batch.
pub fn read(mut reader: impl BufRead, origin: &str) -> Result<Vec<FeedbackEvent>> {
    use rayon::prelude::*;
    let batch_blocks = 2 * rayon::current_num_threads().max(1);
    let mut events = Vec::new();
    let mut lines_before = 0;
    let mut bytes_read = 0u64;
    loop {
        let mut blocks = Vec::with_capacity(batch_blocks);
        let mut read_error = None;
        while blocks.len() < batch_blocks {
            let mut block = Vec::with_capacity(BLOCK_BYTES + (BLOCK_BYTES >> 4));
            match fill_block(&mut reader, &mut block) {
                Ok(true) => {
                    bytes_read += block.len() as u64;
                    blocks.push(block);
                }
                Ok(false) => break,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        let last = blocks.len() < batch_blocks;
        let parsed: Vec<Parsed> = blocks.par_iter().map(|b| parse_block(b)).collect();
        for mut parsed in parsed {
            if let Some((local, line)) = parsed.bad.take() {
                return Err(line_error(&line, origin, lines_before + local));
            }
            lines_before += parsed.lines;
            events.append(&mut parsed.events);
        }
        if let Some(e) = read_error {
            return Err(Error::new(
                ErrorKind::Io,
                format!("cannot read after byte {bytes_read} (line {lines_before}): {e}"),
            )
            .with_origin(origin)
            .with_source(e));
        }
        if last {
            return Ok(events);
        }
    }
}

/// The error for a line the fast parse refused: UTF-8, JSON, field or non-finite value.
fn line_error(line: &[u8], origin: &str, line_no: usize) -> Error {
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(e) => {
            return Error::new(
                ErrorKind::Parse,
                format!(
                    "line {line_no}: not valid UTF-8 (byte {} of the line)",
                    e.valid_up_to() + 1
                ),
            )
            .with_origin(origin)
        }
    };
    match parse_line(text, origin, line_no) {
        Err(e) => e,
        Ok(_) => Error::new(ErrorKind::Parse, format!("line {line_no}: cannot be read"))
            .with_origin(origin),
    }
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
