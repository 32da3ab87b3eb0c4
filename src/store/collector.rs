//! The collector: one per plugin instance or host session, with record functions the
//! audio thread may call.

use super::writer::{writer_for, CollectorShared, PollReceiver, Queued, Writer};
use super::StoreOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::features::{Feature, FixType};
use crate::feedback::records::{
    Bounce, BounceEvidence, EventId, FixApplied, FixId, Outcome, SessionMark, SessionStart,
    UserActionRecord,
};
use crate::feedback::{Arm, Text, UserAction};
use crossbeam_channel::{Sender, TrySendError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Why a real-time record call did not queue its record. Tiny and `Copy`: the audio
/// thread never sees an [`Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// The queue was full; the record was counted as dropped (and the count is persisted).
    Full,
    /// A value was NaN or infinite; nothing was queued or counted.
    NonFinite,
}

impl std::fmt::Display for PushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PushError::Full => "the feedback queue is full; the record was dropped and counted",
            PushError::NonFinite => "a value is NaN or infinite; the record was refused",
        })
    }
}

impl std::error::Error for PushError {}

/// The fix that was applied, as the audio thread hands it over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AppliedFix {
    /// The proposed fix's id.
    pub fix_id: FixId,
    /// The feature it addresses.
    pub feature: Feature,
    /// The kind of fix.
    pub fix_type: FixType,
    /// The feature's value before the fix.
    pub original_value: f64,
    /// The target the fix aims at.
    pub target_value: f64,
    /// The feature value the applied fix aims for.
    pub applied_value: f64,
    /// z-score of the gap before the fix.
    pub gap_before: f64,
    /// Whether the fix was applied: `false` records a proposal rejected before it was
    /// applied (give `applied_value = original_value`, then a `reject`).
    pub was_applied: bool,
}

/// The context of a host session (strings; give it from a non-real-time thread).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionInfo {
    /// The track (project or file) being worked on.
    pub track_path: String,
    /// The host session id (the unit of A/B assignment).
    pub session_id: String,
    /// The profile version gaps are measured against.
    pub profile_version: String,
    /// A/B assignments in force, test id → arm.
    pub ab: BTreeMap<String, Arm>,
    /// The mean |z| of the track's gaps at session start, before any fix is proposed
    /// (the A/B analysis's pre-assignment covariate; `None` when not yet analysed).
    pub start_mean_abs_z: Option<f64>,
}

/// A collector's counters. `pushed = persisted + dropped` once flushed.
#[derive(Debug)]
pub struct CollectorStats {
    /// The collector's random id (the first half of its event ids).
    pub collector: u64,
    /// Records handed to the queue, including those dropped because it was full: the
    /// records still queued, those the writer has taken, and the dropped ones. Exact
    /// once flushed; while the writer is taking records it may lag by one.
    pub pushed: u64,
    /// Records dropped because the queue was full.
    pub dropped: u64,
    /// Records of this collector written and synced.
    pub durable: u64,
    /// The writer's current error, when its last write or sync failed (records stay
    /// buffered and are written once the disk recovers).
    pub last_error: Option<Error>,
    /// Write or sync errors since the writer started.
    pub errors: u64,
    /// The writer's segment file.
    pub segment: PathBuf,
}

/// What [`Collector::flush`] waited for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flushed {
    /// The writer's durable sequence number: every frame of its segment up to this one
    /// is synced.
    pub durable_seq: u64,
    /// Records of this collector written and synced.
    pub durable_records: u64,
    /// Records of this collector dropped so far (persisted in the log too).
    pub dropped: u64,
}

/// Records feedback from one plugin instance or host session into a log directory.
///
/// The real-time record functions ([`fix_applied`](Self::fix_applied),
/// [`user_action`](Self::user_action), [`outcome`](Self::outcome),
/// [`session_saved`](Self::session_saved), [`track_bounced`](Self::track_bounced),
/// [`deactivated`](Self::deactivated)) only `try_send` a fixed-size record into this
/// collector's bounded queue and bump atomics. Everything else may block.
///
/// Dropping the collector flushes what it queued (blocking; do it off the audio thread).
pub struct Collector {
    id: u64,
    tx: Option<Sender<Queued>>,
    shared: Arc<CollectorShared>,
    next_serial: AtomicU32,
    session: AtomicU32,
    writer: Arc<Writer>,
}

