//! A `clack-host` host with the `gui` and `params` extensions: opens the plugin's editor
//! embedded in an X11 window, plays audio and reads back the parameter events.
#![allow(dead_code)]

use clack_extensions::gui::{
    GuiApiType, GuiConfiguration, GuiSize, HostGui, HostGuiImpl, PluginGui, Window,
};
use clack_extensions::params::{
    HostParams, HostParamsImplMainThread, HostParamsImplShared, ParamClearFlags, ParamInfoBuffer,
    ParamRescanFlags, PluginParams,
};
use clack_host::events::event_types::{
    ParamGestureBeginEvent, ParamGestureEndEvent, ParamValueEvent,
};
use clack_host::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::clap::PLUGIN_ID;

pub struct GuiHost;

pub struct Shared {
    pub gui: OnceLock<Option<PluginGui>>,
    pub params: OnceLock<Option<PluginParams>>,
    pub callback: AtomicBool,
    pub flush: AtomicBool,
}

impl<'a> SharedHandler<'a> for Shared {
    fn initializing(&self, instance: InitializingPluginHandle<'a>) {
        let _ = self.gui.set(instance.get_extension());
        let _ = self.params.set(instance.get_extension());
    }
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {
        self.callback.store(true, Ordering::SeqCst);
    }
}

impl HostGuiImpl for Shared {
    fn resize_hints_changed(&self) {}
    fn request_resize(&self, _new_size: GuiSize) -> Result<(), HostError> {
        Ok(())
    }
    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn closed(&self, _was_destroyed: bool) {}
}

impl HostParamsImplShared for Shared {
    fn request_flush(&self) {
        self.flush.store(true, Ordering::SeqCst);
    }
}

pub struct Main;

impl MainThreadHandler<'_> for Main {}

impl HostParamsImplMainThread for Main {
    fn rescan(&self, _flags: ParamRescanFlags) {}
    fn clear(&self, _param_id: ClapId, _flags: ParamClearFlags) {}
}

impl HostHandlers for GuiHost {
    type Shared<'a> = Shared;
    type MainThread<'a> = Main;
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder.register::<HostGui>().register::<HostParams>();
    }
}

