//! The fix stage: one filter per band of SPEC §1, mid/side width, output gain, in that
//! order, each smoothed toward its target so parameter changes do not click.
//!
//! **Bypass is exact.** A band whose gain is 0 dB and settled is skipped, not filtered with a
//! flat filter; with every setting neutral (0 dB, 0 dB per band, width 1) the stage does not
//! touch the samples at all, so the output is bit-identical to the input.
//!
//! **Band filters.** `sub_level` (20–60 Hz) is a low shelf with its corner at 60 Hz,
//! `air_level` (12–20 kHz) a high shelf with its corner at 12 kHz, and the five bands between
//! are peaking filters at the geometric centre of their edges with Q = centre / bandwidth.
//! A band's gain is the filter's gain at the centre (the shelf's plateau).

use super::bands::{BANDS, BAND_COUNT};
use super::biquad::{Biquad, Coefficients, FilterShape};
use super::mid_side;

/// Samples per smoothing step: targets move and coefficients are recomputed once per step.
const STEP_SAMPLES: usize = 32;

/// Time constant of the exponential parameter smoothing.
const SMOOTHING_MS: f64 = 10.0;

/// Largest output gain, band gain and width ratio the stage accepts (inputs are clamped).
const MAX_GAIN_DB: f32 = 24.0;
const MAX_WIDTH_RATIO: f32 = 4.0;

/// The settings of every fix the stage can apply.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixSettings {
    /// Output gain, dB (0 = bypassed).
    pub output_gain_db: f32,
    /// Gain of each band filter, dB, low to high (0 = bypassed).
    pub band_gain_db: [f32; BAND_COUNT],
    /// Side gain as a ratio (1 = bypassed).
    pub width_ratio: f32,
}

impl FixSettings {
    /// Every setting bypassed.
    pub const NEUTRAL: FixSettings = FixSettings {
        output_gain_db: 0.0,
        band_gain_db: [0.0; BAND_COUNT],
        width_ratio: 1.0,
    };

    /// The settings clamped to the stage's ranges, a non-finite value replaced by neutral.
    ///
    /// # Real-time safety
    ///
    /// Safe on the audio thread.
    pub fn sanitised(self) -> FixSettings {
        let gain = |g: f32| {
            if g.is_finite() {
                g.clamp(-MAX_GAIN_DB, MAX_GAIN_DB)
            } else {
                0.0
            }
        };
        FixSettings {
            output_gain_db: gain(self.output_gain_db),
            band_gain_db: self.band_gain_db.map(gain),
            width_ratio: if self.width_ratio.is_finite() {
                self.width_ratio.clamp(0.0, MAX_WIDTH_RATIO)
            } else {
                1.0
            },
        }
    }
}

/// Shape, frequency and Q of one band filter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandLayout {
    /// Filter shape.
    pub shape: FilterShape,
    /// Centre (peak) or corner (shelf) frequency, Hz.
    pub freq_hz: f64,
    /// Quality factor (peaks only; shelves use slope 1).
    pub q: f64,
}

impl BandLayout {
    /// The layout of the seven bands, low to high (see the module docs).
    pub fn all() -> [BandLayout; BAND_COUNT] {
        let mut out = [BandLayout {
            shape: FilterShape::Peak,
            freq_hz: 1000.0,
            q: 1.0,
        }; BAND_COUNT];
        for (i, band) in BANDS.into_iter().enumerate() {
            out[i] = if i == 0 {
                BandLayout {
                    shape: FilterShape::LowShelf,
                    freq_hz: band.high_hz,
                    q: std::f64::consts::FRAC_1_SQRT_2,
                }
            } else if i == BAND_COUNT - 1 {
                BandLayout {
                    shape: FilterShape::HighShelf,
                    freq_hz: band.low_hz,
                    q: std::f64::consts::FRAC_1_SQRT_2,
                }
            } else {
                let centre = (band.low_hz * band.high_hz).sqrt();
                BandLayout {
                    shape: FilterShape::Peak,
                    freq_hz: centre,
                    q: centre / (band.high_hz - band.low_hz),
                }
            };
        }
        out
    }

    /// The band index of the band whose edges are `low_hz`–`high_hz`, if one matches.
    pub fn index_of(low_hz: f64, high_hz: f64) -> Option<usize> {
        BANDS
            .iter()
            .position(|b| (b.low_hz - low_hz).abs() < 0.5 && (b.high_hz - high_hz).abs() < 0.5)
    }
}

