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
        let high_hz = high_hz.min(self.nyquist_hz);
        let mut sums = BandSums::default();
        if high_hz <= low_hz {
            return sums;
        }
        let first = ((low_hz / self.bin_hz - 0.5).floor().max(0.0)) as usize;
        let last = ((high_hz / self.bin_hz + 0.5).ceil() as usize).min(self.power_sum.len() - 1);
        for k in first..=last {
            let centre = k as f64 * self.bin_hz;
            let lo = (centre - 0.5 * self.bin_hz).max(low_hz);
            let hi = (centre + 0.5 * self.bin_hz).min(high_hz);
            if hi <= lo {
                continue;
            }
            let weight = (hi - lo) / self.bin_hz;
            let p = weight * self.power_sum[k];
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
