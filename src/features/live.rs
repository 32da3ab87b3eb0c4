//! Live analysis for a host: the audio thread pushes frames, another thread analyses them.
//!
//! [`live`] makes a pair joined by a wait-free single-producer single-consumer ring
//! (`rtrb`): a [`LiveFeed`] for the audio thread, whose `push*` methods copy frames into the
//! ring and never allocate, lock, make a system call or wait (frames the ring cannot take
//! are counted as dropped, never waited for), and a [`LiveAnalyser`] for a background
//! thread or a timer, which drains the ring into an [`Analyser`] and reads the features
//! and the spectrum profile. The features equal those of the same audio fed to an
//! [`Analyser`] directly, whatever the block sizes, as long as nothing was dropped.
//!
//! ```
//! use fixloop::features::{live, Feature};
//! let (mut feed, mut analyser) = live(48_000, 96_000).unwrap();
//! let block: Vec<f32> = (0..512)
//!     .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin())
//!     .collect();
//! // On the audio thread:
//! for _ in 0..94 {
//!     feed.push(&block, &block);
//! }
//! // On another thread:
//! analyser.pump();
//! assert_eq!(analyser.frames(), 94 * 512);
//! assert_eq!(analyser.features().value(Feature::StereoWidth), Some(0.0));
//! ```

use super::{Analyser, FeatureVector, SpectrumProfile};
use crate::error::{Error, ErrorKind, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One stereo frame as it travels through the ring.
type Frame = [f32; 2];

/// Frames the analyser drains per step (the size of its scratch buffers).
const DRAIN_FRAMES: usize = 4096;

/// Counters both ends read.
#[derive(Debug, Default)]
struct Counters {
    /// Frames the feed could not hand over (the ring was full).
    dropped: AtomicU64,
}

/// The audio thread's end of a live analysis ([`live`]).
pub struct LiveFeed {
    producer: rtrb::Producer<Frame>,
    counters: Arc<Counters>,
}

/// The analysing end of a live analysis ([`live`]).
pub struct LiveAnalyser {
    consumer: rtrb::Consumer<Frame>,
    analyser: Analyser,
    left: Vec<f32>,
    right: Vec<f32>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed")
            .field("free_frames", &self.producer.slots())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl std::fmt::Debug for LiveAnalyser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveAnalyser")
            .field("analyser", &self.analyser)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// Most frames a live ring holds (about 87 s at 48 kHz, 8 MB).
pub const MAX_LIVE_CAPACITY_FRAMES: usize = 1 << 22;

/// A live analysis of stereo audio at `sample_rate_hz` whose ring holds `capacity_frames`
/// frames (1…[`MAX_LIVE_CAPACITY_FRAMES`]; a second or two of audio leaves the analysing
/// thread time to be late). Allocates the ring and the analyser: call it off the audio
/// thread. Fails for a sample rate the [`Analyser`] does not take or a capacity of 0 or
/// over the maximum.
pub fn live(sample_rate_hz: u32, capacity_frames: usize) -> Result<(LiveFeed, LiveAnalyser)> {
    if !(1..=MAX_LIVE_CAPACITY_FRAMES).contains(&capacity_frames) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "live analysis ring of {capacity_frames} frames: give 1 to {MAX_LIVE_CAPACITY_FRAMES}"
            ),
        ));
    }
    let analyser = Analyser::new(sample_rate_hz, 2, DRAIN_FRAMES)?;
    let (producer, consumer) = rtrb::RingBuffer::new(capacity_frames);
    let counters = Arc::new(Counters::default());
    Ok((
        LiveFeed {
            producer,
            counters: counters.clone(),
        },
        LiveAnalyser {
            consumer,
            analyser,
            left: vec![0.0; DRAIN_FRAMES],
            right: vec![0.0; DRAIN_FRAMES],
            counters,
        },
    ))
}

impl LiveFeed {
    /// Hands a stereo block over: the first `min(left.len(), right.len())` frames. Returns
    /// how many frames the ring took; the rest are counted as dropped.
    ///
    /// # Real-time safety
    ///
    /// Allocation-, lock- and syscall-free and wait-free: one `rtrb` chunk write and, when
    /// frames are dropped, one atomic add (checked by the allocation test in
    /// `tests/realtime.rs`).
    pub fn push(&mut self, left: &[f32], right: &[f32]) -> usize {
        let frames = left.len().min(right.len());
        self.write(frames, left.iter().zip(right).map(|(&l, &r)| [l, r]))
    }

    /// Hands a mono block over, analysed as centred stereo (L = R). As [`push`](Self::push).
    pub fn push_mono(&mut self, samples: &[f32]) -> usize {
        self.write(samples.len(), samples.iter().map(|&s| [s, s]))
    }

    /// Hands an interleaved block of `channels` channels over: one channel is mono, two
    /// stereo, more are analysed by their first two (a surround host's front left and
    /// right). A trailing partial frame is ignored; `channels` 0 takes nothing. As
    /// [`push`](Self::push).
    pub fn push_interleaved(&mut self, samples: &[f32], channels: usize) -> usize {
        match channels {
            0 => 0,
            1 => self.push_mono(samples),
            c => self.write(
                samples.len() / c,
                samples.chunks_exact(c).map(|f| [f[0], f[1]]),
            ),
        }
    }