/// The fix stage of one stereo channel pair. Allocation-free; sized at construction.
#[derive(Clone, Debug)]
pub struct FixStage {
    sample_rate_hz: f64,
    layout: [BandLayout; BAND_COUNT],
    current: FixSettings,
    filters: [[Biquad; 2]; BAND_COUNT],
    /// Fraction of the remaining distance covered per smoothing step.
    alpha: f32,
}

impl FixStage {
    /// A neutral stage for `sample_rate_hz` (a non-positive or non-finite rate falls back to 48 kHz).
    pub fn new(sample_rate_hz: f64) -> FixStage {
        let mut stage = FixStage {
            sample_rate_hz: 48_000.0,
            layout: BandLayout::all(),
            current: FixSettings::NEUTRAL,
            filters: [[Biquad::default(); 2]; BAND_COUNT],
            alpha: 1.0,
        };
        stage.set_sample_rate(sample_rate_hz);
        stage
    }

    /// Changes the sample rate and clears the state.
    ///
    /// # Real-time safety
    ///
    /// Safe on the audio thread (no allocation), but called from `activate()`.
    pub fn set_sample_rate(&mut self, sample_rate_hz: f64) {
        self.sample_rate_hz = if sample_rate_hz.is_finite() && sample_rate_hz > 0.0 {
            sample_rate_hz
        } else {
            48_000.0
        };
        let steps_per_second = self.sample_rate_hz / STEP_SAMPLES as f64;
        self.alpha = (1.0 - (-1000.0 / (SMOOTHING_MS * steps_per_second)).exp()) as f32;
        for band in 0..BAND_COUNT {
            self.redesign(band);
        }
        self.reset();
    }

    /// Clears the filter state (the smoothed settings are kept).
    ///
    /// # Real-time safety
    ///
    /// Safe on the audio thread.
    pub fn reset(&mut self) {
        for pair in &mut self.filters {
            for f in pair {
                f.reset();
            }
        }
    }

    /// Jumps the smoothed settings to `target` without a ramp (on activation and state load).
    ///
    /// # Real-time safety
    ///
    /// Safe on the audio thread.
    pub fn snap_to(&mut self, target: FixSettings) {
        self.current = target.sanitised();
        for band in 0..BAND_COUNT {
            self.redesign(band);
        }
    }

    /// The current (smoothed) settings.
    pub fn current(&self) -> FixSettings {
        self.current
    }

    /// Whether the stage is fully bypassed: every setting neutral and settled.
    pub fn is_bypassed(&self) -> bool {
        self.current == FixSettings::NEUTRAL
    }

    /// Processes a block in place, moving the settings toward `target`. `left` and `right`
    /// should have the same length; extra samples of the longer one are left untouched.
    ///
    /// Subnormal input is flushed to a zero of its sign before anything computes with it,
    /// and while any setting is active no subnormal sample is written (see
    /// [`super::subnormal`]); fully bypassed, every other sample is left bit for bit.
    ///
    /// # Real-time safety
    ///
    /// Allocation-, lock- and syscall-free; bounded time per sample.
    pub fn process(&mut self, left: &mut [f32], right: &mut [f32], target: FixSettings) {
        let target = target.sanitised();
        let frames = left.len().min(right.len());
        super::subnormal::flush_subnormals(&mut left[..frames]);
        super::subnormal::flush_subnormals(&mut right[..frames]);
        let mut start = 0;
        while start < frames {
            let end = (start + STEP_SAMPLES).min(frames);
            if self.current == FixSettings::NEUTRAL && target == FixSettings::NEUTRAL {
                // Exact bypass: nothing to smooth, nothing to filter.
                return;
            }
            self.step(&mut left[start..end], &mut right[start..end], &target);
            start = end;
        }
    }

