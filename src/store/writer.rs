//! The writer thread: one per process and log directory, shared by reference count.
//!
//! It polls every collector's queue (`try_recv` only, then `park_timeout` when idle),
//! encodes records into frames in one buffer (group commit: one `write` per round),
//! and syncs at most once per `sync_interval` while unsynced data exists, at once after
//! a save, bounce or deactivate record, and whenever `flush` asks.

use super::frame::encode_frame;
use super::segment::{now_us, random_id, recover_dead, Recovered, SegmentFile};
use super::StoreOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::feedback::records::{
    Bounce, Dropped, FixApplied, Outcome, Record, SessionMark, SessionStart, UserActionRecord,
};
use crossbeam_channel::{Receiver, TryRecvError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a collector's queue carries: a fixed-size `Copy` record, so no heap data can
/// travel the real-time path by construction (a `Box` or `String` would not compile
/// here). A session start's strings are parked in [`CollectorShared::sessions`] before its
/// marker is queued, and the writer joins them up when it takes the marker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Queued {
    /// A session started; its context waits in `CollectorShared::sessions`.
    SessionStart {
        /// The collector-local session number.
        session: u32,
    },
    /// See [`Record::FixApplied`].
    FixApplied(FixApplied),
    /// See [`Record::UserAction`].
    UserAction(UserActionRecord),
    /// See [`Record::Outcome`].
    Outcome(Outcome),
    /// See [`Record::SessionSaved`].
    SessionSaved(SessionMark),
    /// See [`Record::TrackBounced`].
    TrackBounced(Bounce),
    /// See [`Record::Deactivated`].
    Deactivated(SessionMark),
}

impl Queued {
    /// The log record, taking a session start's context out of `shared`.
    fn into_record(self, shared: &CollectorShared) -> Record {
        match self {
            Queued::SessionStart { session } => {
                let mut parked = lock(&shared.sessions);
                let start = match parked.iter().position(|s| s.session == session) {
                    Some(i) => parked.swap_remove(i),
                    None => SessionStart {
                        session,
                        ..SessionStart::default()
                    },
                };
                Record::SessionStart(Box::new(start))
            }
            Queued::FixApplied(f) => Record::FixApplied(f),
            Queued::UserAction(a) => Record::UserAction(a),
            Queued::Outcome(o) => Record::Outcome(o),
            Queued::SessionSaved(m) => Record::SessionSaved(m),
            Queued::TrackBounced(b) => Record::TrackBounced(b),
            Queued::Deactivated(m) => Record::Deactivated(m),
        }
    }
}

/// A queue receiver that can only poll. Blocking receives (`recv`, `recv_timeout`,
/// `select!`) would make every real-time `try_send` take a lock and wake a futex
/// (SPEC §3.3 design notes), so this type does not offer them.
pub(crate) struct PollReceiver(Receiver<Queued>);

impl PollReceiver {
    pub(crate) fn new(rx: Receiver<Queued>) -> Self {
        PollReceiver(rx)
    }

    fn try_recv(&self) -> std::result::Result<Queued, TryRecvError> {
        self.0.try_recv()
    }

    fn capacity(&self) -> usize {
        self.0.capacity().unwrap_or(usize::MAX)
    }
}

/// Counters shared between a collector and the writer.
#[derive(Default)]
pub(crate) struct CollectorShared {
    /// Records the writer has taken from the queue (the audio thread counts nothing
    /// that it does not have to: accepted = taken + still queued).
    pub(crate) received: AtomicU64,
    /// Records dropped because the queue was full.
    pub(crate) dropped: AtomicU64,
    /// Records of this collector known to be on disk and synced.
    pub(crate) durable: AtomicU64,
    /// Contexts of session starts queued and not yet taken by the writer.
    pub(crate) sessions: Mutex<Vec<SessionStart>>,
}

struct Channel {
    rx: PollReceiver,
    shared: Arc<CollectorShared>,
    collector: u64,
    received: u64,
    written: u64,
    dropped_encoded: u64,
    disconnected: bool,
}

