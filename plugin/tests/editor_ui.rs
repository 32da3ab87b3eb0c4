//! The editor's real UI driven headlessly by egui_kittest (no window, no renderer), with
//! its accessibility check: every control has a name. The plugin's engine runs without
//! threads on the plugin's real parameters, and the GUI context is a test host's that
//! records gestures and, like nice-plug, applies a value set from the GUI only when the
//! host flushes parameters — the window in which a watcher that trusted the parameter
//! would have seen the old value and recorded a spurious undo.

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use fixloop::feedback::records::Record;
use fixloop::feedback::UserAction;
use fixloop::fixes::Control as FixParam;
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

const SR: f64 = 48_000.0;

/// A gesture event the host saw.
#[derive(Clone, Debug, PartialEq)]
enum Gesture {
    Begin(String),
    Set(String, f32),
    End(String),
}

/// The test host's side of the GUI context: records gestures, defers values to `flush`.
struct TestGui {
    params: Arc<FixloopParams>,
    events: Mutex<Vec<Gesture>>,
    pending: Mutex<Vec<(String, f32)>>,
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
    fn flush(&self) {
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

struct Rig {
    params: Arc<FixloopParams>,
    gui: Arc<TestGui>,
    sink: Arc<StoreSink>,
    log: tempfile::TempDir,
    hub: Arc<Hub>,
    engine: Engine,
    audio: AudioPath,
    t0: Instant,
    ms: u64,
    seed: u32,
}

impl Rig {
    /// An engine on the plugin's real parameters, activated, with 1 s of noise at about
    /// −22 LUFS heard (far below the bundled trance profile: a gain fix is proposed).
    fn new() -> Rig {
        let log = tempfile::tempdir().unwrap();
        let sink = Arc::new(StoreSink::at(log.path()));
        let params = Arc::new(FixloopParams::default());
        let hub = Arc::new(Hub::new(sink.clone()));
        let counters = Arc::new(AudioCounters::default());
        let engine = Engine::new(
            EngineConfig {
                outcome_after_seconds: 1.0,
                ..EngineConfig::default()
            },
            hub.clone(),
            counters.clone(),
            params.clone() as Arc<dyn HostView>,
            default_source(),
        );
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
            t0: Instant::now(),
            ms: 0,
            seed: 1,
        };
        let (producer, consumer) = rtrb::RingBuffer::new(SR as usize * 4);
        rig.audio.prepare(SR, rig.params.fix_settings(), producer);
        rig.engine.handle(
            Control::Activate {
                consumer,
                sample_rate_hz: SR,
                offline: false,
                host_api: HostApi::Clap,
                frames_at_activate: counters.frames_processed.load(Ordering::SeqCst),
                activated_at: rig.t0,
                saves_at_activate: 0,
            },
            rig.t0,
        );
        rig.play(SR as usize);
        rig
    }

    /// Plays `frames` of noise through the fix stage (the audio thread's part) and lets
    /// the engine step.
    fn play(&mut self, frames: usize) {
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

    fn step(&mut self) {
        self.ms += 20;
        self.engine.step(self.t0 + Duration::from_millis(self.ms));
    }

    fn actions(&self) -> Actions {
        Actions::new(self.hub.clone(), self.params.clone() as Arc<dyn HostView>)
    }

    fn harness(&self) -> Harness<'static, EditorView> {
        let gui = GuiContext::new(self.gui.clone());
        let view = EditorView::new(self.actions(), self.params.clone());
        let mut h = Harness::builder()
            .with_size(egui::vec2(1000.0, 900.0))
            .build_ui_state(move |ui, view: &mut EditorView| view.ui(ui, &gui), view);
        h.run();
        h.check_accessibility();
        h
    }

    fn records(&self) -> Vec<Record> {
        self.sink.flush();
        fixloop::store::read_log(self.log.path())
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.record)
            .collect()
    }

    fn actions_recorded(&self) -> Vec<UserAction> {
        self.records()
            .into_iter()
            .filter_map(|r| match r {
                Record::UserAction(a) => Some(a.action),
                _ => None,
            })
            .collect()
    }

    fn applied_records(&self) -> usize {
        self.records()
            .iter()
            .filter(|r| matches!(r, Record::FixApplied(_)))
            .count()
    }

    fn gestures(&self) -> Vec<Gesture> {
        std::mem::take(&mut *self.gui.events.lock())
    }

