//! What the window draws and what its controls do. [`EditorView::ui`] takes the host's
//! [`GuiContext`], so the headless tests drive the same code with a context of their own.

use super::profiles::{home_profiles, BuildState, Dialog, Pick, ProfileBuild};
use crate::actions::{ActionError, Actions};
use crate::engine::{Analysis, Hub, OpenFix};
use crate::params::{FixloopParams, ParamWriter};
use egui::{self, Align, Color32, Layout, Rect, RichText, Sense, Stroke, Ui, Vec2, WidgetInfo};
use fixloop::features::{Feature, FeatureGroup, Measurement};
use fixloop::feedback::UserAction;
use fixloop::fixes::{control_move, setting_value, Control, Fix, FixSetting};
use fixloop::gaps::NotScored;
use fixloop::profile::FeatureStats;
use nice_plug::context::gui::GuiContext;
use nice_plug::prelude::{FloatParam, Param, ParamSetter};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

/// Seconds of audio before the score is shown without "Listening…".
const LISTEN_SECONDS: f64 = 3.0;

/// Moves parameters through the host: each [`set`](ParamWriter::set) is one gesture.
pub struct GuiWriter<'a> {
    setter: ParamSetter<'a>,
    params: &'a FixloopParams,
}

impl<'a> GuiWriter<'a> {
    /// A writer over `gui`'s parameter setter.
    pub fn new(gui: &'a GuiContext, params: &'a FixloopParams) -> GuiWriter<'a> {
        GuiWriter {
            setter: gui.param_setter(),
            params,
        }
    }
}

impl ParamWriter for GuiWriter<'_> {
    fn set(&self, control: Control, value: f64) {
        if let Some(p) = self.params.param(control) {
            self.setter.begin_set_parameter(p);
            self.setter.set_parameter(p, value as f32);
            self.setter.end_set_parameter(p);
        }
    }
}

/// What the producer did with a fix this session that the hub does not keep.
#[derive(Clone, Debug)]
struct Skipped {
    instruction: String,
    feature: Feature,
}

/// The editor's own state between frames, and the handles it acts through.
pub struct EditorView {
    actions: Actions,
    params: Arc<FixloopParams>,
    /// The feature whose row was clicked: only its fixes are listed.
    filter: Option<Feature>,
    /// Proposals skipped this session (hidden until the analysis proposes something else).
    skipped: Vec<(String, Skipped)>,
    /// Amount slider value per applied fix id, % of the proposed move.
    amounts: HashMap<String, f32>,
    /// A slider being dragged: its value (the host applies the parameter later).
    dragging: Option<(String, f32)>,
    /// The last error of an action, shown until the next action.
    message: Option<String>,
    /// Typed profile path.
    profile_path: String,
    /// Folder and name of a new profile from references.
    new_folder: String,
    new_name: String,
    build: Option<ProfileBuild>,
    /// Home profiles, listed when the picker opens.
    listed: Option<Vec<PathBuf>>,
    /// The native file dialog (Browse…).
    dialog: Dialog,
}

impl EditorView {
    /// A view acting through `actions` on `params`.
    pub fn new(actions: Actions, params: Arc<FixloopParams>) -> EditorView {
        EditorView {
            actions,
            params,
            filter: None,
            skipped: Vec::new(),
            amounts: HashMap::new(),
            dragging: None,
            message: None,
            profile_path: String::new(),
            new_folder: String::new(),
            new_name: "my_references".into(),
            build: None,
            listed: None,
            dialog: Dialog::default(),
        }
    }

    /// The shared state the view reads.
    pub fn hub(&self) -> &Arc<Hub> {
        self.actions.hub()
    }

    /// Whether a profile is being built or a file dialog is open (the window repaints to
    /// show their progress and result).
    pub fn busy(&self) -> bool {
        self.dialog.is_open()
            || matches!(
                self.build.as_ref().map(|b| b.state()),
                Some(BuildState::Running { .. })
            )
    }

