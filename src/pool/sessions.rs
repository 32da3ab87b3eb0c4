//! The per-session A/B table as Parquet: what `sql/ab_sessions.sql` computes, and what
//! `fixloop ab status --sessions` reads.

use super::columns::Origin;
use crate::error::{Error, ErrorKind, Result};
use crate::feedback::{Arm, Timestamp};
use crate::learn::mergeable::{ExactSum, SessionRow, SessionTable};
use arrow_array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use std::path::Path;
use std::sync::Arc;

/// The columns of the per-session table, in order (`sql/ab_sessions.sql` writes them).
pub const SESSION_COLUMNS: [&str; 11] = [
    "test_id",
    "arm",
    "session_id",
    "events",
    "accepts",
    "undos",
    "improvements",
    "improvement_sum",
    "improvement_sum_sq",
    "covariate",
    "first_event",
];

/// Reads a per-session table (Parquet) an engine computed with `sql/ab_sessions.sql`, or
/// [`write_sessions`] wrote: the columns of [`SESSION_COLUMNS`], any row order, counts
/// as any integer type, sums as doubles, `first_event` as a timestamp of any unit. Rows
/// of the same (test, arm, session) are merged. A missing or mistyped column, a null, an
/// unknown arm, a negative count, counts that contradict each other or a non-finite sum is
/// an error naming the file, column and row.
///
/// `path` may also be a directory of Parquet part files (what Spark writes): every
/// `*.parquet` file in it is read.
pub fn read_sessions(path: &Path) -> Result<SessionTable> {
    if path.is_dir() {
        let mut parts: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, "read", e))?
            .filter_map(|d| d.ok().map(|d| d.path()))
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.ends_with(".parquet") && !name.starts_with(['.', '_'])
            })
            .collect();
        parts.sort();
        if parts.is_empty() {
            return Err(
                Error::new(ErrorKind::NotFound, "no *.parquet files in the directory")
                    .with_origin(path.display().to_string()),
            );
        }
        let mut table = SessionTable::default();
        for p in parts {
            table.merge(&read_session_file(&p)?);
        }
        return Ok(table);
    }
    read_session_file(path)
}

fn read_session_file(path: &Path) -> Result<SessionTable> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let bad = |e: &dyn std::fmt::Display| {
        Error::new(
            ErrorKind::Parse,
            format!("not a readable Parquet file: {e}"),
        )
        .with_origin(path.display().to_string())
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| bad(&e))?;
    let mut table = SessionTable::default();
    let mut rows = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let at = Origin {
            path,
            row_base: rows,
        };
        let (tests, arms, sessions) = (
            at.strings(&batch, "test_id")?,
            at.strings(&batch, "arm")?,
            at.strings(&batch, "session_id")?,
        );
        let c = |n: &str| at.counts(&batch, n);
        let (events, accepts, undos, improvements) =
            (c("events")?, c("accepts")?, c("undos")?, c("improvements")?);
        let (sum, sum_sq, covariate) = (
            at.floats(&batch, "improvement_sum")?,
            at.floats(&batch, "improvement_sum_sq")?,
            at.floats(&batch, "covariate")?,
        );
        let first = at.micros(&batch, "first_event")?;
        for (r, first) in first.iter().enumerate() {
            let arm = match at.string(&arms, "arm", r)? {
                "control" => Arm::Control,
                "treatment" => Arm::Treatment,
                other => return Err(at.error("arm", Some(r), format!("unknown arm {other:?}"))),
            };
            let opt_sum = |col, n| at.opt_float(col, n, r).map(|v| v.unwrap_or(0.0));
            let row = SessionRow {
                events: at.count(&events, "events", r)?,
                accepts: at.count(&accepts, "accepts", r)?,
                undos: at.count(&undos, "undos", r)?,
                improvements: at.count(&improvements, "improvements", r)?,
                // An engine's SUM over no values is null.
                improvement_sum: std::iter::once(opt_sum(&sum, "improvement_sum")?).collect(),
                improvement_sum_sq: std::iter::once(opt_sum(&sum_sq, "improvement_sum_sq")?)
                    .collect::<ExactSum>(),
                covariate: at.opt_float(&covariate, "covariate", r)?,
                first_event: Timestamp::from_micros(
                    first.ok_or_else(|| at.error("first_event", Some(r), "is null"))?,
                ),
            };
            if row.events == 0
                || row.accepts > row.events
                || row.undos > row.events
                || row.improvements > row.events
            {
                return Err(at.error(
                    "events",
                    Some(r),
                    format!(
                        "counts do not fit: {} events, {} accepts, {} undos, {} improvements",
                        row.events, row.accepts, row.undos, row.improvements
                    ),
                ));
            }
            let test = at.string(&tests, "test_id", r)?;
            let session = at.string(&sessions, "session_id", r)?;
            table
                .tests
                .entry(test.to_string())
                .or_default()
                .insert(arm, session, row);
        }
        rows += batch.num_rows();
    }
    Ok(table)
}

/// Writes `table` as the per-session Parquet table [`read_sessions`] reads (the
/// library's own table, to compare with an engine's).
pub fn write_sessions(path: &Path, table: &SessionTable) -> Result<()> {
    let rows: Vec<(&str, Arm, &str, &SessionRow)> = table
        .tests
        .iter()
        .flat_map(|(t, s)| {
            [Arm::Control, Arm::Treatment]
                .into_iter()
                .flat_map(move |arm| {
                    s.arm(arm)
                        .iter()
                        .map(move |(id, r)| (t.as_str(), arm, id.as_str(), r))
                })
        })
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("test_id", DataType::Utf8, false),
        Field::new("arm", DataType::Utf8, false),
        Field::new("session_id", DataType::Utf8, false),
        Field::new("events", DataType::Int64, false),
        Field::new("accepts", DataType::Int64, false),
        Field::new("undos", DataType::Int64, false),
        Field::new("improvements", DataType::Int64, false),
        Field::new("improvement_sum", DataType::Float64, false),
        Field::new("improvement_sum_sq", DataType::Float64, false),
        Field::new("covariate", DataType::Float64, true),
        Field::new(
            "first_event",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]));
    let int = |f: &dyn Fn(&SessionRow) -> u64| -> ArrayRef {
        Arc::new(rows.iter().map(|r| f(r.3) as i64).collect::<Int64Array>())
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(rows.iter().map(|r| Some(r.0)).collect::<StringArray>()),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.1.name()))
                .collect::<StringArray>(),
        ),
        Arc::new(rows.iter().map(|r| Some(r.2)).collect::<StringArray>()),
        int(&|r| r.events),
        int(&|r| r.accepts),
        int(&|r| r.undos),
        int(&|r| r.improvements),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.3.improvement_sum.value()))
                .collect::<Float64Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.3.improvement_sum_sq.value()))
                .collect::<Float64Array>(),
        ),
        Arc::new(rows.iter().map(|r| r.3.covariate).collect::<Float64Array>()),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                rows.iter().map(|r| r.3.first_event.as_micros()),
            )
            .with_timezone("UTC"),
        ),
    ];
    let fail = |e: &dyn std::fmt::Display| {
        Error::new(ErrorKind::Io, format!("cannot write Parquet: {e}"))
            .with_origin(path.display().to_string())
    };
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| fail(&e))?;
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, "create", e))?;
    let mut w = ArrowWriter::try_new(file, schema, None).map_err(|e| fail(&e))?;
    w.write(&batch).map_err(|e| fail(&e))?;
    w.close().map_err(|e| fail(&e))?;
    Ok(())
}
