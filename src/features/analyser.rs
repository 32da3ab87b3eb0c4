//! The streaming analyser: audio in, the [`FeatureVector`] of SPEC §1 out.
//!
//! [`Analyser::new`] allocates everything; the `process*` methods then never allocate,
//! lock or make a system call, so they may run on an audio thread. The result does not
//! depend on how the audio is cut into blocks: every window, hop and accumulator boundary
//! is counted in samples from the last [`Analyser::reset`], never in calls.
//!
//! Mono input counts as centred stereo (L = R): its loudness is that of the signal on both
//! speakers, 3 LU above BS.1770's single-channel reading. Non-finite input samples are
//! replaced by 0.
//!
//! `ebur128` runs in histogram mode: in its default mode it keeps block energies in a
//! queue that grows (an allocation inside `add_frames_*` after about 8 minutes). With
//! `Mode::HISTOGRAM` its state is fixed-size, and its true-peak path keeps per-channel
//! peaks inline for up to 16 channels, so feeding it does not allocate (checked by the
//! allocation test in `tests/realtime.rs`).
//!
//! # Definitions
//!
//! | feature | definition |
//! |---|---|
//! | `loudness` | `ebur128` integrated loudness (BS.1770-4: K-weighting, 400 ms blocks, 75 % overlap, −70 LUFS absolute and −10 LU relative gates), histogram mode; absent (`too_short`) under 0.4 s, absent (`silence`) when no block passes the absolute gate |
//! | `loudness_range` | `ebur128` LRA (EBU Tech 3342: 3 s short-term blocks every 1 s, −70 LUFS absolute and −20 LU relative gates, 10th to 95th percentile), histogram mode; absent under 3 s or for silence |
//! | `true_peak` | `ebur128` maximum true peak over both channels (BS.1770-4 Annex 2: 4× oversampling below 96 kHz, 2× below 192 kHz), in dBTP; absent for digital silence |
//! | `plr` | `true_peak − loudness` when both are present |
//! | band levels | `10·log10(E_band / E_full)` of the long-term power spectrum of L plus R (see [`spectrum`](super::spectrum): ≈0.34 s Blackman–Harris frames, 50 % hop, fractional edge bins), E_full over 20 Hz–20 kHz; floored at −120 dB; a band wholly above Nyquist is absent (`not_measured`) |
//! | `spectral_centroid` | `Σ f·P(f) / Σ P(f)` over the same spectrum within 20 Hz–20 kHz |
//! | `stereo_width` | `sqrt(Σ side² / Σ mid²)`, mid = (L+R)/2, side = (L−R)/2, over every sample; capped at 10 |
//! | `stereo_correlation` | Pearson correlation of L and R over every sample (means removed); absent when a channel's variance is below −120 dBFS |
//! | `low_end_width` | `stereo_width` of mid and side each through a 150 Hz Linkwitz–Riley 4th-order low-pass (see [`crossover`](crate::dsp::crossover)); absent (`silence`) when the low band is 60 dB below the whole ([`LOW_END_GATE`]) or below −120 dBFS |
//! | `modulation_depth` | see [`modulation`](super::modulation): median over 1 s windows of the 95th − 5th percentile of 10 ms mid levels |
//!
//! Signals whose mean square is below [`SILENCE_MEAN_SQUARE`] (−120 dBFS RMS) count as silent.

use super::modulation::Modulation;
use super::spectrum::Spectrum;
use super::{Absent, Band, Feature, FeatureVector};
use crate::dsp::crossover::{LowPassLr4, LOW_END_CUTOFF_HZ};
use crate::error::{Error, ErrorKind, Result};
use ebur128::{EbuR128, Mode};

