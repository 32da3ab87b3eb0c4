//! `profile build`, `profile add` and `analyze` on audio: synthesised trance loops written
//! as WAV files, analysed in parallel; a broken file is reported and skipped.

use fixloop::sim::synth::{render, MixParams};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn write_wav(path: &Path, params: &MixParams) {
    // 44.1 kHz so the air band (12–20 kHz) lies below Nyquist and all 16 features exist.
    let audio = render(params, 4.0, 44_100);
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: audio.sample_rate_hz,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for (l, r) in audio.left.iter().zip(&audio.right) {
        w.write_sample((l * 32767.0) as i16).unwrap();
        w.write_sample((r * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

fn fixloop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fixloop"))
        .args(args)
        .output()
        .unwrap()
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fixloop-cli-profile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn build_analyze_and_add_from_audio() {
    let dir = temp("build");
    let refs = dir.join("refs");
    std::fs::create_dir_all(&refs).unwrap();
    for seed in 0..4u64 {
        let p = MixParams {
            seed,
            bass_db: seed as f64 * 0.5 - 0.75,
            ..MixParams::default()
        };
        write_wav(&refs.join(format!("ref{seed}.wav")), &p);
    }
    std::fs::write(refs.join("broken.wav"), b"RIFF\0\0\0\0WAVEnot really").unwrap();
    let out = dir.join("profile.json");
    let r = fixloop(&[
        "profile",
        "build",
        "--refs",
        refs.to_str().unwrap(),
        "--name",
        "synth",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(stdout.contains("built from 4 of 5 tracks"), "{stdout}");
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("broken.wav"),
        "the broken file is reported: {stderr}"
    );
    let profile = fixloop::profile::Profile::load(&out).unwrap();
    assert_eq!(profile.track_count, 4);
    assert_eq!(profile.version, "synth_v1");
    assert_eq!(profile.features.len(), 16);

    // A track with 6 dB more bass than any reference: bass_level above the range, a cut proposed.
    let wip = dir.join("wip.wav");
    write_wav(
        &wip,
        &MixParams {
            bass_db: 6.0,
            seed: 9,
            ..MixParams::default()
        },
    );
    let r = fixloop(&[
        "analyze",
        wip.to_str().unwrap(),
        "--profile",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(doc["gaps"]["bass_level"]["in_range"], false);
    assert!(doc["gaps"]["bass_level"]["z"].as_f64().unwrap() > 0.0);
    let fixes = doc["fixes"].as_array().unwrap();
    assert!(
        fixes
            .iter()
            .any(|f| f["gap_feature"] == "bass_level" && f["action_type"] == "eq_band_cut"),
        "{fixes:?}"
    );

    // Adding two more references: count and version move, the input is untouched.
    let more = dir.join("more");
    std::fs::create_dir_all(&more).unwrap();
    for seed in 10..12u64 {
        write_wav(
            &more.join(format!("new{seed}.wav")),
            &MixParams {
                seed,
                ..MixParams::default()
            },
        );
    }
    let merged = dir.join("merged.json");
    let r = fixloop(&[
        "profile",
        "add",
        "--profile",
        out.to_str().unwrap(),
        "--refs",
        more.to_str().unwrap(),
        "--output",
        merged.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let merged = fixloop::profile::Profile::load(&merged).unwrap();
    assert_eq!(merged.track_count, 6);
    assert_eq!(merged.version, "synth_v2");
    assert_eq!(fixloop::profile::Profile::load(&out).unwrap(), profile);

    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let r = fixloop(&[
        "profile",
        "build",
        "--refs",
        empty.to_str().unwrap(),
        "--name",
        "x",
        "--output",
        dir.join("x.json").to_str().unwrap(),
    ]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("no audio files"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Files with NaN samples: `analyze` says how many were replaced (text and JSON),
/// `profile build` warns naming the file, and a mostly-NaN file is refused by name.
#[test]
fn non_finite_samples_are_reported_by_analyze_and_profile_build() {
    let dir = temp("nan");
    let write = |name: &str, nan_every: usize| {
        let audio = render(&MixParams::default(), 2.0, 44_100);
        let path = dir.join(name);
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: audio.sample_rate_hz,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        let mut nan = 0;
        for (i, (l, r)) in audio.left.iter().zip(&audio.right).enumerate() {
            let l = if i % nan_every == 0 {
                nan += 1;
                f32::NAN
            } else {
                *l
            };
            w.write_sample(l).unwrap();
            w.write_sample(*r).unwrap();
        }
        w.finalize().unwrap();
        (path, nan)
    };
    let (some, n) = write("some_nan.wav", 1000);
    let (most, _) = write("most_nan.wav", 1);
    let out = fixloop(&["analyze", some.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("Warning: {n} sample(s) were not finite")),
        "{text}"
    );
    let out = fixloop(&["analyze", some.to_str().unwrap(), "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["non_finite_samples"], n);
    // Every left sample NaN is exactly half of the samples: still analysed (a file is
    // refused when more than half are not finite); an all-NaN file is refused.
    let out = fixloop(&["analyze", most.to_str().unwrap()]);
    assert!(out.status.success());
    let all = dir.join("all_nan.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&all, spec).unwrap();
    for _ in 0..44_100 {
        w.write_sample(f32::NAN).unwrap();
    }
    w.finalize().unwrap();
    let out = fixloop(&["analyze", all.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("all_nan.wav") && err.contains("not finite"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let profile = dir.join("p.json");
    let out = fixloop(&[
        "profile",
        "build",
        "--refs",
        dir.to_str().unwrap(),
        "--name",
        "nan",
        "--output",
        profile.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("some_nan.wav: {n} sample(s) were not finite")),
        "{err}"
    );
    assert!(
        err.contains("skipped") && err.contains("all_nan.wav"),
        "{err}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("from 2 of 3 tracks"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}
