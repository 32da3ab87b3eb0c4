//! Second-order IIR filters (transposed direct form II, `f64` state) with the low-pass,
//! peaking and shelving designs of R. Bristow-Johnson's "Cookbook formulae for audio EQ
//! biquad filter coefficients" (W3C Audio EQ Cookbook; bilinear transform with the
//! frequency pre-warped). A shelf uses slope S = 1. The one biquad of the crate: the
//! analyser's crossover and the fix stage's band filters are both built from it.

use std::f64::consts::PI;

/// The response shape of a band filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterShape {
    /// Passes everything below the cutoff (−3 dB there at Q = 1/√2: Butterworth); gain unused.
    LowPass,
    /// Boosts or cuts everything below the corner (half the gain at the corner).
    LowShelf,
    /// Boosts or cuts a band around the centre (the full gain at the centre).
    Peak,
    /// Boosts or cuts everything above the corner (half the gain at the corner).
    HighShelf,
}

/// Normalised biquad coefficients (`a0` = 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coefficients {
    /// Feed-forward coefficient of `x[n]`.
    pub b0: f64,
    /// Feed-forward coefficient of x[n−1].
    pub b1: f64,
    /// Feed-forward coefficient of x[n−2].
    pub b2: f64,
    /// Feedback coefficient of y[n−1].
    pub a1: f64,
    /// Feedback coefficient of y[n−2].
    pub a2: f64,
}

impl Coefficients {
    /// The identity filter.
    pub const IDENTITY: Coefficients = Coefficients {
        b0: 1.0,
        b1: 0.0,
        b2: 0.0,
        a1: 0.0,
        a2: 0.0,
    };

    /// Designs `shape` at `freq_hz` with quality `q` and gain `gain_db` for `sample_rate_hz`.
    /// The frequency is clamped below Nyquist (to 0.45 × the sample rate) and `q` to a sane
    /// minimum, so any finite input gives a stable filter; a non-finite input gives the identity.
    ///
    /// # Real-time safety
    ///
    /// Pure arithmetic; safe on the audio thread.
    pub fn design(
        shape: FilterShape,
        freq_hz: f64,
        q: f64,
        gain_db: f64,
        sample_rate_hz: f64,
    ) -> Coefficients {
        let usable = freq_hz.is_finite()
            && q.is_finite()
            && gain_db.is_finite()
            && sample_rate_hz.is_finite()
            && sample_rate_hz > 0.0;
        if !usable {
            return Coefficients::IDENTITY;
        }
        let freq_hz = freq_hz.clamp(1.0, 0.45 * sample_rate_hz);
        let q = q.max(0.05);
        let a = 10f64.powf(gain_db / 40.0);
        let w0 = 2.0 * PI * freq_hz / sample_rate_hz;
        let (sin_w0, cos_w0) = w0.sin_cos();
        let (b0, b1, b2, a0, a1, a2) = match shape {
            FilterShape::LowPass => {
                let alpha = sin_w0 / (2.0 * q);
                (
                    (1.0 - cos_w0) / 2.0,
                    1.0 - cos_w0,
                    (1.0 - cos_w0) / 2.0,
                    1.0 + alpha,
                    -2.0 * cos_w0,
                    1.0 - alpha,
                )
            }
            FilterShape::Peak => {
                let alpha = sin_w0 / (2.0 * q);
                (
                    1.0 + alpha * a,
                    -2.0 * cos_w0,
                    1.0 - alpha * a,
                    1.0 + alpha / a,
                    -2.0 * cos_w0,
                    1.0 - alpha / a,
                )
            }
            FilterShape::LowShelf | FilterShape::HighShelf => {
                // Slope S = 1: alpha = sin(w0)/2 · √2.
                let alpha = sin_w0 / 2.0 * std::f64::consts::SQRT_2;
                let k = 2.0 * a.sqrt() * alpha;
                if shape == FilterShape::LowShelf {
                    (
                        a * ((a + 1.0) - (a - 1.0) * cos_w0 + k),
                        2.0 * a * ((a - 1.0) - (a + 1.0) * cos_w0),
                        a * ((a + 1.0) - (a - 1.0) * cos_w0 - k),
                        (a + 1.0) + (a - 1.0) * cos_w0 + k,
                        -2.0 * ((a - 1.0) + (a + 1.0) * cos_w0),
                        (a + 1.0) + (a - 1.0) * cos_w0 - k,
                    )
                } else {
                    (
                        a * ((a + 1.0) + (a - 1.0) * cos_w0 + k),
                        -2.0 * a * ((a - 1.0) + (a + 1.0) * cos_w0),
                        a * ((a + 1.0) + (a - 1.0) * cos_w0 - k),
                        (a + 1.0) - (a - 1.0) * cos_w0 + k,
                        2.0 * ((a - 1.0) - (a + 1.0) * cos_w0),
                        (a + 1.0) - (a - 1.0) * cos_w0 - k,
                    )
                }
            }
        };
        Coefficients {
            b0: b0 / a0,
            b1: b1 / a0,
            b2: b2 / a0,
            a1: a1 / a0,
            a2: a2 / a0,
        }
    }

