//! Deterministic randomness and hashing shared by the simulations, the bandit, A/B
//! assignment and fix ids: SplitMix64 and FNV-1a 64. Same results on every platform and
//! version; nothing here is cryptographic.

/// SplitMix64 (Steele, Lea & Flood 2014; the constants of Vigna's reference code).
/// Small, fast, statistically adequate for simulation; not for cryptography.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// A uniform number in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        unit_interval(self.next_u64())
    }

    /// A standard normal draw (Box–Muller; one of the pair is discarded for simplicity).
    pub fn next_normal(&mut self) -> f64 {
        // 1 − u lies in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }
}

/// FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) over the concatenation
/// of `parts`.
pub(crate) fn fnv1a64<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for part in parts {
        for &b in part {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

/// SplitMix64's output function (a variant of MurmurHash3's `fmix64`): a bijection of
/// `u64` whose every output bit depends on every input bit.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top 53 bits of `bits` as a number in [0, 1).
pub(crate) fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reference_sequence() {
        // Vigna's splitmix64.c with x = 0: first outputs
        // 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn fnv1a64_reference_values() {
        // FNV-1a 64 test vectors (Noll's fnv test suite): "" → 0xcbf29ce484222325,
        // "a" → 0xaf63dc4c8601ec8c, "foobar" → 0x85944171f73967e8.
        assert_eq!(fnv1a64([&b""[..]]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64([&b"a"[..]]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64([&b"foo"[..], &b"bar"[..]]), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn normal_draws_look_normal() {
        let mut r = SplitMix64::new(7);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| r.next_normal()).collect();
        let m = crate::learn::stats::Moments::from_slice(&xs);
        // Mean within 4 standard errors (4/sqrt(20000) ≈ 0.028); variance within 5 %.
        assert!(m.mean.abs() < 0.03, "{m:?}");
        assert!((m.var - 1.0).abs() < 0.05, "{m:?}");
    }
}
