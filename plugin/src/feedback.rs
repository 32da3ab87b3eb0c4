//! Where the plugin's feedback goes: the [`FeedbackSink`] trait with one call per step of
//! the lifecycle of SPEC §3.2, [`StoreSink`] (the one the plugin uses), which records into
//! the feedback store (`fixloop::store::Collector`, log directory
//! `<fixloop home>/feedback/`), and [`MemorySink`] for tests.
//!
//! The sink is called from the background thread and from the action API, never from
//! `process()`. Its arguments are borrowed, so recording them does not allocate beyond
//! what the sink itself needs.

use crate::host_signals::PaceEvidence;
use fixloop::features::{Feature, FixType};
use fixloop::feedback::records::{self as store_records, FixId, FIX_ID_CAPACITY};
use fixloop::feedback::UserAction;
use fixloop::home::Home;
use fixloop::store::{AppliedFix, Collector, CollectorStats, PushError, SessionInfo, StoreOptions};
use nice_plug::prelude::nice_warn;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// The id of an opened feedback event, returned by [`FeedbackSink::fix_applied`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventId(pub u64);

impl EventId {
    /// No event: the sink could not open one (records referring to it are not written).
    pub const NONE: EventId = EventId(0);
}

/// The id of one plugin session (one plugin instance from creation to removal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(pub u64);

impl SessionId {
    /// A new id, unique with high probability: time, process id and a per-process counter mixed.
    pub fn generate() -> SessionId {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut x = nanos
            ^ (u64::from(std::process::id()) << 32)
            ^ COUNTER
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        // splitmix64 finaliser.
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        SessionId(x ^ (x >> 31))
    }

    /// The session id the store records: `<api>-<unix seconds>-<id as 16 hex digits>`, e.g.
    /// `clap-1764299006-9f3c0a1b2c3d4e5f` (the API says which wrapper the host loaded; the
    /// time orders sessions when read by eye).
    pub fn text(self, api: HostApi, started_unix_seconds: u64) -> String {
        format!("{}-{started_unix_seconds}-{:016x}", api.name(), self.0)
    }
}

/// Which plugin API the host loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostApi {
    /// CLAP.
    Clap,
    /// VST3.
    Vst3,
    /// Anything else (a standalone build, a test harness).
    Other,
}

impl HostApi {
    /// Lower-case name: `clap`, `vst3`, `other`.
    pub fn name(self) -> &'static str {
        match self {
            HostApi::Clap => "clap",
            HostApi::Vst3 => "vst3",
            HostApi::Other => "other",
        }
    }

    /// Parses [`name`](Self::name)'s output.
    pub fn from_name(name: &str) -> Option<HostApi> {
        [HostApi::Clap, HostApi::Vst3, HostApi::Other]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

/// A session began (the plugin's first activation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SessionStart<'a> {
    /// The session.
    pub session_id: SessionId,
    /// Version string of the profile in use.
    pub profile_version: &'a str,
    /// Plugin API.
    pub host_api: HostApi,
    /// Sample rate at the first activation, Hz.
    pub sample_rate_hz: f64,
}

/// A fix was applied (or, with `was_applied` false, rejected before being applied).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixApplied<'a> {
    /// The session.
    pub session_id: SessionId,
    /// Version string of the profile the fix came from.
    pub profile_version: &'a str,
    /// The fix's id.
    pub fix_id: &'a str,
    /// Its type.
    pub fix_type: FixType,
    /// The feature it addresses.
    pub feature: Feature,
    /// The feature's value when the fix was proposed.
    pub original_value: f64,
    /// The value the fix aims for.
    pub target_value: f64,
    /// The feature value the applied setting aims for (SPEC §3.1's `applied_value`): the
    /// fix's own new value when applied as proposed, the value a clamped or modified setting
    /// leads to otherwise, the original value when nothing was applied.
    pub applied_value: f64,
    /// The setting applied, in the setting's unit (gain dB after clamping to the parameter
    /// range, width ratio, or the proposed change for fixes applied outside the plugin);
    /// `None` when nothing was applied.
    pub setting: Option<f64>,
    /// Whether the fix was applied at all.
    pub was_applied: bool,
    /// z-score of the feature when the fix was applied.
    pub gap_before: f64,
}

