//! [`ExactSum`]: a sum of doubles that does not depend on the order of its terms.

use serde::{Deserialize, Serialize};

/// The exact sum of finite doubles, kept as non-overlapping partials (Shewchuk 1997,
/// "Adaptive precision floating-point arithmetic"; the algorithm of Python's
/// `math.fsum`), rounded once when read. Adding terms or merging sums in any order and
/// grouping gives the same [`value`](ExactSum::value), bit for bit: the merge is
/// associative and commutative, which a plain `f64` running sum is not.
///
/// The partials are few (one to three for sums of ratios and scores), so an add costs a
/// handful of floating-point operations. Non-finite terms are the caller's to keep out
/// (the readers refuse them); an intermediate overflow is not handled.
///
/// `accurate`'s `OnlineExactSum` does the same but cannot be serialised and has not been
/// released since 2020, so the few lines live here.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExactSum {
    partials: Vec<f64>,
}

impl ExactSum {
    /// An empty sum (0).
    pub fn new() -> ExactSum {
        ExactSum::default()
    }

    /// Adds `x` exactly.
    pub fn add(&mut self, mut x: f64) {
        let mut i = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        self.partials.truncate(i);
        self.partials.push(x);
    }

    /// Adds every term of `other` (the sum of the union of both term sets).
    pub fn merge(&mut self, other: &ExactSum) {
        for &p in &other.partials {
            self.add(p);
        }
    }

    /// The sum, correctly rounded to the nearest double (ties to even), as `math.fsum`.
    pub fn value(&self) -> f64 {
        let p = &self.partials;
        let Some(mut n) = p.len().checked_sub(1) else {
            return 0.0;
        };
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        // Round half-way cases correctly: the partials below may break the tie.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }
}

impl PartialEq for ExactSum {
    /// Equal when the sums are (whatever partials represent them).
    fn eq(&self, other: &ExactSum) -> bool {
        self.value() == other.value()
    }
}

impl FromIterator<f64> for ExactSum {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> ExactSum {
        let mut s = ExactSum::new();
        iter.into_iter().for_each(|x| s.add(x));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn known_answers_of_python_math_fsum() {
        // Python 3.11: math.fsum([0.1] * 10) == 1.0 (sum() gives 0.9999999999999999).
        assert_eq!(
            std::iter::repeat_n(0.1, 10).collect::<ExactSum>().value(),
            1.0
        );
        // math.fsum([1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50]) == 1e-100
        let s: ExactSum = [1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50]
            .into_iter()
            .collect();
        assert_eq!(s.value(), 1e-100);
        // math.fsum([2.0**53, 1.0, 2.0**-80]) == 9007199254740994.0: the tiny term breaks
        // the half-way tie upwards.
        let s: ExactSum = [2f64.powi(53), 1.0, 2f64.powi(-80)].into_iter().collect();
        assert_eq!(s.value(), 9007199254740994.0);
        // math.fsum([2.0**53, 1.0]) == 9007199254740992.0 (tie to even).
        let s: ExactSum = [2f64.powi(53), 1.0].into_iter().collect();
        assert_eq!(s.value(), 9007199254740992.0);
        assert_eq!(ExactSum::new().value(), 0.0);
    }

    #[test]
    fn any_order_and_grouping_gives_the_same_bits() {
        let mut rng = SplitMix64::new(7);
        let terms: Vec<f64> = (0..5_000)
            .map(|_| (rng.next_f64() - 0.3) * 10f64.powi((rng.next_u64() % 9) as i32 - 4))
            .collect();
        let whole: ExactSum = terms.iter().copied().collect();
        let naive: f64 = terms.iter().sum();
        for round in 0..20 {
            let mut shuffled = terms.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
            // Split into random chunks, sum each, merge the chunks in reverse.
            let mut parts = Vec::new();
            let mut rest = shuffled.as_slice();
            while !rest.is_empty() {
                let k = 1 + (rng.next_u64() % 700) as usize;
                let (a, b) = rest.split_at(k.min(rest.len()));
                parts.push(a.iter().copied().collect::<ExactSum>());
                rest = b;
            }
            let mut merged = ExactSum::new();
            for p in parts.iter().rev() {
                merged.merge(p);
            }
            assert_eq!(
                merged.value().to_bits(),
                whole.value().to_bits(),
                "round {round}"
            );
        }
        // The plain sum is within rounding of it, so the test data is not degenerate.
        assert!((naive - whole.value()).abs() < 1e-9 * terms.len() as f64);
    }
}
