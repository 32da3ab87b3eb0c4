//! The background side of the plugin: drains the audio ring, analyses, compares with the
//! profile, proposes fixes, watches applied fixes and the host's signals, and records
//! feedback. [`Engine`] is a plain struct driven by [`Engine::handle`] and
//! [`Engine::step`] so tests run it without threads; [`Worker`] runs it on a thread.
//!
//! Nothing here runs on the audio thread. The audio thread's only links to it are the
//! ring (wait-free SPSC) and the [`AudioCounters`] atomics.

use crate::analysis::{FeatureSource, MAX_CHUNK_FRAMES};
use crate::audio::{AudioCounters, Frame};
use crate::feedback::{FeedbackSink, HostApi};
use crate::host_signals::{RenderPace, RenderPaceConfig, SaveDebounce};
use crate::params::{HostView, PARAM_TOLERANCE};
use crate::recorder::{Recorder, RecorderConfig};
use arc_swap::ArcSwap;
use fixloop::features::{Feature, FeatureVector};
use fixloop::feedback::records::{BounceEvidence, EventId};
use fixloop::feedback::UserAction;
use fixloop::fixes::{propose_for, ControlMove, Fix, Policy};
use fixloop::gaps::{compare, GapReport};
use fixloop::profile::Profile;
use fixloop::store::SessionInfo;
use parking_lot::Mutex;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the editor reads: the latest analysis, gaps, score and fixes.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// Features of the audio heard since the last change of the fix stage.
    pub features: FeatureVector,
    /// Gaps and score against the profile (`None` before any audio).
    pub report: Option<GapReport>,
    /// Proposed fixes, most confident first.
    pub fixes: Vec<Fix>,
    /// Audio analysed since the last change, seconds.
    pub analysed_seconds: f64,
    /// The profile in use: the statistics each feature is drawn against.
    pub profile: Option<Arc<Profile>>,
    /// The policy the fixes were proposed under (its target strategy explains them).
    pub policy: Policy,
    /// Name of the profile in use.
    pub profile_name: String,
    /// Version of the profile in use.
    pub profile_version: String,
    /// Why the chosen profile could not be loaded (the bundled one is used instead).
    pub profile_error: Option<String>,
    /// Why the audio is not being analysed (e.g. a sample rate the analyser does not take).
    pub analysis_error: Option<String>,
    /// Non-finite input samples replaced by silence before analysis, in total.
    pub non_finite_samples: u64,
    /// Frames the audio thread could not hand over, in total.
    pub dropped_frames: u64,
    /// What the profile has learned in this home, and how to take it back.
    pub learning: LearningView,
}

/// The profile's lineage as the editor shows it (see `fixloop::learn::Lineage`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LearningView {
    /// Whether the profile has a lineage in a home (false: no home, learning off).
    pub active: bool,
    /// The version in force.
    pub version: String,
    /// The lineage's first version.
    pub original: Option<String>,
    /// What changed since the first version, one line each.
    pub changes: Vec<String>,
    /// Every version the lineage has held, oldest first (revert targets).
    pub versions: Vec<String>,
    /// Whether learning is paused.
    pub paused: bool,
    /// What the last learning step did, in words.
    pub last_step: Option<String>,
    /// Why learning is off or failed.
    pub error: Option<String>,
}

/// What the editor asks of the learning (done on the background thread).
#[derive(Clone, Debug, PartialEq)]
pub enum LearningRequest {
    /// Put this earlier version back in force.
    Revert(String),
    /// Pause (true) or resume (false) learning.
    Pause(bool),
}

impl Analysis {
    /// The 0–100 score, if any feature could be scored.
    pub fn score(&self) -> Option<f64> {
        self.report.as_ref().and_then(|r| r.score)
    }
}

/// A fix the producer applied, tracked until it is closed.
#[derive(Clone, Debug)]
pub struct OpenFix {
    /// The event opened for it (`None` when the store could not take the record).
    pub event_id: Option<EventId>,
    /// The fix as proposed.
    pub fix: Fix,
    /// The control it moved, with the values before and after (`None`: applied outside the plugin).
    pub param: Option<ControlMove>,
    /// Window resets requested up to the application; the outcome waits for the window after it.
    pub window_reset: u64,
    /// Whether it was undone (by the action API or the host putting the parameter back).
    pub undone: bool,
    /// Whether its outcome was recorded.
    pub outcome_recorded: bool,
    /// The gap after (z) recorded as its outcome.
    pub outcome_z: Option<f64>,
    /// Whether the parameter has been seen at its applied value. nice-plug applies a
    /// value set from the GUI only when the host flushes parameters or at the next process
    /// call: until then the parameter still reads its old value, which must not look like
    /// the host putting it back.
    pub seen_applied: bool,
    /// What the producer said after applying it: `accept` (kept) or `modify`.
    pub decision: Option<UserAction>,
}

