//! Feedback events as Parquet (schema `fixloop.events/1`).

use super::columns::{Origin, Strings};
use super::Identity;
use crate::error::{Error, ErrorKind, Result};
use crate::features::FixType;
use crate::feedback::{Arm, FeedbackEvent, Text, Timestamp, UserAction};
use arrow_array::cast::AsArray;
use arrow_array::Array;
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, ListArray, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, LazyLock};

/// The schema name and version in every export's file metadata (key
/// [`SCHEMA_KEY`]); a reader refuses any other.
pub const EVENTS_SCHEMA: &str = "fixloop.events/1";
/// File metadata key of the schema name.
pub const SCHEMA_KEY: &str = "fixloop.schema";
/// File metadata key saying what `track_path` holds: [`TRACK_PATH_HASHED`] or
/// [`TRACK_PATH_PLAIN`].
pub const TRACK_PATH_KEY: &str = "fixloop.track_path";
/// `track_path` holds [`Identity::hash_track`] of the path.
pub const TRACK_PATH_HASHED: &str = "blake3-keyed-128";
/// `track_path` holds the path itself (`--keep-track-paths`).
pub const TRACK_PATH_PLAIN: &str = "plain";
/// File metadata key of the exporting producer's id.
pub const PRODUCER_KEY: &str = "fixloop.producer_id";
/// Rows per record batch written.
const BATCH_ROWS: usize = 64 * 1024;

/// How an export treats the producer's data.
#[derive(Clone, Debug)]
pub struct ExportOptions<'a> {
    /// Whose events: the `producer_id` column and the key of the track-path hash.
    pub identity: &'a Identity,
    /// Keep `track_path` as recorded instead of its keyed hash (off by default).
    pub keep_track_paths: bool,
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    /// Events written.
    pub events: usize,
    /// Bytes of the file.
    pub bytes: u64,
}

/// A Parquet events file read back.
#[derive(Clone, Debug, PartialEq)]
pub struct EventsFile {
    /// The file's `fixloop.*` metadata, by key.
    pub metadata: BTreeMap<String, String>,
    /// Each row's `producer_id`.
    pub producer_ids: Vec<String>,
    /// The events, in file order.
    pub events: Vec<FeedbackEvent>,
}

fn assignment_fields() -> Fields {
    Fields::from(vec![
        Field::new("test_id", DataType::Utf8, false),
        Field::new("arm", DataType::Utf8, false),
    ])
}

fn ab_item() -> Arc<Field> {
    Arc::new(Field::new(
        "item",
        DataType::Struct(assignment_fields()),
        false,
    ))
}

/// The Arrow schema of `fixloop.events/1`: SPEC §3.1's fields in order, typed, then
/// `session_start_mean_abs_z`, with `producer_id` first.
pub fn events_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let s = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
        let f = |name: &str, nullable| Field::new(name, DataType::Float64, nullable);
        let b = |name: &str| Field::new(name, DataType::Boolean, false);
        Arc::new(Schema::new(vec![
            s("producer_id", false),
            s("event_id", false),
            Field::new(
                "timestamp",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            s("fix_id", false),
            s("fix_type", false),
            s("feature_name", false),
            s("track_path", false),
            s("session_id", false),
            s("profile_version", false),
            f("original_value", false),
            f("target_value", false),
            f("applied_value", false),
            s("user_action", true),
            b("was_applied"),
            b("was_undone"),
            f("gap_before", false),
            f("gap_after", true),
            f("improvement_ratio", true),
            f("user_modified_value", true),
            b("session_saved_after"),
            b("track_bounced_after"),
            s("notes", true),
            Field::new("ab", DataType::List(ab_item()), false),
            f("session_start_mean_abs_z", true),
        ]))
    });
    SCHEMA.clone()
}

