//! Analysis throughput.
//!
//! - `file_6min/decode_only` and `file_6min/decode_and_analyse`: a 6-minute 44.1 kHz
//!   stereo 16-bit WAV, decoded alone and decoded plus the full feature set, in the same
//!   run. Budget: the full analysis at ≥ 200× real time on one core, i.e. ≤ 1.8 s per file.
//! - `streaming/block_512_at_48k`: one 512-frame stereo block through `Analyser::process`
//!   at 48 kHz, averaged over a second of blocks (so the FFT every 8192 samples is included
//!   in proportion). Budget: a small share of the block's 10.67 ms; the plugin's audio
//!   thread only copies into a ring, so this runs on its background thread, but it should
//!   stay under 5 % (533 µs) to be usable inline too.
//!
//! - `streaming/..._subnormal`: the same second scaled by 1e-39 (f32 subnormals), in the
//!   same run. Budget: at most 1.5× the normal case.
//!
//! Before timing, the benchmark checks that offline and streaming analysis agree on the
//! file. Run with `cargo bench --bench analysis`; the shares are printed at the end.

use criterion::{criterion_group, criterion_main, Criterion};
use fixloop::features::{analyze_file, decode_file, Analyser, Feature};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FILE_RATE: u32 = 44_100;
const FILE_SECONDS: usize = 360;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Music-like test audio: noise, a kick-like 55 Hz tone pumping at 2 Hz, a wide 3 kHz tone.
fn signal(rate: u32, frames: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Lcg(42);
    let mut l = Vec::with_capacity(frames);
    let mut r = Vec::with_capacity(frames);
    for i in 0..frames {
        let t = i as f32 / rate as f32;
        let env = 1.0 - 0.6 * (t * 2.0).fract();
        let bass = 0.3 * (2.0 * std::f32::consts::PI * 55.0 * t).sin() * env;
        let hi = 0.05 * (2.0 * std::f32::consts::PI * 3000.0 * t).sin();
        l.push(bass + hi + 0.08 * rng.next());
        r.push(bass - hi + 0.08 * rng.next());
    }
    (l, r)
}

fn fixture() -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench_6min_44k1_s16.wav");
    if !path.exists() {
        let (l, r) = signal(FILE_RATE, FILE_RATE as usize * FILE_SECONDS);
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: FILE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for (a, b) in l.iter().zip(&r) {
            w.write_sample((a * 32767.0) as i16).unwrap();
            w.write_sample((b * 32767.0) as i16).unwrap();
        }
        w.finalize().unwrap();
    }
    path
}

fn check_correctness(path: &Path) {
    let offline = analyze_file(path).unwrap().features;
    let mut streaming: Option<Analyser> = None;
    decode_file(path, |info, block| {
        streaming
            .get_or_insert_with(|| Analyser::new(info.sample_rate_hz, info.channels, 512).unwrap())
            .process_interleaved(block);
        Ok(())
    })
    .unwrap();
    let streaming = streaming.unwrap().features();
    for f in Feature::ALL {
        let (a, b) = (offline.value(f), streaming.value(f));
        assert!(a.is_some(), "{f} absent");
        assert!(
            (a.unwrap() - b.unwrap()).abs() < 1e-9,
            "{f}: {a:?} vs {b:?}"
        );
    }
}

fn bench_file(c: &mut Criterion) {
    let path = fixture();
    check_correctness(&path);
    let mut group = c.benchmark_group("file_6min");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("decode_only", |b| {
        b.iter(|| {
            let mut sum = 0.0f32;
            decode_file(&path, |_, block| {
                sum += block[0];
                Ok(())
            })
            .unwrap();
            black_box(sum)
        })
    });
    group.bench_function("decode_and_analyse", |b| {
        b.iter(|| black_box(analyze_file(&path).unwrap()))
    });
    group.finish();
    report_real_time_factor(&path);
}

