//! The 150 Hz low-pass behind `low_end_width`.
//!
//! A 4th-order Linkwitz–Riley low-pass: two identical 2nd-order Butterworth sections
//! (Q = 1/√2, RBJ Audio EQ Cookbook coefficients, bilinear transform with the cutoff
//! pre-warped), −6 dB at the cutoff and −24 dB/octave beyond it: the low band a 150 Hz
//! LR4 crossover (the common bass-mono crossover) would split off. Computed in `f64`,
//! transposed direct form II.

/// The cutoff of the low-end width measurement.
pub const LOW_END_CUTOFF_HZ: f64 = 150.0;

#[derive(Clone, Copy, Debug)]
struct Biquad {
    b0: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    a2: f64,
    s1: f64,
    s2: f64,
}

impl Biquad {
    fn butterworth_low_pass(cutoff_hz: f64, sample_rate_hz: f64) -> Biquad {
        let w0 = 2.0 * std::f64::consts::PI * cutoff_hz / sample_rate_hz;
        let (sin, cos) = w0.sin_cos();
        let alpha = sin / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let a0 = 1.0 + alpha;
        Biquad {
            b0: (1.0 - cos) / 2.0 / a0,
            b1: (1.0 - cos) / a0,
            b2: (1.0 - cos) / 2.0 / a0,
            a1: -2.0 * cos / a0,
            a2: (1.0 - alpha) / a0,
            s1: 0.0,
            s2: 0.0,
        }
    }

    #[inline]
    fn process(&mut self, x: f64) -> f64 {
        let y = self.b0 * x + self.s1;
        self.s1 = self.b1 * x - self.a1 * y + self.s2;
        self.s2 = self.b2 * x - self.a2 * y;
        y
    }
}

/// A Linkwitz–Riley 4th-order low-pass.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LowPassLr4 {
    sections: [Biquad; 2],
}

impl LowPassLr4 {
    pub(crate) fn new(cutoff_hz: f64, sample_rate_hz: f64) -> LowPassLr4 {
        let section = Biquad::butterworth_low_pass(cutoff_hz, sample_rate_hz);
        LowPassLr4 {
            sections: [section, section],
        }
    }

    pub(crate) fn reset(&mut self) {
        for s in &mut self.sections {
            s.s1 = 0.0;
            s.s2 = 0.0;
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