fn batch(events: &[FeedbackEvent], options: &ExportOptions<'_>) -> Result<RecordBatch> {
    let strings = |get: &dyn Fn(&FeedbackEvent) -> &str| -> ArrayRef {
        Arc::new(events.iter().map(|e| Some(get(e))).collect::<StringArray>())
    };
    let opt_strings = |get: &dyn Fn(&FeedbackEvent) -> Option<&str>| -> ArrayRef {
        Arc::new(events.iter().map(get).collect::<StringArray>())
    };
    let floats = |get: &dyn Fn(&FeedbackEvent) -> Option<f64>| -> ArrayRef {
        Arc::new(events.iter().map(get).collect::<Float64Array>())
    };
    let bools = |get: &dyn Fn(&FeedbackEvent) -> bool| -> ArrayRef {
        Arc::new(
            events
                .iter()
                .map(|e| Some(get(e)))
                .collect::<BooleanArray>(),
        )
    };
    let producer = options.identity.producer_id.as_str();
    let tracks: Vec<String> = if options.keep_track_paths {
        Vec::new()
    } else {
        events
            .iter()
            .map(|e| options.identity.hash_track(&e.track_path))
            .collect()
    };
    let track_column: ArrayRef = if options.keep_track_paths {
        strings(&|e| &e.track_path)
    } else {
        Arc::new(StringArray::from_iter_values(&tracks))
    };
    let pairs = events.iter().flat_map(|e| e.ab.iter());
    let tests: StringArray = pairs.clone().map(|(t, _)| Some(t.as_str())).collect();
    let arms: StringArray = pairs.map(|(_, a)| Some(a.name())).collect();
    let ab = ListArray::new(
        ab_item(),
        OffsetBuffer::from_lengths(events.iter().map(|e| e.ab.len())),
        Arc::new(StructArray::new(
            assignment_fields(),
            vec![Arc::new(tests), Arc::new(arms)],
            None,
        )),
        None,
    );
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            producer,
            events.len(),
        ))),
        strings(&|e| &e.event_id),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                events.iter().map(|e| e.timestamp.as_micros()),
            )
            .with_timezone("UTC"),
        ),
        strings(&|e| &e.fix_id),
        strings(&|e| e.fix_type.name()),
        strings(&|e| &e.feature_name),
        track_column,
        strings(&|e| &e.session_id),
        strings(&|e| &e.profile_version),
        floats(&|e| Some(e.original_value)),
        floats(&|e| Some(e.target_value)),
        floats(&|e| Some(e.applied_value)),
        opt_strings(&|e| e.user_action.map(UserAction::name)),
        bools(&|e| e.was_applied),
        bools(&|e| e.was_undone),
        floats(&|e| Some(e.gap_before)),
        floats(&|e| e.gap_after),
        floats(&|e| e.improvement_ratio),
        floats(&|e| e.user_modified_value),
        bools(&|e| e.session_saved_after),
        bools(&|e| e.track_bounced_after),
        opt_strings(&|e| e.notes.as_deref()),
        Arc::new(ab),
        floats(&|e| e.session_start_mean_abs_z),
    ];
    RecordBatch::try_new(events_schema(), columns).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("cannot build a batch: {e}"),
        )
    })
}

fn parquet_error(doing: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Io, format!("cannot {doing} Parquet: {e}"))
}

