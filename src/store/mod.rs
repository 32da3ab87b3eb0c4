//! The feedback store: a real-time-safe collector, one background writer per process,
//! and a crash-safe log of segment files (SPEC §3.3).
//!
//! ```text
//!  audio thread ──try_send──► bounded queue (one per Collector) ─┐
//!  audio thread ──try_send──► bounded queue (one per Collector) ─┼─► writer thread ──► seg-….fxl
//!                                           polls with try_recv ─┘   (one per process   (one per writer,
//!                                           + park_timeout 20 ms)     and directory)     lock file held)
//! ```
//!
//! # Guarantees
//!
//! - **The audio thread never waits.** [`Collector`]'s record functions marked
//!   `# Real-time safety: real-time safe` do one `try_send` of a fixed-size record with
//!   no heap data into a bounded `crossbeam-channel` queue plus a few atomic operations: no
//!   allocation, lock, syscall or wait, bounded time. The writer only polls (its
//!   receiver type cannot block), so a send never wakes a futex, and the audio thread
//!   never unparks anything.
//! - **Nothing is lost silently.** A full queue drops the record and counts it; the
//!   writer persists the count as a `dropped` record, so after a flush
//!   `pushed = persisted + dropped` exactly, per collector, in the log.
//! - **`flush()` means durable.** [`Collector::flush`] returns once every record pushed
//!   before it (and the dropped count) is written and `fdatasync`ed, with the segment's
//!   durable sequence number. The writer also syncs at most once per second while
//!   unsynced data exists, at once after a session save, bounce or deactivate record,
//!   when a segment is created (with its directory), and when it shuts down.
//! - **A crash loses nothing flushed and corrupts nothing else.** Records are appended
//!   in checksummed frames and never rewritten in place. A torn tail (an interrupted
//!   write) is detected; a damaged frame in the middle is skipped and reported by file
//!   and offset, and reading resumes at the next intact frame.
//! - **Many writers, no shared lock.** Each writer (one per process and directory,
//!   shared by every collector there and reference-counted: the last handle dropped
//!   drains, syncs, seals and joins it) appends to its own segment. Readers merge all
//!   segments by (time, writer, sequence).
//! - **Disk errors reach the caller, not the audio thread.** A failed write or sync
//!   (disk full, I/O error) makes [`Collector::flush`] return the error naming the
//!   segment and shows in [`Collector::stats`]; the writer keeps the frames (up to
//!   [`StoreOptions::max_pending_bytes`], after which queues fill and records are
//!   counted as dropped) and writes them when the disk recovers.
//!
//! What it cannot do: a record still in a queue or in the writer's buffer when the
//! process is killed is lost (flush first for what must survive); a full queue drops
//! records rather than waiting. One corner of `crossbeam-channel` is not wait-free: when
//! a queue is exactly full and the writer is in the middle of taking the very slot a push
//! wants, the push spins on crossbeam's backoff (a few hundred nanoseconds; past its spin
//! limit it would yield). Size queues so they do not run full: the default holds 4096
//! records per instance, and the writer empties every queue at least every 20 ms.
//!
//! # On-disk format (version 1)
//!
//! A log directory holds segments `seg-<created µs, 16 digits>-<pid, 10 digits>-<writer
//! id, 16 hex>.fxl`, each with a sidecar `<segment>.lock` while its writer lives. Other
//! files are reported as foreign and ignored.
//!
//! A segment is a 40-byte header followed by frames. All integers little-endian.
//!
//! | header bytes | field |
//! |---|---|
//! | 0–7 | magic `89 46 58 4C 53 45 47 0A` (`\x89FXLSEG\n`) |
//! | 8–9 | format version, `1` |
//! | 10–11 | header length, `40` |
//! | 12–19 | writer id (random u64) |
//! | 20–27 | creation time, µs since the Unix epoch (i64) |
//! | 28–31 | process id |
//! | 32–35 | flags, `0` |
//! | 36–39 | masked CRC32C of bytes 0–35 |
//!
//! | frame bytes | field |
//! |---|---|
//! | 0–3 | sync word `F1 0C 5E A7` |
//! | 4–7 | payload length *n* (at most 16 MiB) |
//! | 8–11 | masked CRC32C over bytes 4–7 and the payload |
//! | 12–(12+*n*) | payload: a MessagePack map, below |
//!
//! The mask is LevelDB's: `rotate_right(crc, 15) + 0xa282ead8`. The payload is a map
//! with named keys (`rmp_serde` struct-map encoding, never positional arrays), so fields
//! and kinds can be added; keys are short because every record carries them:
//!
//! | key | meaning |
//! |---|---|
//! | `s` | sequence number of the frame in its segment, from 1 |
//! | `t` | when the writer took the record from the queue, µs since the Unix epoch |
//! | `c` | the pushing collector's random id (0 for the writer's own records) |
//! | `r` | the record: a one-entry map from its kind to its fields |
//!
//! | kind | fields |
//! |---|---|
//! | `session_start` | `s` session number, `track`, `sid` session id, `pv` profile version, `ab` {test id: `control`\|`treatment`} |
//! | `fix_applied` | `e` event id `[collector, serial]`, `s` session, `fix` fix id, `ft` feature id, `ty` fix type id, `ov` original, `tv` target, `av` applied value, `gb` gap before; `ap` `false` only for a proposal rejected before it was applied (absent: applied) |
//! | `user_action` | `e`, `a` action (`accept`\|`reject`\|`undo`\|`modify`), `mv` modified value or nil |
//! | `outcome` | `e`, `ga` gap after |
//! | `session_saved`, `deactivated` | `s` |
//! | `track_bounced` | `s`, `ev`: `host` or `{likely: {rt: realtime factor, ms: audio ms}}`; `n` renders merged into it (a burst of offline restarts), written only when above 1 |
//! | `dropped` | `total`: records this collector dropped so far (cumulative) |
//! | `event` | a complete imported event, with the field names of SPEC §3.1 |
//! | `segment_end` | `records`: collector records in the segment, `recovered` |
//!
//! Feature and fix type ids are the catalogue's ([`crate::features::Feature::id`],
//! `FixType as u32`). A reader reports kinds it does not know as undecodable and goes on.
//! The encoding is `rmp_serde`'s struct-map encoding of these types; the reader decodes
//! the three records of every event in exactly that layout by hand (2–4× faster, tested
//! against `rmp_serde`) and everything else with `rmp_serde`.
//!
//! A writer that closes cleanly appends `segment_end` and removes its lock file. A
//! segment whose lock file exists but is not locked belongs to a dead writer: the next
//! writer started on the directory cuts its torn tail, appends `segment_end {recovered:
//! true}`, syncs and removes the lock file. A segment shorter than its header (a writer
//! that died while creating it) holds no records and is removed then.
//!
//! # Compaction
//!
//! Every writer has its own segment, so a log gains files with every process. When a
//! writer starts, small sealed segments of writers that are gone are merged into one
//! ([`compact`]; frames copied byte for byte, the old files removed only after the new
//! one and a manifest naming what it replaces are synced, so readers and a crash at any
//! moment see each record exactly once). A directory may then hold `<segment>.replaces`
//! and `<segment>.tmp` for a moment, and `compact.lock`.
//!
//! # Reading
//!
//! [`read_log`] and [`verify`] never modify files and never panic on any bytes:
//!
//! | what is found | result |
//! |---|---|
//! | torn tail | reported as `TornTail` with offset; every frame before it is read |
//! | bit flips in the middle | the frame(s) hit are reported as `Damaged`; reading resumes at the next sync word that starts an intact frame |
//! | zero-length or truncated header | the segment is reported unreadable (`truncated header`); other segments are read |
//! | bad magic (a foreign `seg-*.fxl`) | reported unreadable (`not a fixloop segment`) |
//! | other files (`notes.txt`) | listed as foreign, ignored |
//! | intact frame of an unknown kind | reported as `Undecodable`, skipped |