/// What the plugin, the background thread and the action API share.
pub struct Hub {
    /// Where records go, through the instance's write policy.
    pub recorder: Recorder,
    snapshot: ArcSwap<Analysis>,
    pub(crate) applied: Mutex<Vec<OpenFix>>,
    window_resets: AtomicU64,
    on_publish: Mutex<Option<PublishHook>>,
    pub(crate) learning_requests: Mutex<Vec<LearningRequest>>,
}

/// Called on the background thread after each new analysis is published (the editor asks
/// for a repaint). Must be quick and must not call back into the hub.
pub type PublishHook = Arc<dyn Fn() + Send + Sync>;

impl Hub {
    /// A hub for a new session recording into `sink` with the default write policy.
    pub fn new(sink: Arc<dyn FeedbackSink>) -> Hub {
        Hub::with_recorder(sink, RecorderConfig::default())
    }

    /// A hub for a new session recording into `sink` with the write policy `config`.
    pub fn with_recorder(sink: Arc<dyn FeedbackSink>, config: RecorderConfig) -> Hub {
        Hub {
            recorder: Recorder::new(sink, config),
            snapshot: ArcSwap::from_pointee(Analysis::default()),
            applied: Mutex::new(Vec::new()),
            window_resets: AtomicU64::new(0),
            on_publish: Mutex::new(None),
            learning_requests: Mutex::new(Vec::new()),
        }
    }

    /// The latest analysis. Lock-free; cheap enough for every editor frame.
    pub fn analysis(&self) -> Arc<Analysis> {
        self.snapshot.load_full()
    }

    /// Applied fixes still tracked (a copy).
    pub fn applied_fixes(&self) -> Vec<OpenFix> {
        self.applied.lock().clone()
    }

    /// Asks the background thread to restart the re-analysis window (the fix stage changed).
    /// Returns the new reset count.
    pub(crate) fn request_window_reset(&self) -> u64 {
        self.window_resets.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Sets (or clears) what is called after each publication. Not for the audio thread.
    pub fn set_on_publish(&self, hook: Option<PublishHook>) {
        *self.on_publish.lock() = hook;
    }

    fn publish(&self, analysis: Analysis) {
        self.snapshot.store(Arc::new(analysis));
        let hook = self.on_publish.lock().clone();
        if let Some(hook) = hook {
            hook();
        }
    }
}

/// Messages from the plugin's lifecycle calls to the background thread.
pub enum Control {
    /// The host activated the plugin.
    Activate {
        /// The new ring's consumer.
        consumer: rtrb::Consumer<Frame>,
        /// Sample rate, Hz.
        sample_rate_hz: f64,
        /// Whether the host activated in offline (render) mode.
        offline: bool,
        /// Plugin API.
        host_api: HostApi,
        /// The frame counter at activation.
        frames_at_activate: u64,
        /// When the host activated the plugin (the background thread may see the message later).
        activated_at: Instant,
        /// The state-serialisation counter at activation: serialisations up to here are not saves.
        saves_at_activate: u64,
    },
    /// The host deactivated the plugin; the sender is told when everything is recorded and flushed.
    Deactivate(Option<SyncSender<()>>),
}

/// Tunables of the background side.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// Audio analysed after a fix before its outcome is recorded, seconds.
    pub outcome_after_seconds: f64,
    /// Audio between two re-computations of gaps and fixes, seconds.
    pub recompute_every_seconds: f64,
    /// The fix-generation policy.
    pub policy: Policy,
    /// Thresholds of the faster-than-real-time heuristic.
    pub render_pace: RenderPaceConfig,
    /// Gap between two state saves.
    pub save_burst_gap: Duration,
    /// Whether the heuristic runs for CLAP hosts too (by default VST3 only: CLAP hosts say
    /// when they render offline).
    pub pace_heuristic_for_clap: bool,
    /// Events one feature needs before the profile is refined (the refine guard rail,
    /// default 20).
    pub learn_min_events: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            outcome_after_seconds: 5.0,
            recompute_every_seconds: 0.25,
            policy: Policy::default(),
            render_pace: RenderPaceConfig::default(),
            save_burst_gap: SaveDebounce::DEFAULT_BURST_GAP,
            pace_heuristic_for_clap: false,
            learn_min_events: 20,
        }
    }
}

