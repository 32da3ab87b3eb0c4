//! What the open editor costs while nothing changes: CPU time of the whole host process
//! (every thread: the plugin's analysis thread, baseview's event thread and the host's
//! main-thread loop) per 200 ms of idling, with the editor open against the same host with
//! it closed, measured in the same run. The difference is the editor's share of a core.
//! Target: at most 2 % of one core (4 ms of CPU per 200 ms).
//!
//! Needs an X display (Xvfb works, with Mesa's software GL); without one it prints why and
//! measures nothing. The plugin is active with 2 s of a rendered loop analysed and then no
//! audio (transport stopped), so the window shows a full analysis and nothing repaints it.

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

#[path = "../tests/support/mod.rs"]
mod support;

use support::gui_host::{
    close_editor, display, load_in_fresh_home, looped, open_editor, pump, Player,
};

/// CPU time of every thread of this process so far (`/proc/self/task/*/schedstat`, ns).
fn process_cpu() -> Duration {
    let mut ns = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(ns)
}

const IDLE_MS: u64 = 200;

fn bench(c: &mut Criterion) {
    let Some(root) = display() else {
        return;
    };
    let mut fresh = load_in_fresh_home();
    let instance = &mut fresh.instance;
    let sr = 48_000.0;
    let mix = fixloop::sim::synth::render(&Default::default(), 4.0, sr as u32);
    let mut player = Player::start(instance, sr, 1024, looped(mix));
    player.play_real_time(sr, 2.0);

    let mut group = c.benchmark_group("editor_idle_cpu_per_200ms");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(12));
    let idle = |instance: &mut _, iters: u64| {
        let start = process_cpu();
        for _ in 0..iters {
            pump(instance, IDLE_MS);
        }
        process_cpu() - start
    };
    group.bench_function("editor_closed", |b| {
        b.iter_custom(|iters| idle(instance, iters))
    });
    open_editor(instance, root);
    pump(instance, 500);
    group.bench_function("editor_open", |b| {
        b.iter_custom(|iters| idle(instance, iters))
    });
    group.finish();
    close_editor(instance);
    player.stop(instance);
}

criterion_group!(benches, bench);
criterion_main!(benches);