mod collector;
mod compact;
mod decode;
pub mod frame;
mod interchange;
mod load;
mod merge;
mod report;
mod scan;
mod segment;
mod writer;

pub use collector::{AppliedFix, Collector, CollectorStats, Flushed, PushError, SessionInfo};
pub use compact::{
    compact, CompactOptions, CompactReport, COMPACT_LOCK, MANIFEST_SUFFIX, TEMP_SUFFIX,
};
pub use interchange::{
    export_jsonl, export_jsonl_file, import_events, import_jsonl, ExportReport, ImportReport,
};
pub use load::{load_feedback, read_events, verify, Feedback, FoldedLog, LoadedEvents};
pub use merge::{read_log, Log};
pub use report::{FrameProblem, ProblemKind, SegmentReport, VerifyReport};
pub use scan::read_segment_bytes;
pub use segment::{is_segment_name, lock_path, random_id, Recovered, LOCK_SUFFIX, SEGMENT_EXT};

use std::time::Duration;

/// Settings of collectors and of the writer they share. The first collector opened on a
/// directory in a process decides the writer's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Records each collector's queue holds (default 4096).
    pub queue_capacity: usize,
    /// How long the idle writer sleeps between polls (default 20 ms; 20–50 ms keeps the
    /// push path free of wake-ups).
    pub poll_interval: Duration,
    /// The longest unsynced data may wait for an fsync (default 1 s).
    pub sync_interval: Duration,
    /// Encoded bytes the writer keeps while the disk fails (default 8 MiB); beyond it
    /// queues fill and records are counted as dropped.
    pub max_pending_bytes: usize,
    /// Compaction of earlier writers' small sealed segments when a writer starts, on a
    /// thread of its own ([`compact`]); `None` turns it off (default: on, with
    /// [`CompactOptions::default`]).
    pub compact: Option<CompactOptions>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            queue_capacity: 4096,
            poll_interval: Duration::from_millis(20),
            sync_interval: Duration::from_secs(1),
            max_pending_bytes: 8 << 20,
            compact: Some(CompactOptions::default()),
        }
    }
}
