//! Helpers shared by the integration tests: test signals for the analysis tests, temporary
//! directories and fixes for the store tests.
#![allow(dead_code)]

use fixloop::features::{Analyser, FeatureVector};
use fixloop::features::{Feature, FixType};
use fixloop::feedback::records::FixId;
use fixloop::store::AppliedFix;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!(
            "fixloop-{tag}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fix whose id is `id` and whose values are derived from `n`.
pub fn fix(id: &str, n: u64) -> AppliedFix {
    AppliedFix {
        fix_id: FixId::new(id).unwrap(),
        feature: Feature::BassLevel,
        fix_type: FixType::EqBandCut,
        original_value: -3.0 - n as f64 * 0.001,
        target_value: -6.0,
        applied_value: -4.5,
        gap_before: 1.5,
        was_applied: true,
    }
}

/// Segment files of a directory, sorted.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| fixloop::store::is_segment_name(p))
        .collect();
    v.sort();
    v
}

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

/// Seeded randomness for tests: the library's SplitMix64 with the helpers tests use.
pub struct Rng(fixloop::rng::SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(fixloop::rng::SplitMix64::new(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0.next_f64()
    }
    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        self.0.next_normal()
    }
}

/// White Gaussian noise with RMS `rms`.
pub fn noise(rng: &mut Rng, n: usize, rms: f64) -> Vec<f32> {
    (0..n).map(|_| (rms * rng.normal()) as f32).collect()
}

/// The decoding and response tests' signal: independent noise at −26 dBFS RMS on each
/// channel and a 220 Hz sine at −12 dBFS, full on the left, 0.7 of it on the right.
pub fn noise_and_tone(rate: u32, seconds: f64) -> (Vec<f32>, Vec<f32>) {
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

/// The features of planar stereo rendered through the plugin's fix stage at `settings`
/// (snapped, no ramp) in blocks of 512 frames.
pub fn render_through(
    rate: u32,
    settings: fixloop::dsp::FixSettings,
    left: &[f32],
    right: &[f32],
) -> FeatureVector {
    let mut stage = fixloop::dsp::FixStage::new(rate as f64);
    stage.snap_to(settings);
    let (mut l, mut r) = (left.to_vec(), right.to_vec());
    for (bl, br) in l.chunks_mut(512).zip(r.chunks_mut(512)) {
        stage.process(bl, br, settings);
    }
    analyse(rate, &l, &r)
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

/// What an engineer reading a fix list checks (issue: a plan producers keep), as an error
/// naming the fix:
///
/// - a band fix moves the band of the feature it names (no band level fixed by another
///   band's control), and says so (its `serves` lists no other band's level);
/// - every fix with a target moves its own feature toward that target and not past it
///   (`new_value` between `current_value` and `target_value`, a thousandth of the feature's
///   spread of slack for the bisection).
pub fn engineer_reads(
    profile: &fixloop::profile::Profile,
    fixes: &[fixloop::fixes::Fix],
) -> Result<(), String> {
    use fixloop::dsp::BandLayout;
    use fixloop::fixes::FixSetting;
    for fix in fixes {
        let text = fix.describe();
        if let FixSetting::EqBand {
            low_hz, high_hz, ..
        } = fix.setting
        {
            let band = BandLayout::index_of(low_hz, high_hz)
                .ok_or_else(|| format!("{text}: not a band of the fix stage"))?;
            let own = Feature::BANDS[band];
            if fix.gap_feature != own {
                return Err(format!("{text}: a band move for {:?}", fix.gap_feature));
            }
            if let Some(other) = fix
                .serves
                .iter()
                .find(|s| Feature::BANDS.contains(s) && **s != own)
            {
                return Err(format!("{text}: serves another band, {other:?}"));
            }
        }
        if matches!(
            fix.setting,
            FixSetting::AddContent { .. } | FixSetting::AddWidth
        ) {
            continue;
        }
        let spread = profile
            .stats(fix.gap_feature)
            .map_or(1.0, |s| s.std.max(1e-9));
        let (x, y, t) = (fix.current_value, fix.new_value, fix.target_value);
        let slack = 1e-3 * spread;
        if (t - x).abs() <= slack {
            continue;
        }
        let toward = (y - x) * (t - x) > 0.0;
        let not_past = (y - x).abs() <= (t - x).abs() + slack;
        if !(toward && not_past) {
            return Err(format!(
                "{text}: {:?} {x} → {y}, target {t}",
                fix.gap_feature
            ));
        }
    }
    Ok(())
}
