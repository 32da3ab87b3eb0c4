//! Long-term average power spectrum of L and R, for the band levels and the spectral
//! centroid.
//!
//! Definition: frames of `frame_len` samples (the power of two at or above 0.34 s:
//! 16384 at 44.1/48 kHz, 32768 at 88.2/96 kHz), hop `frame_len / 2`, periodic 4-term
//! Blackman–Harris window (side lobes below −92 dB, so a tone cannot leak into a band it
//! is not in), real FFT of L and of R; `|X_L[k]|² + |X_R[k]|²` is summed over all frames.
//! A band's energy is the sum of the bins it covers, the edge bins weighted by the fraction
//! of their width (`[k − ½, k + ½)·Δf`) that lies inside the band, so white noise gives a
//! band exactly its share of the bandwidth. Frames are taken from the start of the audio;
//! the samples after the last full frame (less than one hop) are not analysed.
//!
//! The side signal's power `|X_L[k] − X_R[k]|²/4` is summed the same way, so the fix
//! plan's response model knows how much of each part of the spectrum a width change acts
//! on ([`super::SpectrumProfile`]).

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// Frame length in samples for `sample_rate_hz`.
pub(crate) fn frame_len_for(sample_rate_hz: u32) -> usize {
    ((sample_rate_hz as f64 * 0.34).ceil() as usize).next_power_of_two()
}

pub(crate) struct Spectrum {
    frame_len: usize,
    hop: usize,
    bin_hz: f64,
    nyquist_hz: f64,
    window: Vec<f32>,
    ring_l: Vec<f32>,
    ring_r: Vec<f32>,
    write_pos: usize,
    filled: usize,
    since_frame: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    input: Vec<f32>,
    output: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    power_sum: Vec<f64>,
    side_sum: Vec<f64>,
    /// `|X_L|² − |X_R|²` summed: the channels' level imbalance.
    imbalance_sum: Vec<f64>,
    /// The left channel's spectrum of the frame being analysed.
    output_l: Vec<Complex<f32>>,
    frames: u64,
}

