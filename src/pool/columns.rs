//! Reading typed columns out of Arrow record batches, with errors that name the file,
//! the column and the row.

use crate::error::{Error, ErrorKind, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use std::path::Path;

/// Where a batch came from: for error messages.
pub(crate) struct Origin<'a> {
    pub path: &'a Path,
    /// Rows before this batch.
    pub row_base: usize,
}

impl Origin<'_> {
    pub fn error(
        &self,
        column: &str,
        row: Option<usize>,
        message: impl std::fmt::Display,
    ) -> Error {
        let at = match row {
            Some(r) => format!("column {column}, row {}", self.row_base + r + 1),
            None => format!("column {column}"),
        };
        Error::new(ErrorKind::Parse, format!("{at}: {message}"))
            .with_origin(self.path.display().to_string())
    }

    fn column<'b>(&self, batch: &'b RecordBatch, name: &str) -> Result<&'b ArrayRef> {
        batch
            .column_by_name(name)
            .ok_or_else(|| self.error(name, None, "missing"))
    }

    fn wrong(&self, name: &str, t: &DataType, want: &str) -> Error {
        self.error(name, None, format!("has type {t}, expected {want}"))
    }

    /// A string column (Utf8, LargeUtf8 or Utf8View).
    pub fn strings<'b>(&self, batch: &'b RecordBatch, name: &str) -> Result<Strings<'b>> {
        let c = self.column(batch, name)?;
        if let Some(a) = c.as_string_opt::<i32>() {
            Ok(Strings::Small(a))
        } else if let Some(a) = c.as_string_opt::<i64>() {
            Ok(Strings::Large(a))
        } else if let Some(a) = c.as_string_view_opt() {
            Ok(Strings::View(a))
        } else {
            Err(self.wrong(name, c.data_type(), "a string"))
        }
    }

    /// A required string value.
    pub fn string<'b>(&self, col: &Strings<'b>, name: &str, row: usize) -> Result<&'b str> {
        col.get(row)
            .ok_or_else(|| self.error(name, Some(row), "is null"))
    }

    /// A float column (Float64).
    pub fn floats(&self, batch: &RecordBatch, name: &str) -> Result<Floats> {
        let c = self.column(batch, name)?;
        let a = c
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| self.wrong(name, c.data_type(), "Float64 (double)"))?;
        Ok(Floats(a.clone()))
    }

    /// A finite float or null.
    pub fn opt_float(&self, col: &Floats, name: &str, row: usize) -> Result<Option<f64>> {
        if col.0.is_null(row) {
            return Ok(None);
        }
        let v = col.0.value(row);
        if !v.is_finite() {
            return Err(self.error(name, Some(row), format!("{v} is not a finite number")));
        }
        Ok(Some(v))
    }

    /// A required finite float.
    pub fn float(&self, col: &Floats, name: &str, row: usize) -> Result<f64> {
        self.opt_float(col, name, row)?
            .ok_or_else(|| self.error(name, Some(row), "is null"))
    }

    /// A non-negative integer column (Int64, Int32 or UInt64; engines differ).
    pub fn counts(&self, batch: &RecordBatch, name: &str) -> Result<Vec<Option<u64>>> {
        let c = self.column(batch, name)?;
        let neg = |row: usize, v: i64| self.error(name, Some(row), format!("{v} is negative"));
        let out: Vec<Option<u64>> = if let Some(a) = c.as_primitive_opt::<Int64Type>() {
            a.iter()
                .enumerate()
                .map(|(r, v)| {
                    v.map(|v| u64::try_from(v).map_err(|_| neg(r, v)))
                        .transpose()
                })
                .collect::<Result<_>>()?
        } else if let Some(a) = c.as_primitive_opt::<Int32Type>() {
            a.iter()
                .enumerate()
                .map(|(r, v)| {
                    v.map(|v| u64::try_from(v).map_err(|_| neg(r, v.into())))
                        .transpose()
                })
                .collect::<Result<_>>()?
        } else if let Some(a) = c.as_primitive_opt::<UInt64Type>() {
            a.iter().collect()
        } else {
            return Err(self.wrong(name, c.data_type(), "an integer"));
        };
        Ok(out)
    }

    /// A required count.
    pub fn count(&self, col: &[Option<u64>], name: &str, row: usize) -> Result<u64> {
        col[row].ok_or_else(|| self.error(name, Some(row), "is null"))
    }

    /// A boolean column.
    pub fn bools(&self, batch: &RecordBatch, name: &str) -> Result<Vec<Option<bool>>> {
        let c = self.column(batch, name)?;
        let a = c
            .as_boolean_opt()
            .ok_or_else(|| self.wrong(name, c.data_type(), "Boolean"))?;
        Ok(a.iter().collect())
    }

    /// A required boolean.
    pub fn boolean(&self, col: &[Option<bool>], name: &str, row: usize) -> Result<bool> {
        col[row].ok_or_else(|| self.error(name, Some(row), "is null"))
    }

    /// A timestamp column in microseconds since the epoch, whatever its unit (Spark and
    /// DuckDB write micro-, pyarrow also nanoseconds). Time-zone-less timestamps are
    /// taken as UTC.
    pub fn micros(&self, batch: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>> {
        let c = self.column(batch, name)?;
        let scaled = |v: Option<i64>, mul: i64, div: i64| v.map(|v| v.saturating_mul(mul) / div);
        Ok(match c.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, _) => c
                .as_primitive::<TimestampMicrosecondType>()
                .iter()
                .collect(),
            DataType::Timestamp(TimeUnit::Millisecond, _) => c
                .as_primitive::<TimestampMillisecondType>()
                .iter()
                .map(|v| scaled(v, 1_000, 1))
                .collect(),
            DataType::Timestamp(TimeUnit::Second, _) => c
                .as_primitive::<TimestampSecondType>()
                .iter()
                .map(|v| scaled(v, 1_000_000, 1))
                .collect(),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => c
                .as_primitive::<TimestampNanosecondType>()
                .iter()
                .map(|v| v.map(|v| v.div_euclid(1_000)))
                .collect(),
            t => return Err(self.wrong(name, t, "a timestamp")),
        })
    }
}

/// A string column of any Arrow string layout.
pub(crate) enum Strings<'a> {
    Small(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
}

impl<'a> Strings<'a> {
    /// The value at `row`, `None` when null.
    pub fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            Strings::Small(a) => (!a.is_null(row)).then(|| a.value(row)),
            Strings::Large(a) => (!a.is_null(row)).then(|| a.value(row)),
            Strings::View(a) => (!a.is_null(row)).then(|| a.value(row)),
        }
    }
}

/// A Float64 column.
pub(crate) struct Floats(arrow_array::Float64Array);