/// Mean square (of a channel, mid, side or band) below which it counts as silent
/// (−120 dBFS RMS).
pub const SILENCE_MEAN_SQUARE: f64 = 1e-12;
/// `low_end_width` is absent (`silence`) when the low-passed mid and side energy is below
/// this fraction (−60 dB) of the full mid and side energy: with nothing below 150 Hz the
/// ratio would only measure the filter's leakage of higher content.
pub const LOW_END_GATE: f64 = 1e-6;
/// Stereo widths are capped here (SPEC §1), which also covers a pure-side signal.
pub const MAX_WIDTH: f64 = 10.0;
/// Band levels are floored here (dB relative to the full band).
pub const BAND_FLOOR_DB: f64 = -120.0;
/// Largest internal block (frames); a larger `max_block_frames` is reduced to this, and
/// longer input blocks are processed in pieces.
pub const MAX_BLOCK_FRAMES: usize = 1 << 16;
/// Lowest sample rate the analyser accepts (Hz).
pub const MIN_SAMPLE_RATE_HZ: u32 = 8_000;
/// Highest sample rate the analyser accepts (Hz).
pub const MAX_SAMPLE_RATE_HZ: u32 = 768_000;
/// Shortest audio with a loudness (one 400 ms gating block).
pub const MIN_LOUDNESS_SECONDS: f64 = 0.4;
/// Shortest audio with a loudness range (one 3 s short-term block).
pub const MIN_LRA_SECONDS: f64 = 3.0;

/// Running sums of the stereo features.
#[derive(Clone, Copy, Debug, Default)]
struct StereoSums {
    l: f64,
    r: f64,
    ll: f64,
    rr: f64,
    lr: f64,
    mid: f64,
    side: f64,
    low_mid: f64,
    low_side: f64,
}

impl StereoSums {
    fn add(&mut self, other: &StereoSums) {
        self.l += other.l;
        self.r += other.r;
        self.ll += other.ll;
        self.rr += other.rr;
        self.lr += other.lr;
        self.mid += other.mid;
        self.side += other.side;
        self.low_mid += other.low_mid;
        self.low_side += other.low_side;
    }
}

/// Streaming analyser of a stereo (or mono) signal into the 16 features of SPEC §1.
///
/// ```
/// use fixloop::features::{Analyser, Feature};
/// let mut a = Analyser::new(48_000, 2, 512).unwrap();
/// let tone: Vec<f32> = (0..48_000)
///     .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin())
///     .collect();
/// for block in tone.chunks(512) {
///     a.process(block, block);
/// }
/// let f = a.features();
/// assert_eq!(f.value(Feature::StereoWidth), Some(0.0));
/// ```
pub struct Analyser {
    sample_rate_hz: u32,
    channels: usize,
    max_block_frames: usize,
    scratch_l: Vec<f32>,
    scratch_r: Vec<f32>,
    loudness: EbuR128,
    spectrum: Spectrum,
    modulation: Modulation,
    low_mid: LowPassLr4,
    low_side: LowPassLr4,
    sums: StereoSums,
    partial: StereoSums,
    frames: u64,
}

