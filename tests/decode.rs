//! Offline analysis of files: decoding, equality with streaming, clear errors, profiles
//! from folders. WAV fixtures are written by the tests with `hound`.

mod common;

use common::*;
use fixloop::features::{
    analyze_file, build_profile, decode_file, list_audio_files, Analyser, Feature, FeatureVector,
    Measurement, Progress,
};
use fixloop::ErrorKind;
use std::sync::atomic::{AtomicUsize, Ordering};

fn test_signal(rate: u32, seconds: f64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(99);
    let n = (seconds * rate as f64) as usize;
    let tone = sine(rate, 220.0, -12.0, seconds, 0.0);
    let l = noise(&mut rng, n, 0.05)
        .iter()
        .zip(&tone)
        .map(|(a, b)| a + b)
        .collect();
    let r = noise(&mut rng, n, 0.05)
        .iter()
        .zip(&tone)
        .map(|(a, b)| a + 0.7 * b)
        .collect();
    (l, r)
}

fn assert_close(a: &FeatureVector, b: &FeatureVector, tol: f64, what: &str) {
    for f in Feature::ALL {
        match (a.get(f), b.get(f)) {
            (Measurement::Value(x), Measurement::Value(y)) => {
                assert!((x - y).abs() <= tol, "{what}: {f} {x} vs {y}")
            }
            (x, y) => assert_eq!(x, y, "{what}: {f}"),
        }
    }
}

#[test]
fn float_wav_gives_exactly_the_streaming_features() {
    let dir = scratch_dir("decode_float");
    let rate = 44_100;
    let (l, r) = test_signal(rate, 4.0);
    let path = dir.join("float.wav");
    write_wav_f32(&path, rate, 2, &interleave(&l, &r));
    let offline = analyze_file(&path).unwrap();
    for block in [1, 7, 64, 512, 4096] {
        let streaming = analyse_blocks(rate, &l, &r, block);
        assert_close(&offline, &streaming, 1e-9, &format!("block {block}"));
    }
}

#[test]
fn int16_wav_matches_streaming_of_the_quantised_samples() {
    let dir = scratch_dir("decode_i16");
    let rate = 48_000;
    let (l, r) = test_signal(rate, 3.5);
    let path = dir.join("pcm16.wav");
    write_wav_i16(&path, rate, 2, &interleave(&l, &r));
    let q = |x: &[f32]| -> Vec<f32> { x.iter().map(|&s| to_i16(s) as f32 / 32768.0).collect() };
    let streaming = analyse_blocks(rate, &q(&l), &q(&r), 512);
    let offline = analyze_file(&path).unwrap();
    assert_close(&offline, &streaming, 1e-9, "16-bit");
}

#[test]
fn mono_wav_is_centred_stereo() {
    let dir = scratch_dir("decode_mono");
    let rate = 48_000;
    let (l, _) = test_signal(rate, 3.5);
    let path = dir.join("mono.wav");
    write_wav_f32(&path, rate, 1, &l);
    let offline = analyze_file(&path).unwrap();
    assert_close(&offline, &analyse(rate, &l, &l), 1e-9, "mono");
    assert_eq!(offline.value(Feature::StereoWidth), Some(0.0));
}

#[test]
fn decode_file_reports_format_and_length() {
    let dir = scratch_dir("decode_info");
    let path = dir.join("a.wav");
    let x = vec![0.25f32; 2 * 96_000];
    write_wav_f32(&path, 96_000, 2, &x);
    let mut seen = 0usize;
    let info = decode_file(&path, |_, block| {
        seen += block.len();
        Ok(())
    })
    .unwrap();
    assert_eq!(info.sample_rate_hz, 96_000);
    assert_eq!(info.channels, 2);
    assert_eq!(info.frames, 96_000);
    assert_eq!(seen, x.len());
}

fn error_of(path: &std::path::Path) -> fixloop::Error {
    let e = analyze_file(path).unwrap_err();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        e.to_string().contains(&name),
        "error does not name the file: {e}"
    );
    e
}