    fn step(&mut self, left: &mut [f32], right: &mut [f32], target: &FixSettings) {
        let before = self.current;
        self.current.output_gain_db = approach(
            before.output_gain_db,
            target.output_gain_db,
            self.alpha,
            1e-3,
        );
        self.current.width_ratio =
            approach(before.width_ratio, target.width_ratio, self.alpha, 1e-5);
        for band in 0..BAND_COUNT {
            let g = approach(
                before.band_gain_db[band],
                target.band_gain_db[band],
                self.alpha,
                1e-3,
            );
            if g != before.band_gain_db[band] {
                self.current.band_gain_db[band] = g;
                self.redesign(band);
            }
            if g == 0.0 && before.band_gain_db[band] == 0.0 {
                // Bypassed: start from silence when the band comes back.
                self.filters[band][0].reset();
                self.filters[band][1].reset();
            }
        }

        let frames = left.len();
        let gain_from = db_to_gain(before.output_gain_db);
        let gain_to = db_to_gain(self.current.output_gain_db);
        let (width_from, width_to) = (before.width_ratio, self.current.width_ratio);
        let width_active = width_from != 1.0 || width_to != 1.0;
        let gain_active = gain_from != 1.0 || gain_to != 1.0;

        for band in 0..BAND_COUNT {
            if before.band_gain_db[band] == 0.0 && self.current.band_gain_db[band] == 0.0 {
                continue;
            }
            let [fl, fr] = &mut self.filters[band];
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                *l = fl.tick(*l);
                *r = fr.tick(*r);
            }
            fl.recover();
            fr.recover();
        }
        if width_active {
            for (i, (l, r)) in left.iter_mut().zip(right.iter_mut()).enumerate() {
                let w = lerp(width_from, width_to, (i + 1) as f32 / frames as f32);
                (*l, *r) = mid_side::apply(*l, *r, w);
            }
        }
        if gain_active {
            for (i, (l, r)) in left.iter_mut().zip(right.iter_mut()).enumerate() {
                let g = lerp(gain_from, gain_to, (i + 1) as f32 / frames as f32);
                *l *= g;
                *r *= g;
            }
        }
        // A filter tail or a gain below 1 can turn a tiny normal sample subnormal.
        super::subnormal::flush_subnormals(left);
        super::subnormal::flush_subnormals(right);
    }

    fn redesign(&mut self, band: usize) {
        let layout = self.layout[band];
        let c = Coefficients::design(
            layout.shape,
            layout.freq_hz,
            layout.q,
            f64::from(self.current.band_gain_db[band]),
            self.sample_rate_hz,
        );
        for f in &mut self.filters[band] {
            f.set_coefficients(c);
        }
    }
}

/// Moves `current` a fraction `alpha` toward `target`, landing exactly on it once closer than `snap`.
#[inline]
fn approach(current: f32, target: f32, alpha: f32, snap: f32) -> f32 {
    let next = current + (target - current) * alpha;
    if (target - next).abs() < snap || !next.is_finite() {
        target
    } else {
        next
    }
}

#[inline]
fn lerp(from: f32, to: f32, t: f32) -> f32 {
    from + (to - from) * t
}

