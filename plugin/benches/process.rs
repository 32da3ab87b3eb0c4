//! Cost of the plugin's audio-thread work per block at 48 kHz stereo, for 64…1024-frame
//! blocks: the fix stage plus the hand-over to the background thread (`AudioPath::process`,
//! all of `process()` but nice-plug's buffer and parameter plumbing).
//!
//! Budget: ≤ 1 % of one core, i.e. ≤ 1 % of the block's duration (64 frames = 1333 µs,
//! so ≤ 13.3 µs; 1024 frames = 21.3 ms, so ≤ 213 µs) with every fix neutral.
//!
//! Cases, measured in the same run:
//! - `baseline_copy`: copying the block (what a host's pass-through costs at least);
//! - `bypassed`: the plugin with every fix neutral (the exact-bypass path + ring copy);
//! - `all_fixes`: gain, seven band filters and width all active;
//! - `bypassed_subnormal`, `all_fixes_subnormal`: the same with the noise scaled into the
//!   f32 subnormal range (×1e-39), what hosts and clap-validator feed during fades. Budget:
//!   at most 1.5× the same case with normal input.
//!
//! A thread drains the ring as the plugin's background thread would, so the ring never fills.
//! Before timing, the bypassed path is checked to leave the audio bit-identical.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fixloop::dsp::{FixSettings, BAND_COUNT};
use fixloop_plugin::audio::{AudioCounters, AudioPath};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const SR: f64 = 48_000.0;
const BLOCKS: [usize; 5] = [64, 128, 256, 512, 1024];

fn noise(frames: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..frames)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1 << 24) as f32 - 0.5
        })
        .collect()
}

/// An audio path whose ring a thread keeps draining until the returned flag is set.
fn path() -> (AudioPath, Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let mut path = AudioPath::new(SR, Arc::new(AudioCounters::default()));
    let (producer, mut consumer) = rtrb::RingBuffer::new((SR * 2.0) as usize);
    path.prepare(SR, FixSettings::NEUTRAL, producer);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let drain = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            let n = consumer.slots();
            if let Ok(chunk) = consumer.read_chunk(n) {
                chunk.commit_all();
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    });
    (path, stop, drain)
}

fn all_fixes() -> FixSettings {
    FixSettings {
        output_gain_db: -1.5,
        band_gain_db: [2.0, -3.0, 1.0, -1.0, 2.5, -2.0, 1.5],
        width_ratio: 0.9,
    }
}

fn bench(c: &mut Criterion) {
    assert_eq!(all_fixes().band_gain_db.len(), BAND_COUNT);
    let mut group = c.benchmark_group("process_48k_stereo");
    for frames in BLOCKS {
        let (l0, r0) = (noise(frames, 1), noise(frames, 2));
        let (mut l, mut r) = (l0.clone(), r0.clone());
        group.throughput(Throughput::Elements(frames as u64));

        // Correctness before timing: the bypassed path is bit-exact.
        let (mut p, stop, drain) = path();
        p.process(&mut l, &mut r, FixSettings::NEUTRAL);
        assert_eq!((&l, &r), (&l0, &r0));

        group.bench_with_input(
            BenchmarkId::new("baseline_copy", frames),
            &frames,
            |b, _| {
                b.iter(|| {
                    l.copy_from_slice(black_box(&l0));
                    r.copy_from_slice(black_box(&r0));
                    black_box((&l, &r));
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("bypassed", frames), &frames, |b, _| {
            b.iter(|| {
                l.copy_from_slice(black_box(&l0));
                r.copy_from_slice(black_box(&r0));
                p.process(&mut l, &mut r, black_box(FixSettings::NEUTRAL));
            })
        });
        let mut settings = all_fixes();
        group.bench_with_input(BenchmarkId::new("all_fixes", frames), &frames, |b, _| {
            b.iter(|| {
                l.copy_from_slice(black_box(&l0));
                r.copy_from_slice(black_box(&r0));
                // Alternate a hair around the target so smoothing and coefficient
                // updates stay in the measurement (the worst case: automation).
                settings.output_gain_db = -settings.output_gain_db;
                p.process(&mut l, &mut r, black_box(settings));
            })
        });
        // Subnormal input: flushed on the way in, so it must cost what normal input costs.
        let tiny = |v: &[f32]| -> Vec<f32> { v.iter().map(|x| x * 1e-39).collect() };
        let (d0, e0) = (tiny(&l0), tiny(&r0));
        assert!(d0.iter().filter(|x| x.is_subnormal()).count() > frames / 2);
        group.bench_with_input(
            BenchmarkId::new("bypassed_subnormal", frames),
            &frames,
            |b, _| {
                b.iter(|| {
                    l.copy_from_slice(black_box(&d0));
                    r.copy_from_slice(black_box(&e0));
                    p.process(&mut l, &mut r, black_box(FixSettings::NEUTRAL));
                })
            },
        );
        assert!(l.iter().chain(&r).all(|x| !x.is_subnormal()));
        group.bench_with_input(
            BenchmarkId::new("all_fixes_subnormal", frames),
            &frames,
            |b, _| {
                b.iter(|| {
                    l.copy_from_slice(black_box(&d0));
                    r.copy_from_slice(black_box(&e0));
                    settings.output_gain_db = -settings.output_gain_db;
                    p.process(&mut l, &mut r, black_box(settings));
                })
            },
        );
        assert!(l.iter().chain(&r).all(|x| !x.is_subnormal()));
        stop.store(true, Ordering::Relaxed);
        drain.join().unwrap();
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