/// The background analysis and feedback engine of one plugin instance.
pub struct Engine {
    config: EngineConfig,
    hub: Arc<Hub>,
    counters: Arc<AudioCounters>,
    host: Arc<dyn HostView>,
    source: Box<dyn FeatureSource>,
    consumer: Option<rtrb::Consumer<Frame>>,
    scratch_left: Vec<f32>,
    scratch_right: Vec<f32>,
    sample_rate_hz: f64,
    profile: Arc<Profile>,
    profile_generation: Option<u64>,
    profile_error: Option<String>,
    source_error: Option<String>,
    session_started: bool,
    host_api: HostApi,
    window_frames: u64,
    frames_since_compute: u64,
    window_reset_seen: u64,
    non_finite: u64,
    saves: SaveDebounce,
    pace: RenderPace,
    pace_enabled: bool,
    offline_since: Option<u64>,
    last: Analysis,
    home: Option<fixloop::home::Home>,
    lineage: Option<fixloop::learn::Lineage>,
    learning: LearningView,
    /// The policy of this session: the configured one with its A/B arms' keys.
    session_policy: Policy,
    session_arms: std::collections::BTreeMap<String, fixloop::feedback::Arm>,
}

impl Engine {
    /// An engine for the plugin whose host-side state is `host`.
    pub fn new(
        config: EngineConfig,
        hub: Arc<Hub>,
        counters: Arc<AudioCounters>,
        host: Arc<dyn HostView>,
        source: Box<dyn FeatureSource>,
    ) -> Engine {
        let bundled = Arc::new(fixloop::profile::bundled());
        let mut engine = Engine {
            config,
            hub,
            counters,
            host,
            source,
            consumer: None,
            scratch_left: Vec::new(),
            scratch_right: Vec::new(),
            sample_rate_hz: 48_000.0,
            profile: bundled,
            profile_generation: None,
            profile_error: None,
            source_error: None,
            session_started: false,
            host_api: HostApi::Other,
            window_frames: 0,
            frames_since_compute: 0,
            window_reset_seen: 0,
            non_finite: 0,
            saves: SaveDebounce::new(config.save_burst_gap),
            pace: RenderPace::new(config.render_pace, 48_000.0),
            pace_enabled: false,
            offline_since: None,
            last: Analysis::default(),
            home: None,
            lineage: None,
            learning: LearningView::default(),
            session_policy: config.policy,
            session_arms: Default::default(),
        };
        engine.refresh_profile();
        engine.publish();
        engine
    }

