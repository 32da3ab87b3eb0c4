//! Gaps between a track's features and a profile, and the track's 0–100 score.
//!
//! **Gap.** For each feature present in both the track and the profile:
//! `z = (value − mean) / scale` and whether `value` lies in the acceptable range
//! (edges included). `scale` is the profile's `std`; when the references agree exactly
//! (`std` = 0) it is half the acceptable range's width, or one unit of the feature when
//! that is 0 too, so that z stays finite.
//!
//! **Score.** `excess` is how far a value lies outside its acceptable range, in units of
//! `scale` (0 inside the range). Each feature contributes `s = 1 / (1 + excess²)`: 1 in
//! range, ½ one standard deviation outside, ⅕ two outside, 1/10 three outside. The score is
//! `100 · Σ wᵢ·sᵢ / Σ wᵢ` over the features that are scored (present in both, weight > 0),
//! so it is 100 exactly when every scored feature is in range, a feature with twice the
//! weight counts twice as much, and moving any one value further from the profile's mean
//! (larger |z| on the same side, with the mean inside the range) never raises it. A track
//! with no scored feature has no score.

use crate::features::{Absent, Direction, Feature, FeatureVector, Measurement};
use crate::profile::{FeatureStats, Profile};
use serde::Serialize;

/// One feature's gap.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Gap {
    /// The feature.
    pub feature: Feature,
    /// The track's value.
    pub value: f64,
    /// `(value − mean) / scale`.
    pub z: f64,
    /// Whether the value lies in the acceptable range.
    pub in_range: bool,
    /// Which side of the range the value is on, when outside.
    pub direction: Option<Direction>,
    /// Distance outside the range in units of scale (0 when in range).
    pub excess: f64,
    /// The feature's weight in the score.
    pub weight: f64,
}

/// Why a feature took no part in the score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotScored {
    /// The track has no value for it.
    Absent(Absent),
    /// The profile has no statistics for it.
    NotInProfile,
    /// Its weight is 0: the gap is shown but not scored.
    ZeroWeight,
}

/// Gaps and score of one track against one profile.
#[derive(Clone, Debug, PartialEq)]
pub struct GapReport {
    /// Gaps of every feature present in both, in catalogue order (zero-weight ones included).
    pub gaps: Vec<Gap>,
    /// The 0–100 score; `None` when no feature could be scored.
    pub score: Option<f64>,
    /// Features left out of the score, and why.
    pub not_scored: Vec<(Feature, NotScored)>,
}

impl GapReport {
    /// The gap of `feature`, if computed.
    pub fn gap(&self, feature: Feature) -> Option<&Gap> {
        self.gaps.iter().find(|g| g.feature == feature)
    }

    /// Number of gaps in range.
    pub fn in_range_count(&self) -> usize {
        self.gaps.iter().filter(|g| g.in_range).count()
    }

    /// The mean |z| over the weighted gaps with a finite z: how far the track is from
    /// the profile as a whole. Recorded at session start, before any fix, it is the A/B
    /// analysis's pre-assignment covariate. `None` when no gap counts.
    pub fn mean_abs_z(&self) -> Option<f64> {
        let (sum, n) = self
            .gaps
            .iter()
            .filter(|g| g.weight > 0.0 && g.z.is_finite())
            .fold((0.0, 0usize), |(s, n), g| (s + g.z.abs(), n + 1));
        (n > 0).then(|| sum / n as f64)
    }
}

/// The scale z-scores of a feature are measured in (see the module docs).
pub fn scale(stats: &FeatureStats) -> f64 {
    if stats.std > 0.0 {
        stats.std
    } else if stats.range_width() > 0.0 {
        stats.range_width() / 2.0
    } else {
        1.0
    }
}

/// The gap of `value` against `stats`.
pub fn gap(feature: Feature, stats: &FeatureStats, value: f64) -> Gap {
    let scale = scale(stats);
    let [low, high] = stats.acceptable_range;
    let (direction, distance) = if value < low {
        (Some(Direction::Below), low - value)
    } else if value > high {
        (Some(Direction::Above), value - high)
    } else {
        (None, 0.0)
    };
    Gap {
        feature,
        value,
        z: (value - stats.mean) / scale,
        in_range: direction.is_none(),
        direction,
        excess: distance / scale,
        weight: stats.weight,
    }
}

/// One feature's contribution to the score, in 0–1: `1 / (1 + excess²)`.
pub fn feature_score(excess: f64) -> f64 {
    1.0 / (1.0 + excess * excess)
}

/// The score of a set of gaps (see the module docs); `None` when nothing is scored.
pub fn score(gaps: &[Gap]) -> Option<f64> {
    let (mut weighted, mut total) = (0.0, 0.0);
    for g in gaps.iter().filter(|g| g.weight > 0.0) {
        weighted += g.weight * feature_score(g.excess);
        total += g.weight;
    }
    (total > 0.0).then(|| 100.0 * weighted / total)
}