impl Spectrum {
    pub(crate) fn new(sample_rate_hz: u32) -> Spectrum {
        let frame_len = frame_len_for(sample_rate_hz);
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(frame_len);
        let n = frame_len as f64;
        let window = (0..frame_len)
            .map(|i| {
                let x = 2.0 * std::f64::consts::PI * i as f64 / n;
                (0.35875 - 0.48829 * x.cos() + 0.14128 * (2.0 * x).cos()
                    - 0.01168 * (3.0 * x).cos()) as f32
            })
            .collect();
        Spectrum {
            frame_len,
            hop: frame_len / 2,
            bin_hz: sample_rate_hz as f64 / n,
            nyquist_hz: sample_rate_hz as f64 / 2.0,
            window,
            ring_l: vec![0.0; frame_len],
            ring_r: vec![0.0; frame_len],
            write_pos: 0,
            filled: 0,
            since_frame: 0,
            input: fft.make_input_vec(),
            output: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            power_sum: vec![0.0; frame_len / 2 + 1],
            side_sum: vec![0.0; frame_len / 2 + 1],
            imbalance_sum: vec![0.0; frame_len / 2 + 1],
            output_l: vec![Complex::new(0.0, 0.0); frame_len / 2 + 1],
            frames: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.ring_l.fill(0.0);
        self.ring_r.fill(0.0);
        self.write_pos = 0;
        self.filled = 0;
        self.since_frame = 0;
        self.power_sum.fill(0.0);
        self.side_sum.fill(0.0);
        self.imbalance_sum.fill(0.0);
        self.frames = 0;
    }

    /// Feeds one block. Real-time safe: copies into preallocated rings and runs the
    /// preplanned FFT with preallocated scratch.
    pub(crate) fn push(&mut self, left: &[f32], right: &[f32]) {
        let mut start = 0;
        let n = left.len().min(right.len());
        while start < n {
            // Copy up to the next frame boundary or the ring's end, whichever comes first.
            let until_frame = if self.filled < self.frame_len {
                self.frame_len - self.filled
            } else {
                self.hop - self.since_frame
            };
            let until_wrap = self.frame_len - self.write_pos;
            let take = (n - start).min(until_frame).min(until_wrap);
            let w = self.write_pos;
            self.ring_l[w..w + take].copy_from_slice(&left[start..start + take]);
            self.ring_r[w..w + take].copy_from_slice(&right[start..start + take]);
            self.write_pos = (w + take) % self.frame_len;
            if self.filled < self.frame_len {
                self.filled += take;
                if self.filled == self.frame_len {
                    self.since_frame = self.hop;
                }
            } else {
                self.since_frame += take;
            }
            if self.filled == self.frame_len && self.since_frame >= self.hop {
                self.analyse_frame();
                self.since_frame = 0;
            }
            start += take;
        }
    }

    fn analyse_frame(&mut self) {
        for channel in 0..2 {
            let ring = if channel == 0 {
                &self.ring_l
            } else {
                &self.ring_r
            };
            // The oldest sample sits at write_pos.
            let (newer, older) = ring.split_at(self.write_pos);
            let (head, tail) = self.input.split_at_mut(older.len());
            for ((dst, src), w) in head.iter_mut().zip(older).zip(&self.window) {
                *dst = src * w;
            }
            for ((dst, src), w) in tail.iter_mut().zip(newer).zip(&self.window[older.len()..]) {
                *dst = src * w;
            }
            // Lengths come from the plan itself, so this cannot fail.
            let _ =
                self.fft
                    .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch);
            for (acc, x) in self.power_sum.iter_mut().zip(&self.output) {
                let (re, im) = (x.re as f64, x.im as f64);
                *acc += re * re + im * im;
            }
            if channel == 0 {
                self.output_l.copy_from_slice(&self.output);
            } else {
                for (k, (r, l)) in self.output.iter().zip(&self.output_l).enumerate() {
                    let (re, im) = ((l.re - r.re) as f64, (l.im - r.im) as f64);
                    self.side_sum[k] += 0.25 * (re * re + im * im);
                    let (lp, rp) = (l.norm_sqr() as f64, r.norm_sqr() as f64);
                    self.imbalance_sum[k] += lp - rp;
                }
            }
        }
        self.frames += 1;
    }

    /// Number of analysed frames.
    pub(crate) fn frames(&self) -> u64 {
        self.frames
    }

    /// The upper edge of what can be measured (Nyquist frequency).
    pub(crate) fn nyquist_hz(&self) -> f64 {
        self.nyquist_hz
    }

    /// Summed power in `[low_hz, high_hz)`, and the power-weighted sum of bin frequencies.
    pub(crate) fn band(&self, low_hz: f64, high_hz: f64) -> BandSums {
        Self::sums(
            &self.power_sum,
            self.bin_hz,
            self.nyquist_hz,
            low_hz,
            high_hz,
        )
    }

    /// The side signal's summed power in `[low_hz, high_hz)` (on the scale of
    /// [`band`](Self::band)'s L+R power, which is twice mid plus side).
    pub(crate) fn side(&self, low_hz: f64, high_hz: f64) -> f64 {
        Self::sums(
            &self.side_sum,
            self.bin_hz,
            self.nyquist_hz,
            low_hz,
            high_hz,
        )
        .power
    }

    fn sums(
        power_sum: &[f64],
        bin_hz: f64,
        nyquist_hz: f64,
        low_hz: f64,
        high_hz: f64,
    ) -> BandSums {
        let high_hz = high_hz.min(nyquist_hz);
        let mut sums = BandSums::default();
        if high_hz <= low_hz {
            return sums;
        }
        let first = ((low_hz / bin_hz - 0.5).floor().max(0.0)) as usize;
        let last = ((high_hz / bin_hz + 0.5).ceil() as usize).min(power_sum.len() - 1);
        for (k, &bin_power) in power_sum.iter().enumerate().take(last + 1).skip(first) {
            let centre = k as f64 * bin_hz;
            let lo = (centre - 0.5 * bin_hz).max(low_hz);
            let hi = (centre + 0.5 * bin_hz).min(high_hz);
            if hi <= lo {
                continue;
            }
            let weight = (hi - lo) / bin_hz;
            let p = weight * bin_power;
            sums.power += p;
            sums.power_hz += p * centre;
        }
        sums
    }
}

