//! Where the plugin's feedback goes: the [`FeedbackSink`] trait with one call per step of
//! the lifecycle of SPEC §3.2, a [`MemorySink`] for tests and a [`JsonlSink`] that appends
//! one JSON object per line to `$FIXLOOP_HOME/plugin/records.jsonl`.
//!
//! The library's lock-free collector (`fixloop::store::Collector`) plugs in here: implement
//! [`FeedbackSink`] for it and return it from [`default_sink`].
//!
//! The sink is called from the background thread and from the action API, never from
//! `process()`. Its arguments are borrowed, so a real-time-safe collector can record them
//! without the call itself allocating.

use crate::host_signals::PaceEvidence;
use fixloop::features::{Feature, FixType};
use fixloop::feedback::UserAction;
use fixloop::home::Home;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The id of an opened feedback event, returned by [`FeedbackSink::fix_applied`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub u64);

/// The id of one plugin session (one plugin instance from creation to removal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
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
}

/// Which plugin API the host loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostApi {
    /// CLAP.
    Clap,
    /// VST3.
    Vst3,
    /// Anything else (a standalone build, a test harness).
    Other,
}

/// A session began (the plugin's first activation).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
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
    /// The setting applied, in the setting's unit (dB, width ratio); `None` for fixes the
    /// plugin cannot apply itself (compression, pumping, tilt).
    pub applied_value: Option<f64>,
    /// Whether the fix was applied at all.
    pub was_applied: bool,
    /// z-score of the feature when the fix was applied.
    pub gap_before: f64,
}

/// The producer acted on a fix.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct UserActionRecord {
    /// The event.
    pub event_id: EventId,
    /// What they did.
    #[serde(serialize_with = "ser_action")]
    pub action: UserAction,
    /// For `modify`: the value they chose, in the setting's unit.
    pub modified_value: Option<f64>,
}

fn ser_action<S: serde::Serializer>(a: &UserAction, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a.name())
}

/// The gap after re-analysis of audio heard since the fix.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// The event.
    pub event_id: EventId,
    /// z-score of the feature after the fix.
    pub gap_after: f64,
    /// Audio analysed since the fix, seconds.
    pub analysed_seconds: f64,
}

/// The host saved the plugin state (debounced; see [`crate::host_signals::SaveDebounce`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StateSaved {
    /// The session.
    pub session_id: SessionId,
    /// Serialisations merged into this record.
    pub serialisations: u64,
}

/// Why the plugin believes the track was bounced.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
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
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
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
    /// A fix was applied (or rejected unapplied); returns the event id later records refer to.
    fn fix_applied(&self, record: &FixApplied<'_>) -> EventId;
    /// The producer accepted, rejected, undid or modified a fix.
    fn user_action(&self, record: &UserActionRecord);
    /// The gap after re-analysis.
    fn outcome(&self, record: &Outcome);
    /// The host saved the state.
    fn session_saved(&self, record: &StateSaved);
    /// The host rendered offline.
    fn track_bounced(&self, record: &TrackBounced);
    /// Makes everything recorded so far durable (called on bounce, save and deactivation).
    fn flush(&self);
}

/// The sink the plugin uses. The one place to swap in the library's collector.
pub fn default_sink() -> Arc<dyn FeedbackSink> {
    Arc::new(JsonlSink::in_home())
}

/// One record in owned form, as the test sinks keep it and the JSON-lines file holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
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
        /// Fix type name.
        fix_type: FixType,
        /// Feature.
        feature: Feature,
        /// Value when proposed.
        original_value: f64,
        /// Target.
        target_value: f64,
        /// Applied setting.
        applied_value: Option<f64>,
        /// Whether applied.
        was_applied: bool,
        /// z before.
        gap_before: f64,
    },
    /// See [`UserActionRecord`].
    UserAction {
        /// Event.
        event_id: EventId,
        /// Action name.
        action: String,
        /// Modified value.
        modified_value: Option<f64>,
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
}

/// Assigns event ids and turns borrowed records into [`Record`]s.
#[derive(Debug, Default)]
struct Owned {
    next_event: AtomicU64,
}

impl Owned {
    fn session(&self, r: &SessionStart<'_>) -> Record {
        Record::SessionStarted {
            session_id: r.session_id,
            profile_version: r.profile_version.to_owned(),
            host_api: r.host_api,
            sample_rate_hz: r.sample_rate_hz,
        }
    }

    fn fix(&self, r: &FixApplied<'_>) -> (EventId, Record) {
        let id = EventId(self.next_event.fetch_add(1, Ordering::Relaxed) + 1);
        (
            id,
            Record::FixApplied {
                event_id: id,
                session_id: r.session_id,
                profile_version: r.profile_version.to_owned(),
                fix_id: r.fix_id.to_owned(),
                fix_type: r.fix_type,
                feature: r.feature,
                original_value: r.original_value,
                target_value: r.target_value,
                applied_value: r.applied_value,
                was_applied: r.was_applied,
                gap_before: r.gap_before,
            },
        )
    }
}

fn action_record(r: &UserActionRecord) -> Record {
    Record::UserAction {
        event_id: r.event_id,
        action: r.action.name().to_owned(),
        modified_value: r.modified_value,
    }
}

