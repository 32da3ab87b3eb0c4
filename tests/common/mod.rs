//! Test signals and helpers shared by the analysis tests.
#![allow(dead_code)]

use fixloop::features::{Analyser, FeatureVector};
use std::f64::consts::PI;
use std::path::PathBuf;

pub const RATE: u32 = 48_000;

/// Linear amplitude of a level in dBFS.
pub fn db_to_amp(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// A sine of `seconds` at `freq_hz`, peak `peak_dbfs`, starting at phase `phase_rad`.
pub fn sine(rate: u32, freq_hz: f64, peak_dbfs: f64, seconds: f64, phase_rad: f64) -> Vec<f32> {
    let a = db_to_amp(peak_dbfs);
    let n = (seconds * rate as f64).round() as usize;
    (0..n)
        .map(|i| (a * (2.0 * PI * freq_hz * i as f64 / rate as f64 + phase_rad).sin()) as f32)
        .collect()
}

/// A small deterministic PRNG (xorshift64*), so tests need no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
    }
}

/// White Gaussian noise with RMS `rms`.
pub fn noise(rng: &mut Rng, n: usize, rms: f64) -> Vec<f32> {
    (0..n).map(|_| (rms * rng.normal()) as f32).collect()
}

/// Feeds planar stereo in blocks of `block` frames and returns the features.
pub fn analyse_blocks(rate: u32, left: &[f32], right: &[f32], block: usize) -> FeatureVector {
    let mut a = Analyser::new(rate, 2, block.max(1)).unwrap();
    for (l, r) in left.chunks(block).zip(right.chunks(block)) {
        a.process(l, r);
    }
    a.features()
}

pub fn analyse(rate: u32, left: &[f32], right: &[f32]) -> FeatureVector {
    analyse_blocks(rate, left, right, 512)
}

/// Concatenates segments.
pub fn concat(parts: &[Vec<f32>]) -> Vec<f32> {
    parts.iter().flatten().copied().collect()
}

/// A fresh, empty directory under the target's test scratch space.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes interleaved samples as a 32-bit float WAV.
pub fn write_wav_f32(path: &std::path::Path, rate: u32, channels: u16, interleaved: &[f32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in interleaved {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// Writes interleaved samples as a 16-bit PCM WAV (rounded, clipped).
pub fn write_wav_i16(path: &std::path::Path, rate: u32, channels: u16, interleaved: &[f32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in interleaved {
        w.write_sample(to_i16(s)).unwrap();
    }
    w.finalize().unwrap();
}

pub fn to_i16(s: f32) -> i16 {
    (s as f64 * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

pub fn interleave(left: &[f32], right: &[f32]) -> Vec<f32> {
    left.iter().zip(right).flat_map(|(&l, &r)| [l, r]).collect()
}