    /// The first proposed fix the plugin applies itself, and its parameter's name.
    fn first_fix(&self) -> (fixloop::fixes::Fix, String) {
        let a = self.hub.analysis();
        let mut fixes = a.fixes.clone();
        fixes.sort_by(|x, y| y.confidence.total_cmp(&x.confidence));
        let fix = fixes
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
fn click(h: &mut Harness<'_, EditorView>, label: &str) {
    h.get_all_by_label(label)
        .next()
        .unwrap_or_else(|| panic!("no {label:?} button"))
        .click();
    h.run();
}

#[test]
fn apply_is_one_gesture_and_a_deferred_value_is_not_an_undo() {
    let mut rig = Rig::new();
    let (fix, param) = rig.first_fix();
    let mut h = rig.harness();
    assert!(h.query_by_label(&fix.instruction()).is_some());
    click(&mut h, "Apply");
    let g = rig.gestures();
    let [Gesture::Begin(b), Gesture::Set(s, _), Gesture::End(e)] = g.as_slice() else {
        panic!("{g:?}")
    };
    assert_eq!((b, s, e), (&param, &param, &param));
    assert_eq!(rig.applied_records(), 1);
    // The host has not flushed yet: the parameter still reads its old value while the
    // engine steps. That is not the host putting it back.
    for _ in 0..5 {
        rig.step();
    }
    rig.gui.flush();
    rig.play(SR as usize / 4);
    for _ in 0..5 {
        rig.step();
    }
    assert_eq!(rig.actions_recorded(), Vec::<UserAction>::new());
    let open = rig.actions().applied();
    assert!(open[0].seen_applied && !open[0].undone, "{open:?}");
    h.run();
    // Applied: Keep and Undo are offered for it.
    assert!(h.query_by_label("Keep").is_some() && h.query_by_label("Undo").is_some());
}

#[test]
fn skip_records_reject_and_hides_the_fix() {
    let rig = Rig::new();
    let (fix, _) = rig.first_fix();
    let mut h = rig.harness();
    let skips = h.get_all_by_label("Skip").count();
    // Skip the card of the first fix: cards are listed most confident first.
    click(&mut h, "Skip");
    assert_eq!(rig.actions_recorded(), vec![UserAction::Reject]);
    assert!(
        rig.gestures().is_empty(),
        "a skipped proposal moves nothing"
    );
    assert_eq!(h.get_all_by_label("Skip").count(), skips - 1);
    let _ = fix;
}

#[test]
fn undo_puts_the_parameter_back_and_records_undo() {
    let mut rig = Rig::new();
    let (_, param) = rig.first_fix();
    let before = rig.params.output_gain_db.unmodulated_plain_value();
    let mut h = rig.harness();
    click(&mut h, "Apply");
    rig.gui.flush();
    rig.play(SR as usize / 4);
    rig.gestures();
    click(&mut h, "Undo");
    let g = rig.gestures();
    assert!(
        matches!(g.as_slice(), [Gesture::Begin(b), Gesture::Set(..), Gesture::End(e)] if *b == param && *e == param),
        "{g:?}"
    );
    rig.gui.flush();
    rig.play(SR as usize / 4);
    assert_eq!(rig.actions_recorded(), vec![UserAction::Undo]);
    if param == rig.params.output_gain_db.name() {
        assert_eq!(rig.params.output_gain_db.unmodulated_plain_value(), before);
    }
    let _ = rig.params.param(FixParam::OutputGain);
}

#[test]
fn keep_records_accept() {
    let mut rig = Rig::new();
    let mut h = rig.harness();
    click(&mut h, "Apply");
    rig.gui.flush();
    rig.play(SR as usize / 4);
    click(&mut h, "Keep");
    assert_eq!(rig.actions_recorded(), vec![UserAction::Accept]);
    // Kept fixes leave the list for the history.
    assert!(h.query_by_label("Keep").is_none());
}

#[test]
fn releasing_the_amount_slider_records_modify_with_the_value() {
    let mut rig = Rig::new();
    let (fix, param) = rig.first_fix();
    let mut h = rig.harness();
    click(&mut h, "Apply");
    rig.gui.flush();
    rig.play(SR as usize / 4);
    h.run();
    rig.gestures();
    let rect = h
        .get_by_role_and_label(egui::accesskit::Role::Slider, "Amount")
        .rect();
    // Press in the middle, drag to the left end, release: 0 % of the move.
    let from = rect.center();
    let to = egui::pos2(rect.left() - 40.0, rect.center().y);
    h.drag_at(from);
    h.run();
    h.hover_at(to);
    h.run();
    assert_eq!(
        rig.actions_recorded(),
        Vec::<UserAction>::new(),
        "nothing is recorded while dragging"
    );
    h.drop_at(to);
    h.run();
    assert_eq!(rig.actions_recorded(), vec![UserAction::Modify]);
    let modified = rig
        .records()
        .into_iter()
        .find_map(|r| match r {
            Record::UserAction(a) => a.modified_value,
            _ => None,
        })
        .expect("a modified value");
    // 0 % of the move leaves the feature where it was.
    assert!(
        (modified - fix.current_value).abs() < 1e-6,
        "{modified} vs {}",
        fix.current_value
    );
    let g = rig.gestures();
    assert!(
        matches!(g.as_slice(), [Gesture::Begin(b), Gesture::Set(..), Gesture::End(e)] if *b == param && *e == param),
        "one gesture on release: {g:?}"
    );
}

#[test]
fn choosing_a_profile_switches_the_profile() {
    let mut rig = Rig::new();
    let dir = tempfile::tempdir().unwrap();
    let mut profile = fixloop::profile::bundled();
    profile.name = "my_refs".into();
    profile.version = "my_refs_v7".into();
    let path = dir.path().join("my_refs.json");
    profile.save(&path).unwrap();
    let mut h = rig.harness();
    h.get_by_label("Profile file").click();
    h.run();
    h.get_by_label("Profile file")
        .type_text(&path.display().to_string());
    h.run();
    click(&mut h, "Load");
    rig.step();
    assert_eq!(rig.hub.analysis().profile_version, "my_refs_v7");
    h.run();
    assert!(h.query_by_label("Profile: my_refs my_refs_v7").is_some());
    // Back to the bundled default through the picker.
    h.get_by_label("Choose profile").click();
    h.run();
    click(&mut h, "Bundled default");
    rig.step();
    assert_ne!(rig.hub.analysis().profile_version, "my_refs_v7");
}

#[test]
fn an_absent_feature_is_greyed_with_its_reason() {
    let rig = Rig::new();
    // One second is shorter than the loudness range's 3 s block.
    let mut h = rig.harness();
    let row = h.get_by_label("Loudness range: —");
    row.hover();
    h.run();
    assert!(
        h.query_by_label_contains("Loudness range: absent (")
            .is_some(),
        "tooltip with the reason"
    );
}
