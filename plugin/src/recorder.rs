//! What one plugin instance writes to the log, and when: the policy between the engine and
//! the action API on one side and the [`FeedbackSink`] on the other.
//!
//! Hosts instantiate, activate and restart plugins far more often than producers work with
//! them: a DAW scans its plugins at every start, and clap-validator's fuzzer restarted the
//! plugin in offline mode thousands of times a minute, which left one log with 5 188
//! "track bounced" records and 1 346 segment files, none holding a user action. So:
//!
//! - **Nothing until the producer does something.** The session start is kept until the
//!   first record a producer caused: a fix applied (or rejected unapplied), a state save,
//!   a bounce; it is written just before it. Deactivations before then are counted, not
//!   written. So an instance that a host only scans, activates and deactivates leaves no
//!   record and, since the store opens at the first record, no segment file.
//! - **One render, one bounce.** Renders (an offline activation followed by audio, or a
//!   faster-than-real-time stretch) less than [`RecorderConfig::bounce_burst_gap`] apart,
//!   counting from the end of the previous one (its last render or deactivation), are one
//!   bounce: the record is written when the burst ends, with the number of renders in it
//!   (`renders`), or at once when anything else is recorded, so every record keeps its
//!   order. Deactivations inside a burst are not written.
//! - **A cap on what the host can make an instance write.** Implicit records (state
//!   saves, bounces, deactivations) are limited per session to
//!   `implicit_base + implicit_per_audio_minute × minutes of audio processed`; the rest
//!   are counted. Records of the producer's own actions (fix applied, accept, reject,
//!   undo, modify, the outcome of a fix) are never capped or delayed.
//!
//! What was not written is counted in [`RecorderStats`], for the editor and tests.
//!
//! Called from the background thread and the action API (one lock, never held across a
//! flush), never from the audio thread.

use crate::feedback::FeedbackSink;
use fixloop::feedback::records::{BounceEvidence, EventId};
use fixloop::feedback::UserAction;
use fixloop::store::{AppliedFix, SessionInfo};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tunables of the [`Recorder`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecorderConfig {
    /// Renders closer than this (from the end of one to the start of the next) are one
    /// bounce. Default 2 s: hosts and validators restart within milliseconds, a producer
    /// does not export twice within two seconds.
    pub bounce_burst_gap: Duration,
    /// Implicit records a session may always write. Default 20.
    pub implicit_base: u64,
    /// Implicit records a session may write per minute of audio processed. Default 20.
    pub implicit_per_audio_minute: u64,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            bounce_burst_gap: Duration::from_secs(2),
            implicit_base: 20,
            implicit_per_audio_minute: 20,
        }
    }
}

/// What the recorder did not write, and why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Deactivations before the session's first record, or inside a render burst.
    pub not_needed: u64,
    /// Renders merged into a bounce record written for an earlier render of their burst.
    pub renders_merged: u64,
    /// Implicit records over the session's cap.
    pub capped: u64,
}

/// A bounce waiting for the end of its burst.
#[derive(Clone, Copy, Debug)]
struct PendingBounce {
    evidence: BounceEvidence,
    renders: u32,
    /// The latest render or deactivation of the burst.
    last: Instant,
}

#[derive(Debug, Default)]
struct State {
    /// The session start, until the first fix writes it.
    session: Option<SessionInfo>,
    /// Whether the session start was written.
    session_written: bool,
    bounce: Option<PendingBounce>,
    implicit_written: u64,
    audio_seconds: f64,
    stats: RecorderStats,
}

/// The write policy of one plugin instance (see the module doc), in front of its sink.
pub struct Recorder {
    sink: Arc<dyn FeedbackSink>,
    config: RecorderConfig,
    state: Mutex<State>,
}

impl Recorder {
    /// A recorder writing into `sink`.
    pub fn new(sink: Arc<dyn FeedbackSink>, config: RecorderConfig) -> Recorder {
        Recorder {
            sink,
            config,
            state: Mutex::new(State::default()),
        }
    }

    /// The sink behind the recorder.
    pub fn sink(&self) -> &Arc<dyn FeedbackSink> {
        &self.sink
    }

    /// What was not written so far.
    pub fn stats(&self) -> RecorderStats {
        self.state.lock().stats
    }

    /// A session began: kept until its first record (a second call before then replaces
    /// it; after it, is ignored: see [`next_session`](Self::next_session) for a new one).
    pub fn start_session(&self, info: &SessionInfo) {
        let mut s = self.state.lock();
        if !s.session_written {
            s.session = Some(info.clone());
        }
    }

    /// A new session from now on (the profile version in force changed, so the events
    /// that follow must carry the new one): its start is written before its first
    /// record, like the first session's.
    pub fn next_session(&self, info: &SessionInfo) {
        let mut s = self.state.lock();
        if s.session_written {
            s.session_written = false;
        }
        s.session = Some(info.clone());
    }

