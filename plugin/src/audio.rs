//! The audio thread's whole job: run the fix stage, copy the result into the ring for the
//! background thread, publish the frame counter. Imports nothing from the background
//! engine, the store's reader or the learning: its only links to the rest of the plugin
//! are the ring ([`Frame`]s) and the [`AudioCounters`] atomics.

use fixloop::dsp::{FixSettings, FixStage};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One stereo frame as it travels through the ring.
pub type Frame = [f32; 2];

/// Counters the audio thread publishes (relaxed stores of running totals).
#[derive(Debug, Default)]
pub struct AudioCounters {
    /// Frames processed since the plugin was created.
    pub frames_processed: AtomicU64,
    /// Frames the ring could not take (the background thread fell behind).
    pub frames_dropped: AtomicU64,
}

/// The audio-thread state of one plugin instance.
pub struct AudioPath {
    stage: FixStage,
    producer: Option<rtrb::Producer<Frame>>,
    counters: Arc<AudioCounters>,
}

impl AudioPath {
    /// A path at `sample_rate_hz` publishing into `counters`, with no ring yet.
    pub fn new(sample_rate_hz: f64, counters: Arc<AudioCounters>) -> AudioPath {
        AudioPath {
            stage: FixStage::new(sample_rate_hz),
            producer: None,
            counters,
        }
    }

    /// Prepares for `sample_rate_hz` with the settings in force, and hands over a new ring
    /// producer (called from `activate()`, not the audio thread).
    pub fn prepare(
        &mut self,
        sample_rate_hz: f64,
        settings: FixSettings,
        producer: rtrb::Producer<Frame>,
    ) {
        self.stage.set_sample_rate(sample_rate_hz);
        self.stage.snap_to(settings);
        self.producer = Some(producer);
    }

    /// Clears the filter state.
    ///
    /// # Real-time safety
    ///
    /// Safe on the audio thread.
    pub fn reset(&mut self) {
        self.stage.reset();
    }

    /// The counters this path publishes.
    pub fn counters(&self) -> &Arc<AudioCounters> {
        &self.counters
    }

    /// Processes one block in place and hands it to the background thread. Frames the ring
    /// cannot take are counted as dropped, never waited for.
    ///
    /// The fix stage flushes subnormal input to a zero of its sign first, so no subnormal
    /// sample ever leaves the plugin or reaches the analyser, and none costs the slow path
    /// of the floating-point unit; every other sample passes bit for bit when no fix is
    /// active.
    ///
    /// # Real-time safety
    ///
    /// Allocation-, lock- and syscall-free: the fix stage (with its flush pass), one
    /// wait-free `rtrb` chunk write, two atomic adds.
    pub fn process(&mut self, left: &mut [f32], right: &mut [f32], settings: FixSettings) {
        let frames = left.len().min(right.len());
        if frames == 0 {
            return;
        }
        self.stage.process(left, right, settings);
        self.publish(&left[..frames], &right[..frames]);
    }

    /// Hands a block over without processing it (a layout without two channels).
    ///
    /// # Real-time safety
    ///
    /// As [`process`](Self::process).
    pub fn publish(&mut self, left: &[f32], right: &[f32]) {
        let frames = left.len().min(right.len());
        if let Some(producer) = self.producer.as_mut() {
            let n = producer.slots().min(frames);
            if let Ok(chunk) = producer.write_chunk_uninit(n) {
                chunk.fill_from_iter(left.iter().zip(right).map(|(&l, &r)| [l, r]));
            }
            if n < frames {
                self.counters
                    .frames_dropped
                    .fetch_add((frames - n) as u64, Ordering::Relaxed);
            }
        }
        self.counters
            .frames_processed
            .fetch_add(frames as u64, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_over_every_frame_and_counts_what_does_not_fit() {
        let counters = Arc::new(AudioCounters::default());
        let mut path = AudioPath::new(48_000.0, counters.clone());
        let mut l = vec![0.25f32; 100];
        let mut r = vec![-0.5f32; 100];
        // No ring yet: processed, counted, nothing dropped.
        path.process(&mut l, &mut r, FixSettings::NEUTRAL);
        let (producer, mut consumer) = rtrb::RingBuffer::new(150);
        path.prepare(48_000.0, FixSettings::NEUTRAL, producer);
        path.process(&mut l, &mut r, FixSettings::NEUTRAL);
        path.process(&mut l, &mut r, FixSettings::NEUTRAL);
        path.process(&mut [], &mut [], FixSettings::NEUTRAL);
        assert_eq!(counters.frames_processed.load(Ordering::SeqCst), 300);
        assert_eq!(counters.frames_dropped.load(Ordering::SeqCst), 50);
        assert_eq!(consumer.slots(), 150);
        assert_eq!(consumer.pop(), Ok([0.25, -0.5]));
    }

    /// Regression: clap-validator's fuzzer found subnormal input passed to the output.
    #[test]
    fn no_subnormal_sample_leaves_the_path_and_normal_samples_pass_bit_exactly() {
        let counters = Arc::new(AudioCounters::default());
        let mut path = AudioPath::new(48_000.0, counters);
        let (producer, mut consumer) = rtrb::RingBuffer::new(4096);
        path.prepare(48_000.0, FixSettings::NEUTRAL, producer);
        let mut bits = 0x1234_5678u32;
        let mut next = || {
            bits ^= bits << 13;
            bits ^= bits >> 17;
            bits ^= bits << 5;
            bits
        };
        // Every kind of f32 at random: subnormals of both signs, normals, zeros.
        let input: Vec<f32> = (0..512)
            .map(|i| match i % 4 {
                0 => f32::from_bits(next() & 0x807f_ffff),
                1 => f32::from_bits(next() & 0x807f_ffff | 1),
                2 => (next() >> 8) as f32 / (1u32 << 24) as f32 - 0.5,
                _ => f32::from_bits((next() & 0x8000_0000) | 0x2000_0000 | (next() >> 9)),
            })
            .collect();
        assert!(input.iter().filter(|x| x.is_subnormal()).count() > 200);
        let active = FixSettings {
            output_gain_db: -60.0,
            band_gain_db: [6.0, -3.0, 0.0, 0.0, 2.0, 0.0, -12.0],
            width_ratio: 0.5,
        };
        for settings in [FixSettings::NEUTRAL, active] {
            let (mut l, mut r) = (input.clone(), input.clone());
            for (l, r) in l.chunks_mut(64).zip(r.chunks_mut(64)) {
                path.process(l, r, settings);
            }
            assert!(
                l.iter().chain(&r).all(|x| !x.is_subnormal()),
                "{settings:?}"
            );
            if settings == FixSettings::NEUTRAL {
                for (out, x) in l.iter().zip(&input) {
                    let expected = if x.is_subnormal() {
                        0.0f32.copysign(*x)
                    } else {
                        *x
                    };
                    assert_eq!(out.to_bits(), expected.to_bits());
                }
            }
            while let Ok([a, b]) = consumer.pop() {
                assert!(!a.is_subnormal() && !b.is_subnormal());
            }
        }
        // Silence after a loud active block: the filter tails decay and never turn
        // subnormal (a minute of silence in 64-frame blocks).
        let (mut l, mut r) = (vec![0.9f32; 64], vec![-0.9f32; 64]);
        path.process(&mut l, &mut r, active);
        for _ in 0..(48_000 * 60 / 64) {
            let (mut l, mut r) = ([0.0f32; 64], [0.0f32; 64]);
            path.process(&mut l, &mut r, active);
            assert!(l.iter().chain(&r).all(|x| !x.is_subnormal()));
            while consumer.pop().is_ok() {}
        }
    }
}
