//! The editor: one resizable egui window (nice-plug-egui) that shows the engine's
//! published analysis — score, gaps against the profile's ranges, the proposed fixes with
//! why — and acts on them through [`Actions`]. It reads nothing else of the plugin: the
//! analysis snapshot, the applied fixes, the parameters, and the profile choice.
//!
//! ```text
//! ┌ header: profile (picker, new from references), score, listening, warnings ──────┐
//! │ gaps (16 rows in 4 groups; click = filter fixes) │ fixes (Apply/Skip, Keep/Undo, │
//! │                                                  │ Amount), fix stage, history   │
//! └───────────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Every parameter move is one host gesture (`begin_set_parameter` / `set_parameter` /
//! `end_set_parameter`; a slider drag is one gesture from press to release), so the
//! host's undo works and is seen by the engine as `undo`. The editor runs on the GUI
//! thread only; it never touches the audio thread. It asks for a repaint when the engine
//! publishes a new analysis (about four times a second while audio plays) and otherwise
//! only on input.

mod profiles;
mod view;

pub use profiles::{home_profiles, ProfileBuild};
pub use view::{EditorView, GuiWriter};

use crate::actions::Actions;
use crate::params::FixloopParams;
use nice_plug::context::gui::GuiContext;
use nice_plug_egui::{EguiEditorState, NiceEguiApp, RepaintNotifier};
use std::sync::Arc;

/// The window's default size, logical pixels.
pub const DEFAULT_SIZE: (u32, u32) = (1000, 680);

/// The editor's persisted size.
pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(
        nice_plug::editor::dpi::LogicalSize::new(DEFAULT_SIZE.0 as f64, DEFAULT_SIZE.1 as f64),
        1.0,
    )
}

/// The nice-plug-egui app: an [`EditorView`] and the context the host gave the window.
pub struct EditorApp {
    view: EditorView,
    gui: Option<GuiContext>,
    notifier: RepaintNotifier,
}

impl EditorApp {
    /// The app over `actions` and `params`; `notifier` is the window's repaint flag.
    pub fn new(actions: Actions, params: Arc<FixloopParams>, notifier: RepaintNotifier) -> Self {
        EditorApp {
            view: EditorView::new(actions, params),
            gui: None,
            notifier,
        }
    }
}

impl NiceEguiApp for EditorApp {
    fn build(
        &mut self,
        _egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(nice_gui_ctx);
        let notifier = self.notifier.clone();
        self.view
            .hub()
            .set_on_publish(Some(Arc::new(move || notifier.request_repaint())));
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        if let Some(gui) = &self.gui {
            self.view.ui(ui, gui);
        }
        // A profile being built reports progress without a new analysis.
        if self.view.busy() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(250));
        }
    }

    fn editor_closed(&mut self) {
        self.view.hub().set_on_publish(None);
        self.gui = None;
    }
}
