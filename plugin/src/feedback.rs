//! Where the plugin's feedback goes: the library's collector, behind the thin
//! [`FeedbackSink`] trait whose calls take the library's record types
//! (`fixloop::store::{AppliedFix, SessionInfo}`, `fixloop::feedback::records::{EventId,
//! BounceEvidence}`). The plugin defines no records of its own: what it records is what the
//! log holds, and tests read it back with the library's reader.
//!
//! The sink is called from the background thread and from the action API, never from
//! `process()`.

use fixloop::feedback::records::{BounceEvidence, EventId};
use fixloop::feedback::{Arm, UserAction};
use fixloop::home::Home;
use fixloop::store::{AppliedFix, Collector, CollectorStats, PushError, SessionInfo, StoreOptions};
use nice_plug::prelude::nice_warn;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Which plugin API the host loaded (the first part of the recorded session id).
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
}

/// A new session id as the plugin records it: `<api>-<unix seconds>-<random id as 16 hex
/// digits>`, e.g. `clap-1764299006-9f3c0a1b2c3d4e5f` (the API says which wrapper the host
/// loaded; the time orders sessions when read by eye).
pub fn session_id(api: HostApi) -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{}-{seconds}-{:016x}",
        api.name(),
        fixloop::store::random_id()
    )
}

/// Receives the plugin's feedback, one call per step of the lifecycle of SPEC §3.2, in the
/// library's types. Implementations must not block for long; they are never called from
/// the audio thread.
pub trait FeedbackSink: Send + Sync {
    /// A session began (the plugin's first activation).
    fn start_session(&self, info: &SessionInfo);
    /// A fix was applied (or, with `was_applied` false, rejected unapplied); the event id
    /// later records refer to, `None` when no event could be opened.
    fn fix_applied(&self, fix: &AppliedFix) -> Option<EventId>;
    /// The producer accepted, rejected, undid or modified a fix (`modified_value`: the
    /// feature value a modified setting aims for).
    fn user_action(&self, event: EventId, action: UserAction, modified_value: Option<f64>);
    /// The gap (z-score) after re-analysis.
    fn outcome(&self, event: EventId, gap_after: f64);
    /// The host saved the state (debounced by the engine).
    fn session_saved(&self);
    /// The host rendered offline, or a heuristic believes it did; `renders` renders of
    /// one burst are one bounce.
    fn track_bounced(&self, evidence: BounceEvidence, renders: u32);
    /// The host deactivated the plugin (followed by [`flush`](Self::flush)).
    fn deactivated(&self);
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
/// The session start gets the sink's track path (default [`Self::UNKNOWN_TRACK`]:
/// nice-plug exposes no project name) and A/B arms unless the caller gives its own.
pub struct StoreSink {
    dir: std::result::Result<PathBuf, String>,
    collector: OnceLock<std::result::Result<Collector, String>>,
    ab: BTreeMap<String, Arm>,
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

