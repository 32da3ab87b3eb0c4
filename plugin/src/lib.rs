//! # fixloop plugin
//!
//! A stereo CLAP and VST3 effect that listens to the mix, compares it with a reference
//! profile, proposes fixes and records what the producer does with them.
//!
//! ```text
//! audio thread:  in ──► fix stage (params) ──► out
//!                                   │ copy into a pre-allocated ring, publish a frame counter
//!                                   ▼
//! background:    ring ──► Analyser ──► gaps/score ──► fixes ──► Analysis (ArcSwap)
//!                host signals (saves, renders), applied-fix watch ──► Recorder ──► StoreSink ──► store
//! editor:        Analysis ──► window ──► Actions (apply, reject, undo, modify, accept) ──► params + Recorder
//! ```
//!
//! ## Real-time safety
//!
//! `process()` runs the fix stage, copies the output into an `rtrb` ring and bumps two
//! atomics: no allocation (checked by nice-plug's `assert_process_allocs` in debug builds
//! and tests), no lock, no syscall. `reset()` only clears filter state. Everything else —
//! analysis, profile loading, feedback — happens on the background thread started at the
//! first activation, or in the lifecycle and editor calls.
//!
//! ## Modules
//!
//! The plugin is glue: the DSP (`fixloop::dsp`), the fix model (`fixloop::fixes`), the
//! records and the store (`fixloop::feedback`, `fixloop::store`) are the library's.
//!
//! - [`params`]: host parameters, persisted fields, and the [`HostView`]
//!   / [`ParamWriter`](params::ParamWriter) traits through which the rest sees them;
//! - [`audio`]: the audio thread's path (fix stage → ring, frame counters); it imports
//!   nothing from the background side;
//! - [`analysis`]: the [`FeatureSource`](analysis::FeatureSource) trait, implemented by the
//!   library's streaming analyser;
//! - [`feedback`]: the [`FeedbackSink`] trait over the library's
//!   record types and [`StoreSink`](feedback::StoreSink), the library's collector behind it;
//! - [`host_signals`]: state-save and offline-render detection;
//! - [`recorder`]: what one instance writes and when (nothing before the first fix, one
//!   bounce per render burst, a cap on implicit records);
//! - [`engine`]: the background thread; [`actions`]: the editor's action API;
//! - [`editor`]: the window (nice-plug-egui), which reads the published analysis and calls
//!   the action API, nothing else.
//!
//! Module order is dependency order: `params`, `audio`, `analysis`, `feedback`,
//! `host_signals` import none of the others; `recorder` imports `feedback`; `engine`
//! imports those; `actions` imports `engine`; `editor` imports `actions`; nothing imports
//! `editor` but the plugin.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod actions;
pub mod analysis;
pub mod audio;
pub mod editor;
pub mod engine;
pub mod feedback;
pub mod host_signals;
pub mod params;
pub mod recorder;

use actions::Actions;
use audio::{AudioCounters, AudioPath};
use engine::{Control, Engine, EngineConfig, Hub, Worker};
use feedback::{FeedbackSink, HostApi};
use nice_plug::prelude::*;
use params::{FixloopParams, HostView};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Seconds of audio the ring holds; the background thread drains it every 20 ms.
const RING_SECONDS: f64 = 2.0;

/// Longest wait in `deactivate()` for the background thread to record and flush.
const DEACTIVATE_TIMEOUT: Duration = Duration::from_secs(2);

/// The plugin.
pub struct FixloopPlugin {
    params: Arc<FixloopParams>,
    audio: AudioPath,
    counters: Arc<AudioCounters>,
    hub: Arc<Hub>,
    worker: Option<Worker>,
    config: EngineConfig,
    editor_state: Arc<nice_plug_egui::EguiEditorState>,
}

impl Default for FixloopPlugin {
    fn default() -> Self {
        FixloopPlugin::with_sink(feedback::default_sink(), EngineConfig::default())
    }
}

impl FixloopPlugin {
    /// A plugin recording into `sink` with `config` (the default plugin uses
    /// [`feedback::default_sink`] and the default configuration).
    pub fn with_sink(sink: Arc<dyn FeedbackSink>, config: EngineConfig) -> FixloopPlugin {
        let counters = Arc::new(AudioCounters::default());
        FixloopPlugin {
            params: Arc::new(FixloopParams::default()),
            audio: AudioPath::new(48_000.0, counters.clone()),
            counters,
            hub: Arc::new(Hub::new(sink)),
            worker: None,
            config,
            editor_state: editor::default_state(),
        }
    }

    /// The editor's action API.
    pub fn actions(&self) -> Actions {
        Actions::new(self.hub.clone(), self.params.clone() as Arc<dyn HostView>)
    }

    /// The shared state (analysis snapshot, applied fixes, sink).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The parameters.
    pub fn fixloop_params(&self) -> &Arc<FixloopParams> {
        &self.params
    }
}