    fn write(&mut self, frames: usize, mut from: impl Iterator<Item = Frame>) -> usize {
        let n = self.producer.slots().min(frames);
        if let Ok(chunk) = self.producer.write_chunk_uninit(n) {
            chunk.fill_from_iter(&mut from);
        }
        if n < frames {
            self.counters
                .dropped
                .fetch_add((frames - n) as u64, Ordering::Relaxed);
        }
        n
    }

    /// Frames dropped so far because the ring was full (the analysing thread fell behind).
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }
}

impl LiveAnalyser {
    /// Analyses every frame waiting in the ring; returns how many. Not for the audio
    /// thread (the analysis costs about a millisecond per second of audio).
    pub fn pump(&mut self) -> u64 {
        let mut total = 0u64;
        loop {
            let n = self.consumer.slots().min(DRAIN_FRAMES);
            if n == 0 {
                return total;
            }
            let Ok(chunk) = self.consumer.read_chunk(n) else {
                return total;
            };
            let (a, b) = chunk.as_slices();
            for (i, [l, r]) in a.iter().chain(b).enumerate() {
                self.left[i] = *l;
                self.right[i] = *r;
            }
            chunk.commit_all();
            self.analyser.process(&self.left[..n], &self.right[..n]);
            total += n as u64;
        }
    }

    /// The features of every frame analysed since the start or the last
    /// [`reset`](Self::reset) (frames still in the ring are not; [`pump`](Self::pump)
    /// first).
    pub fn features(&self) -> FeatureVector {
        self.analyser.features()
    }

    /// The long-term spectrum profile of the same frames, for the fix plan's response
    /// model (`None` before the first spectrum frame or for silence).
    pub fn spectrum_profile(&self) -> Option<SpectrumProfile> {
        self.analyser.spectrum_profile()
    }

    /// Frames analysed since the start or the last reset.
    pub fn frames(&self) -> u64 {
        self.analyser.frames()
    }

    /// The sample rate in Hz.
    pub fn sample_rate_hz(&self) -> u32 {
        self.analyser.sample_rate_hz()
    }

    /// Frames the feed dropped so far because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Starts over: frames waiting in the ring are discarded and the analysis is cleared.
    pub fn reset(&mut self) {
        let n = self.consumer.slots();
        if let Ok(chunk) = self.consumer.read_chunk(n) {
            chunk.commit_all();
        }
        self.analyser.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Feature;

    fn tone(frames: usize, hz: f32, gain: f32) -> Vec<f32> {
        (0..frames)
            .map(|i| gain * (2.0 * std::f32::consts::PI * hz * i as f32 / 48_000.0).sin())
            .collect()
    }

    #[test]
    fn the_same_audio_gives_the_same_features_as_the_analyser_whatever_the_blocks() {
        let l = tone(48_000 * 4, 220.0, 0.4);
        let r = tone(48_000 * 4, 330.0, 0.3);
        let mut direct = Analyser::new(48_000, 2, 512).unwrap();
        direct.process(&l, &r);
        let (mut feed, mut live) = live(48_000, 48_000).unwrap();
        let mut start = 0;
        for (k, size) in [1usize, 64, 511, 4097, 17].iter().cycle().enumerate() {
            if start >= l.len() {
                break;
            }
            let end = (start + size).min(l.len());
            assert_eq!(feed.push(&l[start..end], &r[start..end]), end - start);
            start = end;
            if k % 7 == 0 {
                live.pump();
            }
        }
        live.pump();
        assert_eq!(live.frames(), l.len() as u64);
        assert_eq!(live.features(), direct.features());
        assert_eq!(live.dropped(), 0);
    }

    #[test]
    fn a_full_ring_drops_and_counts_never_waits() {
        let (mut feed, mut live) = live(48_000, 1000).unwrap();
        let x = tone(1500, 440.0, 0.5);
        assert_eq!(feed.push(&x, &x), 1000);
        assert_eq!(feed.dropped(), 500);
        assert_eq!(live.dropped(), 500);
        assert_eq!(live.pump(), 1000);
        assert_eq!(feed.push(&x[..10], &x[..10]), 10);
    }

    #[test]
    fn interleaved_mono_and_surround_blocks_feed_the_first_two_channels() {
        let x = tone(48_000, 440.0, 0.5);
        let (mut feed, mut a) = live(48_000, 48_000).unwrap();
        feed.push_mono(&x);
        a.pump();
        let (mut feed, mut b) = live(48_000, 48_000).unwrap();
        let six: Vec<f32> = x.iter().flat_map(|&s| [s, s, 0.9, 0.9, 0.9, 0.9]).collect();
        assert_eq!(feed.push_interleaved(&six, 6), x.len());
        assert_eq!(feed.push_interleaved(&six[..5], 6), 0);
        assert_eq!(feed.push_interleaved(&six, 0), 0);
        b.pump();
        assert_eq!(a.features(), b.features());
        assert_eq!(a.features().value(Feature::StereoWidth), Some(0.0));
        b.reset();
        assert_eq!(b.frames(), 0);
    }

    #[test]
    fn bad_rates_and_capacities_are_refused() {
        assert!(live(1000, 10).is_err());
        let e = live(48_000, 0).unwrap_err().to_string();
        assert!(e.contains("0 frames"), "{e}");
        assert!(live(48_000, MAX_LIVE_CAPACITY_FRAMES + 1).is_err());
    }
}