    /// Magnitude of the frequency response at `freq_hz`, in dB.
    pub fn magnitude_db(&self, freq_hz: f64, sample_rate_hz: f64) -> f64 {
        let w = 2.0 * PI * freq_hz / sample_rate_hz;
        // H(e^jw) = (b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ + a2 z⁻²), z⁻¹ = e^(−jw).
        let (c1, s1) = (w.cos(), -w.sin());
        let (c2, s2) = ((2.0 * w).cos(), -(2.0 * w).sin());
        let num = (
            self.b0 + self.b1 * c1 + self.b2 * c2,
            self.b1 * s1 + self.b2 * s2,
        );
        let den = (
            1.0 + self.a1 * c1 + self.a2 * c2,
            self.a1 * s1 + self.a2 * s2,
        );
        let power = (num.0 * num.0 + num.1 * num.1) / (den.0 * den.0 + den.1 * den.1);
        10.0 * power.log10()
    }
}

/// One biquad section with its state.
#[derive(Clone, Copy, Debug)]
pub struct Biquad {
    coefficients: Coefficients,
    z1: f64,
    z2: f64,
}

impl Default for Biquad {
    fn default() -> Self {
        Biquad {
            coefficients: Coefficients::IDENTITY,
            z1: 0.0,
            z2: 0.0,
        }
    }
}

impl Biquad {
    /// Replaces the coefficients, keeping the state (so gain changes do not click).
    ///
    /// # Real-time safety
    ///
    /// Safe on the audio thread.
    pub fn set_coefficients(&mut self, coefficients: Coefficients) {
        self.coefficients = coefficients;
    }

    /// The current coefficients.
    pub fn coefficients(&self) -> Coefficients {
        self.coefficients
    }

    /// Clears the state.
    ///
    /// # Real-time safety
    ///
    /// Safe on the audio thread.
    pub fn reset(&mut self) {
        self.z1 = 0.0;
        self.z2 = 0.0;
    }

    /// Filters one sample.
    ///
    /// # Real-time safety
    ///
    /// Safe on the audio thread.
    #[inline]
    pub fn tick(&mut self, x: f32) -> f32 {
        self.process(f64::from(x)) as f32
    }

    /// Filters one `f64` sample.
    ///
    /// # Real-time safety
    ///
    /// Safe on the audio thread.
    #[inline]
    pub fn process(&mut self, x: f64) -> f64 {
        let c = &self.coefficients;
        let y = c.b0 * x + self.z1;
        self.z1 = c.b1 * x - c.a1 * y + self.z2;
        self.z2 = c.b2 * x - c.a2 * y;
        y
    }