/// Sums over the bins of one band.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BandSums {
    /// Σ weight·power.
    pub(crate) power: f64,
    /// Σ weight·power·frequency (Hz).
    pub(crate) power_hz: f64,
}

/// Parts of a band of the spectrum profile per octave.
const PARTS_PER_OCTAVE: f64 = 6.0;

/// A track's long-term spectrum in about sixth-octave parts of the seven bands, with how
/// much of each part is side signal: what the fix plan's response model needs to predict
/// how band gains and a width change move the features
/// ([`crate::fixes::response::ResponseModel`]). From [`super::Analyser::spectrum_profile`].
#[derive(Clone, Debug, PartialEq)]
pub struct SpectrumProfile {
    /// The parts, low to high; they tile 20 Hz up to Nyquist: the bands' parts up to the
    /// lower of 20 kHz and Nyquist, then (at rates above 40 kHz) the parts above 20 kHz,
    /// with band index 7.
    pub parts: Vec<SpectrumPart>,
}

/// One part of a [`SpectrumProfile`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectrumPart {
    /// Index of the band it belongs to (0 = sub … 6 = air; 7 = above 20 kHz).
    pub band: usize,
    /// Lower edge, Hz.
    pub low_hz: f64,
    /// Upper edge, Hz.
    pub high_hz: f64,
    /// Its power relative to the L+R power over 20 Hz–20 kHz (the bands' parts sum to 1).
    pub power_share: f64,
    /// The share of its L+R power that is side signal: `2·|S|² / (|L|² + |R|²)`, 0 for a
    /// mono part, 1 for a part with no mid.
    pub side_share: f64,
    /// The channels' level imbalance in it, `(|L|² − |R|²) / (|L|² + |R|²)` (−1…1).
    pub balance: f64,
}

impl Spectrum {
    /// The profile of what was analysed (`None` before the first frame or for silence).
    /// Allocates: for a background thread.
    pub(crate) fn profile(&self) -> Option<SpectrumProfile> {
        if self.frames == 0 {
            return None;
        }
        let mut parts = Vec::new();
        let above = crate::dsp::Band {
            low_hz: crate::dsp::Band::FULL.high_hz,
            high_hz: self.nyquist_hz,
        };
        let bands = crate::dsp::BANDS.iter().chain(std::iter::once(&above));
        for (b, band) in bands.enumerate() {
            let high = band.high_hz.min(self.nyquist_hz);
            if high <= band.low_hz {
                continue;
            }
            let octaves = (high / band.low_hz).log2();
            let n = (octaves * PARTS_PER_OCTAVE).ceil().max(1.0) as usize;
            for i in 0..n {
                let lo = band.low_hz * (high / band.low_hz).powf(i as f64 / n as f64);
                let hi = band.low_hz * (high / band.low_hz).powf((i + 1) as f64 / n as f64);
                let power = self.band(lo, hi).power;
                let side = self.side(lo, hi);
                let imbalance =
                    Self::sums(&self.imbalance_sum, self.bin_hz, self.nyquist_hz, lo, hi).power;
                parts.push(SpectrumPart {
                    band: b,
                    low_hz: lo,
                    high_hz: hi,
                    power_share: power,
                    side_share: if power > 0.0 {
                        (2.0 * side / power).clamp(0.0, 1.0)
                    } else {
                        0.0
                    },
                    balance: if power > 0.0 {
                        (imbalance / power).clamp(-1.0, 1.0)
                    } else {
                        0.0
                    },
                });
            }
        }
        let total: f64 = parts
            .iter()
            .filter(|p| p.band < crate::dsp::BAND_COUNT)
            .map(|p| p.power_share)
            .sum();
        if total.is_nan() || total <= 0.0 {
            return None;
        }
        for p in &mut parts {
            p.power_share /= total;
        }
        Some(SpectrumProfile { parts })
    }
}
