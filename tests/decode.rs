//! Offline analysis of files: decoding, equality with streaming, clear errors, profiles
//! from folders. WAV fixtures are written by the tests with `hound`.

mod common;

use common::*;
use fixloop::features::{
    analyze_file, decode_file, list_audio_files, Analyser, Feature, FeatureVector, Measurement,
    Progress,
};
use fixloop::profile::build_profile;
use fixloop::ErrorKind;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    let (l, r) = noise_and_tone(rate, 4.0);
    let path = dir.join("float.wav");
    write_wav_f32(&path, rate, 2, &interleave(&l, &r));
    let offline = analyze_file(&path).unwrap().features;
    for block in [1, 7, 64, 512, 4096] {
        let streaming = analyse_blocks(rate, &l, &r, block);
        assert_close(&offline, &streaming, 1e-9, &format!("block {block}"));
    }
}

#[test]
fn int16_wav_matches_streaming_of_the_quantised_samples() {
    let dir = scratch_dir("decode_i16");
    let rate = 48_000;
    let (l, r) = noise_and_tone(rate, 3.5);
    let path = dir.join("pcm16.wav");
    write_wav_i16(&path, rate, 2, &interleave(&l, &r));
    let q = |x: &[f32]| -> Vec<f32> { x.iter().map(|&s| to_i16(s) as f32 / 32768.0).collect() };
    let streaming = analyse_blocks(rate, &q(&l), &q(&r), 512);
    let offline = analyze_file(&path).unwrap().features;
    assert_close(&offline, &streaming, 1e-9, "16-bit");
}

#[test]
fn mono_wav_is_centred_stereo() {
    let dir = scratch_dir("decode_mono");
    let rate = 48_000;
    let (l, _) = noise_and_tone(rate, 3.5);
    let path = dir.join("mono.wav");
    write_wav_f32(&path, rate, 1, &l);
    let offline = analyze_file(&path).unwrap().features;
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
    let v = analyze_file(&truncated).unwrap().features;
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
        let (l, r) = noise_and_tone(rate, 3.2);
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
        let (l, r) = noise_and_tone(rate, 1.5);
        let path = dir.join(format!("r{rate}.wav"));
        write_wav_f32(&path, rate, 2, &interleave(&l, &r));
        let offline = analyze_file(&path).unwrap().features;
        let mut a = Analyser::new(rate, 2, 300).unwrap();
        a.process(&l, &r);
        assert_close(&offline, &a.features(), 1e-9, &format!("{rate} Hz"));
    }
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The samples of the committed fixtures (see tests/fixtures/README.md), as 16-bit values.
fn fixture_tone() -> Vec<f32> {
    let a = 10f64.powf(-20.0 / 20.0);
    (0..44_100)
        .map(|i| {
            let s =
                (a * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 44_100.0).sin() * 32768.0)
                    .round();
            s as f32 / 32768.0
        })
        .collect()
}

// Lossless: exactly the features of the source samples; and −20 LUFS, the loudness of a
// stereo 1 kHz sine at −20 dBFS peak (EBU Tech 3341's relation), ± 0.1.
#[test]
fn flac_fixture_decodes_losslessly() {
    let path = fixture("tone_1k_-20dBFS.flac");
    let offline = analyze_file(&path).unwrap().features;
    let x = fixture_tone();
    assert_close(&offline, &analyse_blocks(44_100, &x, &x, 512), 1e-9, "flac");
    assert!((offline.value(Feature::Loudness).unwrap() + 20.0).abs() <= 0.1);
}

// Lossy codecs: the tone survives, still centred, still 1 kHz, its loudness within 0.5 LU
// of the source's −20 LUFS (measured: −20.45 for the 128 kbit/s MP3, −19.95 for Vorbis q5;
// the codecs, not the analysis, move the level).
#[test]
fn mp3_and_vorbis_fixtures_decode() {
    for name in ["tone_1k_-20dBFS.mp3", "tone_1k_-20dBFS.ogg"] {
        let path = fixture(name);
        let info = decode_file(&path, |_, _| Ok(())).unwrap();
        assert_eq!((info.sample_rate_hz, info.channels), (44_100, 2), "{name}");
        // Gapless: the decoders drop the encoder delay and padding the files signal.
        assert_eq!(info.frames, 44_100, "{name}");
        let v = analyze_file(&path).unwrap().features;
        let loudness = v.value(Feature::Loudness).unwrap();
        assert!((loudness + 20.0).abs() <= 0.5, "{name}: {loudness}");
        assert!(v.value(Feature::StereoWidth).unwrap() < 0.05, "{name}");
        let c = v.value(Feature::SpectralCentroid).unwrap();
        assert!((c - 1000.0).abs() < 10.0, "{name}: {c}");
    }
}