    /// The engine learning in `home` (`None`: no learning, the default): the profile's
    /// lineage under `profiles/<name>/`, refined at session start and after a session's
    /// end from the home's feedback log, and the home's running A/B tests assigned at
    /// session start.
    pub fn with_home(mut self, home: Option<fixloop::home::Home>) -> Engine {
        self.home = home;
        self.profile_generation = None;
        self.refresh_profile();
        self.publish();
        self
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The policy fixes are proposed under in this session (A/B arms applied).
    pub fn session_policy(&self) -> &Policy {
        &self.session_policy
    }

    /// Handles one lifecycle message at `now`.
    pub fn handle(&mut self, control: Control, now: Instant) {
        match control {
            Control::Activate {
                consumer,
                sample_rate_hz,
                offline,
                host_api,
                frames_at_activate,
                activated_at,
                saves_at_activate,
            } => {
                // Whatever the old ring still holds was heard before this activation.
                self.drain();
                self.consumer = Some(consumer);
                let rate = if sample_rate_hz.is_finite() && sample_rate_hz > 0.0 {
                    sample_rate_hz
                } else {
                    48_000.0
                };
                self.sample_rate_hz = rate;
                self.host_api = host_api;
                // The source sees the ring's chunks, not the host's blocks.
                self.source_error = self
                    .source
                    .prepare(rate, MAX_CHUNK_FRAMES)
                    .err()
                    .map(|e| format!("{e:#}"));
                if self.source_error != self.last.analysis_error {
                    // Without analysis no recomputation would publish the reason.
                    self.last.analysis_error = self.source_error.clone();
                    self.publish();
                }
                self.reset_window();
                let frames_now = self.counters.frames_processed.load(Ordering::Acquire);
                self.saves.arm(saves_at_activate);
                self.pace = RenderPace::new(self.config.render_pace, rate);
                self.pace
                    .start(frames_at_activate.min(frames_now), activated_at.min(now));
                // CLAP: the render extension's mode reaches `activate()` and is trusted.
                // VST3: nice-plug hands `activate()` the mode of the *previous*
                // `setupProcessing` call, so a stale mode could mark ordinary playback after an
                // export as a bounce; the mode is ignored and the pace heuristic decides.
                let told_offline = offline && host_api != HostApi::Vst3;
                self.pace_enabled = !told_offline
                    && (host_api == HostApi::Vst3
                        || (host_api == HostApi::Clap && self.config.pace_heuristic_for_clap));
                self.offline_since = told_offline.then_some(frames_at_activate.min(frames_now));
                if !self.session_started {
                    self.session_started = true;
                    self.learn_step();
                    self.begin_session(host_api, false);
                }
                self.step(now);
            }
            Control::Deactivate(done) => {
                self.step(now);
                self.compute();
                self.publish();
                if self.pace_enabled {
                    let frames = self.counters.frames_processed.load(Ordering::Acquire);
                    if let Some(evidence) = self.pace.finish(frames, now) {
                        self.hub.recorder.track_bounced(evidence.record(), now);
                    }
                }
                self.pace.restart();
                self.hub.recorder.deactivated(now);
                self.hub.recorder.flush();
                if let Some(done) = done {
                    let _ = done.try_send(());
                }
                // After the session's records are on disk, and after the host was told.
                if self.learn_step() {
                    self.begin_session(self.host_api, true);
                }
            }
        }
    }

    /// One round of background work at `now`: drain the ring, analyse, check applied fixes
    /// and host signals, publish the analysis.
    pub fn step(&mut self, now: Instant) {
        self.refresh_profile();
        self.handle_learning_requests();
        let resets = self.hub.window_resets.load(Ordering::Acquire);
        if resets != self.window_reset_seen {
            // Audio already in the ring was produced before the change; drain it first.
            self.drain();
            self.window_reset_seen = resets;
            self.reset_window();
        }
        self.drain();
        self.watch_applied_params();
        let due = self.frames_since_compute as f64
            >= self.config.recompute_every_seconds * self.sample_rate_hz;
        if due {
            self.compute();
        }
        self.record_outcomes();
        if due {
            self.publish();
        }
        self.watch_saves(now);
        self.watch_renders(now);
        let frames = self.counters.frames_processed.load(Ordering::Acquire);
        self.hub
            .recorder
            .tick(now, frames as f64 / self.sample_rate_hz);
    }

    fn refresh_profile(&mut self) {
        let (generation, path) = self.host.profile_selection();
        if self.profile_generation == Some(generation) {
            return;
        }
        self.profile_generation = Some(generation);
        let (profile, error) = match path.as_deref().filter(|p| !p.is_empty()) {
            None => (fixloop::profile::bundled(), None),
            Some(p) => match Profile::load(Path::new(p)) {
                Ok(profile) => (profile, None),
                Err(e) => (fixloop::profile::bundled(), Some(format!("{e:#}"))),
            },
        };
        self.profile = Arc::new(self.adopt(profile));
        self.profile_error = error;
        self.compute();
        self.publish();
    }

    /// `base` put into its lineage in the home (when there is one): the profile in force
    /// is the lineage's, which may be a refined descendant of `base`.
    fn adopt(&mut self, base: Profile) -> Profile {
        self.lineage = None;
        self.learning = LearningView {
            version: base.version.clone(),
            ..LearningView::default()
        };
        let Some(home) = &self.home else {
            return base;
        };
        let adopted = fixloop::learn::Lineage::open(home, &base.name).and_then(|l| {
            let p = l.adopt(&base, chrono::Utc::now())?;
            Ok((l, p))
        });
        match adopted {
            Ok((lineage, profile)) => {
                self.lineage = Some(lineage);
                self.refresh_learning_view(&profile);
                profile
            }
            Err(e) => {
                self.learning.error = Some(format!("learning is off: {e:#}"));
                base
            }
        }
    }

    fn refresh_learning_view(&mut self, profile: &Profile) {
        let Some(l) = &self.lineage else {
            return;
        };
        let last_step = self.learning.last_step.take();
        let versions = l.versions().unwrap_or_default();
        self.learning = LearningView {
            active: true,
            version: profile.version.clone(),
            original: versions.first().cloned(),
            changes: l.changes_since_original().unwrap_or_default(),
            versions,
            paused: l.paused(),
            last_step,
            error: None,
        };
    }

    /// One learning step in the home (see `fixloop::learn::Lineage::learn`). Returns
    /// whether the version in force changed.
    fn learn_step(&mut self) -> bool {
        let (Some(home), Some(lineage)) = (&self.home, &self.lineage) else {
            return false;
        };
        let now = chrono::Utc::now();
        let options = fixloop::learn::RefineOptions {
            min_events: self.config.learn_min_events,
            ..fixloop::learn::RefineOptions::new(now.date_naive())
        };
        let outcome = lineage.learn(&home.feedback_dir(), &options, now);
        use fixloop::learn::Learned;
        let (text, changed) = match outcome {
            Ok(Learned::Refined { entry, .. }) => (
                format!(
                    "refined from {} events: now {}",
                    entry.events_used, entry.version
                ),
                true,
            ),
            Ok(Learned::NotDue {
                events,
                most_per_feature,
                needed,
                ..
            }) => (
                format!(
                    "{events} events under this version; the next refinement needs {needed} on one feature (the most so far: {most_per_feature})"
                ),
                false,
            ),
            Ok(Learned::Unchanged { events }) => {
                (format!("{events} events changed nothing"), false)
            }
            Ok(Learned::Paused) => ("paused".to_owned(), false),
            Err(e) => (format!("learning failed: {e:#}"), false),
        };
        self.learning.last_step = Some(text);
        if changed {
            self.switch_to_lineage_version();
        } else {
            let p = self.profile.clone();
            self.refresh_learning_view(&p);
            self.publish_learning();
        }
        changed
    }

    /// Loads the lineage's version in force and makes it the profile in use.
    fn switch_to_lineage_version(&mut self) {
        let current = self.lineage.as_ref().map(|l| l.current());
        match current {
            Some(Ok(Some(p))) => {
                self.refresh_learning_view(&p);
                self.profile = Arc::new(p);
            }
            Some(Err(e)) => self.learning.error = Some(format!("{e:#}")),
            _ => {}
        }
        self.compute();
        self.publish();
    }

    fn publish_learning(&mut self) {
        self.last.learning = self.learning.clone();
        self.publish();
    }

    fn handle_learning_requests(&mut self) {
        let requests = std::mem::take(&mut *self.hub.learning_requests.lock());
        if requests.is_empty() {
            return;
        }
        let mut changed = false;
        for r in requests {
            let Some(l) = &self.lineage else {
                self.learning.error = Some("learning is off: no home".into());
                continue;
            };
            let result = match &r {
                LearningRequest::Revert(v) => l.revert(v, chrono::Utc::now()).map(|_| {
                    changed = true;
                }),
                LearningRequest::Pause(p) => l.set_paused(*p),
            };
            if let Err(e) = result {
                self.learning.error = Some(format!("{e:#}"));
            }
        }
        if changed {
            self.switch_to_lineage_version();
            self.begin_session(self.host_api, true);
        } else {
            let p = self.profile.clone();
            self.refresh_learning_view(&p);
            self.publish_learning();
        }
    }

    /// Starts the recorder's session with the profile version in force and the session's
    /// arm in every running A/B test of the home (`next`: a new session of this instance,
    /// the version in force having changed).
    fn begin_session(&mut self, host_api: HostApi, next: bool) {
        let session_id = crate::feedback::session_id(host_api);
        self.session_policy = self.config.policy;
        self.session_arms.clear();
        if let Some(home) = &self.home {
            let tests = fixloop::learn::AbStore::new(home.abtests_dir())
                .list()
                .unwrap_or_default();
            if !tests.is_empty() {
                // Only a bandit's share depends on the log (read compact, as learning does).
                let events = tests
                    .iter()
                    .any(|t| t.bandit.is_some())
                    .then(|| fixloop::store::load_feedback(&home.feedback_dir()).ok())
                    .flatten()
                    .unwrap_or(fixloop::store::Feedback::Lines(Vec::new()));
                let a = fixloop::learn::ab::assign_session(
                    &tests,
                    &session_id,
                    &self.config.policy,
                    fixloop::feedback::Timestamp::now(),
                    &events,
                );
                self.session_policy = a.policy;
                self.session_arms = a.arms;
            }
        }
        // The covariate of the A/B analysis: how far the audio analysed so far is from the
        // profile in force, before this session proposes anything (none before any audio).
        let start_mean_abs_z = (self.window_frames > 0)
            .then(|| {
                let aimed = self.profile.aimed(self.session_policy.targets);
                compare(&aimed, &self.last.features).mean_abs_z()
            })
            .flatten();
        let info = SessionInfo {
            session_id,
            profile_version: self.profile.version.clone(),
            ab: self.session_arms.clone(),
            start_mean_abs_z,
            ..SessionInfo::default()
        };
        if next {
            self.hub.recorder.next_session(&info);
        } else {
            self.hub.recorder.start_session(&info);
        }
        self.compute();
        self.publish();
    }

    fn reset_window(&mut self) {
        self.source.reset();
        self.window_frames = 0;
        self.frames_since_compute = 0;
    }

    /// Moves everything in the ring into the feature source, replacing non-finite samples
    /// by silence so NaN never reaches the analysis or the records. Without a usable source
    /// the ring is emptied all the same and nothing is analysed.
    fn drain(&mut self) {
        let Some(consumer) = self.consumer.as_mut() else {
            return;
        };
        loop {
            let n = consumer.slots().min(MAX_CHUNK_FRAMES);
            if n == 0 {
                break;
            }
            let Ok(chunk) = consumer.read_chunk(n) else {
                break;
            };
            self.scratch_left.clear();
            self.scratch_right.clear();
            let (a, b) = chunk.as_slices();
            for &[l, r] in a.iter().chain(b) {
                let l = if l.is_finite() { l } else { 0.0 };
                let r = if r.is_finite() { r } else { 0.0 };
                self.scratch_left.push(l);
                self.scratch_right.push(r);
            }
            let bad = a
                .iter()
                .chain(b)
                .map(|[l, r]| u64::from(!l.is_finite()) + u64::from(!r.is_finite()))
                .sum::<u64>();
            chunk.commit_all();
            self.non_finite += bad;
            if self.source_error.is_some() {
                continue;
            }
            self.source.process(&self.scratch_left, &self.scratch_right);
            self.window_frames += n as u64;
            self.frames_since_compute += n as u64;
        }
    }

    fn compute(&mut self) {
        self.frames_since_compute = 0;
        let features = self.source.features();
        let spectrum = self.source.spectrum();
        // The producer's learned targets, where the session's policy aims at them.
        let aimed = self.profile.aimed(self.session_policy.targets);
        let report = (self.window_frames > 0).then(|| compare(&aimed, &features));
        let fixes = report
            .as_ref()
            .and_then(|r| {
                propose_for(
                    &aimed,
                    r,
                    Some(&features),
                    spectrum.as_ref(),
                    &self.session_policy,
                )
                .ok()
            })
            .unwrap_or_default();
        self.last = Analysis {
            features,
            report,
            fixes,
            analysed_seconds: self.window_frames as f64 / self.sample_rate_hz,
            profile: Some(match aimed {
                std::borrow::Cow::Borrowed(_) => self.profile.clone(),
                std::borrow::Cow::Owned(p) => Arc::new(p),
            }),
            policy: self.session_policy,
            profile_name: self.profile.name.clone(),
            profile_version: self.profile.version.clone(),
            profile_error: self.profile_error.clone(),
            analysis_error: self.source_error.clone(),
            non_finite_samples: self.non_finite,
            dropped_frames: self.counters.frames_dropped.load(Ordering::Relaxed),
            learning: self.learning.clone(),
        };
    }

    fn publish(&self) {
        self.hub.publish(self.last.clone());
    }

    /// A host undo puts a parameter back: record it as `undo`.
    fn watch_applied_params(&mut self) {
        let mut undone = false;
        {
            let mut applied = self.hub.applied.lock();
            for a in applied.iter_mut().filter(|a| !a.undone) {
                let Some(m) = a.param else { continue };
                let now = self.host.param(m.control);
                if !a.seen_applied {
                    // The value set from the GUI may not have reached the parameter yet.
                    a.seen_applied = (now - m.applied).abs() <= PARAM_TOLERANCE;
                    continue;
                }
                if (m.applied - m.previous).abs() > PARAM_TOLERANCE
                    && (now - m.previous).abs() <= PARAM_TOLERANCE
                {
                    a.undone = true;
                    undone = true;
                    if let Some(event) = a.event_id {
                        self.hub.recorder.user_action(event, UserAction::Undo, None);
                    }
                }
            }
        }
        if undone {
            self.hub.request_window_reset();
        }
    }

    /// Outcomes of applied fixes once enough audio was heard after them.
    fn record_outcomes(&mut self) {
        let enough =
            self.window_frames as f64 >= self.config.outcome_after_seconds * self.sample_rate_hz;
        if !enough {
            return;
        }
        let Some(report) = self.last.report.as_ref() else {
            return;
        };
        let mut applied = self.hub.applied.lock();
        for a in applied.iter_mut().filter(|a| {
            !a.undone && !a.outcome_recorded && a.window_reset <= self.window_reset_seen
        }) {
            let Some(gap) = report.gap(a.fix.gap_feature) else {
                continue;
            };
            if !gap.z.is_finite() {
                continue;
            }
            a.outcome_recorded = true;
            a.outcome_z = Some(gap.z);
            if let Some(event) = a.event_id {
                self.hub.recorder.outcome(event, gap.z);
            }
        }
    }

    fn watch_saves(&mut self, now: Instant) {
        if self.saves.observe(self.host.save_count(), now).is_some() {
            self.hub.recorder.session_saved();
        }
    }

    fn watch_renders(&mut self, now: Instant) {
        let frames = self.counters.frames_processed.load(Ordering::Acquire);
        if let Some(since) = self.offline_since {
            if frames > since {
                self.offline_since = None;
                self.hub.recorder.track_bounced(BounceEvidence::Host, now);
            }
            return;
        }
        if !self.pace_enabled {
            return;
        }
        if let Some(evidence) = self.pace.observe(frames, now) {
            self.hub.recorder.track_bounced(evidence.record(), now);
        }
    }

    /// The features heard since the last change (for tests and diagnostics).
    pub fn features(&self) -> FeatureVector {
        self.source.features()
    }

    /// The value of `feature` in the latest analysis.
    pub fn value(&self, feature: Feature) -> Option<f64> {
        self.last.features.value(feature)
    }
}

/// The background thread running an [`Engine`]. It polls (never waits on anything the audio
/// thread would have to signal), every `POLL` or when a lifecycle call unparks it.
pub struct Worker {
    controls: std::sync::mpsc::Sender<Control>,
    thread: Option<JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

/// Interval between two rounds of background work.
const POLL: Duration = Duration::from_millis(20);

impl Worker {
    /// Starts the thread.
    pub fn spawn(mut engine: Engine) -> std::io::Result<Worker> {
        let (tx, rx) = std::sync::mpsc::channel::<Control>();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("fixloop-analysis".into())
            .spawn(move || run(&mut engine, &rx, &stop_flag))?;
        Ok(Worker {
            controls: tx,
            thread: Some(thread),
            stop,
        })
    }

    /// Sends a lifecycle message and wakes the thread. Not for the audio thread.
    pub fn send(&self, control: Control) {
        if self.controls.send(control).is_ok() {
            if let Some(t) = &self.thread {
                t.thread().unpark();
            }
        }
    }

    /// Sends `Deactivate` and waits (at most `timeout`) until it is recorded and flushed.
    pub fn deactivate(&self, timeout: Duration) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.send(Control::Deactivate(Some(tx)));
        let _ = rx.recv_timeout(timeout);
    }
}

fn run(engine: &mut Engine, controls: &Receiver<Control>, stop: &std::sync::atomic::AtomicBool) {
    loop {
        loop {
            match controls.try_recv() {
                Ok(c) => engine.handle(c, Instant::now()),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        if stop.load(Ordering::Acquire) {
            engine.hub.recorder.finish();
            return;
        }
        engine.step(Instant::now());
        std::thread::park_timeout(POLL);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