impl std::fmt::Debug for Analyser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyser")
            .field("sample_rate_hz", &self.sample_rate_hz)
            .field("channels", &self.channels)
            .field("max_block_frames", &self.max_block_frames)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl Analyser {
    /// An analyser for `channels` (1 or 2) channels at `sample_rate_hz`
    /// ([`MIN_SAMPLE_RATE_HZ`]–[`MAX_SAMPLE_RATE_HZ`]). `max_block_frames` (clamped to
    /// 1…[`MAX_BLOCK_FRAMES`]) sizes the internal input buffer: longer blocks are accepted
    /// and processed in pieces of that size.
    ///
    /// Allocates about 0.5 MB at 48 kHz (FFT frames and scratch, the loudness meter's
    /// buffers, the modulation histogram). Call it off the audio thread.
    pub fn new(sample_rate_hz: u32, channels: usize, max_block_frames: usize) -> Result<Analyser> {
        if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&sample_rate_hz) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "sample rate {sample_rate_hz} Hz is outside {MIN_SAMPLE_RATE_HZ}–{MAX_SAMPLE_RATE_HZ} Hz"
                ),
            ));
        }
        if !(1..=2).contains(&channels) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("{channels} channels: the analyser takes mono or stereo audio"),
            ));
        }
        let max_block_frames = max_block_frames.clamp(1, MAX_BLOCK_FRAMES);
        let loudness = EbuR128::new(
            2,
            sample_rate_hz,
            Mode::I | Mode::LRA | Mode::TRUE_PEAK | Mode::HISTOGRAM,
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::Audio,
                format!("cannot create the loudness meter at {sample_rate_hz} Hz: {e}"),
            )
        })?;
        let rate = sample_rate_hz as f64;
        Ok(Analyser {
            sample_rate_hz,
            channels,
            max_block_frames,
            scratch_l: vec![0.0; max_block_frames],
            scratch_r: vec![0.0; max_block_frames],
            loudness,
            spectrum: Spectrum::new(sample_rate_hz),
            modulation: Modulation::new(sample_rate_hz),
            low_mid: LowPassLr4::new(LOW_END_CUTOFF_HZ, rate),
            low_side: LowPassLr4::new(LOW_END_CUTOFF_HZ, rate),
            sums: StereoSums::default(),
            partial: StereoSums::default(),
            frames: 0,
        })
    }

    /// The sample rate in Hz.
    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    /// The channel count [`process_interleaved`](Self::process_interleaved) expects (1 or 2).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The number of frames fed since the last reset.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Seconds of audio fed since the last reset.
    pub fn duration_seconds(&self) -> f64 {
        self.frames as f64 / self.sample_rate_hz as f64
    }

    /// Forgets everything fed so far.
    ///
    /// # Real-time safety
    ///
    /// No allocation, lock or system call; clears about 0.3 MB of state at 48 kHz, so
    /// prefer calling it outside the tightest blocks.
    pub fn reset(&mut self) {
        self.loudness.reset();
        self.spectrum.reset();
        self.modulation.reset();
        self.low_mid.reset();
        self.low_side.reset();
        self.sums = StereoSums::default();
        self.partial = StereoSums::default();
        self.frames = 0;
    }

    /// Feeds a block of planar stereo audio. If the slices differ in length, only the
    /// frames both have are used.
    ///
    /// # Real-time safety
    ///
    /// No allocation, lock or system call. Cost is linear in the block length, with one
    /// pair of FFTs every half frame (8192 samples at 44.1/48 kHz).
    pub fn process(&mut self, left: &[f32], right: &[f32]) {
        let n = left.len().min(right.len());
        let mut start = 0;
        while start < n {
            let take = (n - start).min(self.max_block_frames);
            sanitise(&mut self.scratch_l[..take], &left[start..start + take]);
            sanitise(&mut self.scratch_r[..take], &right[start..start + take]);
            self.process_scratch(take);
            start += take;
        }
    }

    /// Feeds a block of mono audio, analysed as centred stereo (L = R).
    ///
    /// # Real-time safety
    ///
    /// As [`process`](Self::process).
    pub fn process_mono(&mut self, samples: &[f32]) {
        let mut start = 0;
        while start < samples.len() {
            let take = (samples.len() - start).min(self.max_block_frames);
            sanitise(&mut self.scratch_l[..take], &samples[start..start + take]);
            self.scratch_r[..take].copy_from_slice(&self.scratch_l[..take]);
            self.process_scratch(take);
            start += take;
        }
    }

    /// Feeds interleaved audio of [`channels`](Self::channels) channels. A trailing
    /// partial frame is ignored.
    ///
    /// # Real-time safety
    ///
    /// As [`process`](Self::process).
    pub fn process_interleaved(&mut self, samples: &[f32]) {
        if self.channels == 1 {
            self.process_mono(samples);
            return;
        }
        let frames = samples.len() / 2;
        let mut start = 0;
        while start < frames {
            let take = (frames - start).min(self.max_block_frames);
            let src = &samples[2 * start..2 * (start + take)];
            for ((l, r), frame) in self.scratch_l[..take]
                .iter_mut()
                .zip(&mut self.scratch_r[..take])
                .zip(src.chunks_exact(2))
            {
                *l = finite_or_zero(frame[0]);
                *r = finite_or_zero(frame[1]);
            }
            self.process_scratch(take);
            start += take;
        }
    }

    fn process_scratch(&mut self, n: usize) {
        let left = &self.scratch_l[..n];
        let right = &self.scratch_r[..n];
        // Fails only for a zero-channel meter, which `new` never builds.
        let _ = self.loudness.add_frames_planar_f32(&[left, right]);
        self.spectrum.push(left, right);
        let mut start = 0;
        while start < n {
            // Runs end at 10 ms block boundaries, where the partial sums are folded in, so
            // the additions are the same whatever the caller's block size. Inside a run
            // everything lives in locals, which the compiler keeps in registers.
            let run = (n - start).min(self.modulation.frames_to_block_end());
            let mut p = self.partial;
            let mut low_mid_filter = self.low_mid;
            let mut low_side_filter = self.low_side;
            for (&l, &r) in left[start..start + run]
                .iter()
                .zip(&right[start..start + run])
            {
                let (l, r) = (l as f64, r as f64);
                let mid = 0.5 * (l + r);
                let side = 0.5 * (l - r);
                let low_mid = low_mid_filter.process(mid);
                let low_side = low_side_filter.process(side);
                p.l += l;
                p.r += r;
                p.ll += l * l;
                p.rr += r * r;
                p.lr += l * r;
                p.mid += mid * mid;
                p.side += side * side;
                p.low_mid += low_mid * low_mid;
                p.low_side += low_side * low_side;
            }
            self.low_mid = low_mid_filter;
            self.low_side = low_side_filter;
            if self.modulation.advance(run, p.mid) {
                self.sums.add(&p);
                self.partial = StereoSums::default();
            } else {
                self.partial = p;
            }
            start += run;
        }
        self.frames += n as u64;
    }

    /// The long-term spectrum in sixth-octave parts with their side-signal shares, for the
    /// fix plan's response model; `None` before the first spectrum frame or for silence.
    /// Allocates: for a background thread, not the audio thread.
    pub fn spectrum_profile(&self) -> Option<super::spectrum::SpectrumProfile> {
        self.spectrum.profile()
    }

    /// The features of everything fed since the last reset.
    ///
    /// May run on any thread (call it on a copy or under the owner's `&self`).
    ///
    /// # Real-time safety
    ///
    /// Allocation-free (tested), but walks the spectrum (≈8k bins) and the histograms
    /// (≈13k bins): some tens of microseconds. Meant for a background thread or a timer,
    /// not every audio block.
    pub fn features(&self) -> FeatureVector {
        let mut v = FeatureVector::new();
        let seconds = self.duration_seconds();
        if self.frames == 0 {
            for f in Feature::ALL {
                v.set_absent(f, Absent::TooShort);
            }
            return v;
        }

        // Loudness, LRA, true peak, PLR.
        let loudness = if seconds < MIN_LOUDNESS_SECONDS {
            Err(Absent::TooShort)
        } else {
            match self.loudness.loudness_global() {
                Ok(l) if l.is_finite() && l > -70.0 => Ok(l),
                _ => Err(Absent::Silence),
            }
        };
        put(&mut v, Feature::Loudness, loudness);
        let lra = match loudness {
            _ if seconds < MIN_LRA_SECONDS => Err(Absent::TooShort),
            Err(reason) => Err(reason),
            Ok(_) => self
                .loudness
                .loudness_range()
                .map_err(|_| Absent::NotMeasured),
        };
        put(&mut v, Feature::LoudnessRange, lra);
        let peak = (0..2)
            .filter_map(|ch| self.loudness.true_peak(ch).ok())
            .fold(0.0f64, f64::max);
        let true_peak = if peak > 0.0 {
            Ok(20.0 * peak.log10())
        } else {
            Err(Absent::Silence)
        };
        put(&mut v, Feature::TruePeak, true_peak);
        let plr = match (true_peak, loudness) {
            (Ok(tp), Ok(l)) => Ok(tp - l),
            (Err(r), _) | (_, Err(r)) => Err(r),
        };
        put(&mut v, Feature::Plr, plr);

        // Spectrum.
        let full = self.spectrum.band(Band::FULL.low_hz, Band::FULL.high_hz);
        let spectral = if self.spectrum.frames() == 0 {
            Err(Absent::TooShort)
        } else if full.power <= 0.0 || self.spectrum_is_silent(full.power) {
            Err(Absent::Silence)
        } else {
            Ok(full)
        };
        for feature in Feature::BANDS {
            let Some(band) = feature.band() else { continue };
            let level = match spectral {
                Err(reason) => Err(reason),
                Ok(_) if band.low_hz >= self.spectrum.nyquist_hz() => Err(Absent::NotMeasured),
                Ok(full) => {
                    let e = self.spectrum.band(band.low_hz, band.high_hz).power;
                    Ok(if e > 0.0 {
                        (10.0 * (e / full.power).log10()).max(BAND_FLOOR_DB)
                    } else {
                        BAND_FLOOR_DB
                    })
                }
            };
            put(&mut v, feature, level);
        }
        put(
            &mut v,
            Feature::SpectralCentroid,
            spectral.map(|full| full.power_hz / full.power),
        );

        // Stereo.
        let mut s = self.sums;
        s.add(&self.partial);
        let n = self.frames as f64;
        put(
            &mut v,
            Feature::StereoWidth,
            width(s.mid / n, s.side / n, Absent::Silence),
        );
        let low_end = if s.low_mid + s.low_side < LOW_END_GATE * (s.mid + s.side) {
            Err(Absent::Silence)
        } else {
            width(s.low_mid / n, s.low_side / n, Absent::Silence)
        };
        put(&mut v, Feature::LowEndWidth, low_end);
        let (mean_l, mean_r) = (s.l / n, s.r / n);
        let var_l = (s.ll / n - mean_l * mean_l).max(0.0);
        let var_r = (s.rr / n - mean_r * mean_r).max(0.0);
        let correlation = match (var_l < SILENCE_MEAN_SQUARE, var_r < SILENCE_MEAN_SQUARE) {
            (true, true) => Err(Absent::Silence),
            (true, false) | (false, true) => Err(Absent::SilentChannel),
            (false, false) => {
                let cov = s.lr / n - mean_l * mean_r;
                Ok((cov / (var_l * var_r).sqrt()).clamp(-1.0, 1.0))
            }
        };
        put(&mut v, Feature::StereoCorrelation, correlation);

        // Modulation.
        let depth = match self.modulation.median_db() {
            Some(d) => Ok(d),
            None if seconds < 1.0 => Err(Absent::TooShort),
            None => Err(Absent::Silence),
        };
        put(&mut v, Feature::ModulationDepth, depth);
        v
    }

    /// Whether the summed spectral power corresponds to a signal below the silence floor.
    fn spectrum_is_silent(&self, full_power: f64) -> bool {
        // Parseval with the window: the one-sided Σ|X|² of a frame is ≈ N·Σ(w²x²)/2, the
        // mean of w² for the Blackman–Harris window is ≈0.2580, and L and R are summed.
        let n = super::spectrum::frame_len_for(self.sample_rate_hz) as f64;
        let frames = self.spectrum.frames() as f64;
        let mean_square = full_power / (frames * n * n * 0.2580);
        mean_square < SILENCE_MEAN_SQUARE
    }
}