/// Gaps and score of `features` against `profile`.
pub fn compare(profile: &Profile, features: &FeatureVector) -> GapReport {
    let mut gaps = Vec::new();
    let mut not_scored = Vec::new();
    for feature in Feature::ALL {
        let Some(stats) = profile.stats(feature) else {
            not_scored.push((feature, NotScored::NotInProfile));
            continue;
        };
        match features.get(feature) {
            Measurement::Value(v) => {
                let g = gap(feature, stats, v);
                if g.weight == 0.0 {
                    not_scored.push((feature, NotScored::ZeroWeight));
                }
                gaps.push(g);
            }
            Measurement::Absent(reason) => not_scored.push((feature, NotScored::Absent(reason))),
        }
    }
    GapReport {
        score: score(&gaps),
        gaps,
        not_scored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(mean: f64, std: f64, range: [f64; 2], weight: f64) -> FeatureStats {
        let mut s = FeatureStats::from_samples(&[mean - std, mean, mean + std]).unwrap();
        s.mean = mean;
        s.std = std;
        s.acceptable_range = range;
        s.weight = weight;
        s
    }

    fn profile(entries: &[(Feature, FeatureStats)]) -> Profile {
        let mut p = Profile::new("t");
        p.track_count = 3;
        for (f, s) in entries {
            p.features.insert(f.name().into(), s.clone());
        }
        p
    }

    #[test]
    fn z_and_range_hand_computed() {
        let s = stats(-6.0, 1.0, [-7.0, -5.0], 1.0);
        let g = gap(Feature::BassLevel, &s, -3.5);
        assert_eq!(g.z, 2.5);
        assert!(!g.in_range);
        assert_eq!(g.direction, Some(Direction::Above));
        assert_eq!(g.excess, 1.5);
        let edge = gap(Feature::BassLevel, &s, -5.0);
        assert!(edge.in_range);
        assert_eq!(edge.excess, 0.0);
    }

    #[test]
    fn zero_std_uses_range_or_unit_scale() {
        let mut s = stats(0.0, 1.0, [-1.0, 1.0], 1.0);
        s.std = 0.0;
        assert_eq!(gap(Feature::Plr, &s, 3.0).z, 3.0); // half width = 1
        s.acceptable_range = [0.0, 0.0];
        assert_eq!(gap(Feature::Plr, &s, -2.0).z, -2.0); // one unit
    }

    #[test]
    fn all_in_range_scores_100() {
        let p = profile(&[
            (Feature::Loudness, stats(-8.0, 1.0, [-9.0, -7.0], 1.0)),
            (Feature::BassLevel, stats(-6.0, 1.0, [-7.0, -5.0], 2.0)),
        ]);
        let v = FeatureVector::from_pairs([("loudness", -7.0), ("bass_level", -6.9)]).unwrap();
        let r = compare(&p, &v);
        assert_eq!(r.score, Some(100.0));
        assert_eq!(r.in_range_count(), 2);
    }

    #[test]
    fn score_hand_computed_with_weights() {
        // loudness 1 std outside (s = 1/2, weight 1); bass in range (s = 1, weight 3):
        // 100 · (0.5 + 3) / 4 = 87.5.
        let p = profile(&[
            (Feature::Loudness, stats(-8.0, 1.0, [-9.0, -7.0], 1.0)),
            (Feature::BassLevel, stats(-6.0, 1.0, [-7.0, -5.0], 3.0)),
        ]);
        let v = FeatureVector::from_pairs([("loudness", -6.0), ("bass_level", -6.0)]).unwrap();
        assert_eq!(compare(&p, &v).score, Some(87.5));
        // Swapping the weights: 100 · (3 · 0.5 + 1) / 4 = 62.5 — the weight is respected.
        let p = profile(&[
            (Feature::Loudness, stats(-8.0, 1.0, [-9.0, -7.0], 3.0)),
            (Feature::BassLevel, stats(-6.0, 1.0, [-7.0, -5.0], 1.0)),
        ]);
        assert_eq!(compare(&p, &v).score, Some(62.5));
    }

    #[test]
    fn score_is_monotone_in_each_abs_z() {
        let p = profile(&[
            (Feature::Loudness, stats(-8.0, 1.5, [-9.5, -7.0], 1.0)),
            (Feature::BassLevel, stats(-6.0, 1.0, [-7.0, -5.0], 2.0)),
        ]);
        for side in [-1.0, 1.0] {
            let mut last = f64::INFINITY;
            for step in 0..200 {
                let value = -8.0 + side * step as f64 * 0.05;
                let v =
                    FeatureVector::from_pairs([("loudness", value), ("bass_level", -4.0)]).unwrap();
                let s = compare(&p, &v).score.unwrap();
                assert!(
                    s <= last,
                    "score rose from {last} to {s} at loudness {value}"
                );
                assert!((0.0..=100.0).contains(&s));
                last = s;
            }
            assert!(
                last < 50.0,
                "far outside should cost most of the loudness share"
            );
        }
    }

    #[test]
    fn absent_unprofiled_and_zero_weight_are_not_scored() {
        let p = profile(&[
            (Feature::Loudness, stats(-8.0, 1.0, [-9.0, -7.0], 1.0)),
            (Feature::Plr, stats(8.0, 1.0, [7.0, 9.0], 0.0)),
        ]);
        let v = FeatureVector::from_pairs([("plr", 20.0), ("bass_level", 0.0)]).unwrap();
        let r = compare(&p, &v);
        assert_eq!(r.score, None);
        assert!(r
            .not_scored
            .contains(&(Feature::Loudness, NotScored::Absent(Absent::NotMeasured))));
        assert!(r
            .not_scored
            .contains(&(Feature::BassLevel, NotScored::NotInProfile)));
        assert!(r
            .not_scored
            .contains(&(Feature::Plr, NotScored::ZeroWeight)));
        assert_eq!(r.gap(Feature::Plr).unwrap().z, 12.0);
    }
}
