//! The background engine and the action API, driven without threads or a host: a mock
//! host view stands for the parameters, the test runs the plugin's audio path (fix stage,
//! ring, frame counter) as the audio thread would, the engine analyses with the library's
//! streaming analyser, and instants are synthetic, so nothing depends on timing. What the
//! plugin records goes through the library's collector into a log in a temporary
//! directory and is read back with the library's reader.

use fixloop::dsp::{BandLayout, FixSettings, BAND_COUNT};
use fixloop::features::{Feature, FixType};
use fixloop::feedback::records::{BounceEvidence, FixApplied, Record, UserActionRecord};
use fixloop::feedback::UserAction;
use fixloop::fixes::{Control as FixParam, FixSetting};
use fixloop::sim::synth::{render, MixParams, Stereo};
use fixloop_plugin::actions::{ActionError, Actions};
use fixloop_plugin::analysis::default_source;
use fixloop_plugin::audio::{AudioCounters, AudioPath};
use fixloop_plugin::engine::{Control, Engine, EngineConfig, Hub};
use fixloop_plugin::feedback::{FeedbackSink, HostApi, StoreSink};
use fixloop_plugin::params::{HostView, ParamWriter};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

const SR: f64 = 48_000.0;

/// Parameter values, save counter and profile choice as a host would hold them.
#[derive(Default)]
struct MockHost {
    values: Mutex<HashMap<FixParam, f64>>,
    saves: AtomicU64,
    profile: Mutex<(u64, Option<String>)>,
}

impl HostView for MockHost {
    fn param(&self, param: FixParam) -> f64 {
        let default = if param == FixParam::Width { 1.0 } else { 0.0 };
        *self.values.lock().get(&param).unwrap_or(&default)
    }
    fn save_count(&self) -> u64 {
        self.saves.load(Ordering::SeqCst)
    }
    fn profile_selection(&self) -> (u64, Option<String>) {
        self.profile.lock().clone()
    }
}

impl ParamWriter for MockHost {
    fn set(&self, param: FixParam, value: f64) {
        self.values.lock().insert(param, value);
    }
}

impl MockHost {
    /// The fix stage's settings, as `FixloopParams::fix_settings` reads them.
    fn settings(&self) -> FixSettings {
        let mut band_gain_db = [0.0; BAND_COUNT];
        for (i, g) in band_gain_db.iter_mut().enumerate() {
            *g = self.param(FixParam::Band(i)) as f32;
        }
        FixSettings {
            output_gain_db: self.param(FixParam::OutputGain) as f32,
            band_gain_db,
            width_ratio: self.param(FixParam::Width) as f32,
        }
    }
}

struct Rig {
    host: Arc<MockHost>,
    sink: Arc<StoreSink>,
    log: tempfile::TempDir,
    hub: Arc<Hub>,
    counters: Arc<AudioCounters>,
    engine: Engine,
    audio: AudioPath,
    t0: Instant,
    seed: u32,
    /// Read position in the looped mix of [`Rig::play_mix`].
    mix_pos: usize,
}

impl Rig {
    /// A rig recording into a log in a new temporary directory.
    fn new(config: EngineConfig) -> Rig {
        let log = tempfile::tempdir().unwrap();
        let sink = Arc::new(StoreSink::at(log.path()));
        let host = Arc::new(MockHost::default());
        let hub = Arc::new(Hub::new(sink.clone()));
        let counters = Arc::new(AudioCounters::default());
        let engine = Engine::new(
            config,
            hub.clone(),
            counters.clone(),
            host.clone(),
            default_source(),
        );
        Rig {
            host,
            sink,
            log,
            hub,
            audio: AudioPath::new(SR, counters.clone()),
            counters,
            engine,
            t0: Instant::now(),
            seed: 1,
            mix_pos: 0,
        }
    }

    fn actions(&self) -> Actions {
        Actions::new(self.hub.clone(), self.host.clone())
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn activate(&mut self, offline: bool, api: HostApi, ms: u64) {
        self.activate_at(SR, offline, api, ms);
    }

    fn activate_at(&mut self, sample_rate_hz: f64, offline: bool, api: HostApi, ms: u64) {
        let (producer, consumer) = rtrb::RingBuffer::new(SR as usize * 4);
        self.audio
            .prepare(sample_rate_hz, self.host.settings(), producer);
        let frames_at_activate = self.counters.frames_processed.load(Ordering::SeqCst);
        self.engine.handle(
            Control::Activate {
                consumer,
                sample_rate_hz,
                offline,
                host_api: api,
                frames_at_activate,
                activated_at: self.at(ms),
                saves_at_activate: self.host.save_count(),
            },
            self.at(ms),
        );
    }

    /// What the audio thread does with `left`/`right`: the fix stage with the mock
    /// parameters' settings, the ring, the frame counter.
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let settings = self.host.settings();
        for (l, r) in left.chunks_mut(1024).zip(right.chunks_mut(1024)) {
            self.audio.process(l, r, settings);
        }
    }

