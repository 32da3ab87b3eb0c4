//! Where features come from: the [`FeatureSource`] trait the background thread feeds with
//! the audio the plugin hears, and [`RunningSums`], a small built-in source.
//!
//! The library's streaming analyser (`fixloop::features::Analyser`, with the whole feature
//! set of SPEC §1) plugs in here: implement [`FeatureSource`] for it and return it from
//! [`default_source`].

use fixloop::features::{Absent, Feature, FeatureVector};

/// A streaming analyser of stereo audio. Called only from the plugin's background thread.
pub trait FeatureSource: Send {
    /// Prepares for audio at `sample_rate_hz` in blocks of at most `max_block_frames`,
    /// and forgets everything heard (called at each activation).
    fn prepare(&mut self, sample_rate_hz: f64, max_block_frames: usize);
    /// Analyses one block. Both slices have the same length; samples are finite (the caller
    /// replaces non-finite input by silence and counts it).
    fn process(&mut self, left: &[f32], right: &[f32]);
    /// The features of everything heard since the last `prepare` or `reset`.
    fn features(&self) -> FeatureVector;
    /// Forgets everything heard.
    fn reset(&mut self);
}

/// The source the plugin uses. The one place to swap in the library's streaming analyser.
pub fn default_source() -> Box<dyn FeatureSource> {
    Box::new(RunningSums::default())
}

/// A minimal source from running sums: `loudness` as BS.1770's channel sum without its
/// K-weighting or gating, −0.691 + 10·log10(ms(L) + ms(R)) with ms the mean square
/// (loudness-like, not loudness), `stereo_width` = RMS(side)/RMS(mid) capped at 10, and
/// `stereo_correlation` (zero-mean Pearson). Every other feature is reported absent
/// (not measured). Silence makes all three absent, never NaN.
#[derive(Clone, Debug, Default)]
pub struct RunningSums {
    frames: u64,
    sum_ll: f64,
    sum_rr: f64,
    sum_lr: f64,
    sum_mm: f64,
    sum_ss: f64,
}

/// Mean square below which audio counts as silence (−120 dBFS).
const SILENCE_MEAN_SQUARE: f64 = 1e-12;

impl FeatureSource for RunningSums {
    fn prepare(&mut self, _sample_rate_hz: f64, _max_block_frames: usize) {
        self.reset();
    }

    fn process(&mut self, left: &[f32], right: &[f32]) {
        for (&l, &r) in left.iter().zip(right) {
            let (l, r) = (f64::from(l), f64::from(r));
            let (m, s) = (0.5 * (l + r), 0.5 * (l - r));
            self.sum_ll += l * l;
            self.sum_rr += r * r;
            self.sum_lr += l * r;
            self.sum_mm += m * m;
            self.sum_ss += s * s;
        }
        self.frames += left.len().min(right.len()) as u64;
    }

    fn features(&self) -> FeatureVector {
        let mut v = FeatureVector::new();
        if self.frames == 0 {
            return v;
        }
        let n = self.frames as f64;
        let mean_square = (self.sum_ll + self.sum_rr) / n;
        if mean_square < SILENCE_MEAN_SQUARE {
            for f in [
                Feature::Loudness,
                Feature::StereoWidth,
                Feature::StereoCorrelation,
            ] {
                v.set_absent(f, Absent::Silence);
            }
            return v;
        }
        // Values below are finite by construction; `set` refuses anything else.
        let _ = v.set(Feature::Loudness, 10.0 * mean_square.log10() - 0.691);
        if self.sum_mm / n < SILENCE_MEAN_SQUARE {
            // Pure side signal: as wide as the cap allows.
            let _ = v.set(Feature::StereoWidth, 10.0);
        } else {
            let _ = v.set(
                Feature::StereoWidth,
                (self.sum_ss / self.sum_mm).sqrt().min(10.0),
            );
        }
        if self.sum_ll / n < SILENCE_MEAN_SQUARE || self.sum_rr / n < SILENCE_MEAN_SQUARE {
            v.set_absent(Feature::StereoCorrelation, Absent::SilentChannel);
        } else {
            let rho = self.sum_lr / (self.sum_ll * self.sum_rr).sqrt();
            let _ = v.set(Feature::StereoCorrelation, rho.clamp(-1.0, 1.0));
        }
        v
    }

    fn reset(&mut self) {
        *self = RunningSums::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_and_nothing_are_absent_not_nan() {
        let mut s = RunningSums::default();
        assert_eq!(s.features(), FeatureVector::new());
        s.process(&[0.0; 64], &[0.0; 64]);
        let v = s.features();
        assert_eq!(
            v.get(Feature::Loudness),
            fixloop::features::Measurement::Absent(Absent::Silence)
        );
        s.reset();
        s.process(&[0.5; 64], &[0.0; 64]);
        let v = s.features();
        assert_eq!(
            v.get(Feature::StereoCorrelation),
            fixloop::features::Measurement::Absent(Absent::SilentChannel)
        );
        assert!(v.value(Feature::Loudness).is_some());
    }

    #[test]
    fn known_values() {
        let mut s = RunningSums::default();
        s.prepare(48_000.0, 512);
        // L = 1, R = 0.5 (constant): ms(L) + ms(R) = 1.25; mid 0.75, side 0.25.
        s.process(&[1.0; 100], &[0.5; 100]);
        let v = s.features();
        let loud = 10.0 * (1.25f64).log10() - 0.691;
        assert!((v.value(Feature::Loudness).unwrap() - loud).abs() < 1e-12);
        assert!((v.value(Feature::StereoWidth).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((v.value(Feature::StereoCorrelation).unwrap() - 1.0).abs() < 1e-12);
        // Anti-phase: side only.
        s.reset();
        s.process(&[0.5; 10], &[-0.5; 10]);
        assert_eq!(s.features().value(Feature::StereoWidth), Some(10.0));
    }
}
