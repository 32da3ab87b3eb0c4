//! Pooling feedback across producers (feature `parquet`, on in the CLI).
//!
//! A producer's loop stays local: the plugin, the collector and the log never talk to a
//! network. Pooling is an export and an analysis:
//!
//! 1. Each producer exports their log as a Parquet file ([`export_events`], `fixloop
//!    export --format parquet`): SPEC §3.1's fields as typed columns (schema
//!    [`EVENTS_SCHEMA`], named and versioned in the file's metadata), plus a pseudonymous
//!    `producer_id` ([`Identity`]: random, kept in the home), with `track_path` replaced
//!    by a keyed hash unless the producer keeps it.
//! 2. A team runs the SQL under `sql/` over many such files on an engine it already uses
//!    (Spark SQL or DuckDB): the summary's formulas per fix type and per feature, and the
//!    per-session A/B table.
//! 3. fixloop reads that table back ([`read_sessions`], `fixloop ab status --sessions`), so
//!    the A/B statistics stay in one implementation
//!    ([`AbStatus::from_sessions`](crate::learn::AbStatus::from_sessions)).
//!
//! Without an engine, the library merges the statistics of many logs itself
//! ([`crate::learn::mergeable`]; `fixloop summary` and `ab status` with several
//! `--feedback`). JSON lines stays the interchange format; Parquet is for analysis.

mod columns;
mod events;
mod identity;
mod sessions;

pub use events::{
    events_schema, export_events, read_events, write_events, EventsFile, ExportOptions,
    ExportSummary, EVENTS_SCHEMA, PRODUCER_KEY, SCHEMA_KEY, TRACK_PATH_HASHED, TRACK_PATH_KEY,
    TRACK_PATH_PLAIN,
};
pub use identity::{Identity, IDENTITY_SCHEMA};
pub use sessions::{read_sessions, write_sessions, SESSION_COLUMNS};

#[cfg(test)]
mod tests;