#[test]
fn bad_files_give_clear_errors_naming_the_file() {
    let dir = scratch_dir("decode_errors");

    let missing = dir.join("missing.wav");
    assert_eq!(error_of(&missing).kind(), ErrorKind::Io);

    let empty = dir.join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let e = error_of(&empty);
    assert!(e.to_string().contains("empty"), "{e}");

    let text = dir.join("notes.wav");
    std::fs::write(&text, b"this is not audio at all, just some text").unwrap();
    assert_eq!(error_of(&text).kind(), ErrorKind::Unsupported);

    let short = dir.join("short.wav");
    write_wav_f32(&short, 48_000, 2, &vec![0.1; 2 * 4_800]);
    let e = error_of(&short);
    assert!(e.to_string().contains("too short"), "{e}");

    let header_only = dir.join("header_only.wav");
    write_wav_f32(&header_only, 48_000, 2, &[]);
    let e = error_of(&header_only);
    assert_eq!(e.kind(), ErrorKind::Audio, "{e}");

    let surround = dir.join("surround.wav");
    write_wav_f32(&surround, 48_000, 6, &vec![0.1; 6 * 48_000]);
    let e = error_of(&surround);
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("6 channels"), "{e}");

    let truncated = dir.join("truncated.wav");
    write_wav_f32(&truncated, 48_000, 2, &vec![0.1; 2 * 48_000]);
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2 + 3]).unwrap();
    // A cut-off file is analysed up to where it ends (0.5 s here).
    let v = analyze_file(&truncated).unwrap();
    assert!(v.value(Feature::Loudness).is_some());

    let folder = dir.join("folder.wav");
    std::fs::create_dir_all(&folder).unwrap();
    error_of(&folder);
}

#[test]
fn profile_from_a_folder_skips_and_reports_failures() {
    let dir = scratch_dir("profile_build");
    let rate = 44_100;
    for (i, gain) in [0.5f32, 0.25, 0.125].into_iter().enumerate() {
        let (l, r) = test_signal(rate, 3.2);
        let inter: Vec<f32> = interleave(&l, &r).iter().map(|s| s * gain).collect();
        let sub = if i == 0 { dir.join("sub") } else { dir.clone() };
        std::fs::create_dir_all(&sub).unwrap();
        write_wav_i16(&sub.join(format!("track{i}.WAV")), rate, 2, &inter);
    }
    std::fs::write(dir.join("broken.flac"), b"not flac").unwrap();
    std::fs::write(dir.join("readme.txt"), b"not audio").unwrap();
    std::fs::write(dir.join(".hidden.wav"), b"hidden").unwrap();

    let files = list_audio_files(&dir).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["broken.flac", "track0.WAV", "track1.WAV", "track2.WAV"]
    );

    let calls = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let progress = |p: Progress<'_>| {
        calls.fetch_add(1, Ordering::Relaxed);
        if !p.ok {
            failures.fetch_add(1, Ordering::Relaxed);
        }
        assert_eq!(p.total, 4);
        assert!(p.done >= 1 && p.done <= 4);
    };
    let built = build_profile("test", &files, &progress).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 4);
    assert_eq!(failures.load(Ordering::Relaxed), 1);
    assert_eq!(built.failed.len(), 1);
    assert!(built.failed[0].0.ends_with("broken.flac"));
    let p = &built.profile;
    assert_eq!(p.track_count, 3);
    p.validate().unwrap();
    // Gains of −6, −12, −18 dB: loudness mean is the middle one's, spaced 6 LU apart.
    let loud = p.stats(Feature::Loudness).unwrap();
    assert_eq!(loud.count, 3);
    assert!((loud.std - 6.02).abs() < 0.1, "{}", loud.std);
    // Band levels are relative, so independent of gain.
    assert!(p.stats(Feature::BassLevel).unwrap().std < 0.05);

    // Nothing analysable is an error, not an empty profile.
    assert!(build_profile("none", &[dir.join("broken.flac")], &|_| {}).is_err());
}

#[test]
fn analyser_and_file_agree_at_odd_sample_rates() {
    let dir = scratch_dir("decode_rates");
    for rate in [22_050u32, 32_000, 88_200] {
        let (l, r) = test_signal(rate, 1.5);
        let path = dir.join(format!("r{rate}.wav"));
        write_wav_f32(&path, rate, 2, &interleave(&l, &r));
        let offline = analyze_file(&path).unwrap();
        let mut a = Analyser::new(rate, 2, 300).unwrap();
        a.process(&l, &r);
        assert_close(&offline, &a.features(), 1e-9, &format!("{rate} Hz"));
    }
}
