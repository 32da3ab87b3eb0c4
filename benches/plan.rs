//! What proposing fixes costs, beside what it is proposed from.
//!
//! - `plan/features_file/{joint,independent}`: the fixes for a features file
//!   (`examples/data/wip_features.json`) against the bundled profile under the default
//!   policy, the joint plan beside independent fixes in the same run. Budget: the joint
//!   plan ≤ 20 ms per track.
//! - `plan/audio/{joint_with_spectrum,analyse_file}`: the joint plan for a 60 s rendered
//!   trance mix with its measured spectrum profile, beside the analysis of the same file
//!   (decode and features) in the same run. Budget: planning ≤ 5 % of the analysis.
//!   (`fixloop analyze` also checks the plan on the file rendered through the fix stage:
//!   that check is an analysis of its own, reported beside, not planning.)
//!
//! Run with `cargo bench --bench plan`; the shares are printed at the end.

use criterion::{criterion_group, criterion_main, Criterion};
use fixloop::features::{analyze_file, analyze_file_through, FeatureVector};
use fixloop::fixes::{propose_plan, PlanMode, Policy};
use fixloop::gaps::compare;
use fixloop::profile::bundled;
use fixloop::sim::synth::{render, MixParams};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn features_file() -> FeatureVector {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/wip_features.json");
    FeatureVector::load(&path).expect("the example features file loads")
}

fn mix_file() -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench_plan_mix_60s.wav");
    if !path.exists() {
        let mix = render(
            &MixParams {
                bass_db: 5.0,
                hats_db: -4.0,
                width: 0.6,
                seed: 4,
                ..MixParams::default()
            },
            60.0,
            48_000,
        );
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for (l, r) in mix.left.iter().zip(&mix.right) {
            w.write_sample((l.clamp(-1.0, 1.0) * 32767.0) as i16)
                .unwrap();
            w.write_sample((r.clamp(-1.0, 1.0) * 32767.0) as i16)
                .unwrap();
        }
        w.finalize().unwrap();
    }
    path
}

fn best_of(n: usize, f: &mut dyn FnMut()) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn bench(c: &mut Criterion) {
    let profile = bundled();
    let v = features_file();
    let report = compare(&profile, &v);
    let joint = Policy::default();
    let independent = Policy {
        plan: PlanMode::Independent,
        ..Policy::default()
    };
    let path = mix_file();
    let a = analyze_file(&path).unwrap();
    let mix_report = compare(&profile, &a.features);
    let spectrum = a.spectrum.clone();
    let plan_file =
        |policy: &Policy| propose_plan(&profile, &report, Some(&v), None, policy, None).unwrap();
    let plan_audio = || {
        propose_plan(
            &profile,
            &mix_report,
            Some(&a.features),
            spectrum.as_ref(),
            &joint,
            None,
        )
        .unwrap()
    };

    let mut group = c.benchmark_group("plan/features_file");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("joint", |b| b.iter(|| black_box(plan_file(&joint))));
    group.bench_function("independent", |b| {
        b.iter(|| black_box(plan_file(&independent)))
    });
    group.finish();

    let mut group = c.benchmark_group("plan/audio");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("joint_with_spectrum", |b| {
        b.iter(|| black_box(plan_audio()))
    });
    group.bench_function("analyse_file", |b| {
        b.iter(|| black_box(analyze_file(&path)))
    });
    group.finish();

    // The shares, best of several, in the same run.
    let joint_file = best_of(50, &mut || {
        black_box(plan_file(&joint));
    });
    let indep_file = best_of(50, &mut || {
        black_box(plan_file(&independent));
    });
    let joint_audio = best_of(20, &mut || {
        black_box(plan_audio());
    });
    let analyse = best_of(3, &mut || {
        black_box(analyze_file(&path).unwrap());
    });
    let (plan, _) = plan_audio();
    let settings = plan.expect("the joint plan").moves.fix_settings();
    let check = best_of(3, &mut || {
        black_box(analyze_file_through(&path, &settings).unwrap());
    });
    println!(
        "features file: joint plan {:.2} ms (budget 20 ms), independent fixes {:.3} ms; \
         60 s mix: joint plan {:.2} ms = {:.2} % of its analysis {:.0} ms (budget 5 %); \
         the check's render and re-analysis {:.0} ms",
        joint_file * 1e3,
        indep_file * 1e3,
        joint_audio * 1e3,
        100.0 * joint_audio / analyse,
        analyse * 1e3,
        check * 1e3,
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
