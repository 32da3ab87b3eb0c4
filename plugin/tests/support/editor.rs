//! The editor driven headlessly: a GUI context of a test host that records gestures and,
//! like nice-plug, applies a value set from the GUI only when the host flushes, and an
//! engine on the plugin's real parameters, run without threads.
#![allow(dead_code)]

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use fixloop::feedback::records::Record;
use fixloop::feedback::UserAction;
use fixloop_plugin::actions::Actions;
use fixloop_plugin::analysis::default_source;
use fixloop_plugin::audio::{AudioCounters, AudioPath};
use fixloop_plugin::editor::EditorView;
use fixloop_plugin::engine::{Control, Engine, EngineConfig, Hub};
use fixloop_plugin::feedback::{FeedbackSink, HostApi, StoreSink};
use fixloop_plugin::params::{FixloopParams, HostView};
use nice_plug::context::gui::{GuiContext, GuiContextInner};
use nice_plug::plugin::PluginState;
use nice_plug::prelude::*;
use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SR: f64 = 48_000.0;

/// A gesture event the host saw.
#[derive(Clone, Debug, PartialEq)]
pub enum Gesture {
    Begin(String),
    Set(String, f32),
    End(String),
}

/// The test host's side of the GUI context: records gestures, defers values to `flush`.
pub struct TestGui {
    pub params: Arc<FixloopParams>,
    pub events: Mutex<Vec<Gesture>>,
    pub pending: Mutex<Vec<(String, f32)>>,
}

fn name(param: ParamPtr) -> String {
    // SAFETY: every ParamPtr comes from the plugin's FixloopParams, alive for the test.
    unsafe { param.name() }.to_owned()
}

impl GuiContextInner for TestGui {
    fn plugin_api(&self) -> PluginApi {
        PluginApi::Clap
    }
    unsafe fn raw_begin_set_parameter(&self, param: ParamPtr) {
        self.events.lock().push(Gesture::Begin(name(param)));
    }
    unsafe fn raw_set_parameter_normalized(&self, param: ParamPtr, normalized: f32) {
        self.events
            .lock()
            .push(Gesture::Set(name(param), normalized));
        self.pending.lock().push((name(param), normalized));
    }
    unsafe fn raw_end_set_parameter(&self, param: ParamPtr) {
        self.events.lock().push(Gesture::End(name(param)));
    }
    fn get_state(&self) -> PluginState {
        unreachable!("the editor never reads the plugin state")
    }
    fn set_state(&self, _state: PluginState) {
        unreachable!("the editor never restores a plugin state")
    }
    fn request_restart(&self) {}
}

impl TestGui {
    /// What the host does when it flushes parameters: the deferred values take effect.
    pub fn flush(&self) {
        let map = self.params.param_map();
        for (n, v) in self.pending.lock().drain(..) {
            let ptr = map
                .iter()
                .map(|(_, p, _)| *p)
                .find(|p| name(*p) == n)
                .expect("a known parameter");
            // SAFETY: as above; the test is the only thread touching parameters.
            unsafe { ptr._internal_set_normalized_value(v) };
        }
    }
}

pub struct Rig {
    pub params: Arc<FixloopParams>,
    pub gui: Arc<TestGui>,
    pub sink: Arc<StoreSink>,
    pub log: tempfile::TempDir,
    pub hub: Arc<Hub>,
    pub engine: Engine,
    audio: AudioPath,
    counters: Arc<AudioCounters>,
    t0: Instant,
    ms: u64,
    seed: u32,
    /// The home the engine learns in (`None`: no learning).
    pub home: Option<std::path::PathBuf>,
}

impl Rig {
    /// An engine on the plugin's real parameters, activated, with 1 s of noise at about
    /// −22 LUFS heard (far below the bundled trance profile: a gain fix is proposed).
    pub fn new() -> Rig {
        Rig::new_in(None)
    }

    /// [`Rig::new`] learning in the home `home` (its feedback log is the rig's), so the
    /// engine keeps the profile's lineage and takes part in the home's A/B tests.
    pub fn new_in(home: Option<&std::path::Path>) -> Rig {
        Rig::configured(
            home,
            EngineConfig {
                outcome_after_seconds: 1.0,
                ..EngineConfig::default()
            },
        )
    }