    /// Draws the window and handles its controls.
    pub fn ui(&mut self, ui: &mut Ui, gui: &GuiContext) {
        let analysis = self.actions.analysis();
        let applied = self.actions.applied();
        egui::Panel::top("fixloop-header").show(ui, |ui| self.header(ui, &analysis));
        // Warnings and errors in a status bar, so they never move the controls above them.
        if self.has_status(&analysis) {
            egui::Panel::bottom("fixloop-status").show(ui, |ui| self.status(ui, &analysis));
        }
        egui::Panel::left("fixloop-gaps")
            .resizable(true)
            .default_size(470.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("gaps-scroll")
                    .show(ui, |ui| self.gaps(ui, &analysis));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("fixes-scroll")
                .show(ui, |ui| {
                    self.fixes(ui, gui, &analysis, &applied);
                    ui.add_space(8.0);
                    self.fix_stage(ui, gui);
                    ui.add_space(8.0);
                    self.history(ui, &applied);
                    ui.add_space(8.0);
                    self.learned(ui, &analysis);
                });
        });
    }

    fn header(&mut self, ui: &mut Ui, a: &Analysis) {
        ui.horizontal(|ui| {
            ui.vertical(|ui| {
                ui.label(RichText::new("fixloop").strong());
                ui.label(format!("Profile: {} {}", a.profile_name, a.profile_version));
                self.profile_picker(ui);
            });
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                let listening = a.report.is_none() || a.analysed_seconds < LISTEN_SECONDS;
                match a.score() {
                    Some(score) if !listening => {
                        ui.label(
                            RichText::new(format!("{score:.0}"))
                                .size(40.0)
                                .strong()
                                .color(score_colour(score)),
                        );
                        ui.label("Score");
                    }
                    _ => {
                        ui.label(RichText::new("Listening…").size(22.0));
                    }
                }
                ui.label(format!("{:.1} s analysed", a.analysed_seconds));
            });
        });
    }

    fn has_status(&self, a: &Analysis) -> bool {
        a.profile_error.is_some()
            || a.analysis_error.is_some()
            || a.dropped_frames > 0
            || a.non_finite_samples > 0
            || self.message.is_some()
    }

    fn status(&mut self, ui: &mut Ui, a: &Analysis) {
        let red = Color32::from_rgb(0xe0, 0x50, 0x50);
        if let Some(e) = &a.profile_error {
            ui.colored_label(red, format!("Profile not loaded (bundled one in use): {e}"));
        }
        if let Some(e) = &a.analysis_error {
            ui.colored_label(red, format!("Not analysing: {e}"));
        }
        let amber = Color32::from_rgb(0xe0, 0xa0, 0x30);
        if a.dropped_frames > 0 {
            ui.colored_label(
                amber,
                format!(
                    "{} frames could not be analysed (the analysis fell behind)",
                    a.dropped_frames
                ),
            );
        }
        if a.non_finite_samples > 0 {
            ui.colored_label(
                amber,
                format!(
                    "{} non-finite samples (NaN or infinity) were replaced by silence",
                    a.non_finite_samples
                ),
            );
        }
        if let Some(m) = &self.message {
            ui.colored_label(red, m);
        }
    }

    fn profile_picker(&mut self, ui: &mut Ui) {
        match self.dialog.take() {
            Some((Pick::ProfileFile, path)) => {
                self.profile_path = path.display().to_string();
                self.params.profile.choose(Some(self.profile_path.clone()));
            }
            Some((Pick::ReferenceFolder, path)) => self.new_folder = path.display().to_string(),
            None => {}
        }
        let (_, current) = self.params.profile.get();
        let shown = current
            .as_deref()
            .map(|p| {
                PathBuf::from(p)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| p.to_owned())
            })
            .unwrap_or_else(|| "Bundled default".into());
        ui.horizontal(|ui| {
            let label = ui.label("Choose profile");
            let mut choice: Option<Option<String>> = None;
            let combo = egui::ComboBox::from_id_salt("profile-picker")
                .selected_text(shown)
                .width(220.0)
                .show_ui(ui, |ui| {
                    if ui
                        .selectable_label(current.is_none(), "Bundled default")
                        .clicked()
                    {
                        choice = Some(None);
                    }
                    let listed = self.listed.get_or_insert_with(home_profiles);
                    for p in listed.iter() {
                        let s = p.to_string_lossy().into_owned();
                        let name = p
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| s.clone());
                        if ui
                            .selectable_label(current.as_deref() == Some(s.as_str()), name)
                            .clicked()
                        {
                            choice = Some(Some(s));
                        }
                    }
                });
            combo.response.labelled_by(label.id);
            if combo.inner.is_none() {
                // Closed: list again next time it opens (profiles may have been added).
                self.listed = None;
            }
            if let Some(c) = choice {
                self.params.profile.choose(c);
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Profile file");
            ui.add(
                egui::TextEdit::singleline(&mut self.profile_path)
                    .hint_text("/path/to/profile.json")
                    .desired_width(220.0),
            )
            .labelled_by(label.id);
            if ui.button("Load").clicked() && !self.profile_path.trim().is_empty() {
                self.params
                    .profile
                    .choose(Some(self.profile_path.trim().to_owned()));
            }
            if ui
                .add_enabled(!self.dialog.is_open(), egui::Button::new("Browse…"))
                .clicked()
            {
                self.dialog.open(Pick::ProfileFile);
            }
        });
        ui.collapsing("New from references…", |ui| {
            ui.horizontal(|ui| {
                let label = ui.label("Reference folder");
                ui.add(
                    egui::TextEdit::singleline(&mut self.new_folder)
                        .hint_text("/path/to/references")
                        .desired_width(200.0),
                )
                .labelled_by(label.id);
                if ui
                    .add_enabled(!self.dialog.is_open(), egui::Button::new("Choose folder…"))
                    .clicked()
                {
                    self.dialog.open(Pick::ReferenceFolder);
                }
            });
            ui.horizontal(|ui| {
                let label = ui.label("Name");
                ui.add(egui::TextEdit::singleline(&mut self.new_name).desired_width(140.0))
                    .labelled_by(label.id);
                let running = self.busy();
                if ui
                    .add_enabled(!running, egui::Button::new("Build profile"))
                    .clicked()
                {
                    self.build = Some(ProfileBuild::start(
                        &self.new_name,
                        std::path::Path::new(self.new_folder.trim()),
                    ));
                }
            });
            match self.build.as_ref().map(|b| b.state()) {
                Some(BuildState::Running { done, total }) => {
                    let f = if total == 0 {
                        0.0
                    } else {
                        done as f32 / total as f32
                    };
                    ui.add(
                        egui::ProgressBar::new(f)
                            .text(format!("{done} of {total} tracks analysed")),
                    );
                }
                Some(BuildState::Done(path)) => {
                    ui.label(format!("Saved {}", path.display()));
                    let s = path.to_string_lossy().into_owned();
                    if self.params.profile.get().1.as_deref() != Some(s.as_str()) {
                        self.params.profile.choose(Some(s));
                    }
                }
                Some(BuildState::Failed(e)) => {
                    ui.colored_label(Color32::from_rgb(0xe0, 0x50, 0x50), e);
                }
                None => {}
            }
        });
    }

    fn gaps(&mut self, ui: &mut Ui, a: &Analysis) {
        ui.heading("Gaps");
        if let Some(f) = self.filter {
            ui.horizontal(|ui| {
                ui.label(format!("Fixes for {} only", f.title()));
                if ui.button("Show all fixes").clicked() {
                    self.filter = None;
                }
            });
        }
        for group in FeatureGroup::ALL {
            ui.add_space(4.0);
            ui.label(RichText::new(group.title()).strong());
            for f in Feature::ALL.into_iter().filter(|f| f.group() == group) {
                if gap_row(ui, a, f, self.filter == Some(f)).clicked() {
                    self.filter = if self.filter == Some(f) {
                        None
                    } else {
                        Some(f)
                    };
                }
            }
        }
    }

    fn fixes(&mut self, ui: &mut Ui, gui: &GuiContext, a: &Analysis, applied: &[OpenFix]) {
        ui.heading("Fixes");
        let params = self.params.clone();
        let writer = GuiWriter::new(gui, &params);
        let strategy = a.policy.target_strategy;
        let mut shown = 0;
        let wanted = |f: &Fix, filter: Option<Feature>| {
            filter.is_none_or(|x| f.gap_feature == x || f.serves.contains(&x))
        };
        // Applied and not yet kept or undone first: they wait for a decision.
        let filter = self.filter;
        for open in applied
            .iter()
            .filter(|o| !o.undone && o.decision.is_none() && wanted(&o.fix, filter))
        {
            shown += 1;
            self.applied_fix(ui, &writer, a, open, strategy);
        }
        let open_ids: BTreeSet<&str> = applied
            .iter()
            .filter(|o| !o.undone)
            .map(|o| o.fix.fix_id.as_str())
            .collect();
        let proposed: Vec<&Fix> = a
            .fixes
            .iter()
            .filter(|f| !open_ids.contains(f.fix_id.as_str()))
            .filter(|f| !self.skipped.iter().any(|(id, _)| *id == f.fix_id))
            .filter(|f| wanted(f, self.filter))
            .collect();
        // In the order proposed: the joint plan's fixes are each good after the ones before
        // them (independent fixes come most confident first).
        for fix in proposed {
            shown += 1;
            self.proposed_fix(ui, &writer, a, fix, strategy);
        }
        if shown == 0 {
            let why = if a.report.is_none() {
                "No fixes yet: play some audio."
            } else if self.filter.is_some() {
                "No fix for this feature."
            } else {
                "No fixes proposed: the mix is within your references' ranges."
            };
            ui.label(why);
        }
    }

    fn fix_card(ui: &mut Ui, a: &Analysis, fix: &Fix, strategy: fixloop::fixes::TargetStrategy) {
        ui.label(RichText::new(fix.instruction()).strong());
        if let Some(p) = &a.profile {
            ui.label(RichText::new(fix.why(p, strategy)).small());
        }
        ui.label(RichText::new(format!("Confidence {:.0} %", 100.0 * fix.confidence)).small());
    }

    fn proposed_fix(
        &mut self,
        ui: &mut Ui,
        writer: &GuiWriter<'_>,
        a: &Analysis,
        fix: &Fix,
        strategy: fixloop::fixes::TargetStrategy,
    ) {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            let in_plugin = applies_in_plugin(fix);
            // The buttons first: where they are does not depend on the text.
            ui.horizontal(|ui| {
                if in_plugin {
                    if ui.button("Apply").clicked() {
                        let r = self.actions.apply(&fix.fix_id, writer);
                        self.done(r);
                    }
                } else {
                    ui.label(RichText::new("Do this in your DAW").italics());
                    if ui.button("Done").clicked() {
                        let r = self
                            .actions
                            .apply(&fix.fix_id, writer)
                            .and_then(|_| self.actions.accept(&fix.fix_id));
                        self.done(r);
                    }
                }
                if ui.button("Skip").clicked() {
                    let r = self.actions.reject(&fix.fix_id, writer);
                    if r.is_ok() {
                        self.skipped.push((
                            fix.fix_id.clone(),
                            Skipped {
                                instruction: fix.instruction(),
                                feature: fix.gap_feature,
                            },
                        ));
                    }
                    self.done(r);
                }
            });
            Self::fix_card(ui, a, fix, strategy);
        });
    }

    fn applied_fix(
        &mut self,
        ui: &mut Ui,
        writer: &GuiWriter<'_>,
        a: &Analysis,
        open: &OpenFix,
        strategy: fixloop::fixes::TargetStrategy,
    ) {
        let fix = &open.fix;
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                if ui.button("Keep").clicked() {
                    let r = self.actions.accept(&fix.fix_id);
                    self.done(r);
                }
                if ui.button("Undo").clicked() {
                    let r = self.actions.undo(&fix.fix_id, writer);
                    self.done(r);
                }
                ui.label(RichText::new("Applied: listen, then keep or undo").small());
            });
            Self::fix_card(ui, a, fix, strategy);
            if open.param.is_some() {
                let id = fix.fix_id.clone();
                let stored = *self.amounts.get(&id).unwrap_or(&100.0);
                let mut value = match &self.dragging {
                    Some((d, v)) if *d == id => *v,
                    _ => stored,
                };
                let r = ui.add(
                    egui::Slider::new(&mut value, 0.0..=150.0)
                        .suffix(" %")
                        .text("Amount"),
                );
                if r.dragged() || r.drag_started() {
                    self.dragging = Some((id.clone(), value));
                }
                let released = r.drag_stopped();
                let stepped = r.changed() && !r.dragged() && !r.drag_started();
                if released || stepped {
                    self.dragging = None;
                    self.amounts.insert(id.clone(), value);
                    let setting = scaled_setting(fix, f64::from(value) / 100.0);
                    let r = self.actions.modify(&id, setting, writer);
                    self.done(r);
                }
            }
        });
    }

    fn done<T>(&mut self, r: Result<T, ActionError>) {
        self.message = r.err().map(|e| format!("That did not work: {e}"));
    }

    fn fix_stage(&mut self, ui: &mut Ui, gui: &GuiContext) {
        ui.collapsing("Fix stage", |ui| {
            let setter = gui.param_setter();
            let p = self.params.clone();
            let mut sliders: Vec<(&str, &FloatParam)> = vec![("Output gain", &p.output_gain_db)];
            for (f, param) in Feature::BANDS.iter().zip(p.bands()) {
                sliders.push((f.title(), param));
            }
            sliders.push(("Width", &p.width_ratio));
            for (name, param) in sliders {
                self.param_slider(ui, &setter, name, param);
            }
            ui.horizontal(|ui| {
                let mut bypass = p.bypass.value();
                if ui.checkbox(&mut bypass, "Bypass the fix stage").changed() {
                    setter.begin_set_parameter(&p.bypass);
                    setter.set_parameter(&p.bypass, bypass);
                    setter.end_set_parameter(&p.bypass);
                }
                if ui.button("Reset").clicked() {
                    let mut all: Vec<&FloatParam> = vec![&p.output_gain_db, &p.width_ratio];
                    all.extend(p.bands());
                    for param in all {
                        let neutral = param.default_plain_value();
                        if param.unmodulated_plain_value() != neutral {
                            setter.begin_set_parameter(param);
                            setter.set_parameter(param, neutral);
                            setter.end_set_parameter(param);
                        }
                    }
                }
            });
        });
    }

    /// A slider over a host parameter: one gesture from press to release.
    fn param_slider(&mut self, ui: &mut Ui, setter: &ParamSetter<'_>, name: &str, p: &FloatParam) {
        let key = format!("param:{}", p.name());
        let mut value = match &self.dragging {
            Some((d, v)) if *d == key => *v,
            _ => p.unmodulated_plain_value(),
        };
        let (lo, hi) = (p.preview_plain(0.0), p.preview_plain(1.0));
        let r = ui.add(egui::Slider::new(&mut value, lo..=hi).text(name));
        if r.drag_started() {
            setter.begin_set_parameter(p);
            self.dragging = Some((key.clone(), value));
        }
        let in_gesture = matches!(&self.dragging, Some((d, _)) if *d == key);
        if r.changed() {
            if in_gesture {
                self.dragging = Some((key.clone(), value));
                setter.set_parameter(p, value);
            } else {
                setter.begin_set_parameter(p);
                setter.set_parameter(p, value);
                setter.end_set_parameter(p);
            }
        }
        if r.drag_stopped() && in_gesture {
            setter.end_set_parameter(p);
            self.dragging = None;
        }
    }

    /// What the profile has learned from this producer, with Revert and Pause. The
    /// editor shows nothing of any A/B arm (the test stays blind).
    fn learned(&mut self, ui: &mut Ui, a: &Analysis) {
        let l = &a.learning;
        ui.collapsing("What fixloop has learned", |ui| {
            if let Some(e) = &l.error {
                ui.colored_label(Color32::from_rgb(0xe0, 0xa0, 0x30), e);
            }
            if !l.active {
                ui.label("Learning needs a fixloop home (FIXLOOP_HOME or the data folder).");
                return;
            }
            ui.label(format!("Profile version in force: {}", l.version));
            if let Some(step) = &l.last_step {
                ui.label(RichText::new(format!("Last check: {step}")).small());
            }
            if l.changes.is_empty() {
                ui.label(match &l.original {
                    Some(o) if *o != l.version => format!("Same ranges and confidences as {o}."),
                    _ => "Nothing learned yet: it refines once a feature has 20 of your decisions."
                        .to_owned(),
                });
            } else if let Some(o) = &l.original {
                ui.label(format!("Since {o}:"));
                for c in &l.changes {
                    ui.label(format!("  {c}"));
                }
            }
            let mut paused = l.paused;
            if ui.checkbox(&mut paused, "Pause learning").changed() {
                self.actions.pause_learning(paused);
            }
            let earlier: Vec<&String> = l.versions.iter().filter(|v| **v != l.version).collect();
            if !earlier.is_empty() {
                ui.label("Revert to:");
                for v in earlier {
                    if ui.button(format!("Revert to {v}")).clicked() {
                        self.actions.revert_profile(v);
                    }
                }
            }
        });
    }

    fn history(&mut self, ui: &mut Ui, applied: &[OpenFix]) {
        ui.collapsing("History (this session)", |ui| {
            if applied.is_empty() && self.skipped.is_empty() {
                ui.label("Nothing yet.");
            }
            for o in applied {
                let state = if o.undone {
                    "undone"
                } else {
                    match o.decision {
                        Some(UserAction::Accept) => "kept",
                        Some(UserAction::Modify) => "modified",
                        _ => "applied",
                    }
                };
                let outcome = match o.outcome_z {
                    Some(z) => format!("gap {:+.1} σ → {z:+.1} σ", o.fix.z_score),
                    None if o.undone => String::new(),
                    None => "outcome pending".into(),
                };
                ui.label(format!("{} — {state} {outcome}", o.fix.instruction()));
            }
            for (_, s) in &self.skipped {
                ui.label(format!(
                    "{} — skipped ({})",
                    s.instruction,
                    s.feature.title()
                ));
            }
        });
    }
}