impl Plugin for FixloopPlugin {
    const NAME: &'static str = "fixloop";
    const VENDOR: &'static str = "fixloop";
    const URL: &'static str = "https://example.invalid/fixloop";
    const EMAIL: &'static str = "fixloop@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[AudioIOLayout {
        main_input_channels: NonZeroU32::new(2),
        main_output_channels: NonZeroU32::new(2),
        ..AudioIOLayout::const_default()
    }];

    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = nice_plug_egui::EguiEditor<editor::EditorApp>;

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        let notifier = nice_plug_egui::RepaintNotifier::new();
        let settings = nice_plug_egui::EguiNiceSettings::new()
            .with_tile("fixloop")
            .with_resize_hint(
                ResizeHint::resizable()
                    .with_min_logical_size(nice_plug::editor::dpi::LogicalSize::new(720.0, 480.0)),
            )
            // The flag is raised by the engine's publications and by input; polling it
            // costs nothing worth a faster rate.
            .with_repaint_poll_interval(Duration::from_millis(33));
        let app = editor::EditorApp::new(self.actions(), self.params.clone(), notifier.clone());
        nice_plug_egui::create_egui_editor(self.editor_state.clone(), notifier, settings, app)
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let sample_rate_hz = f64::from(buffer_config.sample_rate);
        let max_block_frames = buffer_config.max_buffer_size.max(1) as usize;
        let capacity =
            ((sample_rate_hz.max(8_000.0) * RING_SECONDS) as usize).max(4 * max_block_frames);
        let (producer, consumer) = rtrb::RingBuffer::new(capacity);
        self.audio
            .prepare(sample_rate_hz, self.params.fix_settings(), producer);
        if self.worker.is_none() {
            // Learning and A/B tests live in the same home as the feedback store.
            let engine = Engine::new(
                self.config,
                self.hub.clone(),
                self.counters.clone(),
                self.params.clone() as Arc<dyn HostView>,
                analysis::default_source(),
            )
            .with_home(fixloop::home::Home::resolve(None).ok());
            match Worker::spawn(engine) {
                Ok(w) => self.worker = Some(w),
                // Without the thread the plugin still passes audio; it just does not analyse.
                Err(_) => return true,
            }
        }
        let host_api = match context.plugin_api() {
            PluginApi::Clap => HostApi::Clap,
            PluginApi::Vst3 => HostApi::Vst3,
            _ => HostApi::Other,
        };
        if let Some(worker) = &self.worker {
            worker.send(Control::Activate {
                consumer,
                sample_rate_hz,
                offline: buffer_config.process_mode == ProcessMode::Offline,
                host_api,
                frames_at_activate: self.counters.frames_processed.load(Ordering::Acquire),
                activated_at: std::time::Instant::now(),
                saves_at_activate: self.params.save_probe.count(),
            });
        }
        true
    }

    /// Clears the fix stage's filter state.
    ///
    /// # Real-time safety
    ///
    /// Called on the audio thread by CLAP hosts; allocation-, lock- and syscall-free.
    fn reset(&mut self) {
        self.audio.reset();
    }

    /// Applies the fix stage and hands the block to the background thread.
    ///
    /// # Real-time safety
    ///
    /// Atomic parameter loads, the fix stage and a wait-free ring write: no allocation
    /// (asserted in debug builds by `assert_process_allocs`), no lock, no syscall.
    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        _context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        if buffer.samples() == 0 {
            return ProcessStatus::Normal;
        }
        let settings = self.params.fix_settings();
        let channels = buffer.as_slice();
        match channels {
            [left, right, ..] => self.audio.process(left, right, settings),
            [mono] => {
                // Not a layout this plugin offers, but never index out of bounds.
                let m: &[f32] = mono;
                self.audio.publish(m, m);
            }
            [] => {}
        }
        ProcessStatus::Normal
    }

    /// Waits (at most 2 s, off the audio thread) until the background thread has analysed
    /// what is left in the ring, recorded what it implies and flushed the sink.
    fn deactivate(&mut self) {
        if let Some(worker) = &self.worker {
            worker.deactivate(DEACTIVATE_TIMEOUT);
        }
    }
}

impl ClapPlugin for FixloopPlugin {
    const CLAP_ID: &'static str = "org.fixloop.analyser";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Compares the mix with reference tracks, proposes fixes, learns from feedback");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Analyzer,
        ClapFeature::Stereo,
        ClapFeature::Utility,
    ];
}

impl Vst3Plugin for FixloopPlugin {
    const VST3_CLASS_ID: [u8; 16] = *b"fixloopAnalyser1";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Fx, Vst3SubCategory::Analyzer];
}

nice_export_clap!(FixloopPlugin);
nice_export_vst3!(FixloopPlugin);