/// Writes `events` as a `fixloop.events/1` Parquet file to `out` (Snappy, dictionary
/// encoding, the schema name, the producer id and the track-path treatment in the
/// file's metadata). Returns the number of events.
pub fn write_events<W: Write + Send>(
    out: W,
    events: &[FeedbackEvent],
    options: &ExportOptions<'_>,
) -> Result<usize> {
    let meta = vec![
        KeyValue::new(SCHEMA_KEY.to_string(), EVENTS_SCHEMA.to_string()),
        KeyValue::new(
            TRACK_PATH_KEY.to_string(),
            if options.keep_track_paths {
                TRACK_PATH_PLAIN
            } else {
                TRACK_PATH_HASHED
            }
            .to_string(),
        ),
        KeyValue::new(
            PRODUCER_KEY.to_string(),
            options.identity.producer_id.clone(),
        ),
        KeyValue::new(
            "fixloop.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ];
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(meta))
        .build();
    let mut writer = ArrowWriter::try_new(out, events_schema(), Some(props))
        .map_err(|e| parquet_error("start", e))?;
    for chunk in events.chunks(BATCH_ROWS) {
        writer
            .write(&batch(chunk, options)?)
            .map_err(|e| parquet_error("write", e))?;
    }
    writer.close().map_err(|e| parquet_error("finish", e))?;
    Ok(events.len())
}

/// [`write_events`] to the file `path` (written aside, then renamed into place).
pub fn export_events(
    path: &Path,
    events: &[FeedbackEvent],
    options: &ExportOptions<'_>,
) -> Result<ExportSummary> {
    let tmp = path.with_extension("parquet.partial");
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, "create", e))?;
    let written = write_events(std::io::BufWriter::new(file), events, options)
        .map_err(|e| e.with_origin(path.display().to_string()));
    let n = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, "replace", e))?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(ExportSummary { events: n, bytes })
}

/// Reads a `fixloop.events/1` Parquet file: every event as it was exported, with each
/// row's producer id and the file's `fixloop.*` metadata. A file of another schema (or
/// version), a missing or mistyped column, an unknown fix type, action or arm, or a
/// non-finite number is an error naming the file, column and row.
pub fn read_events(path: &Path) -> Result<EventsFile> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let bad = |e: parquet::errors::ParquetError| {
        Error::new(
            ErrorKind::Parse,
            format!("not a readable Parquet file: {e}"),
        )
        .with_origin(path.display().to_string())
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(bad)?;
    let metadata: BTreeMap<String, String> = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .filter(|kv| kv.key.starts_with("fixloop."))
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect();
    match metadata.get(SCHEMA_KEY) {
        Some(s) if s == EVENTS_SCHEMA => {}
        found => {
            let msg = match found {
                Some(s) => format!("schema {s:?} in the file's metadata; this build reads {EVENTS_SCHEMA:?}"),
                None => format!("no {SCHEMA_KEY} in the file's metadata: not a fixloop events export ({EVENTS_SCHEMA})"),
            };
            return Err(
                Error::new(ErrorKind::Unsupported, msg).with_origin(path.display().to_string())
            );
        }
    }
    let reader = builder.build().map_err(bad)?;
    let mut out = EventsFile {
        metadata,
        producer_ids: Vec::new(),
        events: Vec::new(),
    };
    for batch in reader {
        let batch = batch.map_err(|e| {
            Error::new(ErrorKind::Parse, format!("cannot read a batch: {e}"))
                .with_origin(path.display().to_string())
        })?;
        let at = Origin {
            path,
            row_base: out.events.len(),
        };
        read_batch(&batch, &at, &mut out)?;
    }
    Ok(out)
}

