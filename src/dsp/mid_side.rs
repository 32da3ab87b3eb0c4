//! Mid/side width: `mid = (L+R)/2`, `side = (L−R)/2` (SPEC §1's definition of stereo width),
//! side scaled by a ratio, then back to L/R. Scaling the side by `w` scales
//! RMS(side)/RMS(mid) — the `stereo_width` feature — by exactly `w`.

/// Applies side gain `width_ratio` to one stereo frame.
///
/// # Real-time safety
///
/// Pure arithmetic; safe on the audio thread.
#[inline]
pub fn apply(left: f32, right: f32, width_ratio: f32) -> (f32, f32) {
    let mid = 0.5 * (left + right);
    let side = 0.5 * (left - right) * width_ratio;
    (mid + side, mid - side)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_scales_side_and_keeps_mid() {
        let (l, r) = apply(1.0, 0.5, 0.5);
        // mid 0.75, side 0.25 · 0.5 = 0.125.
        assert_eq!((l, r), (0.875, 0.625));
        let (l, r) = apply(0.3, -0.3, 0.0);
        assert_eq!((l, r), (0.0, 0.0));
        let (l, r) = apply(0.25, 0.75, 1.0);
        assert_eq!((l, r), (0.25, 0.75));
    }
}