/// The producer acted on a fix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UserActionRecord {
    /// The event.
    pub event_id: EventId,
    /// What they did.
    pub action: UserAction,
    /// For `modify`: the feature value their setting aims for (the unit of `applied_value`).
    pub modified_value: Option<f64>,
    /// For `modify`: the setting they chose, in the setting's unit.
    pub modified_setting: Option<f64>,
}

/// The gap after re-analysis of audio heard since the fix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// The event.
    pub event_id: EventId,
    /// z-score of the feature after the fix.
    pub gap_after: f64,
    /// Audio analysed since the fix, seconds.
    pub analysed_seconds: f64,
}

/// The host saved the plugin state (debounced; see [`crate::host_signals::SaveDebounce`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StateSaved {
    /// The session.
    pub session_id: SessionId,
    /// Serialisations merged into this record.
    pub serialisations: u64,
}

/// Why the plugin believes the track was bounced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BounceEvidence {
    /// The host activated the plugin in offline mode (CLAP render extension) and then
    /// processed audio: a bounce for certain.
    OfflineProcessMode {
        /// Frames processed in offline mode when the record was made.
        frames: u64,
    },
    /// Audio ran much faster than real time for a sustained stretch: a *likely* bounce.
    FasterThanRealTime(PaceEvidence),
}

/// The host rendered the track offline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackBounced {
    /// The session.
    pub session_id: SessionId,
    /// `false` when the host said so, `true` when inferred from the processing pace.
    pub likely: bool,
    /// The evidence.
    pub evidence: BounceEvidence,
}