/// dB to linear amplitude; exactly 1 at 0 dB.
#[inline]
fn db_to_gain(db: f32) -> f32 {
    if db == 0.0 {
        1.0
    } else {
        10f32.powf(db / 20.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn noise(frames: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..frames)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1 << 24) as f32 - 0.5
            })
            .collect()
    }

    fn sine(freq_hz: f64, sr: f64, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| (0.5 * (2.0 * PI * freq_hz * i as f64 / sr).sin()) as f32)
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn neutral_stage_is_bit_exact_for_any_block_size() {
        let mut stage = FixStage::new(48_000.0);
        let (l0, r0) = (noise(4096, 1), noise(4096, 2));
        let (mut l, mut r) = (l0.clone(), r0.clone());
        let mut at = 0;
        for size in [0usize, 1, 63, 64, 512, 1024, 2432] {
            stage.process(
                &mut l[at..at + size],
                &mut r[at..at + size],
                FixSettings::NEUTRAL,
            );
            at += size;
        }
        assert_eq!(at, 4096);
        assert_eq!(l, l0);
        assert_eq!(r, r0);
    }

    #[test]
    fn returning_to_neutral_becomes_bit_exact_again() {
        let mut stage = FixStage::new(44_100.0);
        let mut on = FixSettings::NEUTRAL;
        on.output_gain_db = -3.0;
        on.band_gain_db[2] = 4.0;
        on.width_ratio = 0.8;
        let (mut l, mut r) = (noise(8192, 3), noise(8192, 4));
        stage.process(&mut l, &mut r, on);
        assert!(!stage.is_bypassed());
        // Settle back to neutral (smoothing takes well under a second).
        let (mut l, mut r) = (noise(44_100, 5), noise(44_100, 6));
        stage.process(&mut l, &mut r, FixSettings::NEUTRAL);
        assert!(stage.is_bypassed());
        let (l0, r0) = (noise(2048, 7), noise(2048, 8));
        let (mut l, mut r) = (l0.clone(), r0.clone());
        stage.process(&mut l, &mut r, FixSettings::NEUTRAL);
        assert_eq!((l, r), (l0, r0));
    }

    #[test]
    fn band_gain_is_met_at_the_band_centre() {
        let sr = 48_000.0;
        let layout = BandLayout::all();
        for (band, layout_of_band) in layout.iter().enumerate().take(BAND_COUNT - 1).skip(1) {
            let mut stage = FixStage::new(sr);
            let mut s = FixSettings::NEUTRAL;
            s.band_gain_db[band] = -6.0;
            stage.snap_to(s);
            let x = sine(layout_of_band.freq_hz, sr, 48_000);
            let (mut l, mut r) = (x.clone(), x.clone());
            stage.process(&mut l, &mut r, s);
            let gain_db = 20.0 * (rms(&l[24_000..]) / rms(&x[24_000..])).log10();
            assert!((gain_db + 6.0).abs() < 0.05, "band {band}: {gain_db} dB");
        }
        assert_eq!(layout[0].shape, FilterShape::LowShelf);
        assert_eq!(layout[0].freq_hz, 60.0);
        assert_eq!(layout[6].shape, FilterShape::HighShelf);
        assert_eq!(layout[6].freq_hz, 12_000.0);
        // Mid band 500–2000 Hz: centre 1 kHz, Q = 1000 / 1500.
        assert!((layout[3].freq_hz - 1000.0).abs() < 1e-9);
        assert!((layout[3].q - 1000.0 / 1500.0).abs() < 1e-12);
    }

    #[test]
    fn gain_and_width_reach_their_targets() {
        let sr = 48_000.0;
        let mut stage = FixStage::new(sr);
        let mut s = FixSettings::NEUTRAL;
        s.output_gain_db = -6.0;
        s.width_ratio = 0.5;
        let (l0, r0) = (noise(48_000, 9), noise(48_000, 10));
        let (mut l, mut r) = (l0.clone(), r0.clone());
        stage.process(&mut l, &mut r, s);
        assert_eq!(stage.current(), s);
        let g = 10f32.powf(-6.0 / 20.0);
        for i in 47_000..48_000 {
            let (el, er) = mid_side::apply(l0[i], r0[i], 0.5);
            assert!((l[i] - el * g).abs() < 1e-6);
            assert!((r[i] - er * g).abs() < 1e-6);
        }
    }

    #[test]
    fn changes_are_smoothed_not_stepped() {
        let mut stage = FixStage::new(48_000.0);
        let mut s = FixSettings::NEUTRAL;
        s.output_gain_db = -20.0;
        let (mut l, mut r) = (vec![1.0f32; 64], vec![1.0f32; 64]);
        stage.process(&mut l, &mut r, s);
        // The first samples barely move; the level falls monotonically.
        assert!(l[0] > 0.95);
        assert!(l.windows(2).all(|w| w[1] <= w[0]));
        assert!(l[63] > 0.1);
    }

    #[test]
    fn nan_settings_and_nan_audio_do_not_stick() {
        let mut stage = FixStage::new(48_000.0);
        let mut s = FixSettings::NEUTRAL;
        s.output_gain_db = f32::NAN;
        s.width_ratio = f32::INFINITY;
        assert_eq!(s.sanitised(), FixSettings::NEUTRAL);
        s = FixSettings::NEUTRAL;
        s.band_gain_db[3] = 6.0;
        stage.snap_to(s);
        let (mut l, mut r) = (vec![f32::NAN; 64], vec![0.0f32; 64]);
        stage.process(&mut l, &mut r, s);
        let (mut l, mut r) = (noise(64, 11), noise(64, 12));
        stage.process(&mut l, &mut r, s);
        assert!(l.iter().chain(&r).all(|v| v.is_finite()));
    }

    #[test]
    fn band_lookup_by_edges() {
        assert_eq!(BandLayout::index_of(60.0, 250.0), Some(1));
        assert_eq!(BandLayout::index_of(12_000.0, 20_000.0), Some(6));
        assert_eq!(BandLayout::index_of(100.0, 200.0), None);
    }
}