/// A 16-bit AIFF file (EA IFF 85 / Apple AIFF 1.3): FORM/AIFF with COMM and SSND chunks,
/// big-endian samples, the sample rate as an 80-bit extended float.
fn write_aiff_i16(path: &std::path::Path, rate: u32, channels: u16, interleaved: &[f32]) {
    let frames = (interleaved.len() / channels as usize) as u32;
    let data_len = interleaved.len() as u32 * 2;
    let mut out = Vec::new();
    out.extend_from_slice(b"FORM");
    out.extend_from_slice(&(4 + 8 + 18 + 8 + 8 + data_len).to_be_bytes());
    out.extend_from_slice(b"AIFF");
    out.extend_from_slice(b"COMM");
    out.extend_from_slice(&18u32.to_be_bytes());
    out.extend_from_slice(&channels.to_be_bytes());
    out.extend_from_slice(&frames.to_be_bytes());
    out.extend_from_slice(&16u16.to_be_bytes());
    // 80-bit extended: sign+exponent (bias 16383), then a 64-bit mantissa with explicit 1.
    let bits = 31 - rate.leading_zeros();
    out.extend_from_slice(&((16_383 + bits) as u16).to_be_bytes());
    out.extend_from_slice(&((rate as u64) << (63 - bits)).to_be_bytes());
    out.extend_from_slice(b"SSND");
    out.extend_from_slice(&(8 + data_len).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    for &s in interleaved {
        out.extend_from_slice(&to_i16(s).to_be_bytes());
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn aiff_matches_streaming_of_the_quantised_samples() {
    let dir = scratch_dir("decode_aiff");
    let rate = 44_100;
    let (l, r) = noise_and_tone(rate, 2.0);
    let path = dir.join("track.aiff");
    write_aiff_i16(&path, rate, 2, &interleave(&l, &r));
    let q = |x: &[f32]| -> Vec<f32> { x.iter().map(|&s| to_i16(s) as f32 / 32768.0).collect() };
    let offline = analyze_file(&path).unwrap().features;
    assert_close(
        &offline,
        &analyse_blocks(rate, &q(&l), &q(&r), 512),
        1e-9,
        "aiff",
    );
}

// Damaged files: bytes overwritten in the middle of each encoded fixture. Whatever the
// decoder makes of them, analysis returns a result or an error, never a panic.
#[test]
fn damaged_files_never_panic() {
    let dir = scratch_dir("decode_damaged");
    let mut rng = Rng::new(5);
    for name in [
        "tone_1k_-20dBFS.flac",
        "tone_1k_-20dBFS.mp3",
        "tone_1k_-20dBFS.ogg",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for round in 0..8 {
            let mut damaged = bytes.clone();
            for _ in 0..(1 << round) {
                let i = (rng.next_u64() as usize) % damaged.len();
                damaged[i] = rng.next_u64() as u8;
            }
            let path = dir.join(format!("{round}_{name}"));
            std::fs::write(&path, &damaged).unwrap();
            if let Err(e) = analyze_file(&path) {
                assert!(e.to_string().contains(name), "{e}");
            }
        }
    }
}

#[test]
fn listing_a_missing_folder_names_it() {
    let dir = scratch_dir("list_missing").join("nope");
    let e = list_audio_files(&dir).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("nope"), "{e}");
}

#[test]
fn unsupported_sample_rate_is_an_error_naming_the_file() {
    let dir = scratch_dir("decode_rate");
    let path = dir.join("telephone.wav");
    write_wav_f32(&path, 4_000, 2, &vec![0.1; 2 * 4_000]);
    let e = error_of(&path);
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("4000 Hz"), "{e}");
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_does_not_hang_the_listing() {
    let dir = scratch_dir("list_loop");
    std::fs::create_dir_all(dir.join("a")).unwrap();
    write_wav_f32(&dir.join("a/x.wav"), 48_000, 2, &vec![0.1; 2 * 48_000]);
    std::os::unix::fs::symlink(&dir, dir.join("a/up")).unwrap();
    let files = list_audio_files(&dir).unwrap();
    assert!(!files.is_empty() && files.len() <= 2, "{files:?}");
}

/// Regression: a WAV with 100 NaN samples in 10 s of white noise measured a true peak of
/// +1.26 dBTP (the noise peaks near −6 dBTP), an all-NaN file −23.25 LUFS, and a NaN-bearing
/// reference moved a profile's true-peak statistics.
#[test]
fn non_finite_samples_in_files_are_silence_counted_and_a_mostly_nan_file_is_refused() {
    let dir = scratch_dir("decode_non_finite");
    let rate = 48_000;
    let n = 10 * rate as usize;
    let mut rng = Rng::new(7);
    // White noise at −20 dBFS RMS: its largest of 960 000 samples lies near
    // σ·√(2 ln n) ≈ 5.2 σ, i.e. about −5.7 dBFS.
    let (l, r) = (noise(&mut rng, n, 0.1), noise(&mut rng, n, 0.1));
    let mut clean = interleave(&l, &r);
    let mut poisoned = clean.clone();
    for k in 0..100 {
        let i = (k * 9_601 + 13) % poisoned.len();
        poisoned[i] = match k % 3 {
            0 => f32::NAN,
            1 => f32::INFINITY,
            _ => f32::NEG_INFINITY,
        };
        // What the repair must make of it: silence at exactly those samples.
        clean[i] = 0.0;
    }
    let (clean_path, bad_path) = (dir.join("clean.wav"), dir.join("poisoned.wav"));
    write_wav_f32(&clean_path, rate, 2, &clean);
    write_wav_f32(&bad_path, rate, 2, &poisoned);
    let want = analyze_file(&clean_path).unwrap();
    let got = analyze_file(&bad_path).unwrap();
    assert_eq!(got.info.non_finite_samples, 100);
    assert_eq!(want.info.non_finite_samples, 0);
    // Exactly the features of the file with silence in their place.
    assert_close(&got.features, &want.features, 0.0, "repaired");
    let peak = got.features.value(Feature::TruePeak).unwrap();
    assert!((-8.0..-4.0).contains(&peak), "true peak {peak} dBTP");

    // Mostly non-finite: refused, naming the file and the share.
    // Two samples in three NaN (66.7 %, over the 50 % limit).
    let mut mostly = poisoned.clone();
    for (i, x) in mostly.iter_mut().enumerate() {
        if i % 3 != 2 {
            *x = f32::NAN;
        }
    }
    let mostly_path = dir.join("mostly_nan.wav");
    write_wav_f32(&mostly_path, rate, 2, &mostly);
    let all_path = dir.join("all_nan.wav");
    write_wav_f32(&all_path, rate, 2, &vec![f32::NAN; 2 * rate as usize]);
    for path in [&mostly_path, &all_path] {
        let e = analyze_file(path).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Audio);
        let msg = e.to_string();
        assert!(msg.contains(path.to_str().unwrap()), "{msg}");
        assert!(msg.contains("not finite"), "{msg}");
    }

    // A profile from a NaN-bearing reference: its true-peak sample is the repaired
    // file's, and the repair is reported.
    let refs = dir.join("refs");
    std::fs::create_dir_all(&refs).unwrap();
    std::fs::copy(&bad_path, refs.join("poisoned.wav")).unwrap();
    std::fs::copy(&mostly_path, refs.join("mostly_nan.wav")).unwrap();
    let paths = list_audio_files(&refs).unwrap();
    let built = build_profile("p", &paths, &|_| {}).unwrap();
    assert_eq!(built.profile.track_count, 1);
    assert_eq!(built.repaired, vec![(refs.join("poisoned.wav"), 100)]);
    assert_eq!(built.failed.len(), 1);
    let tp = built.profile.stats(Feature::TruePeak).unwrap();
    assert_eq!(tp.samples.as_deref(), Some(&[peak][..]));
}

/// A WAV whose header sizes were never finalised (a streaming writer's or a crashed
/// recorder's): RIFF size 8 and `data` size 0, or both 0xFFFFFFFF. Read to the end of the
/// file, it gives exactly the features of the finalised file, and says it was repaired.
#[test]
fn a_wav_with_unfinalised_sizes_is_read_to_the_end_of_the_file() {
    let dir = scratch_dir("unfinalised");
    let (l, r) = noise_and_tone(48_000, 3.5);
    let good = dir.join("good.wav");
    write_wav_i16(&good, 48_000, 2, &interleave(&l, &r));
    let whole = analyze_file(&good).unwrap();
    assert!(!whole.info.header_unfinalised);
    let bytes = std::fs::read(&good).unwrap();
    // hound writes the canonical 44-byte header: RIFF size at 4, data size at 40.
    assert_eq!(&bytes[36..40], b"data");
    for (riff, data) in [(8u32, 0u32), (u32::MAX, u32::MAX), (0, 0)] {
        let mut patched = bytes.clone();
        patched[4..8].copy_from_slice(&riff.to_le_bytes());
        patched[40..44].copy_from_slice(&data.to_le_bytes());
        let path = dir.join(format!("unfinalised-{riff}-{data}.wav"));
        std::fs::write(&path, &patched).unwrap();
        let a = analyze_file(&path).unwrap();
        assert!(a.info.header_unfinalised, "{riff} {data}");
        assert_eq!(a.info.frames, whole.info.frames, "{riff} {data}");
        assert_eq!(a.features, whole.features, "{riff} {data}");
        // The command line analyses it too, with a warning naming the file.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fixloop"))
            .arg("analyze")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("never finalised") && err.contains(path.to_str().unwrap()),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