    /// [`Rig::new_in`] with the engine configured by `config`.
    pub fn configured(home: Option<&std::path::Path>, config: EngineConfig) -> Rig {
        let log = tempfile::tempdir().unwrap();
        let log_dir = home.map_or(log.path().to_path_buf(), |h| h.join("feedback"));
        let sink = Arc::new(StoreSink::at(&log_dir));
        let params = Arc::new(FixloopParams::default());
        let hub = Arc::new(Hub::new(sink.clone()));
        let counters = Arc::new(AudioCounters::default());
        let engine = Engine::new(
            config,
            hub.clone(),
            counters.clone(),
            params.clone() as Arc<dyn HostView>,
            default_source(),
        )
        .with_home(home.map(fixloop::home::Home::at));
        let gui = Arc::new(TestGui {
            params: params.clone(),
            events: Mutex::new(Vec::new()),
            pending: Mutex::new(Vec::new()),
        });
        let mut rig = Rig {
            params,
            gui,
            sink,
            log,
            hub,
            engine,
            audio: AudioPath::new(SR, counters.clone()),
            counters,
            t0: Instant::now(),
            ms: 0,
            seed: 1,
            home: home.map(|h| h.to_path_buf()),
        };
        rig.activate();
        rig.play(SR as usize);
        rig
    }

    /// What the host's activation does: a new ring, the engine told.
    pub fn activate(&mut self) {
        let (producer, consumer) = rtrb::RingBuffer::new(SR as usize * 4);
        self.audio.prepare(SR, self.params.fix_settings(), producer);
        let now = self.t0 + Duration::from_millis(self.ms);
        self.engine.handle(
            Control::Activate {
                consumer,
                sample_rate_hz: SR,
                offline: false,
                host_api: HostApi::Clap,
                frames_at_activate: self.counters.frames_processed.load(Ordering::SeqCst),
                activated_at: now,
                saves_at_activate: 0,
            },
            now,
        );
    }

    /// What the host's deactivation does: the engine records, flushes and learns.
    pub fn deactivate(&mut self) {
        self.ms += 20;
        let now = self.t0 + Duration::from_millis(self.ms);
        self.engine.handle(Control::Deactivate(None), now);
    }

    /// Plays `frames` of noise through the fix stage (the audio thread's part) and lets
    /// the engine step.
    pub fn play(&mut self, frames: usize) {
        let mut next = || {
            self.seed = self
                .seed
                .wrapping_mul(1_664_525)
                .wrapping_add(1_013_904_223);
            ((self.seed >> 8) as f32 / (1 << 24) as f32 - 0.5) * 0.2
        };
        let (mut left, mut right): (Vec<f32>, Vec<f32>) =
            (0..frames).map(|_| (next(), next())).unzip();
        let settings = self.params.fix_settings();
        for (l, r) in left.chunks_mut(1024).zip(right.chunks_mut(1024)) {
            self.audio.process(l, r, settings);
        }
        self.step();
    }

    pub fn step(&mut self) {
        self.ms += 20;
        self.engine.step(self.t0 + Duration::from_millis(self.ms));
    }

    pub fn actions(&self) -> Actions {
        Actions::new(self.hub.clone(), self.params.clone() as Arc<dyn HostView>)
    }

    pub fn harness(&self) -> Harness<'static, EditorView> {
        self.harness_sized(1000.0, 900.0)
    }

    /// The editor at `width` × `height` logical pixels, one frame run, names checked.
    pub fn harness_sized(&self, width: f32, height: f32) -> Harness<'static, EditorView> {
        let gui = GuiContext::new(self.gui.clone());
        let view = EditorView::new(self.actions(), self.params.clone());
        let mut h = Harness::builder()
            .with_size(egui::vec2(width, height))
            .build_ui_state(move |ui, view: &mut EditorView| view.ui(ui, &gui), view);
        h.run();
        h.check_accessibility();
        h
    }

    pub fn records(&self) -> Vec<Record> {
        self.sink.flush();
        super::read_records(self.log.path())
    }

    pub fn actions_recorded(&self) -> Vec<UserAction> {
        self.records()
            .into_iter()
            .filter_map(|r| match r {
                Record::UserAction(a) => Some(a.action),
                _ => None,
            })
            .collect()
    }

    pub fn applied_records(&self) -> usize {
        self.records()
            .iter()
            .filter(|r| matches!(r, Record::FixApplied(_)))
            .count()
    }

    pub fn gestures(&self) -> Vec<Gesture> {
        std::mem::take(&mut *self.gui.events.lock())
    }

    /// The first proposed fix the plugin applies itself, in the editor's order, and its
    /// parameter's name.
    pub fn first_fix(&self) -> (fixloop::fixes::Fix, String) {
        let a = self.hub.analysis();
        // In the order the editor shows them: the order proposed.
        let fix = a
            .fixes
            .clone()
            .into_iter()
            .find(|f| fixloop::fixes::control_move(f, |_| 0.0, None).is_some())
            .expect("a fix the plugin applies");
        let control = fixloop::fixes::control_move(&fix, |_| 0.0, None)
            .unwrap()
            .control;
        let name = self.params.param(control).unwrap().name().to_owned();
        (fix, name)
    }
}

/// Clicks the first button called `label` and lets the frame run.
pub fn click(h: &mut Harness<'_, EditorView>, label: &str) {
    h.get_all_by_label(label)
        .next()
        .unwrap_or_else(|| panic!("no {label:?} button"))
        .click();
    h.run();
}