/// Whether the plugin's fix stage makes the fix itself (else: "do this in your DAW").
fn applies_in_plugin(fix: &Fix) -> bool {
    control_move(fix, |_| 0.0, None).is_some()
}

/// The fix's setting at `k` times its proposed move (gain dB scale; a width ratio scales
/// its distance from 1).
fn scaled_setting(fix: &Fix, k: f64) -> f64 {
    let s = setting_value(fix);
    match fix.setting {
        FixSetting::Width { .. } => 1.0 + (s - 1.0) * k,
        _ => s * k,
    }
}

fn score_colour(score: f64) -> Color32 {
    if score >= 80.0 {
        Color32::from_rgb(0x40, 0xc0, 0x60)
    } else if score >= 60.0 {
        Color32::from_rgb(0xe0, 0xb0, 0x30)
    } else {
        Color32::from_rgb(0xe0, 0x50, 0x50)
    }
}

/// How far outside its range a value is, in the references' standard deviations (0 inside).
fn outside_std(stats: &FeatureStats, v: f64) -> f64 {
    let [lo, hi] = stats.acceptable_range;
    let d = if v < lo {
        lo - v
    } else if v > hi {
        v - hi
    } else {
        0.0
    };
    if stats.std > 0.0 {
        d / stats.std
    } else if d > 0.0 {
        f64::INFINITY
    } else {
        0.0
    }
}