pub fn tool(name: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(name).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The root window's id, from `xwininfo -root`.
pub fn root_window() -> Option<u64> {
    let info = tool("xwininfo", &["-root"])?;
    let hex = info
        .lines()
        .find_map(|l| l.split("Window id: ").nth(1))?
        .split_whitespace()
        .next()?;
    u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok()
}

/// Loads the bundle and creates an instance with the GUI host (the entry must outlive it).
pub fn load(bundle: &Path) -> (PluginEntry, PluginInstance<GuiHost>) {
    // SAFETY: loading the plugin library runs its initialisers; it is this crate's own build.
    let entry = unsafe { PluginEntry::load(bundle) }.unwrap();
    let host_info = HostInfo::new(
        "fixloop GUI test host",
        "fixloop",
        "https://example.invalid",
        "1",
    )
    .unwrap();
    let instance = PluginInstance::<GuiHost>::new(
        |_| Shared {
            gui: OnceLock::new(),
            params: OnceLock::new(),
            callback: AtomicBool::new(false),
            flush: AtomicBool::new(false),
        },
        |_| Main,
        &entry,
        PLUGIN_ID,
        &host_info,
    )
    .unwrap();
    (entry, instance)
}

/// A plugin instance with the GUI host, recording under a home of its own.
pub struct Fresh {
    /// The home (`FIXLOOP_HOME`) the instance records under.
    pub home: tempfile::TempDir,
    _bundle: tempfile::TempDir,
    /// The loaded bundle (must outlive the instance).
    pub entry: PluginEntry,
    /// The instance.
    pub instance: PluginInstance<GuiHost>,
}

/// Builds the plugin, sets `FIXLOOP_HOME` to a new temporary directory and loads the CLAP
/// binary with the GUI host.
pub fn load_in_fresh_home() -> Fresh {
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("FIXLOOP_HOME", home.path());
    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = bundle_dir.path().join("fixloop.clap");
    std::fs::copy(super::plugin_library(), &bundle).unwrap();
    let (entry, instance) = load(&bundle);
    Fresh {
        home,
        _bundle: bundle_dir,
        entry,
        instance,
    }
}

/// `mix`, looped, frame by frame (for [`Player::start`]).
pub fn looped(mix: fixloop::sim::synth::Stereo) -> Box<dyn FnMut() -> (f32, f32)> {
    let mut at = 0usize;
    Box::new(move || {
        let frame = (mix.left[at], mix.right[at]);
        at = (at + 1) % mix.left.len();
        frame
    })
}

/// The plugin's GUI extension.
pub fn gui(instance: &PluginInstance<GuiHost>) -> PluginGui {
    instance
        .access_shared_handler(|h| h.gui.get().copied().flatten())
        .expect("the plugin has the gui extension")
}

/// Parameter names by CLAP id.
pub fn param_names(instance: &mut PluginInstance<GuiHost>) -> HashMap<u32, String> {
    let params = instance
        .access_shared_handler(|h| h.params.get().copied().flatten())
        .expect("the plugin has the params extension");
    let mut names = HashMap::new();
    let handle = instance.plugin_handle();
    let mut buffer = ParamInfoBuffer::new();
    for i in 0..params.count(&handle) {
        if let Some(info) = params.get_info(&handle, i, &mut buffer) {
            names.insert(
                info.id.get(),
                String::from_utf8_lossy(info.name).into_owned(),
            );
        }
    }
    names
}

/// Services the plugin's main-thread callbacks for `for_ms`, as a host's event loop does.
pub fn pump(instance: &mut PluginInstance<GuiHost>, for_ms: u64) {
    let until = Instant::now() + Duration::from_millis(for_ms);
    while Instant::now() < until {
        if instance.access_shared_handler(|h| h.callback.swap(false, Ordering::SeqCst)) {
            instance.call_on_main_thread_callback();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Creates the editor embedded in the X11 window `parent`, shows it; its size.
pub fn open_editor(instance: &mut PluginInstance<GuiHost>, parent: u64) -> GuiSize {
    let gui = gui(instance);
    let handle = instance.plugin_handle();
    let x11 = GuiConfiguration {
        api_type: GuiApiType::X11,
        is_floating: false,
    };
    assert!(gui.is_api_supported(&handle, x11));
    gui.create(&handle, x11).unwrap();
    let _ = gui.set_scale(&handle, 1.0);
    let size = gui.get_size(&handle).expect("an editor size");
    // SAFETY: the parent window outlives the plugin's GUI (the root window, in the tests).
    unsafe { gui.set_parent(&handle, Window::from_x11_handle(parent as _)) }.unwrap();
    gui.show(&handle).unwrap();
    size
}

/// Hides and destroys the editor.
pub fn close_editor(instance: &mut PluginInstance<GuiHost>) {
    let gui = gui(instance);
    let handle = instance.plugin_handle();
    let _ = gui.hide(&handle);
    gui.destroy(&handle);
}

/// A parameter event the plugin sent: name, kind ("begin", "value", "end"), value.
pub type ParamEvent = (String, &'static str, f64);

/// Plays audio into an active, processing instance block by block.
pub struct Player {
    processor: StartedPluginAudioProcessor<GuiHost>,
    input_ports: AudioPorts,
    output_ports: AudioPorts,
    steady: u64,
    block: usize,
    next_frame: Box<dyn FnMut() -> (f32, f32)>,
    names: HashMap<u32, String>,
    /// Every parameter event seen in the output events so far.
    pub seen: Vec<ParamEvent>,
}

impl Player {
    /// Activates at `sample_rate` with blocks of `block` frames of `next_frame`'s audio.
    pub fn start(
        instance: &mut PluginInstance<GuiHost>,
        sample_rate: f64,
        block: usize,
        next_frame: Box<dyn FnMut() -> (f32, f32)>,
    ) -> Player {
        let names = param_names(instance);
        let config = PluginAudioConfiguration {
            sample_rate,
            min_frames_count: 1,
            max_frames_count: block as u32,
        };
        let processor = instance.activate(|_, _| (), config).unwrap();
        Player {
            processor: processor.start_processing().unwrap(),
            input_ports: AudioPorts::with_capacity(2, 1),
            output_ports: AudioPorts::with_capacity(2, 1),
            steady: 0,
            block,
            next_frame,
            names,
            seen: Vec::new(),
        }
    }

    /// One block of audio; collects the parameter events the plugin sends back.
    pub fn block(&mut self) {
        let n = self.block;
        let mut input = [Vec::with_capacity(n), Vec::with_capacity(n)];
        for _ in 0..n {
            let (l, r) = (self.next_frame)();
            input[0].push(l);
            input[1].push(r);
        }
        let mut out = [vec![0.0f32; n], vec![0.0f32; n]];
        let events_in = EventBuffer::new();
        let mut events_out = EventBuffer::new();
        let inputs = self.input_ports.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                input.iter_mut().map(InputChannel::variable),
            ),
        }]);
        let mut outputs = self.output_ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                out.iter_mut().map(|b| b.as_mut_slice()),
            ),
        }]);
        self.processor
            .process(
                &inputs,
                &mut outputs,
                &InputEvents::from_buffer(&events_in),
                &mut OutputEvents::from_buffer(&mut events_out),
                Some(self.steady),
                None,
            )
            .unwrap();
        self.steady += n as u64;
        let name = |id: Option<ClapId>| {
            id.and_then(|id| self.names.get(&id.get()).cloned())
                .unwrap_or_default()
        };
        for e in events_out.iter() {
            if let Some(b) = e.as_event::<ParamGestureBeginEvent>() {
                self.seen.push((name(b.param_id()), "begin", 0.0));
            } else if let Some(v) = e.as_event::<ParamValueEvent>() {
                self.seen.push((name(v.param_id()), "value", v.value()));
            } else if let Some(g) = e.as_event::<ParamGestureEndEvent>() {
                self.seen.push((name(g.param_id()), "end", 0.0));
            }
        }
    }

    /// `seconds` of audio at about real time (the plugin's analysis ring holds 2 s).
    pub fn play_real_time(&mut self, sample_rate: f64, seconds: f64) {
        let started = Instant::now();
        for i in 0..(seconds * sample_rate) as usize / self.block {
            self.block();
            let due = Duration::from_secs_f64(((i + 1) * self.block) as f64 / sample_rate);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }

    /// Stops processing and deactivates.
    pub fn stop(self, instance: &mut PluginInstance<GuiHost>) {
        instance.deactivate(self.processor.stop_processing());
    }
}

/// The X display is usable with the tools the GUI tests need: the root window's id, or
/// `None` (a failure when `FIXLOOP_REQUIRE_GUI` is set).
pub fn display() -> Option<u64> {
    let required = std::env::var_os("FIXLOOP_REQUIRE_GUI").is_some();
    if std::env::var_os("DISPLAY").is_none() {
        assert!(
            !required,
            "FIXLOOP_REQUIRE_GUI is set but there is no DISPLAY"
        );
        eprintln!("skipped: no X display (set DISPLAY, e.g. under Xvfb)");
        return None;
    }
    let root = root_window();
    let tools = ["import", "xdotool"]
        .iter()
        .all(|t| Command::new(t).arg("-version").output().is_ok());
    if root.is_none() || !tools {
        assert!(!required, "xwininfo, import or xdotool missing or failing");
        eprintln!("skipped: xwininfo, import or xdotool missing");
        return None;
    }
    root
}