#[derive(Default)]
struct Progress {
    /// Highest flush ticket satisfied.
    done: u64,
    /// Highest flush ticket that failed.
    failed: u64,
    /// The current error, if the last attempt failed.
    error: Option<(ErrorKind, String)>,
    /// Errors seen since the writer started.
    errors: u64,
}

pub(crate) struct State {
    dir: PathBuf,
    segment: PathBuf,
    writer_id: u64,
    options: StoreOptions,
    new_channels: Mutex<Vec<Channel>>,
    requested: AtomicU64,
    progress: Mutex<Progress>,
    cond: Condvar,
    stop: AtomicBool,
    alive: AtomicBool,
    durable_seq: AtomicU64,
    recovered: Vec<Recovered>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The shared handle of a writer thread. Dropping the last one drains every queue,
/// syncs, seals the segment and joins the thread.
pub(crate) struct Writer {
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
    /// The compaction started with the writer (joined before the writer goes, so a
    /// plugin library is never unloaded under it).
    compaction: Option<JoinHandle<()>>,
}

static WRITERS: Mutex<Vec<(PathBuf, Weak<Writer>)>> = Mutex::new(Vec::new());

/// The process's writer for `dir`, started (after recovering dead writers' segments) if
/// none is running.
pub(crate) fn writer_for(dir: &Path, options: &StoreOptions) -> Result<Arc<Writer>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
    let key = dir
        .canonicalize()
        .map_err(|e| Error::io(dir, "resolve", e))?;
    let mut writers = lock(&WRITERS);
    writers.retain(|(_, w)| w.strong_count() > 0);
    if let Some(w) = writers
        .iter()
        .find(|(p, _)| *p == key)
        .and_then(|(_, w)| w.upgrade())
    {
        return Ok(w);
    }
    let w = Arc::new(Writer::start(&key, options)?);
    writers.push((key, Arc::downgrade(&w)));
    Ok(w)
}

impl Writer {
    fn start(dir: &Path, options: &StoreOptions) -> Result<Writer> {
        let recovered = recover_dead(dir).into_iter().flatten().collect();
        let writer_id = random_id();
        let segment = SegmentFile::create(dir, writer_id)?;
        let state = Arc::new(State {
            dir: dir.to_path_buf(),
            segment: segment.path().to_path_buf(),
            writer_id,
            options: StoreOptions {
                // A zero poll interval would spin a core.
                poll_interval: options.poll_interval.max(Duration::from_millis(1)),
                ..options.clone()
            },
            new_channels: Mutex::new(Vec::new()),
            requested: AtomicU64::new(0),
            progress: Mutex::new(Progress::default()),
            cond: Condvar::new(),
            stop: AtomicBool::new(false),
            alive: AtomicBool::new(true),
            durable_seq: AtomicU64::new(0),
            recovered,
        });
        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("fixloop-writer".into())
            .spawn(move || run(thread_state, segment))
            .map_err(|e| Error::io(dir, "start writer thread", e))?;
        // Small sealed segments of earlier writers are merged on a thread of their own,
        // off every caller's path; a failure leaves the log as it was and is retried by
        // the next writer.
        let compaction = options.compact.and_then(|opts| {
            let compact_dir = dir.to_path_buf();
            std::thread::Builder::new()
                .name("fixloop-compact".into())
                .spawn(move || {
                    let _ = super::compact::compact(&compact_dir, &opts);
                })
                .ok()
        });
        Ok(Writer {
            state,
            thread: Some(thread),
            compaction,
        })
    }

    pub(crate) fn register(&self, rx: PollReceiver, shared: Arc<CollectorShared>, collector: u64) {
        lock(&self.state.new_channels).push(Channel {
            rx,
            shared,
            collector,
            received: 0,
            written: 0,
            dropped_encoded: 0,
            disconnected: false,
        });
        self.unpark();
    }

    fn unpark(&self) {
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }

    /// Waits until everything queued before the call is written and synced; returns the
    /// segment's durable sequence number.
    pub(crate) fn flush(&self) -> Result<u64> {
        let ticket = self.state.requested.fetch_add(1, Ordering::AcqRel) + 1;
        self.unpark();
        let mut p = lock(&self.state.progress);
        loop {
            if p.done >= ticket {
                return Ok(self.state.durable_seq.load(Ordering::Acquire));
            }
            if p.failed >= ticket {
                let (kind, msg) = p
                    .error
                    .clone()
                    .unwrap_or((ErrorKind::Io, "write failed".into()));
                return Err(
                    Error::new(kind, msg).with_origin(self.state.segment.display().to_string())
                );
            }
            if !self.state.alive.load(Ordering::Acquire) {
                return Err(Error::new(ErrorKind::Io, "the writer thread has stopped")
                    .with_origin(self.state.segment.display().to_string()));
            }
            p = self
                .state
                .cond
                .wait_timeout(p, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// The current write error, if the last attempt failed, and the number of errors so far.
    pub(crate) fn error(&self) -> (Option<Error>, u64) {
        let p = lock(&self.state.progress);
        let e = p.error.as_ref().map(|(kind, msg)| {
            Error::new(*kind, msg.clone()).with_origin(self.state.segment.display().to_string())
        });
        (e, p.errors)
    }

    pub(crate) fn segment(&self) -> &Path {
        &self.state.segment
    }

    pub(crate) fn id(&self) -> u64 {
        self.state.writer_id
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.state.dir
    }

    pub(crate) fn recovered(&self) -> &[Recovered] {
        &self.state.recovered
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        self.unpark();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(t) = self.compaction.take() {
            let _ = t.join();
        }
    }
}

struct Loop {
    state: Arc<State>,
    seg: SegmentFile,
    channels: Vec<Channel>,
    pending: Vec<u8>,
    unsynced: bool,
    urgent: bool,
    last_sync: Instant,
    last_time_us: i64,
    retry_at: Option<Instant>,
    records: u64,
}

/// Marks the writer stopped and wakes waiting flushes however `run` ends (a panic too).
struct AliveGuard(Arc<State>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.alive.store(false, Ordering::Release);
        let _p = lock(&self.0.progress);
        self.0.cond.notify_all();
    }
}

fn run(state: Arc<State>, seg: SegmentFile) {
    let _alive = AliveGuard(Arc::clone(&state));
    let mut l = Loop {
        seg,
        channels: Vec::new(),
        pending: Vec::with_capacity(1 << 20),
        unsynced: false,
        urgent: false,
        last_sync: Instant::now(),
        last_time_us: 0,
        retry_at: None,
        records: 0,
        state,
    };
    // Give up on a failing disk this long after being asked to stop.
    let mut stop_deadline: Option<Instant> = None;
    loop {
        let stopping = l.state.stop.load(Ordering::Acquire);
        let ticket = l.state.requested.load(Ordering::Acquire);
        l.channels.append(&mut lock(&l.state.new_channels));
        let (taken, saturated) = l.drain();
        let flushing = ticket > lock(&l.state.progress).done;
        let ok = l.write_and_sync(flushing || stopping);
        {
            let mut p = lock(&l.state.progress);
            match &ok {
                Ok(()) if !saturated && l.pending.is_empty() && !l.unsynced => {
                    p.done = p.done.max(ticket);
                    p.error = None;
                }
                Ok(()) => {}
                Err(e) => {
                    p.errors += 1;
                    p.error = Some((e.kind(), e.to_string()));
                    if flushing {
                        p.failed = p.failed.max(ticket);
                    }
                }
            }
            if flushing {
                l.state.cond.notify_all();
            }
        }
        l.channels.retain(|c| {
            !(c.disconnected
                && c.written == c.received
                && c.received == c.shared.durable.load(Ordering::Relaxed))
        });
        if stopping {
            let drained = l.channels.iter().all(|c| c.disconnected) && !saturated;
            let clean = l.pending.is_empty() && !l.unsynced;
            let deadline =
                *stop_deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(2));
            if (drained && clean) || Instant::now() >= deadline {
                break;
            }
            if !clean {
                std::thread::sleep(Duration::from_millis(10));
            }
            continue;
        }
        if taken == 0 && !saturated {
            std::thread::park_timeout(l.state.options.poll_interval);
        }
    }
    let Loop {
        seg,
        pending,
        unsynced,
        records,
        state,
        ..
    } = l;
    if pending.is_empty() && !unsynced {
        let _ = seg.seal(records);
    }
    drop(state);
}

impl Loop {
    /// Takes records from every queue into `pending`. Returns how many, and whether the
    /// pending buffer filled up (records may remain queued).
    fn drain(&mut self) -> (u64, bool) {
        let now = now_us().max(self.last_time_us);
        self.last_time_us = now;
        let max = self.state.options.max_pending_bytes;
        let mut taken = 0;
        let mut saturated = false;
        for ch in &mut self.channels {
            // At most one queue's worth per round: everything queued when the round
            // started, and a flooding instance cannot keep the writer from the others.
            for _ in 0..ch.rx.capacity() {
                if self.pending.len() >= max {
                    saturated = true;
                    break;
                }
                match ch.rx.try_recv() {
                    Ok(queued) => {
                        let rec = queued.into_record(&ch.shared);
                        let seq = self.seg.take_seq();
                        encode_frame(&mut self.pending, seq, now, ch.collector, &rec);
                        ch.received += 1;
                        ch.shared.received.store(ch.received, Ordering::Release);
                        self.records += 1;
                        taken += 1;
                        self.urgent |= rec.wants_sync();
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        ch.disconnected = true;
                        break;
                    }
                }
            }
            let dropped = ch.shared.dropped.load(Ordering::Acquire);
            if dropped != ch.dropped_encoded {
                let seq = self.seg.take_seq();
                encode_frame(
                    &mut self.pending,
                    seq,
                    now,
                    ch.collector,
                    &Record::Dropped(Dropped { total: dropped }),
                );
                ch.dropped_encoded = dropped;
            }
        }
        (taken, saturated)
    }