fn width(mid_ms: f64, side_ms: f64, silent: Absent) -> std::result::Result<f64, Absent> {
    if mid_ms < SILENCE_MEAN_SQUARE && side_ms < SILENCE_MEAN_SQUARE {
        return Err(silent);
    }
    if mid_ms <= 0.0 {
        return Ok(MAX_WIDTH);
    }
    Ok((side_ms / mid_ms).sqrt().min(MAX_WIDTH))
}

fn put(v: &mut FeatureVector, feature: Feature, value: std::result::Result<f64, Absent>) {
    match value {
        Ok(x) if x.is_finite() => {
            // Finite by the guard, so `set` cannot refuse it.
            let _ = v.set(feature, x);
        }
        Ok(_) => v.set_absent(feature, Absent::NotMeasured),
        Err(reason) => v.set_absent(feature, reason),
    }
}

#[inline]
/// Non-finite samples become silence; subnormal ones zero, so nothing downstream (the
/// f32→f64 conversions, the meters' filters) takes the floating-point unit's slow path.
fn finite_or_zero(x: f32) -> f32 {
    if x.is_finite() {
        crate::dsp::flush_subnormal(x)
    } else {
        0.0
    }
}

fn sanitise(dst: &mut [f32], src: &[f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = finite_or_zero(s);
    }
}
