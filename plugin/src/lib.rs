//! # fixloop plugin
//!
//! A stereo CLAP and VST3 effect that listens to the mix, compares it with a reference
//! profile, proposes fixes and records what the producer does with them.
//!
//! ```text
//! audio thread:  in ──► fix stage (params) ──► out
//!                                   │ copy into a pre-allocated ring, publish a frame counter
//!                                   ▼
//! background:    ring ──► FeatureSource ──► gaps/score ──► fixes ──► Analysis (ArcSwap)
//!                host signals (saves, renders), applied-fix watch ──► FeedbackSink
//! editor:        Actions (apply, reject, undo, modify, accept) ──► params + FeedbackSink
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
//! - [`params`]: host parameters and persisted fields; [`dsp`]: the fix stage;
//! - [`analysis`]: the [`FeatureSource`](analysis::FeatureSource) trait;
//! - [`feedback`]: the [`FeedbackSink`](feedback::FeedbackSink) trait and its records;
//! - [`host_signals`]: state-save and offline-render detection;
//! - [`engine`]: the background thread; [`actions`]: the editor's action API.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod actions;
pub mod analysis;
pub mod dsp;
pub mod engine;
pub mod feedback;
pub mod host_signals;
pub mod params;

use actions::{Actions, HostView};
use dsp::FixStage;
use engine::{AudioCounters, Control, Engine, EngineConfig, Frame, Hub, Worker};
use feedback::{FeedbackSink, HostApi};
use nice_plug::prelude::*;
use params::FixloopParams;
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
    stage: FixStage,
    producer: Option<rtrb::Producer<Frame>>,
    counters: Arc<AudioCounters>,
    hub: Arc<Hub>,
    worker: Option<Worker>,
    config: EngineConfig,
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
        FixloopPlugin {
            params: Arc::new(FixloopParams::default()),
            stage: FixStage::new(48_000.0),
            producer: None,
            counters: Arc::new(AudioCounters::default()),
            hub: Arc::new(Hub::new(sink)),
            worker: None,
            config,
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

    /// Copies the processed block into the ring; frames that do not fit are counted.
    ///
    /// # Real-time safety
    ///
    /// Wait-free: one `rtrb` chunk write and relaxed atomic adds.
    fn publish(&mut self, left: &[f32], right: &[f32]) {
        let frames = left.len().min(right.len());
        if let Some(producer) = self.producer.as_mut() {
            let n = producer.slots().min(frames);
            if let Ok(chunk) = producer.write_chunk_uninit(n) {
                chunk.fill_from_iter(left.iter().zip(right).map(|(&l, &r)| [l, r]));
            }
            if n < frames {
                self.counters
                    .frames_dropped
                    .fetch_add((frames - n) as u64, Ordering::Relaxed);
            }
        }
        self.counters
            .frames_processed
            .fetch_add(frames as u64, Ordering::Release);
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
    type Editor = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let sample_rate_hz = f64::from(buffer_config.sample_rate);
        let max_block_frames = buffer_config.max_buffer_size.max(1) as usize;
        self.stage.set_sample_rate(sample_rate_hz);
        self.stage.snap_to(self.params.fix_settings());
        let capacity =
            ((sample_rate_hz.max(8_000.0) * RING_SECONDS) as usize).max(4 * max_block_frames);
        let (producer, consumer) = rtrb::RingBuffer::new(capacity);
        self.producer = Some(producer);
        if self.worker.is_none() {
            let engine = Engine::new(
                self.config,
                self.hub.clone(),
                self.counters.clone(),
                self.params.clone() as Arc<dyn HostView>,
                analysis::default_source(),
            );
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
                max_block_frames,
                offline: buffer_config.process_mode == ProcessMode::Offline,
                host_api,
                frames_at_activate: self.counters.frames_processed.load(Ordering::Acquire),
            });
        }
        true
    }

    fn reset(&mut self) {
        self.stage.reset();
    }

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
            [left, right, ..] => {
                self.stage.process(left, right, settings);
                let (l, r) = (&**left, &**right);
                self.publish(l, r);
            }
            [mono] => {
                // Not a layout this plugin offers, but never index out of bounds.
                let m: &[f32] = mono;
                self.publish(m, m);
            }
            [] => {}
        }
        ProcessStatus::Normal
    }

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
