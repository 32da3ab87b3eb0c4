//! Order statistics used by profiles.

/// The `q`-th percentile (0–100) of ascending `sorted` values by linear interpolation
/// between closest ranks: numpy's default `np.percentile` (Hyndman & Fan 1996, type 7).
/// `sorted` must be non-empty and ascending.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let rank = (q / 100.0).clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let frac = rank - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], [10, 25, 50, 75, 90]) = [1.3, 1.75, 2.5, 3.25, 3.7]
        let v = [1.0, 2.0, 3.0, 4.0];
        let expected = [
            (10.0, 1.3),
            (25.0, 1.75),
            (50.0, 2.5),
            (75.0, 3.25),
            (90.0, 3.7),
        ];
        for (q, want) in expected {
            assert!((percentile(&v, q) - want).abs() < 1e-12, "q={q}");
        }
        assert_eq!(percentile(&[7.0], 90.0), 7.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 100.0), 4.0);
    }
}