/// Keeps records in memory, for tests and for an editor's history view.
#[derive(Debug, Default)]
pub struct MemorySink {
    ids: Owned,
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
        self.push(self.ids.session(r));
    }
    fn fix_applied(&self, r: &FixApplied<'_>) -> EventId {
        let (id, rec) = self.ids.fix(r);
        self.push(rec);
        id
    }
    fn user_action(&self, r: &UserActionRecord) {
        self.push(action_record(r));
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
    fn flush(&self) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
    }
}

/// Appends records as JSON lines to a file, opened on the first record. Each record is one
/// `write` to a file opened for appending, so several instances and processes may share the
/// file. Errors are counted, never raised: feedback must not break the host.
#[derive(Debug)]
pub struct JsonlSink {
    path: Option<PathBuf>,
    ids: Owned,
    file: Mutex<Option<File>>,
    errors: AtomicU64,
}

impl JsonlSink {
    /// Relative path of the file under the fixloop home.
    pub const FILE: &'static str = "plugin/records.jsonl";

    /// A sink writing to `path`.
    pub fn at(path: &Path) -> JsonlSink {
        JsonlSink {
            path: Some(path.to_path_buf()),
            ids: Owned {
                // Ids unique across instances sharing the file: start from the session id space.
                next_event: AtomicU64::new(SessionId::generate().0 >> 16),
            },
            file: Mutex::new(None),
            errors: AtomicU64::new(0),
        }
    }

    /// A sink writing to [`Self::FILE`] under the fixloop home (`FIXLOOP_HOME`, else the
    /// platform data directory); a sink that writes nothing when no home can be found.
    pub fn in_home() -> JsonlSink {
        match Home::resolve(None) {
            Ok(home) => JsonlSink::at(&home.root().join(Self::FILE)),
            Err(_) => JsonlSink {
                path: None,
                ids: Owned::default(),
                file: Mutex::new(None),
                errors: AtomicU64::new(1),
            },
        }
    }

    /// The file written, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Writes that failed so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Reads every record of a file written by this sink (skipping lines that do not parse).
    pub fn read(path: &Path) -> std::io::Result<Vec<Record>> {
        let text = std::fs::read_to_string(path)?;
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    fn write(&self, record: &Record) {
        let Some(path) = &self.path else { return };
        let Ok(mut line) = serde_json::to_vec(record) else {
            self.errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        line.push(b'\n');
        let mut file = self.file.lock();
        if file.is_none() {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            *file = OpenOptions::new().create(true).append(true).open(path).ok();
        }
        match file.as_mut().map(|f| f.write_all(&line)) {
            Some(Ok(())) => {}
            _ => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                *file = None;
            }
        }
    }
}

impl FeedbackSink for JsonlSink {
    fn session_started(&self, r: &SessionStart<'_>) {
        self.write(&self.ids.session(r));
    }
    fn fix_applied(&self, r: &FixApplied<'_>) -> EventId {
        let (id, rec) = self.ids.fix(r);
        self.write(&rec);
        id
    }
    fn user_action(&self, r: &UserActionRecord) {
        self.write(&action_record(r));
    }
    fn outcome(&self, r: &Outcome) {
        self.write(&Record::Outcome {
            event_id: r.event_id,
            gap_after: r.gap_after,
            analysed_seconds: r.analysed_seconds,
        });
    }
    fn session_saved(&self, r: &StateSaved) {
        self.write(&Record::StateSaved {
            session_id: r.session_id,
            serialisations: r.serialisations,
        });
    }
    fn track_bounced(&self, r: &TrackBounced) {
        self.write(&Record::TrackBounced {
            session_id: r.session_id,
            likely: r.likely,
            evidence: r.evidence,
        });
    }
    fn flush(&self) {
        if let Some(f) = self.file.lock().as_ref() {
            let _ = f.sync_data();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x/records.jsonl");
        let sink = JsonlSink::at(&path);
        let session = SessionId(7);
        sink.session_started(&SessionStart {
            session_id: session,
            profile_version: "trance_v1",
            host_api: HostApi::Clap,
            sample_rate_hz: 48_000.0,
        });
        let id = sink.fix_applied(&FixApplied {
            session_id: session,
            profile_version: "trance_v1",
            fix_id: "bass_level.eq_band_cut.1234abcd",
            fix_type: FixType::EqBandCut,
            feature: Feature::BassLevel,
            original_value: -3.0,
            target_value: -4.9,
            applied_value: Some(-2.1),
            was_applied: true,
            gap_before: 2.5,
        });
        sink.user_action(&UserActionRecord {
            event_id: id,
            action: UserAction::Undo,
            modified_value: None,
        });
        sink.track_bounced(&TrackBounced {
            session_id: session,
            likely: true,
            evidence: BounceEvidence::FasterThanRealTime(PaceEvidence {
                speed_ratio: 9.5,
                audio_seconds: 10.1,
                wall_seconds: 1.06,
            }),
        });
        sink.flush();
        let records = JsonlSink::read(&path).unwrap();
        assert_eq!(records.len(), 4);
        assert!(matches!(records[1], Record::FixApplied { event_id, .. } if event_id == id));
        assert_eq!(
            records[2],
            Record::UserAction {
                event_id: id,
                action: "undo".into(),
                modified_value: None
            }
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""record":"track_bounced""#), "{text}");
        assert!(text.contains(r#""kind":"faster_than_real_time""#), "{text}");
        assert_eq!(sink.errors(), 0);
    }

    #[test]
    fn session_ids_differ() {
        assert_ne!(SessionId::generate(), SessionId::generate());
    }
}
