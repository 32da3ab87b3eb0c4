//! Modulation (pumping) depth of the mid signal.
//!
//! Definition (SPEC §1, with the choices it leaves open):
//! - blocks of `round(sample_rate / 100)` samples (10 ms; 441 at 44.1 kHz, 480 at 48 kHz),
//!   consecutive, from the start of the audio; each block's level is
//!   `10·log10(mean(mid²))` dB, floored at [`BLOCK_FLOOR_DB`] so digital silence has a value;
//! - windows of 100 consecutive blocks (1 s), consecutive, not overlapping; in each window
//!   the 95th minus the 5th percentile of its block levels, percentiles by linear
//!   interpolation between order statistics (numpy's default, as in the profile statistics);
//!   a window whose loudest block is below [`SILENT_WINDOW_DB`] is skipped as silence
//!   (the same absolute gate as BS.1770), so silent intros and breaks do not count as pumping;
//! - the result is the median of the window depths. The depths are kept in a fixed histogram
//!   of [`DEPTH_BIN_DB`]-wide bins from 0 to [`DEPTH_MAX_DB`] (deeper windows fall in the last
//!   bin), so memory is fixed however long the session runs and the median is exact to
//!   ± half a bin (0.005 dB). Counts are `u32`: 136 years of audio before a bin saturates.

/// Floor of a 10 ms block level (dBFS): digital silence reads this.
pub const BLOCK_FLOOR_DB: f64 = -100.0;
/// A 1 s window whose loudest 10 ms block is below this (dBFS) is skipped as silence.
pub const SILENT_WINDOW_DB: f64 = -70.0;
/// Width of a bin of the window-depth histogram (dB).
pub const DEPTH_BIN_DB: f64 = 0.01;
/// Largest depth the histogram resolves (dB); deeper windows count as this depth.
pub const DEPTH_MAX_DB: f64 = 120.0;

const BLOCKS_PER_WINDOW: usize = 100;
const BINS: usize = (DEPTH_MAX_DB / DEPTH_BIN_DB) as usize + 1;

pub(crate) struct Modulation {
    block_frames: usize,
    block_pos: usize,
    block_sum: f64,
    levels_db: [f64; BLOCKS_PER_WINDOW],
    sorted: [f64; BLOCKS_PER_WINDOW],
    levels_len: usize,
    histogram: Vec<u32>,
    windows: u64,
}

