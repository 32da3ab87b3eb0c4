//! Keeping subnormal numbers out of the signal path.
//!
//! Arithmetic on subnormal (denormal) floats takes tens to hundreds of cycles on x86 and
//! some ARM cores unless the thread runs with flush-to-zero, which a plugin cannot rely on
//! (nice-plug sets it only with its `unsafe_flush_denormals` feature; C hosts may not set it
//! at all), and strict hosts reject subnormal output. So the signal path flushes them
//! itself: subnormal input becomes a zero of the same sign before anything computes with
//! it, filter states that have decayed to inaudible levels are cleared, and what the fix
//! stage writes is flushed before it leaves.
//!
//! # Real-time safety
//!
//! Everything here is branch-free arithmetic on the caller's slices: no allocation, no
//! lock, no syscall.

/// The exponent bits of an `f32`; all zero for zero and the subnormals.
const F32_EXPONENT: u32 = 0x7f80_0000;
/// The sign bit of an `f32`.
const F32_SIGN: u32 = 0x8000_0000;

/// `x`, or a zero of its sign when `x` is subnormal. Normal numbers, zeros, infinities
/// and NaN come back bit for bit.
///
/// # Real-time safety
///
/// Safe on the audio thread.
#[inline]
pub fn flush_subnormal(x: f32) -> f32 {
    let bits = x.to_bits();
    if bits & F32_EXPONENT == 0 {
        f32::from_bits(bits & F32_SIGN)
    } else {
        x
    }
}

/// Replaces every subnormal sample of `samples` by a zero of its sign, in place; every
/// other sample (normal, zero, infinite, NaN) is left bit for bit. Written so the compiler
/// vectorises it: about one cycle per sample.
///
/// # Real-time safety
///
/// Safe on the audio thread.
#[inline]
pub fn flush_subnormals(samples: &mut [f32]) {
    for x in samples {
        *x = flush_subnormal(*x);
    }
}

/// The level below which a filter's `f64` state is cleared: 1e-20 is −400 dB relative to
/// full scale, far below anything audible or measurable in an `f32` output, and far above
/// the `f64` subnormal range (below 2.2e-308) that a decaying state would otherwise reach
/// after some seconds of silence.
pub const STATE_FLOOR: f64 = 1e-20;

/// `x`, or zero when `|x|` is below [`STATE_FLOOR`].
///
/// # Real-time safety
///
/// Safe on the audio thread.
#[inline]
pub fn flush_state(x: f64) -> f64 {
    if x.abs() < STATE_FLOOR {
        0.0
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormals_become_signed_zeros_and_everything_else_is_untouched() {
        let sub = f32::from_bits(1);
        let largest_sub = f32::from_bits(0x007f_ffff);
        let mut v = [
            sub,
            -sub,
            largest_sub,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            0.0,
            -0.0,
            0.5,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
        ];
        let before = v;
        flush_subnormals(&mut v);
        assert_eq!(v[0].to_bits(), 0.0f32.to_bits());
        assert_eq!(v[1].to_bits(), (-0.0f32).to_bits());
        assert_eq!(v[2].to_bits(), 0);
        for (a, b) in v[3..].iter().zip(&before[3..]) {
            assert_eq!(a.to_bits(), b.to_bits(), "{b:e}");
        }
        assert!(v.iter().all(|x| !x.is_subnormal()));
    }

    #[test]
    fn states_below_the_floor_are_cleared() {
        assert_eq!(flush_state(1e-21), 0.0);
        assert_eq!(flush_state(-1e-300), 0.0);
        assert_eq!(flush_state(f64::from_bits(1)), 0.0);
        assert_eq!(flush_state(1e-19), 1e-19);
        assert!(
            flush_state(f64::NAN).is_nan(),
            "recovery from NaN is the filter's"
        );
    }
}