    fn write_and_sync(&mut self, asked: bool) -> Result<()> {
        let now = Instant::now();
        if !self.pending.is_empty() {
            if !asked && self.retry_at.is_some_and(|t| now < t) {
                return Ok(());
            }
            if let Err(e) = self.seg.append(&self.pending) {
                self.retry_at = Some(now + Duration::from_millis(200));
                return Err(Error::io(self.seg.path(), "append to segment", e));
            }
            self.retry_at = None;
            self.pending.clear();
            for ch in &mut self.channels {
                ch.written = ch.received;
            }
            self.unsynced = true;
        }
        let due = self.last_sync.elapsed() >= self.state.options.sync_interval;
        if self.unsynced && (asked || self.urgent || due || self.state.stop.load(Ordering::Relaxed))
        {
            if let Err(e) = self.seg.sync() {
                return Err(Error::io(self.seg.path(), "sync segment", e));
            }
            self.unsynced = false;
            self.urgent = false;
            self.last_sync = Instant::now();
            for ch in &self.channels {
                ch.shared.durable.store(ch.written, Ordering::Release);
            }
            self.state
                .durable_seq
                .store(self.seg.last_seq(), Ordering::Release);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_is_shared_per_directory() {
        let dir = std::env::temp_dir().join(format!("fixloop-writer-{}", random_id()));
        let opts = StoreOptions::default();
        let a = writer_for(&dir, &opts).unwrap();
        let b = writer_for(&dir, &opts).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let seg = a.segment().to_path_buf();
        assert!(super::super::segment::lock_path(&seg).exists());
        drop(a);
        drop(b);
        // The last handle sealed the segment: no lock file left.
        assert!(!super::super::segment::lock_path(&seg).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