impl Modulation {
    pub(crate) fn new(sample_rate_hz: u32) -> Modulation {
        Modulation {
            block_frames: ((sample_rate_hz as f64 / 100.0).round() as usize).max(1),
            block_pos: 0,
            block_sum: 0.0,
            levels_db: [0.0; BLOCKS_PER_WINDOW],
            sorted: [0.0; BLOCKS_PER_WINDOW],
            levels_len: 0,
            histogram: vec![0; BINS],
            windows: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.block_pos = 0;
        self.block_sum = 0.0;
        self.levels_len = 0;
        self.histogram.fill(0);
        self.windows = 0;
    }

    /// Samples still needed to complete the current 10 ms block.
    #[inline]
    pub(crate) fn frames_to_block_end(&self) -> usize {
        self.block_frames - self.block_pos
    }

    /// Advances by `frames` samples (at most [`frames_to_block_end`](Self::frames_to_block_end));
    /// `block_mid_square_sum` is Σ mid² from the start of the current block through these
    /// samples (the caller accumulates it in sample order, so the result does not depend on
    /// how the samples were split). Returns true when the block is complete.
    /// Real-time safe: fixed arrays, an in-place unstable sort of 100 values once a second.
    #[inline]
    pub(crate) fn advance(&mut self, frames: usize, block_mid_square_sum: f64) -> bool {
        self.block_sum = block_mid_square_sum;
        self.block_pos += frames;
        if self.block_pos < self.block_frames {
            return false;
        }
        let mean_square = self.block_sum / self.block_frames as f64;
        let level_db = if mean_square > 0.0 {
            (10.0 * mean_square.log10()).max(BLOCK_FLOOR_DB)
        } else {
            BLOCK_FLOOR_DB
        };
        self.block_pos = 0;
        self.block_sum = 0.0;
        self.levels_db[self.levels_len] = level_db;
        self.levels_len += 1;
        if self.levels_len == BLOCKS_PER_WINDOW {
            self.finish_window();
            self.levels_len = 0;
        }
        true
    }

    /// Adds one mid sample; returns true when it completed a 10 ms block.
    #[cfg(test)]
    pub(crate) fn push(&mut self, mid: f64) -> bool {
        self.advance(1, self.block_sum + mid * mid)
    }

    fn finish_window(&mut self) {
        self.sorted = self.levels_db;
        self.sorted.sort_unstable_by(f64::total_cmp);
        if self.sorted[BLOCKS_PER_WINDOW - 1] < SILENT_WINDOW_DB {
            return;
        }
        let depth_db = percentile_sorted(&self.sorted, 95.0) - percentile_sorted(&self.sorted, 5.0);
        let bin = ((depth_db / DEPTH_BIN_DB).round() as usize).min(BINS - 1);
        self.histogram[bin] = self.histogram[bin].saturating_add(1);
        self.windows += 1;
    }

    /// Number of (non-silent) windows measured.
    #[cfg(test)]
    pub(crate) fn windows(&self) -> u64 {
        self.windows
    }

    /// Median window depth in dB, if any window was measured. Walks the histogram once
    /// (12 001 bins): no allocation.
    pub(crate) fn median_db(&self) -> Option<f64> {
        if self.windows == 0 {
            return None;
        }
        let n = self.windows;
        // 0-based ranks of the middle value(s).
        let (rank_a, rank_b) = if n % 2 == 1 {
            (n / 2, n / 2)
        } else {
            (n / 2 - 1, n / 2)
        };
        let (mut a, mut b) = (None, None);
        let mut seen = 0u64;
        for (bin, &count) in self.histogram.iter().enumerate() {
            let next = seen + count as u64;
            if a.is_none() && rank_a < next {
                a = Some(bin);
            }
            if rank_b < next {
                b = Some(bin);
                break;
            }
            seen = next;
        }
        let (a, b) = (a?, b?);
        Some((a + b) as f64 * DEPTH_BIN_DB / 2.0)
    }
}

/// Percentile `p` (0–100) of sorted `values` by linear interpolation between order
/// statistics (Hyndman–Fan type 7).
fn percentile_sorted(values: &[f64], p: f64) -> f64 {
    let h = (values.len() - 1) as f64 * p / 100.0;
    let i = h.floor() as usize;
    let frac = h - i as f64;
    match values.get(i + 1) {
        Some(next) => values[i] + frac * (next - values[i]),
        None => values[i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy_linear() {
        // numpy.percentile(np.arange(100.0), [5, 95]) == [4.95, 94.05]
        let v: Vec<f64> = (0..100).map(f64::from).collect();
        assert!((percentile_sorted(&v, 5.0) - 4.95).abs() < 1e-12);
        assert!((percentile_sorted(&v, 95.0) - 94.05).abs() < 1e-12);
    }

    #[test]
    fn median_of_histogram_handles_even_and_odd_counts() {
        let mut m = Modulation::new(100);
        // Block = 1 sample at 100 Hz; a window alternating 1.0 and 0.1 (0 dB and −20 dB)
        // has 5th percentile −20 and 95th 0, depth 20 dB; a constant window has depth 0.
        for _ in 0..50 {
            m.push(1.0);
            m.push(0.1);
        }
        assert_eq!(m.median_db(), Some(20.0));
        for _ in 0..100 {
            m.push(1.0);
        }
        assert_eq!(m.median_db(), Some(10.0));
        for _ in 0..100 {
            m.push(1.0);
        }
        assert_eq!(m.median_db(), Some(0.0));
    }

    #[test]
    fn silent_windows_are_skipped() {
        let mut m = Modulation::new(100);
        for _ in 0..100 {
            m.push(0.0);
        }
        assert_eq!(m.windows(), 0);
        assert_eq!(m.median_db(), None);
    }
}