fn read_batch(batch: &RecordBatch, at: &Origin<'_>, out: &mut EventsFile) -> Result<()> {
    fn name<'b>(at: &Origin<'_>, col: &Strings<'b>, n: &str, row: usize) -> Result<&'b str> {
        at.string(col, n, row)
    }
    let s = |n: &str| at.strings(batch, n);
    let (producer, event_id, fix_id, fix_type, feature) = (
        s("producer_id")?,
        s("event_id")?,
        s("fix_id")?,
        s("fix_type")?,
        s("feature_name")?,
    );
    let (track, session, profile, action, notes) = (
        s("track_path")?,
        s("session_id")?,
        s("profile_version")?,
        s("user_action")?,
        s("notes")?,
    );
    let f = |n: &str| at.floats(batch, n);
    let (original, target, applied, gap_before, gap_after, ratio, modified, z0) = (
        f("original_value")?,
        f("target_value")?,
        f("applied_value")?,
        f("gap_before")?,
        f("gap_after")?,
        f("improvement_ratio")?,
        f("user_modified_value")?,
        f("session_start_mean_abs_z")?,
    );
    let b = |n: &str| at.bools(batch, n);
    let (applied_flag, undone, saved, bounced) = (
        b("was_applied")?,
        b("was_undone")?,
        b("session_saved_after")?,
        b("track_bounced_after")?,
    );
    let times = at.micros(batch, "timestamp")?;
    let ab_col = batch
        .column_by_name("ab")
        .ok_or_else(|| at.error("ab", None, "missing"))?;
    let ab = ab_col
        .as_list_opt::<i32>()
        .ok_or_else(|| at.error("ab", None, "is not a list of (test_id, arm)"))?;
    let items = ab
        .values()
        .as_struct_opt()
        .ok_or_else(|| at.error("ab", None, "is not a list of (test_id, arm)"))?;
    let item_batch = RecordBatch::from(items.clone());
    let tests = at.strings(&item_batch, "test_id")?;
    let arms = at.strings(&item_batch, "arm")?;
    let offsets = ab.value_offsets();
    for row in 0..batch.num_rows() {
        let fix_type_name = name(at, &fix_type, "fix_type", row)?;
        let fix_type = FixType::from_name(fix_type_name).ok_or_else(|| {
            at.error(
                "fix_type",
                Some(row),
                format!("unknown fix type {fix_type_name:?}"),
            )
        })?;
        let user_action = match action.get(row) {
            None => None,
            Some(a) => Some(UserAction::from_name(a).ok_or_else(|| {
                at.error("user_action", Some(row), format!("unknown action {a:?}"))
            })?),
        };
        let time = times[row].ok_or_else(|| at.error("timestamp", Some(row), "is null"))?;
        let mut assignments = BTreeMap::new();
        if !ab.is_null(row) {
            for i in offsets[row] as usize..offsets[row + 1] as usize {
                let test = at.string(&tests, "ab.test_id", i)?;
                let arm = match at.string(&arms, "ab.arm", i)? {
                    "control" => Arm::Control,
                    "treatment" => Arm::Treatment,
                    other => {
                        return Err(at.error("ab.arm", Some(row), format!("unknown arm {other:?}")))
                    }
                };
                assignments.insert(Text::from(test), arm);
            }
        }
        let flag = |col: &[Option<bool>], n: &str| at.boolean(col, n, row);
        out.producer_ids
            .push(name(at, &producer, "producer_id", row)?.to_string());
        out.events.push(FeedbackEvent {
            event_id: name(at, &event_id, "event_id", row)?.into(),
            timestamp: Timestamp::from_micros(time),
            fix_id: name(at, &fix_id, "fix_id", row)?.into(),
            fix_type,
            feature_name: name(at, &feature, "feature_name", row)?.into(),
            track_path: name(at, &track, "track_path", row)?.into(),
            session_id: name(at, &session, "session_id", row)?.into(),
            profile_version: name(at, &profile, "profile_version", row)?.into(),
            original_value: at.float(&original, "original_value", row)?,
            target_value: at.float(&target, "target_value", row)?,
            applied_value: at.float(&applied, "applied_value", row)?,
            user_action,
            was_applied: flag(&applied_flag, "was_applied")?,
            was_undone: flag(&undone, "was_undone")?,
            gap_before: at.float(&gap_before, "gap_before", row)?,
            gap_after: at.opt_float(&gap_after, "gap_after", row)?,
            improvement_ratio: at.opt_float(&ratio, "improvement_ratio", row)?,
            user_modified_value: at.opt_float(&modified, "user_modified_value", row)?,
            session_saved_after: flag(&saved, "session_saved_after")?,
            track_bounced_after: flag(&bounced, "track_bounced_after")?,
            notes: notes.get(row).map(Text::from),
            ab: assignments,
            session_start_mean_abs_z: at.opt_float(&z0, "session_start_mean_abs_z", row)?,
        });
    }
    Ok(())
}