/// Receives the plugin's feedback records. Implementations must be cheap to call and must
/// not block for long; they are never called from the audio thread.
pub trait FeedbackSink: Send + Sync {
    /// A session began.
    fn session_started(&self, record: &SessionStart<'_>);
    /// A fix was applied (or rejected unapplied); returns the event id later records refer
    /// to ([`EventId::NONE`] when no event could be opened).
    fn fix_applied(&self, record: &FixApplied<'_>) -> EventId;
    /// The producer accepted, rejected, undid or modified a fix.
    fn user_action(&self, record: &UserActionRecord);
    /// The gap after re-analysis.
    fn outcome(&self, record: &Outcome);
    /// The host saved the state.
    fn session_saved(&self, record: &StateSaved);
    /// The host rendered offline.
    fn track_bounced(&self, record: &TrackBounced);
    /// The host deactivated the plugin (followed by [`flush`](Self::flush)).
    fn deactivated(&self, session_id: SessionId);
    /// Makes everything recorded so far durable (called on bounce, save and deactivation).
    fn flush(&self);
}

/// The sink the plugin uses: the feedback store under the fixloop home
/// (`FIXLOOP_HOME`, else the platform data directory), opened at the first record.
pub fn default_sink() -> Arc<dyn FeedbackSink> {
    Arc::new(StoreSink::in_home())
}

/// Records into the feedback store through one [`Collector`] per plugin instance.
///
/// The collector is opened at the first record (the first activation), not when the
/// instance is created, so hosts that only scan or instantiate plugins leave no segment
/// behind. If it cannot be opened (read-only or missing home, permission denied, full
/// disk), the sink says why once through nice-plug's log (`NICE_LOG`), then counts and
/// drops every record: feedback never stops the plugin.
///
/// Mapping onto the store's records (see `fixloop::store`):
///
/// | plugin record | store record |
/// |---|---|
/// | [`SessionStart`] | `session_start`: track `unknown` (nice-plug exposes no project name), session id [`SessionId::text`], profile version, no A/B arms |
/// | [`FixApplied`] | `fix_applied` with `applied_value` the feature value aimed for; a proposal rejected before being applied is a `fix_applied` with `applied_value = original_value` followed by `reject` |
/// | [`UserActionRecord`] | `user_action`, `modified_value` in the feature's unit |
/// | [`Outcome`] | `outcome` (gap after) |
/// | [`StateSaved`] | `session_saved` |
/// | [`TrackBounced`] | `track_bounced`: CLAP offline render → `host`; the VST3 pace heuristic → `likely {rt: speed ratio, ms: audio milliseconds}` |
/// | deactivation | `deactivated` |
///
/// Event ids: the plugin's [`EventId`] is the collector's serial (the collector's own id
/// is the other half of the store's id).
pub struct StoreSink {
    dir: Result<PathBuf, String>,
    collector: OnceLock<Result<Collector, String>>,
    ab: BTreeMap<String, fixloop::feedback::Arm>,
    track_path: String,
    /// Records not handed to the collector (it could not be opened, or a value was not finite).
    not_recorded: AtomicU64,
    /// Flushes that failed since the last one that succeeded; only the first is logged.
    flush_failing: AtomicBool,
    last_problem: Mutex<Option<String>>,
}

impl StoreSink {
    /// The track path recorded while the host does not tell the project name.
    pub const UNKNOWN_TRACK: &'static str = "unknown";

    /// A sink recording into the log directory `dir` (created at the first record).
    pub fn at(dir: &Path) -> StoreSink {
        StoreSink::with_dir(Ok(dir.to_path_buf()))
    }

    /// A sink recording into `Home::resolve(None)?.feedback_dir()`.
    pub fn in_home() -> StoreSink {
        StoreSink::with_dir(
            Home::resolve(None)
                .map(|h| h.feedback_dir())
                .map_err(|e| format!("{e:#}")),
        )
    }

    fn with_dir(dir: Result<PathBuf, String>) -> StoreSink {
        StoreSink {
            dir,
            collector: OnceLock::new(),
            ab: BTreeMap::new(),
            track_path: StoreSink::UNKNOWN_TRACK.to_owned(),
            not_recorded: AtomicU64::new(0),
            flush_failing: AtomicBool::new(false),
            last_problem: Mutex::new(None),
        }
    }

    /// The A/B assignments recorded with the session start (none by default).
    pub fn with_ab(mut self, ab: BTreeMap<String, fixloop::feedback::Arm>) -> StoreSink {
        self.ab = ab;
        self
    }

    /// The track path recorded with the session start (default [`Self::UNKNOWN_TRACK`]).
    pub fn with_track_path(mut self, track_path: &str) -> StoreSink {
        track_path.clone_into(&mut self.track_path);
        self
    }

    /// The log directory, if a home could be resolved.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref().ok()
    }

    /// The collector's counters (`pushed = durable + dropped` once flushed); `None` before
    /// the first record or when the collector could not be opened.
    pub fn stats(&self) -> Option<CollectorStats> {
        match self.collector.get() {
            Some(Ok(c)) => Some(c.stats()),
            _ => None,
        }
    }

    /// Records that never reached the collector: it could not be opened, or a value was
    /// not finite. (Records the collector's full queue dropped are in [`stats`](Self::stats)
    /// and in the log.)
    pub fn not_recorded(&self) -> u64 {
        self.not_recorded.load(Ordering::Relaxed)
    }

    /// The last problem met (opening the store, a failed flush), for an editor to show.
    pub fn problem(&self) -> Option<String> {
        self.last_problem.lock().clone()
    }

    fn report(&self, problem: String) {
        nice_warn!("fixloop: {problem}");
        *self.last_problem.lock() = Some(problem);
    }

    /// The collector, opened on first use; `None` (and the record counted) when it cannot be.
    fn collector(&self) -> Option<&Collector> {
        let opened = self.collector.get_or_init(|| {
            let opened = self.dir.clone().and_then(|dir| {
                Collector::open(&dir, &StoreOptions::default()).map_err(|e| format!("{e:#}"))
            });
            if let Err(e) = &opened {
                self.report(format!("feedback is not recorded: {e}"));
            }
            opened
        });
        match opened {
            Ok(c) => Some(c),
            Err(_) => {
                self.not_recorded.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    fn pushed(&self, result: Result<(), PushError>) {
        // A full queue is counted by the collector and persisted; a refused value is ours.
        if result == Err(PushError::NonFinite) {
            self.not_recorded.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn event(&self, collector: &Collector, id: EventId) -> Option<store_records::EventId> {
        (id != EventId::NONE).then(|| store_records::EventId {
            collector: collector.id(),
            serial: u32::try_from(id.0).unwrap_or(u32::MAX),
        })
    }
}

/// `id` inline, cut at a character boundary if longer than the store holds (fix ids are
/// `<feature>.<fix type>.<8 hex digits>`, well within it).
fn fix_id(id: &str) -> FixId {
    let mut end = id.len().min(FIX_ID_CAPACITY);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    FixId::new(&id[..end]).unwrap_or_else(|_| FixId::new("").expect("the empty id fits"))
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl FeedbackSink for StoreSink {
    fn session_started(&self, r: &SessionStart<'_>) {
        let Some(c) = self.collector() else { return };
        let info = SessionInfo {
            track_path: self.track_path.clone(),
            session_id: r.session_id.text(r.host_api, unix_seconds()),
            profile_version: r.profile_version.to_owned(),
            ab: self.ab.clone(),
        };
        if let Err(e) = c.start_session(&info) {
            self.report(format!("session start not recorded: {e:#}"));
        }
    }

    fn fix_applied(&self, r: &FixApplied<'_>) -> EventId {
        let Some(c) = self.collector() else {
            return EventId::NONE;
        };
        let fix = AppliedFix {
            fix_id: fix_id(r.fix_id),
            feature: r.feature,
            fix_type: r.fix_type,
            original_value: r.original_value,
            target_value: r.target_value,
            applied_value: r.applied_value,
            gap_before: r.gap_before,
        };
        match c.fix_applied(&fix) {
            Ok(id) => EventId(u64::from(id.serial)),
            Err(e) => {
                self.pushed(Err(e));
                EventId::NONE
            }
        }
    }

    fn user_action(&self, r: &UserActionRecord) {
        let Some(c) = self.collector() else { return };
        if let Some(event) = self.event(c, r.event_id) {
            self.pushed(c.user_action(event, r.action, r.modified_value));
        }
    }

    fn outcome(&self, r: &Outcome) {
        let Some(c) = self.collector() else { return };
        if let Some(event) = self.event(c, r.event_id) {
            self.pushed(c.outcome(event, r.gap_after));
        }
    }

    fn session_saved(&self, _r: &StateSaved) {
        let Some(c) = self.collector() else { return };
        self.pushed(c.session_saved());
    }

    fn track_bounced(&self, r: &TrackBounced) {
        let Some(c) = self.collector() else { return };
        let evidence = match r.evidence {
            BounceEvidence::OfflineProcessMode { .. } => store_records::BounceEvidence::Host,
            BounceEvidence::FasterThanRealTime(e) => store_records::BounceEvidence::Likely {
                realtime_factor: e.speed_ratio as f32,
                audio_ms: (e.audio_seconds * 1000.0)
                    .round()
                    .clamp(0.0, f64::from(u32::MAX)) as u32,
            },
        };
        self.pushed(c.track_bounced(evidence));
    }

    fn deactivated(&self, _session_id: SessionId) {
        // Nothing to mark before the first record opened the collector.
        if let Some(Ok(c)) = self.collector.get() {
            self.pushed(c.deactivated());
        }
    }

    fn flush(&self) {
        let Some(Ok(c)) = self.collector.get() else {
            return;
        };
        match c.flush() {
            Ok(_) => self.flush_failing.store(false, Ordering::Relaxed),
            Err(e) => {
                if !self.flush_failing.swap(true, Ordering::Relaxed) {
                    self.report(format!("feedback not yet on disk: {e:#}"));
                }
            }
        }
    }
}

/// One record in owned form, as [`MemorySink`] keeps it.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// See [`SessionStart`].
    SessionStarted {
        /// Session.
        session_id: SessionId,
        /// Profile version.
        profile_version: String,
        /// Plugin API.
        host_api: HostApi,
        /// Sample rate, Hz.
        sample_rate_hz: f64,
    },
    /// See [`FixApplied`].
    FixApplied {
        /// Event id assigned.
        event_id: EventId,
        /// Session.
        session_id: SessionId,
        /// Profile version.
        profile_version: String,
        /// Fix id.
        fix_id: String,
        /// Fix type.
        fix_type: FixType,
        /// Feature.
        feature: Feature,
        /// Value when proposed.
        original_value: f64,
        /// Target.
        target_value: f64,
        /// Feature value the applied setting aims for.
        applied_value: f64,
        /// Applied setting.
        setting: Option<f64>,
        /// Whether applied.
        was_applied: bool,
        /// z before.
        gap_before: f64,
    },
    /// See [`UserActionRecord`].
    UserAction {
        /// Event.
        event_id: EventId,
        /// Action.
        action: UserAction,
        /// Feature value a modified setting aims for.
        modified_value: Option<f64>,
        /// Modified setting.
        modified_setting: Option<f64>,
    },
    /// See [`Outcome`].
    Outcome {
        /// Event.
        event_id: EventId,
        /// z after.
        gap_after: f64,
        /// Seconds analysed.
        analysed_seconds: f64,
    },
    /// See [`StateSaved`].
    StateSaved {
        /// Session.
        session_id: SessionId,
        /// Serialisations merged.
        serialisations: u64,
    },
    /// See [`TrackBounced`].
    TrackBounced {
        /// Session.
        session_id: SessionId,
        /// Inferred rather than told.
        likely: bool,
        /// Evidence.
        evidence: BounceEvidence,
    },
    /// See [`FeedbackSink::deactivated`].
    Deactivated {
        /// Session.
        session_id: SessionId,
    },
}

/// Keeps records in memory, for tests and for an editor's history view.
#[derive(Debug, Default)]
pub struct MemorySink {
    next_event: AtomicU64,
    records: Mutex<Vec<Record>>,
    flushes: AtomicU64,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// A copy of the records so far, in order.
    pub fn records(&self) -> Vec<Record> {
        self.records.lock().clone()
    }

    /// How many times [`FeedbackSink::flush`] was called.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    fn push(&self, r: Record) {
        self.records.lock().push(r);
    }
}

impl FeedbackSink for MemorySink {
    fn session_started(&self, r: &SessionStart<'_>) {
        self.push(Record::SessionStarted {
            session_id: r.session_id,
            profile_version: r.profile_version.to_owned(),
            host_api: r.host_api,
            sample_rate_hz: r.sample_rate_hz,
        });
    }
    fn fix_applied(&self, r: &FixApplied<'_>) -> EventId {
        let id = EventId(self.next_event.fetch_add(1, Ordering::Relaxed) + 1);
        self.push(Record::FixApplied {
            event_id: id,
            session_id: r.session_id,
            profile_version: r.profile_version.to_owned(),
            fix_id: r.fix_id.to_owned(),
            fix_type: r.fix_type,
            feature: r.feature,
            original_value: r.original_value,
            target_value: r.target_value,
            applied_value: r.applied_value,
            setting: r.setting,
            was_applied: r.was_applied,
            gap_before: r.gap_before,
        });
        id
    }
    fn user_action(&self, r: &UserActionRecord) {
        self.push(Record::UserAction {
            event_id: r.event_id,
            action: r.action,
            modified_value: r.modified_value,
            modified_setting: r.modified_setting,
        });
    }
    fn outcome(&self, r: &Outcome) {
        self.push(Record::Outcome {
            event_id: r.event_id,
            gap_after: r.gap_after,
            analysed_seconds: r.analysed_seconds,
        });
    }
    fn session_saved(&self, r: &StateSaved) {
        self.push(Record::StateSaved {
            session_id: r.session_id,
            serialisations: r.serialisations,
        });
    }
    fn track_bounced(&self, r: &TrackBounced) {
        self.push(Record::TrackBounced {
            session_id: r.session_id,
            likely: r.likely,
            evidence: r.evidence,
        });
    }
    fn deactivated(&self, session_id: SessionId) {
        self.push(Record::Deactivated { session_id });
    }
    fn flush(&self) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixloop::feedback::records::Record as StoreRecord;

    fn session(sink: &dyn FeedbackSink) -> SessionId {
        let id = SessionId(0x1234);
        sink.session_started(&SessionStart {
            session_id: id,
            profile_version: "trance_v1",
            host_api: HostApi::Vst3,
            sample_rate_hz: 48_000.0,
        });
        id
    }

    fn bass_cut(was_applied: bool) -> FixApplied<'static> {
        FixApplied {
            session_id: SessionId(0x1234),
            profile_version: "trance_v1",
            fix_id: "bass_level.eq_band_cut.1234abcd",
            fix_type: FixType::EqBandCut,
            feature: Feature::BassLevel,
            original_value: -3.0,
            target_value: -4.9,
            applied_value: if was_applied { -4.9 } else { -3.0 },
            setting: was_applied.then_some(-2.1),
            was_applied,
            gap_before: 2.5,
        }
    }

    #[test]
    fn store_sink_records_the_lifecycle_and_the_store_folds_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("feedback");
        let ab = BTreeMap::from([("amount".to_string(), fixloop::feedback::Arm::Treatment)]);
        let sink = StoreSink::at(&log).with_ab(ab.clone());
        assert!(sink.stats().is_none(), "opened at the first record only");
        assert!(!log.exists());
        let sid = session(&sink);
        let e1 = sink.fix_applied(&bass_cut(true));
        let e2 = sink.fix_applied(&bass_cut(false));
        assert_ne!(e1, e2);
        assert_ne!(e1, EventId::NONE);
        sink.user_action(&UserActionRecord {
            event_id: e1,
            action: UserAction::Modify,
            modified_value: Some(-4.0),
            modified_setting: Some(-1.0),
        });
        sink.user_action(&UserActionRecord {
            event_id: e2,
            action: UserAction::Reject,
            modified_value: None,
            modified_setting: None,
        });
        sink.outcome(&Outcome {
            event_id: e1,
            gap_after: 1.0,
            analysed_seconds: 5.0,
        });
        sink.session_saved(&StateSaved {
            session_id: sid,
            serialisations: 2,
        });
        sink.track_bounced(&TrackBounced {
            session_id: sid,
            likely: true,
            evidence: BounceEvidence::FasterThanRealTime(PaceEvidence {
                speed_ratio: 9.5,
                audio_seconds: 10.1,
                wall_seconds: 1.06,
            }),
        });
        sink.deactivated(sid);
        sink.flush();
        let stats = sink.stats().unwrap();
        // session start, 2 fixes, 2 actions, outcome, save, bounce, deactivate.
        assert_eq!((stats.pushed, stats.durable, stats.dropped), (9, 9, 0));
        assert_eq!(sink.not_recorded(), 0);

        let entries = fixloop::store::read_log(&log).unwrap().entries;
        let start = entries
            .iter()
            .find_map(|e| match &e.record {
                StoreRecord::SessionStart(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(start.track_path, "unknown");
        assert_eq!(start.profile_version, "trance_v1");
        assert!(
            start.session_id.starts_with("vst3-") && start.session_id.ends_with("0000000000001234"),
            "{}",
            start.session_id
        );
        let ab_text: BTreeMap<fixloop::feedback::Text, fixloop::feedback::Arm> =
            ab.iter().map(|(k, v)| (k.as_str().into(), *v)).collect();
        assert_eq!(start.ab, ab_text);
        assert!(entries.iter().any(|e| matches!(
            e.record,
            StoreRecord::TrackBounced(b) if b.evidence == store_records::BounceEvidence::Likely {
                realtime_factor: 9.5,
                audio_ms: 10_100
            }
        )));
        assert!(entries
            .iter()
            .any(|e| matches!(e.record, StoreRecord::Deactivated(_))));

        let events = fixloop::store::read_events(&log).unwrap();
        assert_eq!(events.len(), 2);
        let applied = &events[0];
        assert_eq!(applied.fix_id, "bass_level.eq_band_cut.1234abcd");
        assert_eq!(applied.feature_name, "bass_level");
        assert_eq!(applied.applied_value, -4.9);
        assert_eq!(applied.user_action, Some(UserAction::Modify));
        assert_eq!(applied.user_modified_value, Some(-4.0));
        assert_eq!(applied.gap_after, Some(1.0));
        // (|2.5| − |1.0|) / |2.5| (SPEC §3.2).
        assert_eq!(applied.improvement_ratio, Some(0.6));
        assert!(applied.session_saved_after && applied.track_bounced_after);
        let rejected = &events[1];
        assert_eq!(rejected.user_action, Some(UserAction::Reject));
        assert_eq!(rejected.applied_value, rejected.original_value);
        assert!(!rejected.session_saved_after && !rejected.track_bounced_after);
        assert_eq!(rejected.session_id, applied.session_id);
        assert_eq!(applied.ab, ab_text);
    }

    #[test]
    fn an_unusable_home_drops_and_counts_records_without_failing() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the log directory should be: the collector cannot be opened.
        let blocker = dir.path().join("feedback");
        std::fs::write(&blocker, b"not a directory").unwrap();
        let sink = StoreSink::at(&blocker.join("log"));
        let sid = session(&sink);
        assert_eq!(sink.fix_applied(&bass_cut(true)), EventId::NONE);
        sink.session_saved(&StateSaved {
            session_id: sid,
            serialisations: 1,
        });
        sink.deactivated(sid);
        sink.flush();
        assert_eq!(sink.not_recorded(), 3);
        assert!(sink.stats().is_none());
        assert!(
            sink.problem().is_some_and(|p| p.contains("not recorded")),
            "{:?}",
            sink.problem()
        );
    }

    #[test]
    fn non_finite_values_are_refused_and_counted_and_actions_on_no_event_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let sink = StoreSink::at(dir.path());
        session(&sink);
        let mut bad = bass_cut(true);
        bad.gap_before = f64::NAN;
        let none = sink.fix_applied(&bad);
        assert_eq!(none, EventId::NONE);
        sink.outcome(&Outcome {
            event_id: none,
            gap_after: 0.5,
            analysed_seconds: 5.0,
        });
        sink.flush();
        assert_eq!(sink.not_recorded(), 1);
        assert_eq!(sink.stats().unwrap().pushed, 1, "only the session start");
    }

    #[test]
    fn long_fix_ids_are_cut_at_a_character_boundary() {
        let long = format!("{}é", "x".repeat(FIX_ID_CAPACITY - 1));
        assert_eq!(fix_id(&long).as_str(), "x".repeat(FIX_ID_CAPACITY - 1));
        assert_eq!(fix_id("a.b.c").as_str(), "a.b.c");
    }

    #[test]
    fn session_ids_differ_and_name_their_api() {
        assert_ne!(SessionId::generate(), SessionId::generate());
        let text = SessionId(0xab).text(HostApi::Clap, 1_764_299_006);
        assert_eq!(text, "clap-1764299006-00000000000000ab");
        assert_eq!(HostApi::from_name("clap"), Some(HostApi::Clap));
        assert_eq!(HostApi::from_name("vst3"), Some(HostApi::Vst3));
    }
}