impl Collector {
    /// Opens a collector on log directory `dir` (created if missing), joining the
    /// process's writer for that directory or starting one (which first recovers and
    /// seals the segments of dead writers).
    ///
    /// Fails when the directory or the segment cannot be created (read-only, permission
    /// denied, full), naming the path.
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<Collector> {
        if options.queue_capacity == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "queue_capacity is 0; a collector needs room for at least one record",
            ));
        }
        let writer = writer_for(dir, options)?;
        let (tx, rx) = crossbeam_channel::bounded(options.queue_capacity);
        let shared = Arc::new(CollectorShared::default());
        let id = super::segment::random_id();
        writer.register(PollReceiver::new(rx), Arc::clone(&shared), id);
        Ok(Collector {
            id,
            tx: Some(tx),
            shared,
            next_serial: AtomicU32::new(1),
            session: AtomicU32::new(0),
            writer,
        })
    }

    /// The collector's random id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        self.writer.dir()
    }

    fn push(&self, record: Queued) -> std::result::Result<(), PushError> {
        let Some(tx) = &self.tx else {
            return Err(PushError::Full);
        };
        match tx.try_send(record) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Release);
                Err(PushError::Full)
            }
        }
    }

    /// Starts a host session: later records carry its track, session id, profile version
    /// and A/B arms. Returns the collector-local session number.
    ///
    /// # Real-time safety
    /// Not real-time safe: allocates, and waits up to a second for room in the queue. On
    /// timeout the record is counted as dropped and an error is returned.
    pub fn start_session(&self, info: &SessionInfo) -> Result<u32> {
        let tx = self.tx.as_ref().ok_or_else(|| {
            Error::new(ErrorKind::Io, "the collector is closed").with_origin(self.origin())
        })?;
        let session = self.session.fetch_add(1, Ordering::AcqRel) + 1;
        // The strings wait beside the queue; the writer joins them to the marker.
        self.shared
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(SessionStart {
                session,
                track_path: info.track_path.as_str().into(),
                session_id: info.session_id.as_str().into(),
                profile_version: info.profile_version.as_str().into(),
                ab: info.ab.iter().map(|(k, v)| (Text::from(k), *v)).collect(),
                start_mean_abs_z: info.start_mean_abs_z.filter(|z| z.is_finite()),
            });
        let marker = Queued::SessionStart { session };
        if tx.send_timeout(marker, Duration::from_secs(1)).is_err() {
            self.shared
                .sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|s| s.session != session);
            self.shared.dropped.fetch_add(1, Ordering::Release);
            return Err(Error::new(
                ErrorKind::Io,
                "the feedback queue stayed full for 1 s; the session start was dropped",
            )
            .with_origin(self.origin()));
        }
        Ok(session)
    }

    /// The current collector-local session number (0 before any session start).
    ///
    /// # Real-time safety
    /// Real-time safe (one atomic load).
    pub fn session(&self) -> u32 {
        self.session.load(Ordering::Acquire)
    }

    /// Records that a fix was applied and returns the new event's id.
    ///
    /// # Real-time safety
    /// Real-time safe: no allocation, lock, syscall or wait. A full queue returns
    /// [`PushError::Full`] at once and the record is counted as dropped.
    pub fn fix_applied(&self, fix: &AppliedFix) -> std::result::Result<EventId, PushError> {
        if !(fix.original_value.is_finite()
            && fix.target_value.is_finite()
            && fix.applied_value.is_finite()
            && fix.gap_before.is_finite())
        {
            return Err(PushError::NonFinite);
        }
        let event = EventId {
            collector: self.id,
            serial: self.next_serial.fetch_add(1, Ordering::Relaxed),
        };
        self.push(Queued::FixApplied(FixApplied {
            event,
            session: self.session(),
            fix_id: fix.fix_id,
            feature: fix.feature.id(),
            fix_type: fix.fix_type as u32,
            original_value: fix.original_value,
            target_value: fix.target_value,
            applied_value: fix.applied_value,
            gap_before: fix.gap_before,
            was_applied: fix.was_applied,
        }))
        .inspect_err(|_| {
            // Give the serial back when no other thread took one meanwhile, so a flood
            // of drops leaves no long gaps in the ids (one try, never a loop).
            let _ = self.next_serial.compare_exchange(
                event.serial.wrapping_add(1),
                event.serial,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        })?;
        Ok(event)
    }

    /// Records the producer's action on an applied fix (`modified_value` for `modify`).
    ///
    /// # Real-time safety
    /// Real-time safe, as [`fix_applied`](Self::fix_applied).
    pub fn user_action(
        &self,
        event: EventId,
        action: UserAction,
        modified_value: Option<f64>,
    ) -> std::result::Result<(), PushError> {
        if modified_value.is_some_and(|v| !v.is_finite()) {
            return Err(PushError::NonFinite);
        }
        self.push(Queued::UserAction(UserActionRecord {
            event,
            action,
            modified_value,
        }))
    }

    /// Records the gap measured on re-analysis after a fix.
    ///
    /// # Real-time safety
    /// Real-time safe, as [`fix_applied`](Self::fix_applied).
    pub fn outcome(&self, event: EventId, gap_after: f64) -> std::result::Result<(), PushError> {
        if !gap_after.is_finite() {
            return Err(PushError::NonFinite);
        }
        self.push(Queued::Outcome(Outcome { event, gap_after }))
    }

    /// Records that the host saved the session; the writer syncs at once after it.
    ///
    /// # Real-time safety
    /// Real-time safe, as [`fix_applied`](Self::fix_applied).
    pub fn session_saved(&self) -> std::result::Result<(), PushError> {
        self.push(Queued::SessionSaved(SessionMark {
            session: self.session(),
        }))
    }

    /// Records a bounce (offline render, export) with its evidence; the writer syncs at
    /// once after it.
    ///
    /// # Real-time safety
    /// Real-time safe, as [`fix_applied`](Self::fix_applied).
    pub fn track_bounced(&self, evidence: BounceEvidence) -> std::result::Result<(), PushError> {
        self.track_bounced_merged(evidence, 1)
    }

    /// Records one bounce that stands for `renders` renders in a burst (a host that
    /// restarts the plugin offline again and again renders one track, not many).
    ///
    /// # Real-time safety
    /// Real-time safe, as [`fix_applied`](Self::fix_applied).
    pub fn track_bounced_merged(
        &self,
        evidence: BounceEvidence,
        renders: u32,
    ) -> std::result::Result<(), PushError> {
        self.push(Queued::TrackBounced(Bounce {
            session: self.session(),
            evidence,
            renders: renders.max(1),
        }))
    }

    /// Records that the plugin was deactivated; the writer syncs at once after it.
    ///
    /// # Real-time safety
    /// Real-time safe, as [`fix_applied`](Self::fix_applied).
    pub fn deactivated(&self) -> std::result::Result<(), PushError> {
        self.push(Queued::Deactivated(SessionMark {
            session: self.session(),
        }))
    }

    /// Waits until every record pushed before the call, and the dropped count, is
    /// written and synced. Fails with the writer's error (disk full, I/O error) naming
    /// the segment; the records stay buffered and a later flush retries.
    ///
    /// # Real-time safety
    /// Not real-time safe: blocks on the writer.
    pub fn flush(&self) -> Result<Flushed> {
        let durable_seq = self.writer.flush()?;
        Ok(Flushed {
            durable_seq,
            durable_records: self.shared.durable.load(Ordering::Acquire),
            dropped: self.shared.dropped.load(Ordering::Acquire),
        })
    }

    /// The collector's counters and the writer's current error.
    ///
    /// # Real-time safety
    /// Not real-time safe: takes the writer's progress lock and may allocate.
    pub fn stats(&self) -> CollectorStats {
        let (last_error, errors) = self.writer.error();
        // Taken before queued: a record moving in between is missed (the lag of one the
        // docs allow), never counted twice.
        let taken = self.shared.received.load(Ordering::Acquire);
        let queued = self.tx.as_ref().map_or(0, |tx| tx.len() as u64);
        let pushed = taken + queued + self.shared.dropped.load(Ordering::Acquire);
        CollectorStats {
            collector: self.id,
            pushed,
            dropped: self.shared.dropped.load(Ordering::Acquire),
            durable: self.shared.durable.load(Ordering::Acquire),
            last_error,
            errors,
            segment: self.writer.segment().to_path_buf(),
        }
    }

    /// The writer's id (the one in its segment header and file name).
    pub fn writer_id(&self) -> u64 {
        self.writer.id()
    }

    /// Segments of dead writers that this process's writer recovered when it started.
    pub fn recovered(&self) -> &[super::segment::Recovered] {
        self.writer.recovered()
    }

    /// Flushes and closes the collector, returning the flush's error if any (dropping
    /// it does the same but cannot report).
    pub fn close(mut self) -> Result<Flushed> {
        let r = self.flush();
        self.tx = None;
        r
    }

    fn origin(&self) -> String {
        self.writer.segment().display().to_string()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if self.tx.is_some() {
            let _ = self.flush();
            self.tx = None;
        }
    }
}