    /// A fix was applied or rejected unapplied: writes the session start first (once),
    /// then any pending bounce, then the fix. Never capped.
    pub fn fix_applied(&self, fix: &AppliedFix) -> Option<EventId> {
        let mut s = self.state.lock();
        self.start(&mut s);
        self.settle_bounce(&mut s);
        self.sink.fix_applied(fix)
    }

    /// The producer's action on a fix. Never capped.
    pub fn user_action(&self, event: EventId, action: UserAction, modified_value: Option<f64>) {
        let mut s = self.state.lock();
        self.settle_bounce(&mut s);
        self.sink.user_action(event, action, modified_value);
    }

    /// The outcome of a fix. Never capped.
    pub fn outcome(&self, event: EventId, gap_after: f64) {
        let mut s = self.state.lock();
        self.settle_bounce(&mut s);
        self.sink.outcome(event, gap_after);
    }

    /// The host saved the state (already debounced by the engine); flushed when written.
    pub fn session_saved(&self) {
        let written = {
            let mut s = self.state.lock();
            self.start(&mut s);
            self.settle_bounce(&mut s);
            self.implicit(&mut s, |sink| sink.session_saved())
        };
        if written {
            self.sink.flush();
        }
    }

    /// A render at `now`: merged into the pending bounce when its burst is still going,
    /// else the start of a new one (the previous one written first).
    pub fn track_bounced(&self, evidence: BounceEvidence, now: Instant) {
        let mut s = self.state.lock();
        self.start(&mut s);
        if let Some(b) = &mut s.bounce {
            if now.saturating_duration_since(b.last) < self.config.bounce_burst_gap {
                b.renders = b.renders.saturating_add(1);
                b.last = now;
                s.stats.renders_merged += 1;
                return;
            }
        }
        let flush = self.settle_bounce(&mut s);
        s.bounce = Some(PendingBounce {
            evidence,
            renders: 1,
            last: now,
        });
        drop(s);
        if flush {
            self.sink.flush();
        }
    }

    /// The host deactivated the plugin at `now`. Inside a render burst it only extends
    /// the burst; otherwise it is an implicit record.
    pub fn deactivated(&self, now: Instant) {
        let mut s = self.state.lock();
        if let Some(b) = &mut s.bounce {
            b.last = now;
            s.stats.not_needed += 1;
            return;
        }
        self.implicit(&mut s, |sink| sink.deactivated());
    }

    /// Time passes: `now`, with `audio_seconds` processed by the instance so far (the
    /// cap grows with it). Writes and flushes a bounce whose burst has ended.
    pub fn tick(&self, now: Instant, audio_seconds: f64) {
        let mut s = self.state.lock();
        if audio_seconds.is_finite() && audio_seconds > s.audio_seconds {
            s.audio_seconds = audio_seconds;
        }
        let ended = s
            .bounce
            .is_some_and(|b| now.saturating_duration_since(b.last) >= self.config.bounce_burst_gap);
        let flush = ended && self.settle_bounce(&mut s);
        drop(s);
        if flush {
            self.sink.flush();
        }
    }

    /// The instance stops: writes a pending bounce and flushes.
    pub fn finish(&self) {
        {
            let mut s = self.state.lock();
            self.settle_bounce(&mut s);
        }
        self.sink.flush();
    }

    /// Makes what was written durable.
    pub fn flush(&self) {
        self.sink.flush();
    }

    /// Writes the session start if it was not yet.
    fn start(&self, s: &mut State) {
        if !s.session_written {
            s.session_written = true;
            let info = s.session.take().unwrap_or_default();
            self.sink.start_session(&info);
        }
    }

    /// Writes the pending bounce, if any (within the cap); returns whether it wrote one.
    fn settle_bounce(&self, s: &mut State) -> bool {
        let Some(b) = s.bounce.take() else {
            return false;
        };
        self.implicit(s, |sink| sink.track_bounced(b.evidence, b.renders))
    }

    /// Writes an implicit record through `write` if the session was started and is under
    /// its cap; returns whether it did.
    fn implicit(&self, s: &mut State, write: impl FnOnce(&dyn FeedbackSink)) -> bool {
        if !s.session_written {
            s.stats.not_needed += 1;
            return false;
        }
        let minutes = (s.audio_seconds / 60.0).floor() as u64;
        let cap = self.config.implicit_base.saturating_add(
            self.config
                .implicit_per_audio_minute
                .saturating_mul(minutes),
        );
        if s.implicit_written >= cap {
            s.stats.capped += 1;
            return false;
        }
        s.implicit_written += 1;
        write(self.sink.as_ref());
        true
    }
}
