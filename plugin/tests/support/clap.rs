//! A `clack-host` test host for the plugin's CLAP binary: the handlers, a test signal,
//! an activate-process-stop run that checks the output equals the input, state saves.
#![allow(dead_code)]

use clack_extensions::render::PluginRender;
use clack_extensions::state::PluginState;
use clack_host::prelude::*;
use std::ffi::CStr;
use std::path::Path;
use std::sync::OnceLock;

/// The plugin's CLAP id.
pub const PLUGIN_ID: &CStr = c"org.fixloop.analyser";

pub struct TestHost;

pub struct Shared {
    pub state: OnceLock<Option<PluginState>>,
    pub render: OnceLock<Option<PluginRender>>,
}

impl<'a> SharedHandler<'a> for Shared {
    fn initializing(&self, instance: InitializingPluginHandle<'a>) {
        let _ = self.state.set(instance.get_extension());
        let _ = self.render.set(instance.get_extension());
    }
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

impl HostHandlers for TestHost {
    type Shared<'a> = Shared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
}

/// Deterministic stereo test signal: a sine on the left, noise on the right, a NaN-free
/// but full-scale-ish mix so any processing would show.
pub fn signal(frames: usize, seed: u32) -> [Vec<f32>; 2] {
    let mut s = seed;
    let left = (0..frames)
        .map(|i| 0.5 * (i as f32 * 0.031).sin())
        .collect();
    let right = (0..frames)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1 << 24) as f32 - 0.5
        })
        .collect();
    [left, right]
}

/// Activates at `sample_rate`, processes `blocks` (frame counts) of audio and checks the
/// output equals the input; returns the processor stopped, ready to deactivate.
pub fn run(
    instance: &mut PluginInstance<TestHost>,
    sample_rate: f64,
    blocks: &[usize],
    seed: u32,
) -> StoppedPluginAudioProcessor<TestHost> {
    let max = blocks.iter().copied().max().unwrap_or(0).max(1);
    let mut next = blocks.iter().copied();
    run_while(instance, sample_rate, max, seed, |_| next.next())
}

/// Activates at `sample_rate` (blocks of at most `max_frames`) and processes blocks of
/// the sizes `next_block` gives until it gives `None`; `next_block` may use the instance
/// between blocks (a state save while processing, as hosts do). Checks the output equals
/// the input; returns the processor stopped, ready to deactivate.
pub fn run_while(
    instance: &mut PluginInstance<TestHost>,
    sample_rate: f64,
    max_frames: usize,
    seed: u32,
    mut next_block: impl FnMut(&mut PluginInstance<TestHost>) -> Option<usize>,
) -> StoppedPluginAudioProcessor<TestHost> {
    let config = PluginAudioConfiguration {
        sample_rate,
        min_frames_count: 1,
        max_frames_count: max_frames.max(1) as u32,
    };
    let processor = instance.activate(|_, _| (), config).unwrap();
    let mut processor = processor.start_processing().unwrap();
    let mut input_ports = AudioPorts::with_capacity(2, 1);
    let mut output_ports = AudioPorts::with_capacity(2, 1);
    let events_in = EventBuffer::new();
    let mut events_out = EventBuffer::new();
    let mut steady = 0u64;
    let mut i = 0u32;
    while let Some(frames) = next_block(instance) {
        let input = signal(frames, seed + i);
        let mut in_bufs = input.clone();
        let mut out_bufs = [vec![0.0f32; frames], vec![0.0f32; frames]];
        let inputs = input_ports.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                in_bufs.iter_mut().map(InputChannel::variable),
            ),
        }]);
        let mut outputs = output_ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                out_bufs.iter_mut().map(|b| b.as_mut_slice()),
            ),
        }]);
        processor
            .process(
                &inputs,
                &mut outputs,
                &InputEvents::from_buffer(&events_in),
                &mut OutputEvents::from_buffer(&mut events_out),
                Some(steady),
                None,
            )
            .unwrap();
        steady += frames as u64;
        assert_eq!(
            out_bufs, input,
            "block {i} of {frames} frames at {sample_rate} Hz"
        );
        i += 1;
    }
    processor.stop_processing()
}

/// Saves the plugin's state, as a host does.
pub fn save(instance: &mut PluginInstance<TestHost>) -> Vec<u8> {
    let state = instance
        .access_shared_handler(|h| h.state.get().copied().flatten())
        .expect("the plugin has the state extension");
    let mut bytes = Vec::new();
    state.save(&instance.plugin_handle(), &mut bytes).unwrap();
    bytes
}

/// Loads the bundle at `bundle` and creates an instance of the plugin (the entry must
/// outlive the instance).
pub fn load(bundle: &Path) -> (PluginEntry, PluginInstance<TestHost>) {
    // SAFETY: loading the plugin library runs its initialisers; it is this crate's own build.
    let entry = unsafe { PluginEntry::load(bundle) }.unwrap();
    let factory = entry.get_plugin_factory().unwrap();
    assert!(factory
        .plugin_descriptors()
        .any(|d| d.id().is_some_and(|d| d == PLUGIN_ID)));
    let host_info = HostInfo::new(
        "fixloop test host",
        "fixloop",
        "https://example.invalid",
        "1",
    )
    .unwrap();
    let instance = PluginInstance::<TestHost>::new(
        |_| Shared {
            state: OnceLock::new(),
            render: OnceLock::new(),
        },
        |_| (),
        &entry,
        PLUGIN_ID,
        &host_info,
    )
    .unwrap();
    (entry, instance)
}