    /// Clears the state if a non-finite input has poisoned it, so one NaN sample does not
    /// silence the channel for good, and returns whether it did. Also clears a state
    /// that has decayed below [`STATE_FLOOR`](super::subnormal::STATE_FLOOR) (−400 dB),
    /// so a filter fed silence never reaches the slow subnormal range. Call it once a
    /// block.
    ///
    /// # Real-time safety
    ///
    /// Safe on the audio thread.
    pub fn recover(&mut self) -> bool {
        if self.z1.is_finite() && self.z2.is_finite() {
            self.z1 = super::subnormal::flush_state(self.z1);
            self.z2 = super::subnormal::flush_state(self.z2);
            false
        } else {
            self.reset();
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steady-state gain of a sine through the filter, in dB (RMS after the transient).
    fn measured_gain_db(c: Coefficients, freq_hz: f64, sample_rate_hz: f64) -> f64 {
        let mut f = Biquad::default();
        f.set_coefficients(c);
        let n = sample_rate_hz as usize; // one second
        let (mut e_in, mut e_out) = (0.0, 0.0);
        for i in 0..n {
            let x = (2.0 * PI * freq_hz * i as f64 / sample_rate_hz).sin() as f32;
            let y = f.tick(x);
            if i >= n / 2 {
                e_in += f64::from(x) * f64::from(x);
                e_out += f64::from(y) * f64::from(y);
            }
        }
        10.0 * (e_out / e_in).log10()
    }

    #[test]
    fn peak_has_its_full_gain_at_the_centre() {
        // RBJ peaking EQ: |H| = A² at w0, i.e. exactly gain_db there.
        for &(gain_db, sr) in &[(6.0, 48_000.0), (-4.5, 44_100.0), (12.0, 96_000.0)] {
            let c = Coefficients::design(FilterShape::Peak, 1000.0, 0.7, gain_db, sr);
            assert!((c.magnitude_db(1000.0, sr) - gain_db).abs() < 1e-9);
            let measured = measured_gain_db(c, 1000.0, sr);
            assert!((measured - gain_db).abs() < 0.05, "{measured} vs {gain_db}");
            // Far from the centre the peak leaves the signal alone.
            assert!(c.magnitude_db(20.0, sr).abs() < 0.2);
        }
    }

    #[test]
    fn shelves_have_half_gain_at_the_corner_and_full_gain_beyond() {
        let sr = 48_000.0;
        let low = Coefficients::design(FilterShape::LowShelf, 60.0, 0.7, -6.0, sr);
        assert!((low.magnitude_db(60.0, sr) + 3.0).abs() < 1e-6);
        assert!((low.magnitude_db(5.0, sr) + 6.0).abs() < 0.1);
        assert!(low.magnitude_db(2000.0, sr).abs() < 0.05);
        let high = Coefficients::design(FilterShape::HighShelf, 12_000.0, 0.7, 4.0, sr);
        assert!((high.magnitude_db(12_000.0, sr) - 2.0).abs() < 1e-6);
        assert!(high.magnitude_db(200.0, sr).abs() < 0.05);
        assert!(high.magnitude_db(21_000.0, sr) > 3.5);
    }

    #[test]
    fn butterworth_low_pass_is_3_db_down_at_the_cutoff() {
        // 2nd-order Butterworth: |H(fc)|² = 1/2 (−3.01 dB), |H| ≈ 1 far below it.
        let sr = 48_000.0;
        let c = Coefficients::design(
            FilterShape::LowPass,
            150.0,
            std::f64::consts::FRAC_1_SQRT_2,
            0.0,
            sr,
        );
        assert!((c.magnitude_db(150.0, sr) + 3.0103).abs() < 1e-3);
        assert!(c.magnitude_db(10.0, sr).abs() < 1e-3);
    }

    #[test]
    fn zero_gain_designs_a_flat_response() {
        for shape in [
            FilterShape::LowShelf,
            FilterShape::Peak,
            FilterShape::HighShelf,
        ] {
            let c = Coefficients::design(shape, 500.0, 1.0, 0.0, 44_100.0);
            for f in [30.0, 500.0, 10_000.0] {
                assert!(c.magnitude_db(f, 44_100.0).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn bad_design_inputs_give_a_stable_or_identity_filter() {
        assert_eq!(
            Coefficients::design(FilterShape::Peak, f64::NAN, 1.0, 3.0, 48_000.0),
            Coefficients::IDENTITY
        );
        assert_eq!(
            Coefficients::design(FilterShape::Peak, 1000.0, 1.0, 3.0, 0.0),
            Coefficients::IDENTITY
        );
        // Above Nyquist: clamped, still finite.
        let c = Coefficients::design(FilterShape::HighShelf, 30_000.0, 0.0, 6.0, 22_050.0);
        assert!([c.b0, c.b1, c.b2, c.a1, c.a2].iter().all(|v| v.is_finite()));
    }

    #[test]
    fn nan_input_poisons_then_recovers() {
        let mut f = Biquad::default();
        f.set_coefficients(Coefficients::design(
            FilterShape::Peak,
            1000.0,
            1.0,
            6.0,
            48_000.0,
        ));
        f.tick(f32::NAN);
        assert!(f.recover());
        assert!(f.tick(0.5).is_finite());
        assert!(!f.recover());
    }
}
