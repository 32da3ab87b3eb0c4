//! The 150 Hz low-pass behind `low_end_width`.
//!
//! A 4th-order Linkwitz–Riley low-pass: two identical 2nd-order Butterworth sections
//! (Q = 1/√2, RBJ Audio EQ Cookbook coefficients, bilinear transform with the cutoff
//! pre-warped, [`FilterShape::LowPass`]), −6 dB at the cutoff and −24 dB/octave beyond it:
//! the low band a 150 Hz LR4 crossover (the common bass-mono crossover) would split off.

use super::biquad::{Biquad, Coefficients, FilterShape};

/// The cutoff of the low-end width measurement.
pub const LOW_END_CUTOFF_HZ: f64 = 150.0;

/// A Linkwitz–Riley 4th-order low-pass.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LowPassLr4 {
    sections: [Biquad; 2],
}

impl LowPassLr4 {
    pub(crate) fn new(cutoff_hz: f64, sample_rate_hz: f64) -> LowPassLr4 {
        let mut section = Biquad::default();
        section.set_coefficients(Coefficients::design(
            FilterShape::LowPass,
            cutoff_hz,
            std::f64::consts::FRAC_1_SQRT_2,
            0.0,
            sample_rate_hz,
        ));
        LowPassLr4 {
            sections: [section, section],
        }
    }

    pub(crate) fn reset(&mut self) {
        for s in &mut self.sections {
            s.reset();
        }
    }

    #[inline]
    pub(crate) fn process(&mut self, x: f64) -> f64 {
        let y = self.sections[0].process(x);
        self.sections[1].process(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gain_db(freq_hz: f64) -> f64 {
        let fs = 48_000.0;
        let mut f = LowPassLr4::new(LOW_END_CUTOFF_HZ, fs);
        let n = 48_000 * 2;
        let mut sum_in = 0.0;
        let mut sum_out = 0.0;
        for i in 0..n {
            let x = (2.0 * std::f64::consts::PI * freq_hz * i as f64 / fs).sin();
            let y = f.process(x);
            // Skip the first second (settling).
            if i >= 48_000 {
                sum_in += x * x;
                sum_out += y * y;
            }
        }
        10.0 * (sum_out / sum_in).log10()
    }

    #[test]
    fn linkwitz_riley_response() {
        // LR4 analytic response: |H| = 1 / (1 + (f/fc)^4), so −6.02 dB at fc,
        // ≈ 0 dB at fc/4 (−0.034 dB) and ≈ −48 dB two octaves above (−48.2 dB at 4·fc).
        assert!((gain_db(150.0) + 6.02).abs() < 0.05);
        assert!(gain_db(37.5).abs() < 0.05);
        assert!((gain_db(600.0) + 48.2).abs() < 0.5);
    }
}