    /// Plays `frames` of independent L/R noise at `amplitude` through the audio path.
    fn play(&mut self, frames: usize, amplitude: f32) {
        let mut next = || {
            self.seed = self
                .seed
                .wrapping_mul(1_664_525)
                .wrapping_add(1_013_904_223);
            ((self.seed >> 8) as f32 / (1 << 24) as f32 - 0.5) * 2.0 * amplitude
        };
        let (mut left, mut right): (Vec<f32>, Vec<f32>) =
            (0..frames).map(|_| (next(), next())).unzip();
        self.process(&mut left, &mut right);
    }

    /// Plays the next `frames` of `mix`, looped, through the audio path.
    fn play_mix(&mut self, mix: &Stereo, frames: usize) {
        let n = mix.left.len();
        let (mut left, mut right): (Vec<f32>, Vec<f32>) = (0..frames)
            .map(|i| {
                let j = (self.mix_pos + i) % n;
                (mix.left[j], mix.right[j])
            })
            .unzip();
        self.mix_pos = (self.mix_pos + frames) % n;
        self.process(&mut left, &mut right);
    }

    /// Every record the plugin wrote so far, read back from the log (after a flush).
    fn records(&self) -> Vec<Record> {
        self.sink.flush();
        support::read_records(self.log.path())
    }