fn marker_colour(outside: f64) -> Color32 {
    if outside == 0.0 {
        Color32::from_rgb(0x40, 0xc0, 0x60)
    } else if outside <= 1.0 {
        Color32::from_rgb(0xe0, 0xb0, 0x30)
    } else {
        Color32::from_rgb(0xe0, 0x50, 0x50)
    }
}

/// One feature's row: name, the range drawn as a band (interquartile range darker, a tick
/// at the mean), the mix's value as a coloured marker, the value and z as text. Clickable.
fn gap_row(ui: &mut Ui, a: &Analysis, f: Feature, selected: bool) -> egui::Response {
    let title = match f.band() {
        Some(b) => format!("{} {}", f.title(), band_hz(b.low_hz, b.high_hz)),
        None => f.title().to_owned(),
    };
    let stats = a.profile.as_ref().and_then(|p| p.stats(f));
    let measured = match a.features.get(f) {
        Measurement::Value(v) if a.report.is_some() => Ok(v),
        Measurement::Value(_) => Err("no audio analysed yet".to_owned()),
        Measurement::Absent(reason) => Err(reason.describe().to_owned()),
    };
    let gap = a.report.as_ref().and_then(|r| r.gap(f));
    let not_scored = a
        .report
        .as_ref()
        .and_then(|r| r.not_scored.iter().find(|(x, _)| *x == f).map(|(_, w)| w));
    let text = match (&measured, gap) {
        (Ok(v), Some(g)) => format!("{}  z {:+.1}", f.format_value(*v), g.z),
        (Ok(v), None) => f.format_value(*v),
        (Err(_), _) => "—".to_owned(),
    };
    let height = 22.0;
    let (rect, response) =
        ui.allocate_exact_size(Vec2::new(ui.available_width(), height), Sense::click());
    let accessible = format!("{title}: {text}");
    response.widget_info(|| WidgetInfo::labeled(egui::Role::Button, true, &accessible));
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals();
    let grey = measured.is_err() || stats.is_none();
    let text_colour = if grey {
        visuals.weak_text_color()
    } else {
        visuals.text_color()
    };
    if selected {
        painter.rect_filled(rect, 3.0, visuals.selection.bg_fill.gamma_multiply(0.5));
    } else if response.hovered() {
        painter.rect_filled(rect, 3.0, visuals.faint_bg_color);
    }
    let name_w = 170.0_f32.min(rect.width() * 0.38);
    let value_w = 120.0_f32.min(rect.width() * 0.27);
    let font = egui::FontId::proportional(13.0);
    painter.text(
        rect.left_center() + Vec2::new(4.0, 0.0),
        egui::Align2::LEFT_CENTER,
        &title,
        font.clone(),
        text_colour,
    );
    painter.text(
        rect.right_center() - Vec2::new(4.0, 0.0),
        egui::Align2::RIGHT_CENTER,
        &text,
        font,
        text_colour,
    );
    let bar = Rect::from_min_max(
        egui::pos2(rect.left() + name_w, rect.top() + 5.0),
        egui::pos2(rect.right() - value_w, rect.bottom() - 5.0),
    );
    if let Some(st) = stats {
        let [lo, hi] = st.acceptable_range;
        let value = measured.as_ref().ok().copied();
        // The axis spans the range and one and a half widths either side; a value beyond
        // is drawn at the edge as an arrow, so the range stays readable.
        let w = (hi - lo).max(st.std).max(1e-9);
        let (min, max) = (lo.min(st.p10) - 1.5 * w, hi.max(st.p90) + 1.5 * w);
        let x =
            |v: f64| bar.left() + ((v.clamp(min, max) - min) / (max - min)) as f32 * bar.width();
        let faded: f32 = if grey { 0.35 } else { 1.0 };
        painter.rect_filled(
            bar,
            2.0,
            visuals.extreme_bg_color.gamma_multiply(faded.max(0.6)),
        );
        let band = |a: f64, b: f64| {
            Rect::from_min_max(egui::pos2(x(a), bar.top()), egui::pos2(x(b), bar.bottom()))
        };
        painter.rect_filled(
            band(lo, hi),
            2.0,
            Color32::from_rgb(0x3a, 0x6e, 0x9e).gamma_multiply(faded),
        );
        painter.rect_filled(
            band(st.p25.max(lo), st.p75.min(hi)),
            0.0,
            Color32::from_rgb(0x24, 0x4c, 0x74).gamma_multiply(faded),
        );
        let mx = x(st.mean);
        painter.line_segment(
            [
                egui::pos2(mx, bar.top() - 2.0),
                egui::pos2(mx, bar.bottom() + 2.0),
            ],
            Stroke::new(1.5, Color32::WHITE.gamma_multiply(0.8 * faded)),
        );
        if let Some(v) = value {
            let c = marker_colour(outside_std(st, v));
            let y = bar.center().y;
            if v < min || v > max {
                let (tip_x, back) = if v < min {
                    (bar.left(), bar.left() + 10.0)
                } else {
                    (bar.right(), bar.right() - 10.0)
                };
                painter.add(egui::Shape::convex_polygon(
                    vec![
                        egui::pos2(tip_x, y),
                        egui::pos2(back, y - 6.0),
                        egui::pos2(back, y + 6.0),
                    ],
                    c,
                    Stroke::new(1.0, Color32::BLACK),
                ));
            } else {
                painter.circle_filled(egui::pos2(x(v), y), 5.5, c);
                painter.circle_stroke(egui::pos2(x(v), y), 5.5, Stroke::new(1.0, Color32::BLACK));
            }
        }
    }
    let tip = match (&measured, stats, not_scored) {
        (Err(reason), _, _) => format!("{title}: absent ({reason})"),
        (Ok(_), None, _) => format!("{title}: not in this profile"),
        (Ok(_), Some(st), ns) => {
            let [lo, hi] = st.acceptable_range;
            let extra = match ns {
                Some(NotScored::ZeroWeight) => " (weight 0: not scored)",
                _ => "",
            };
            format!(
                "{title}: range {} to {}, middle half {} to {}, mean {}{extra}. Click to list its fixes.",
                f.format_value(lo),
                f.format_value(hi),
                f.format_value(st.p25),
                f.format_value(st.p75),
                f.format_value(st.mean),
            )
        }
    };
    response.on_hover_text(tip)
}

fn band_hz(lo: f64, hi: f64) -> String {
    let k = |v: f64| {
        if v >= 1000.0 {
            format!("{}k", (v / 100.0).round() / 10.0)
        } else {
            format!("{v:.0}")
        }
    };
    format!("{}–{} Hz", k(lo), k(hi))
}