fn bench_streaming(c: &mut Criterion) {
    let rate = 48_000;
    let (l, r) = signal(rate, rate as usize);
    let mut a = Analyser::new(rate, 2, 512).unwrap();
    let mut group = c.benchmark_group("streaming");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    // One iteration = one second of 512-frame blocks (93 blocks), so FFT frames are
    // included in proportion; divide by 93.75 for the per-block cost.
    group.bench_function("one_second_in_512_frame_blocks_at_48k", |b| {
        b.iter(|| {
            for (bl, br) in l.chunks(512).zip(r.chunks(512)) {
                a.process(bl, br);
            }
        })
    });
    // The same second scaled into the f32 subnormal range (below 1.18e-38): what a host
    // feeds during a fade to silence. It must cost no more than normal audio.
    let tiny = |v: &[f32]| -> Vec<f32> { v.iter().map(|x| x * 1e-39).collect() };
    let (dl, dr) = (tiny(&l), tiny(&r));
    assert!(dl.iter().filter(|x| x.is_subnormal()).count() > dl.len() / 2);
    let mut d = Analyser::new(rate, 2, 512).unwrap();
    group.bench_function("one_second_in_512_frame_blocks_at_48k_subnormal", |b| {
        b.iter(|| {
            for (bl, br) in dl.chunks(512).zip(dr.chunks(512)) {
                d.process(bl, br);
            }
        })
    });
    group.bench_function("features", |b| b.iter(|| black_box(a.features())));
    group.finish();
    report_block_share(&l, &r, rate);
}

/// CPU time of the calling thread in seconds (Linux: `/proc/thread-self/stat`, clock
/// ticks of 10 ms), so the real-time factor can be stated per core even when other
/// processes share the machine.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn report_real_time_factor(path: &Path) {
    let measure = |f: &dyn Fn()| {
        let mut best_wall = f64::INFINITY;
        let mut best_cpu = f64::INFINITY;
        for _ in 0..3 {
            let cpu0 = thread_cpu_seconds();
            let t = Instant::now();
            f();
            best_wall = best_wall.min(t.elapsed().as_secs_f64());
            if let (Some(a), Some(b)) = (cpu0, thread_cpu_seconds()) {
                best_cpu = best_cpu.min(b - a);
            }
        }
        (best_wall, best_cpu)
    };
    let (decode, decode_cpu) = measure(&|| {
        decode_file(path, |_, _| Ok(())).unwrap();
    });
    let (full, full_cpu) = measure(&|| {
        analyze_file(path).unwrap();
    });
    let secs = FILE_SECONDS as f64;
    println!(
        "6-minute file, best of 3: decode only {decode:.3} s wall ({:.0}x real time), {decode_cpu:.2} s CPU; \
         decode + analyse {full:.3} s wall ({:.0}x), {full_cpu:.2} s CPU ({:.0}x real time per core)",
        secs / decode,
        secs / full,
        secs / full_cpu
    );
}

fn report_block_share(l: &[f32], r: &[f32], rate: u32) {
    let mut a = Analyser::new(rate, 2, 512).unwrap();
    let mut times = Vec::new();
    let mut first = None;
    for pass in 0..6 {
        for (bl, br) in l.chunks(512).zip(r.chunks(512)) {
            let t = Instant::now();
            a.process(bl, br);
            let s = t.elapsed().as_secs_f64();
            // The first pass touches freshly allocated memory (page faults): report it apart.
            if pass == 0 {
                first = Some(first.map_or(s, |m: f64| m.max(s)));
            } else {
                times.push(s);
            }
        }
    }
    times.sort_by(f64::total_cmp);
    let block_s = 512.0 / rate as f64;
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let p99 = times[times.len() * 99 / 100];
    let max = times[times.len() - 1];
    let share = |s: f64| 100.0 * s / block_s;
    println!(
        "512-frame block at {rate} Hz ({:.2} ms): mean {:.1} µs ({:.2} %), p99 {:.1} µs ({:.2} %), max {:.1} µs ({:.2} %); first second after new(): max {:.1} µs",
        block_s * 1e3,
        mean * 1e6,
        share(mean),
        p99 * 1e6,
        share(p99),
        max * 1e6,
        share(max),
        first.unwrap_or(0.0) * 1e6,
    );
}

criterion_group!(benches, bench_streaming, bench_file);
criterion_main!(benches);