    fn with_dir(dir: std::result::Result<PathBuf, String>) -> StoreSink {
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
    pub fn with_ab(mut self, ab: BTreeMap<String, Arm>) -> StoreSink {
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

    fn pushed<T>(&self, result: std::result::Result<T, PushError>) -> Option<T> {
        // A full queue is counted by the collector and persisted; a refused value is ours.
        if let Err(PushError::NonFinite) = result {
            self.not_recorded.fetch_add(1, Ordering::Relaxed);
        }
        result.ok()
    }
}

impl FeedbackSink for StoreSink {
    fn start_session(&self, info: &SessionInfo) {
        let Some(c) = self.collector() else { return };
        let info = SessionInfo {
            track_path: if info.track_path.is_empty() {
                self.track_path.clone()
            } else {
                info.track_path.clone()
            },
            ab: if info.ab.is_empty() {
                self.ab.clone()
            } else {
                info.ab.clone()
            },
            ..info.clone()
        };
        if let Err(e) = c.start_session(&info) {
            self.report(format!("session start not recorded: {e:#}"));
        }
    }

    fn fix_applied(&self, fix: &AppliedFix) -> Option<EventId> {
        let c = self.collector()?;
        self.pushed(c.fix_applied(fix))
    }

    fn user_action(&self, event: EventId, action: UserAction, modified_value: Option<f64>) {
        let Some(c) = self.collector() else { return };
        self.pushed(c.user_action(event, action, modified_value));
    }

    fn outcome(&self, event: EventId, gap_after: f64) {
        let Some(c) = self.collector() else { return };
        self.pushed(c.outcome(event, gap_after));
    }

    fn session_saved(&self) {
        let Some(c) = self.collector() else { return };
        self.pushed(c.session_saved());
    }

    fn track_bounced(&self, evidence: BounceEvidence, renders: u32) {
        let Some(c) = self.collector() else { return };
        self.pushed(c.track_bounced_merged(evidence, renders));
    }

    fn deactivated(&self) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use fixloop::features::{Feature, FixType};
    use fixloop::feedback::records::FixId;

    fn bass_cut(was_applied: bool) -> AppliedFix {
        AppliedFix {
            fix_id: FixId::new("bass_level.eq_band_cut.1234abcd").unwrap(),
            feature: Feature::BassLevel,
            fix_type: FixType::EqBandCut,
            original_value: -3.0,
            target_value: -4.9,
            applied_value: if was_applied { -4.9 } else { -3.0 },
            gap_before: 2.5,
            was_applied,
        }
    }

    #[test]
    fn session_ids_differ_and_name_their_api() {
        let a = session_id(HostApi::Clap);
        assert!(
            a.starts_with("clap-") && a.len() == "clap-".len() + 10 + 1 + 16,
            "{a}"
        );
        assert_ne!(a, session_id(HostApi::Clap));
        assert!(session_id(HostApi::Vst3).starts_with("vst3-"));
    }

    #[test]
    fn an_unusable_home_drops_and_counts_records_without_failing() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the log directory should be: the collector cannot be opened.
        let blocker = dir.path().join("feedback");
        std::fs::write(&blocker, b"not a directory").unwrap();
        let sink = StoreSink::at(&blocker.join("log"));
        sink.start_session(&SessionInfo::default());
        assert_eq!(sink.fix_applied(&bass_cut(true)), None);
        sink.session_saved();
        sink.deactivated();
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
    fn non_finite_values_are_refused_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let sink = StoreSink::at(dir.path());
        sink.start_session(&SessionInfo::default());
        let mut bad = bass_cut(true);
        bad.gap_before = f64::NAN;
        assert_eq!(sink.fix_applied(&bad), None);
        sink.flush();
        assert_eq!(sink.not_recorded(), 1);
        assert_eq!(sink.stats().unwrap().pushed, 1, "only the session start");
    }

    #[test]
    fn the_sinks_track_path_and_arms_fill_a_session_start_without_them() {
        let dir = tempfile::tempdir().unwrap();
        let ab = BTreeMap::from([("amount".to_string(), Arm::Treatment)]);
        let sink = StoreSink::at(dir.path())
            .with_ab(ab)
            .with_track_path("song.wav");
        assert!(sink.stats().is_none(), "opened at the first record only");
        sink.start_session(&SessionInfo {
            session_id: "clap-1-00000000000000ab".into(),
            profile_version: "trance_v1".into(),
            ..SessionInfo::default()
        });
        sink.flush();
        let events = fixloop::store::read_log(dir.path()).unwrap().entries;
        let start = events
            .iter()
            .find_map(|e| match &e.record {
                fixloop::feedback::records::Record::SessionStart(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(start.track_path, "song.wav");
        assert_eq!(start.session_id, "clap-1-00000000000000ab");
        assert_eq!(start.ab.len(), 1);
    }
}