    /// The fix-applied records.
    fn applied(&self) -> Vec<FixApplied> {
        self.records()
            .into_iter()
            .filter_map(|r| match r {
                Record::FixApplied(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    /// The user-action records.
    fn user_actions(&self) -> Vec<UserActionRecord> {
        self.records()
            .into_iter()
            .filter_map(|r| match r {
                Record::UserAction(a) => Some(a),
                _ => None,
            })
            .collect()
    }

    fn count(&self, kind: fn(&Record) -> bool) -> usize {
        self.records().iter().filter(|r| kind(r)).count()
    }

    /// Whether every record pushed so far is on disk and synced, without flushing.
    fn all_durable(&self) -> bool {
        let s = self.sink.stats().unwrap();
        s.durable == s.pushed && s.dropped == 0
    }
}

fn is_outcome(r: &Record) -> bool {
    matches!(r, Record::Outcome(_))
}

fn is_action(r: &Record) -> bool {
    matches!(r, Record::UserAction(_))
}

fn is_bounce(r: &Record) -> bool {
    matches!(r, Record::TrackBounced(_))
}

fn is_start(r: &Record) -> bool {
    matches!(r, Record::SessionStart(_))
}

fn config() -> EngineConfig {
    EngineConfig {
        outcome_after_seconds: 1.0,
        ..EngineConfig::default()
    }
}

#[test]
fn apply_moves_the_parameter_records_and_outcome_follows_reanalysis() {
    let mut rig = Rig::new(config());
    rig.activate(false, HostApi::Clap, 0);
    // Noise at about −22 LUFS: far below the trance profile's loudness, so a volume fix is proposed.
    rig.play(SR as usize, 0.1);
    rig.engine.step(rig.at(1000));
    let analysis = rig.hub.analysis();
    assert!(analysis.score().is_some());
    let fix = analysis
        .fixes
        .iter()
        .find(|f| f.gap_feature == Feature::Loudness)
        .expect("a loudness fix")
        .clone();
    let FixSetting::Gain { gain_db } = fix.setting else {
        panic!("{fix:?}")
    };
    assert!(gain_db > 0.0);

    let actions = rig.actions();
    let event = actions
        .apply(&fix.fix_id, rig.host.as_ref())
        .unwrap()
        .unwrap();
    // The parameter moved by the fix's gain.
    assert!((rig.host.param(FixParam::OutputGain) - gain_db).abs() < 1e-9);
    assert_eq!(
        actions.apply(&fix.fix_id, rig.host.as_ref()),
        Err(ActionError::AlreadyApplied(fix.fix_id.clone()))
    );
    let applied = rig.applied();
    let [f] = applied.as_slice() else {
        panic!("{applied:?}")
    };
    assert_eq!(f.event, event);
    assert_eq!(f.fix_id.as_str(), fix.fix_id);
    // Applied as proposed: the feature value aimed for is the fix's own.
    assert_eq!(f.applied_value, fix.new_value);
    assert!(f.was_applied);
    assert_eq!(f.gap_before, fix.z_score);

    // The engine restarts its window at the change, then hears the fixed audio.
    rig.engine.step(rig.at(1020));
    rig.play(SR as usize / 2, 0.1);
    rig.engine.step(rig.at(1520));
    assert_eq!(
        rig.count(is_outcome),
        0,
        "half a second is not enough audio for an outcome"
    );
    rig.play(SR as usize / 2 + 480, 0.1);
    rig.engine.step(rig.at(2030));
    let outcome = rig
        .records()
        .into_iter()
        .find_map(|r| match r {
            Record::Outcome(o) => Some(o),
            _ => None,
        })
        .expect("an outcome after re-analysis");
    assert_eq!(outcome.event, event);
    assert!(
        outcome.gap_after.abs() < fix.z_score.abs(),
        "{outcome:?} vs {}",
        fix.z_score
    );

    // Accepting records the action on the same event.
    assert_eq!(actions.accept(&fix.fix_id).unwrap(), Some(event));
    assert_eq!(
        rig.records().last().unwrap(),
        &Record::UserAction(UserActionRecord {
            event,
            action: UserAction::Accept,
            modified_value: None,
        })
    );
    // One outcome per fix.
    rig.play(SR as usize * 2, 0.1);
    rig.engine.step(rig.at(4000));
    assert_eq!(rig.count(is_outcome), 1);
}

#[test]
fn host_putting_the_parameter_back_is_an_undo() {
    let mut rig = Rig::new(config());
    rig.activate(false, HostApi::Vst3, 0);
    rig.play(SR as usize, 0.02);
    rig.engine.step(rig.at(1000));
    let analysis = rig.hub.analysis();
    let fix = analysis
        .fixes
        .iter()
        .find(|f| matches!(f.setting, FixSetting::Gain { .. }))
        .unwrap()
        .clone();
    let actions = rig.actions();
    let event = actions
        .apply(&fix.fix_id, rig.host.as_ref())
        .unwrap()
        .unwrap();
    rig.engine.step(rig.at(1020));
    assert_eq!(rig.count(is_action), 0);
    // The host's undo restores the previous value.
    rig.host.set(FixParam::OutputGain, 0.0);
    rig.engine.step(rig.at(1040));
    assert_eq!(
        rig.records().last().unwrap(),
        &Record::UserAction(UserActionRecord {
            event,
            action: UserAction::Undo,
            modified_value: None,
        })
    );
    // Recorded once, and an undone fix gets no outcome.
    rig.play(SR as usize * 2, 0.02);
    rig.engine.step(rig.at(3000));
    let tail = rig.count(|r| is_action(r) || is_outcome(r));
    assert_eq!(tail, 1);
    assert_eq!(
        actions.undo(&fix.fix_id, rig.host.as_ref()),
        Err(ActionError::NotApplied(fix.fix_id.clone()))
    );
}

#[test]
fn undo_reject_and_modify_through_the_api() {
    let mut rig = Rig::new(config());
    rig.activate(false, HostApi::Clap, 0);
    rig.play(SR as usize, 0.02);
    rig.engine.step(rig.at(1000));
    let fixes = rig.hub.analysis().fixes.clone();
    assert!(fixes.len() >= 2, "{fixes:?}");
    let actions = rig.actions();

    // Modify: apply with the producer's own gain.
    let gain_fix = fixes
        .iter()
        .find(|f| matches!(f.setting, FixSetting::Gain { .. }))
        .unwrap();
    let e1 = actions
        .modify(&gain_fix.fix_id, 3.0, rig.host.as_ref())
        .unwrap()
        .unwrap();
    assert_eq!(rig.host.param(FixParam::OutputGain), 3.0);
    // Undo through the API puts it back and records undo; the engine does not record it twice.
    assert_eq!(
        actions.undo(&gain_fix.fix_id, rig.host.as_ref()).unwrap(),
        Some(e1)
    );
    assert_eq!(rig.host.param(FixParam::OutputGain), 0.0);
    rig.engine.step(rig.at(1100));

    // Reject a fix never applied: an unapplied event with `reject`.
    let other = fixes.iter().find(|f| f.fix_id != gain_fix.fix_id).unwrap();
    let e2 = actions
        .reject(&other.fix_id, rig.host.as_ref())
        .unwrap()
        .unwrap();
    assert_ne!(e1, e2);

    let actions_seen: Vec<_> = rig
        .user_actions()
        .into_iter()
        .map(|a| (a.event, a.action, a.modified_value))
        .collect();
    // A +3 dB gain aims the loudness 3 LU higher.
    let loud_after = gain_fix.current_value + 3.0;
    assert_eq!(
        actions_seen,
        vec![
            (e1, UserAction::Modify, Some(loud_after)),
            (e1, UserAction::Undo, None),
            (e2, UserAction::Reject, None),
        ]
    );
    let unapplied = rig
        .applied()
        .into_iter()
        .any(|f| f.event == e2 && !f.was_applied && f.applied_value == f.original_value);
    assert!(unapplied);
    assert_eq!(
        actions.apply("nope", rig.host.as_ref()),
        Err(ActionError::UnknownFix("nope".into()))
    );
    assert_eq!(
        actions.modify(&other.fix_id, f64::NAN, rig.host.as_ref()),
        Err(ActionError::BadValue)
    );
}

#[test]
fn session_start_saves_and_offline_bounce() {
    let mut rig = Rig::new(config());
    // Serialisations at instantiation, before the first activation, are not saves.
    rig.host.saves.store(3, Ordering::SeqCst);
    rig.engine.step(rig.at(0));
    rig.activate(false, HostApi::Clap, 10);
    rig.engine.step(rig.at(20));
    // The session start waits for the session's first record.
    assert_eq!(rig.records(), vec![]);
    // A save, then a burst within the debounce gap.
    rig.host.saves.fetch_add(1, Ordering::SeqCst);
    rig.engine.step(rig.at(5_000));
    assert!(rig.all_durable(), "flushed on save");
    assert!(matches!(
        rig.records().as_slice(),
        [Record::SessionStart(s), Record::SessionSaved(_)]
            if s.session_id.starts_with("clap-") && s.profile_version == "trance_v1"
    ));
    rig.host.saves.fetch_add(2, Ordering::SeqCst);
    rig.engine.step(rig.at(5_500));
    assert_eq!(rig.count(|r| matches!(r, Record::SessionSaved(_))), 1);
    // Fast real-time-mode audio on CLAP is not a bounce (CLAP hosts say when they render).
    for i in 0..200 {
        rig.play(4800, 0.1);
        rig.engine.step(rig.at(6_000 + 10 * i));
    }
    assert_eq!(rig.count(is_bounce), 0);
    // Re-activation in offline mode: no bounce until audio is processed.
    rig.engine.handle(Control::Deactivate(None), rig.at(9_000));
    assert!(rig.all_durable(), "flushed on deactivate");
    let records = rig.records();
    let Some(Record::Deactivated(mark)) = records.last() else {
        panic!("{records:?}")
    };
    assert_eq!(mark.session, 1, "the one session of this instance");
    rig.activate(true, HostApi::Clap, 9_100);
    rig.engine.step(rig.at(9_200));
    assert_eq!(rig.count(is_bounce), 0);
    rig.play(1024, 0.1);
    rig.engine.step(rig.at(9_300));
    rig.play(1024, 0.1);
    rig.engine.step(rig.at(9_400));
    // Written once its burst is over (2 s without another render), and flushed.
    rig.engine.step(rig.at(11_300));
    assert!(rig.all_durable(), "flushed on bounce");
    let bounces: Vec<_> = rig.records().into_iter().filter(is_bounce).collect();
    assert!(
        matches!(bounces.as_slice(), [Record::TrackBounced(b)]
            if b.evidence == BounceEvidence::Host && b.renders == 1),
        "{bounces:?}"
    );
    // Only one session start across activations.
    assert_eq!(rig.count(is_start), 1);
}

#[test]
fn vst3_fast_render_is_a_likely_bounce_real_time_is_not() {
    let mut rig = Rig::new(config());
    rig.activate(false, HostApi::Vst3, 0);
    // Real-time pace: 480 frames every 10 ms for 20 s.
    for i in 1..=2000u64 {
        rig.play(480, 0.1);
        rig.engine.step(rig.at(10 * i));
    }
    assert_eq!(rig.count(is_bounce), 0);
    // An export: 4800 frames every 10 ms (10× real time) for 12 s of audio.
    for i in 1..=120u64 {
        rig.play(4800, 0.1);
        rig.engine.step(rig.at(20_000 + 10 * i));
    }
    rig.engine.step(rig.at(24_000));
    let bounce = rig
        .records()
        .into_iter()
        .find(is_bounce)
        .expect("a likely bounce");
    match bounce {
        Record::TrackBounced(b) => match b.evidence {
            BounceEvidence::Likely {
                realtime_factor,
                audio_ms,
            } => {
                assert!((realtime_factor - 10.0).abs() < 0.01, "{b:?}");
                assert!(audio_ms >= 10_000, "{b:?}");
            }
            BounceEvidence::Host => panic!("{b:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn vst3_offline_mode_at_activate_is_not_trusted_but_a_fast_render_is_seen_at_deactivate() {
    let mut rig = Rig::new(config());
    // nice-plug's VST3 wrapper may hand `activate()` a stale offline mode.
    rig.activate(true, HostApi::Vst3, 0);
    rig.play(4800, 0.1);
    rig.engine.step(rig.at(20));
    rig.play(4800, 0.1);
    rig.engine.step(rig.at(40));
    assert_eq!(rig.count(is_bounce), 0);
    // A 12 s render that ends 5 ms before the host deactivates.
    rig.play(SR as usize * 12, 0.1);
    rig.engine.handle(Control::Deactivate(None), rig.at(45));
    rig.engine.step(rig.at(3_000));
    let likely = rig.count(|r| {
        matches!(r, Record::TrackBounced(b) if matches!(b.evidence, BounceEvidence::Likely { .. }))
    });
    assert_eq!(likely, 1);
}

#[test]
fn nan_audio_never_reaches_the_analysis() {
    let mut rig = Rig::new(config());
    rig.activate(false, HostApi::Clap, 0);
    // Neutral settings pass the samples through untouched, NaN and infinity included.
    let mut left: Vec<f32> = (0..48_000)
        .map(|i| if i % 100 == 0 { f32::NAN } else { 0.05 })
        .collect();
    let mut right = vec![f32::INFINITY; 48_000];
    rig.process(&mut left, &mut right);
    rig.engine.step(rig.at(1000));
    let a = rig.hub.analysis();
    assert_eq!(a.non_finite_samples, 48_000 + 480);
    for (_, v) in a.features.iter_values() {
        assert!(v.is_finite());
    }
    for f in &a.fixes {
        assert!(f.current_value.is_finite() && f.z_score.is_finite());
    }
}

#[test]
fn a_rate_the_analyser_refuses_is_reported_and_the_ring_still_drained() {
    let mut rig = Rig::new(config());
    // 4 kHz: below the analyser's 8 kHz minimum.
    rig.activate_at(4_000.0, false, HostApi::Clap, 0);
    rig.play(8_000, 0.1);
    rig.engine.step(rig.at(2000));
    let a = rig.hub.analysis();
    assert!(
        a.analysis_error
            .as_deref()
            .is_some_and(|e| e.contains("4000")),
        "{a:?}"
    );
    assert!(a.report.is_none() && a.fixes.is_empty(), "{a:?}");
    assert_eq!(a.dropped_frames, 0);
    // Still one session, and a supported rate at the next activation analyses again.
    rig.engine.handle(Control::Deactivate(None), rig.at(2100));
    rig.activate(false, HostApi::Clap, 2200);
    rig.play(SR as usize, 0.1);
    rig.engine.step(rig.at(3200));
    let a = rig.hub.analysis();
    assert!(a.analysis_error.is_none() && a.score().is_some(), "{a:?}");
    // Nothing the producer did yet: nothing recorded, not even the session start.
    assert_eq!(rig.records(), vec![]);
}

#[test]
fn bundled_profile_is_valid() {
    let rig = Rig::new(config());
    assert_eq!(rig.engine.profile().version, "trance_v1");
    assert!(rig.hub.analysis().profile_error.is_none());
}

#[test]
fn profile_swaps_on_the_background_thread_and_a_bad_one_falls_back() {
    let mut rig = Rig::new(config());
    rig.activate(false, HostApi::Clap, 0);
    rig.play(SR as usize, 0.1);
    rig.engine.step(rig.at(1000));
    assert_eq!(rig.hub.analysis().profile_version, "trance_v1");

    // A profile file of its own: the bundled one renamed.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.json");
    let mut profile = fixloop::profile::bundled();
    profile.name = "mine".into();
    profile.version = "mine_v3".into();
    profile.save(&path).unwrap();
    *rig.host.profile.lock() = (1, Some(path.display().to_string()));
    rig.engine.step(rig.at(1020));
    let a = rig.hub.analysis();
    assert_eq!(
        (a.profile_name.as_str(), a.profile_version.as_str()),
        ("mine", "mine_v3")
    );
    assert!(a.profile_error.is_none());
    assert!(
        a.score().is_some(),
        "gaps recomputed against the new profile"
    );

    // A missing file: the bundled profile, and the error for the editor to show.
    *rig.host.profile.lock() = (2, Some(dir.path().join("gone.json").display().to_string()));
    rig.engine.step(rig.at(1040));
    let a = rig.hub.analysis();
    assert_eq!(a.profile_version, "trance_v1");
    assert!(
        a.profile_error
            .as_deref()
            .is_some_and(|e| e.contains("gone.json")),
        "{a:?}"
    );
}

/// A mix with its bass 6 dB up (the library's synthesiser): the real analyser measures the
/// band levels, an EQ band cut on the low end is proposed, applying it moves the band's
/// parameter, the fix stage filters the audio, and re-analysis records an outcome with a
/// smaller gap. Recorded into the feedback store and read back as events.
#[test]
fn eq_band_fix_is_applied_and_its_outcome_recorded_in_the_store() {
    // One fix applied alone and its outcome re-measured: the independent plan's sub cut,
    // which does the whole move (the joint plan shares it among several bands).
    let mut rig = Rig::new(EngineConfig {
        policy: fixloop::fixes::Policy {
            plan: fixloop::fixes::PlanMode::Independent,
            ..fixloop::fixes::Policy::default()
        },
        ..config()
    });
    // 4 s of the loop at 48 kHz, played over and over.
    let mix = render(
        &MixParams {
            bass_db: 6.0,
            ..MixParams::default()
        },
        4.0,
        SR as u32,
    );
    rig.activate(false, HostApi::Clap, 0);
    rig.play_mix(&mix, 2 * SR as usize);
    rig.engine.step(rig.at(2000));
    let analysis = rig.hub.analysis();
    for f in Feature::ALL {
        if f != Feature::LoudnessRange {
            // 2 s is shorter than one 3 s loudness-range block; everything else is measured.
            assert!(analysis.features.value(f).is_some(), "{f:?} missing");
        }
    }
    // The bass voice is a 55 Hz saw: its fundamental, and so most of the 6 dB it gained,
    // lies in the sub band (20–60 Hz), whose level is now well above the profile's.
    let fix = analysis
        .fixes
        .iter()
        .filter(|f| matches!(f.gap_feature, Feature::SubLevel | Feature::BassLevel))
        .max_by(|a, b| a.z_score.total_cmp(&b.z_score))
        .unwrap_or_else(|| panic!("a low-band fix among {:#?}", analysis.fixes))
        .clone();
    let FixSetting::EqBand {
        low_hz,
        high_hz,
        gain_db,
    } = fix.setting
    else {
        panic!("{fix:?}")
    };
    assert_eq!(fix.gap_feature, Feature::SubLevel, "{fix:?}");
    assert_eq!(fix.action_type, FixType::EqBandCut, "{fix:?}");
    assert!(gain_db < 0.0 && fix.z_score > 2.0, "{fix:?}");
    let band = BandLayout::index_of(low_hz, high_hz).unwrap();
    assert_eq!(band, 0);

    let actions = rig.actions();
    let event = actions
        .apply(&fix.fix_id, rig.host.as_ref())
        .unwrap()
        .unwrap();
    // That band's parameter moved by the fix's gain, nothing else.
    assert!((rig.host.param(FixParam::Band(band)) - gain_db).abs() < 1e-9);
    for other in (0..BAND_COUNT).filter(|&i| i != band) {
        assert_eq!(rig.host.param(FixParam::Band(other)), 0.0);
    }
    assert_eq!(rig.host.param(FixParam::OutputGain), 0.0);

    // Re-analysis of the filtered audio.
    rig.engine.step(rig.at(2020));
    rig.play_mix(&mix, 2 * SR as usize);
    rig.engine.step(rig.at(4020));
    let after = rig.hub.analysis();
    let gap_after = after
        .report
        .as_ref()
        .and_then(|r| r.gap(Feature::SubLevel))
        .map(|g| g.z)
        .unwrap();
    assert!(
        gap_after.abs() < fix.z_score.abs(),
        "{gap_after} vs {fix:?}"
    );
    actions.accept(&fix.fix_id).unwrap();
    rig.engine.handle(Control::Deactivate(None), rig.at(4100));

    let stats = rig.sink.stats().unwrap();
    assert_eq!(stats.pushed, stats.durable + stats.dropped, "{stats:?}");
    assert_eq!(rig.sink.not_recorded(), 0);
    let events = fixloop::store::read_events(rig.log.path()).unwrap();
    let recorded: Vec<_> = events.iter().filter(|e| e.fix_id == fix.fix_id).collect();
    assert_eq!(recorded.len(), 1, "{events:#?}");
    let e = recorded[0];
    assert_eq!(
        e.event_id.rsplit('-').next(),
        Some(format!("{:08x}", event.serial).as_str())
    );
    assert_eq!(e.feature_name, "sub_level");
    assert_eq!(e.fix_type, fix.action_type);
    assert_eq!(e.original_value, fix.current_value);
    assert_eq!(e.applied_value, fix.new_value);
    assert_eq!(e.gap_before, fix.z_score);
    assert_eq!(e.gap_after, Some(gap_after));
    assert!(e.improvement_ratio.is_some_and(|r| r > 0.0), "{e:?}");
    assert_eq!(e.user_action, Some(UserAction::Accept));
    assert!(e.was_applied && !e.was_undone);
    assert!(e.session_id.starts_with("clap-"), "{}", e.session_id);
    assert_eq!(e.profile_version, "trance_v1");
}

/// Regression: a proposal rejected before it was applied was recorded by the action API
/// as not applied, but the store sink dropped the flag and the fold wrote
/// `was_applied: true` ("applied, then rejected"). Driven through the action API, read
/// back with the library's reader.
#[test]
fn rejected_before_applied_is_logged_as_not_applied() {
    let mut rig = Rig::new(config());
    rig.activate(false, HostApi::Clap, 0);
    rig.play(SR as usize, 0.02);
    rig.engine.step(rig.at(1000));
    let fix = rig.hub.analysis().fixes[0].clone();
    let actions = rig.actions();
    let event = actions
        .reject(&fix.fix_id, rig.host.as_ref())
        .unwrap()
        .unwrap();
    // Nothing moved.
    for c in [FixParam::OutputGain, FixParam::Width, FixParam::Band(1)] {
        assert_eq!(rig.host.param(c), c.neutral(), "{c:?}");
    }
    rig.engine.handle(Control::Deactivate(None), rig.at(1100));
    let events = fixloop::store::read_events(rig.log.path()).unwrap();
    let [e] = events.as_slice() else {
        panic!("{events:#?}")
    };
    assert_eq!(e.event_id.as_str(), event.to_string());
    assert!(!e.was_applied, "{e:?}");
    assert_eq!(e.applied_value, e.original_value);
    assert_eq!(e.original_value, fix.current_value);
    assert_eq!(e.user_action, Some(UserAction::Reject));
    assert!(!e.was_undone && !e.session_saved_after);
}

/// Regression: under clap-validator's fuzzer, which restarts the plugin in offline mode
/// again and again, one log received 5 188 "track bounced" records.
#[test]
fn a_burst_of_offline_restarts_is_one_bounce_with_its_count() {
    let mut rig = Rig::new(config());
    // 50 restarts 20 ms apart, each rendering a block.
    for i in 0..50u64 {
        let t = 20 * i;
        rig.activate(true, HostApi::Clap, t);
        rig.play(512, 0.1);
        rig.engine.step(rig.at(t + 5));
        rig.engine.handle(Control::Deactivate(None), rig.at(t + 10));
    }
    assert_eq!(rig.count(is_bounce), 0, "the burst is still going");
    rig.engine.step(rig.at(1_000 + 2_000));
    let bounces: Vec<_> = rig
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::TrackBounced(b) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(bounces.len(), 1, "{bounces:?}");
    assert_eq!(bounces[0].renders, 50);
    assert_eq!(bounces[0].evidence, BounceEvidence::Host);
    let stats = rig.hub.recorder.stats();
    assert_eq!(stats.renders_merged, 49);
    // The deactivations inside the burst are not written either.
    assert_eq!(rig.count(|r| matches!(r, Record::Deactivated(_))), 0);
    // A render 10 s later is a new bounce.
    rig.activate(true, HostApi::Clap, 13_000);
    rig.play(512, 0.1);
    rig.engine.step(rig.at(13_010));
    rig.engine.handle(Control::Deactivate(None), rig.at(13_020));
    rig.engine.step(rig.at(16_000));
    let renders: Vec<u32> = rig
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::TrackBounced(b) => Some(b.renders),
            _ => None,
        })
        .collect();
    assert_eq!(renders, vec![50, 1]);
    // The fold sees two bounces of one session, and no event was invented.
    let events = fixloop::store::read_events(rig.log.path()).unwrap();
    assert!(events.is_empty());
}

/// A bounce still in its burst is written before the next fix, so it marks only the fixes
/// that were open when it happened.
#[test]
fn a_pending_bounce_is_written_before_the_next_fix() {
    let mut rig = Rig::new(config());
    rig.activate(true, HostApi::Clap, 0);
    rig.play(512, 0.1);
    rig.engine.step(rig.at(10));
    rig.engine.handle(Control::Deactivate(None), rig.at(20));
    rig.activate(false, HostApi::Clap, 30);
    rig.play(SR as usize * 2, 0.1);
    rig.engine.step(rig.at(100));
    let fix = rig.hub.analysis().fixes[0].clone();
    rig.actions().apply(&fix.fix_id, rig.host.as_ref()).unwrap();
    let kinds: Vec<&'static str> = rig
        .records()
        .iter()
        .map(|r| match r {
            Record::SessionStart(_) => "start",
            Record::TrackBounced(_) => "bounce",
            Record::FixApplied(_) => "fix",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["start", "bounce", "fix"]);
    let events = fixloop::store::read_events(rig.log.path()).unwrap();
    assert!(
        !events[0].track_bounced_after,
        "the bounce came before the fix"
    );
}

/// The cap: a host that makes an instance write implicit records without end (here a
/// save every 3 s, each its own burst) is held to `implicit_base + per minute of audio`,
/// and the producer's own records still all get through.
#[test]
fn implicit_records_are_capped_per_minute_of_audio_and_actions_never_are() {
    let mut rig = Rig::new(config());
    rig.activate(false, HostApi::Clap, 0);
    let mut t = 0;
    for _ in 0..100 {
        t += 3_000;
        rig.host.saves.fetch_add(1, Ordering::SeqCst);
        rig.engine.step(rig.at(t));
    }
    // No audio processed: the base allowance of 20 (RecorderConfig's default).
    let saves = rig.count(|r| matches!(r, Record::SessionSaved(_)));
    assert_eq!(saves, 20);
    assert_eq!(rig.hub.recorder.stats().capped, 80);
    // One minute of audio allows 20 more.
    rig.play(SR as usize * 61, 0.1);
    for _ in 0..30 {
        t += 3_000;
        rig.host.saves.fetch_add(1, Ordering::SeqCst);
        rig.engine.step(rig.at(t));
    }
    assert_eq!(rig.count(|r| matches!(r, Record::SessionSaved(_))), 40);
    // Fix records are never capped.
    let fixes = rig.hub.analysis().fixes.clone();
    assert!(fixes.len() >= 2);
    for fix in &fixes[..2] {
        rig.actions().apply(&fix.fix_id, rig.host.as_ref()).unwrap();
    }
    assert_eq!(rig.applied().len(), 2);
}

/// What a DAW's plugin scan does, 1 000 times: create an instance, activate it,
/// deactivate it, drop it. Nothing a producer did, so nothing is written: no record, no
/// segment file.
#[test]
fn scan_like_cycles_leave_no_segment_behind() {
    let log = tempfile::tempdir().unwrap();
    for i in 0..1000u64 {
        let sink = Arc::new(StoreSink::at(log.path()));
        let hub = Arc::new(Hub::new(sink.clone()));
        let counters = Arc::new(AudioCounters::default());
        let host = Arc::new(MockHost::default());
        let mut engine = Engine::new(config(), hub, counters, host, default_source());
        let (_producer, consumer) = rtrb::RingBuffer::new(1024);
        let t = Instant::now();
        engine.handle(
            Control::Activate {
                consumer,
                sample_rate_hz: SR,
                offline: i % 2 == 0,
                host_api: HostApi::Clap,
                frames_at_activate: 0,
                activated_at: t,
                saves_at_activate: 0,
            },
            t,
        );
        engine.step(t);
        engine.handle(Control::Deactivate(None), t);
    }
    let files = std::fs::read_dir(log.path()).unwrap().count();
    assert_eq!(files, 0, "scans leave nothing in the log directory");
}

#[test]
fn the_plugin_proposes_what_analyze_proposes_for_the_same_audio() {
    // One rendered mix (4 s of the trance loop, far from the bundled profile in its low
    // end, top and image), written as a 32-bit float WAV so the file holds exactly the
    // samples the plugin hears.
    let mix = render(
        &MixParams {
            bass_db: 5.0,
            hats_db: -4.0,
            width: 0.6,
            seed: 4,
            ..MixParams::default()
        },
        4.0,
        SR as u32,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mix.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: SR as u32,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for (l, r) in mix.left.iter().zip(&mix.right) {
        w.write_sample(*l).unwrap();
        w.write_sample(*r).unwrap();
    }
    w.finalize().unwrap();

    // `fixloop analyze mix.wav --profile <bundled>` with the default policy, as the command
    // runs it: the file analysed, the plan checked on the file rendered through the fix
    // stage.
    let a = fixloop::features::analyze_file(&path).unwrap();
    let mut render_through = |moves: &fixloop::fixes::response::Moves| {
        fixloop::features::analyze_file_through(&path, &moves.fix_settings()).map(|a| a.features)
    };
    let profile = fixloop::profile::bundled();
    let analyzed = fixloop::analysis::TrackAnalysis::checked(
        "mix.wav",
        a.features,
        a.spectrum,
        Some(&profile),
        &fixloop::fixes::Policy::default(),
        Some(&mut render_through),
    )
    .unwrap();

    // The plugin hears the same samples once, from the start, and proposes.
    let mut rig = Rig::new(config());
    rig.activate(false, HostApi::Clap, 0);
    rig.play_mix(&mix, mix.left.len());
    rig.engine.step(rig.at(4000));
    let heard = rig.hub.analysis();
    assert_eq!(heard.profile_version, profile.version);

    let cli = &analyzed
        .compared
        .as_ref()
        .expect("compared with the profile")
        .fixes;
    let plugin = &heard.fixes;
    let kinds = |fixes: &[fixloop::fixes::Fix]| -> Vec<String> {
        fixes.iter().map(|f| f.describe()).collect()
    };
    assert!(!cli.is_empty(), "a mix this far off gets fixes");
    assert_eq!(
        cli.len(),
        plugin.len(),
        "analyze: {:#?}\nplugin: {:#?}",
        kinds(cli),
        kinds(plugin)
    );
    for (c, p) in cli.iter().zip(plugin) {
        // The same decision in the same order: control, feature, action; the setting to
        // within what block-wise streaming analysis moves the features (0.05 dB, 0.5 % of
        // a width ratio).
        assert_eq!(
            (c.gap_feature, c.action_type),
            (p.gap_feature, p.action_type),
            "analyze: {:#?}\nplugin: {:#?}",
            kinds(cli),
            kinds(plugin)
        );
        let (sc, sp) = (
            fixloop::fixes::setting_value(c),
            fixloop::fixes::setting_value(p),
        );
        let tol = if matches!(c.setting, FixSetting::Width { .. }) {
            0.005
        } else {
            0.05
        };
        assert!(
            (sc - sp).abs() <= tol,
            "{} against {}",
            c.describe(),
            p.describe()
        );
    }
}
