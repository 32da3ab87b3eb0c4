//! Merging new reference tracks into a profile (SPEC §4.4).
//!
//! For a feature the profile has, the new tracks' values are combined with the stored
//! statistics by the parallel formula of Chan, Golub & LeVeque (1979, "Updating formulae
//! and a pairwise algorithm for computing sample variances"):
//!
//! ```text
//! δ = mean_B − mean_A,   n = n_A + n_B
//! mean = mean_A + δ·n_B/n
//! M2   = M2_A + M2_B + δ²·n_A·n_B/n,     M2_X = (n_X − 1)·std_X²
//! std  = sqrt(M2 / (n − 1))                (sample std, as `FeatureStats::std`)
//! ```
//!
//! This is exact (up to rounding), unlike the seed's sketch, which mixed a sample and a
//! population variance, used `track_count` for every feature and averaged medians.
//! When the feature keeps its per-track `samples`, the new values are appended and
//! count, min, max and every percentile are recomputed from them, so they are exact too.
//! Without samples min and max are still exact, and the percentiles are kept as they were
//! and reported as stale. The acceptable range is kept: it may have been refined.
//! A feature new to the profile is built from the new values alone
//! ([`FeatureStats::from_samples`]: acceptable range mean ± std, clipped to [min, max]).
//!
//! **Version bump**: a version ending in `_v<N>` becomes `_v<N+1>` (`trance_v1` →
//! `trance_v2`); any other version gets `_v2` appended
//! (`trance_v1_refined_20261128` → `trance_v1_refined_20261128_v2`).

use super::{FeatureStats, Profile};
use crate::error::{Error, ErrorKind, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// What the merge did to one feature.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeatureMerge {
    /// Feature name.
    pub feature: String,
    /// Whether the feature was new to the profile.
    pub added: bool,
    /// New values merged in.
    pub new_values: u64,
    /// Count before (0 when added).
    pub count_before: u64,
    /// Count after.
    pub count_after: u64,
    /// Mean before (`null` when added).
    pub mean_before: Option<f64>,
    /// Mean after.
    pub mean_after: f64,
    /// Std before (`null` when added).
    pub std_before: Option<f64>,
    /// Std after.
    pub std_after: f64,
    /// Whether the percentiles are exact (recomputed from samples) or kept from before.
    pub percentiles_exact: bool,
}

/// The report of a merge.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MergeReport {
    /// Version before.
    pub version_before: String,
    /// Version after.
    pub version_after: String,
    /// Tracks merged in.
    pub tracks_added: u64,
    /// Track count after.
    pub track_count: u64,
    /// Per feature touched, by name.
    pub features: Vec<FeatureMerge>,
}

/// A merged profile and its report.
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    /// The new profile (validated).
    pub profile: Profile,
    /// What changed.
    pub report: MergeReport,
}

/// The next version after `version` (see the module docs).
pub fn bump_version(version: &str) -> String {
    if let Some(pos) = version.rfind("_v") {
        let digits = &version[pos + 2..];
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Some(next) = digits.parse::<u64>().ok().and_then(|n| n.checked_add(1)) {
                return format!("{}_v{next}", &version[..pos]);
            }
        }
    }
    format!("{version}_v2")
}

/// Merges `tracks` (one map of feature name → value per new reference track) into
/// `profile`, returning a new profile; the input is not modified. Every value must be
/// finite; errors name the track index and feature. An empty `tracks` is an error.
pub fn merge_references(profile: &Profile, tracks: &[BTreeMap<String, f64>]) -> Result<Merged> {
    if tracks.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "no new reference tracks to merge",
        ));
    }
    let mut by_feature: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (i, track) in tracks.iter().enumerate() {
        for (name, &value) in track {
            if !value.is_finite() {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("track {i}: feature {name} is {value}, which is not a finite number"),
                ));
            }
            by_feature.entry(name).or_default().push(value);
        }
    }
    let mut merged = profile.clone();
    merged.track_count = profile.track_count + tracks.len() as u64;
    let mut features = Vec::with_capacity(by_feature.len());
    for (name, values) in by_feature {
        let report = match merged.features.get_mut(name) {
            Some(stats) => merge_feature(name, stats, &values),
            None => {
                let stats = FeatureStats::from_samples(&values)
                    .map_err(|e| e.context(format_args!("feature {name}")))?;
                let report = FeatureMerge {
                    feature: name.to_string(),
                    added: true,
                    new_values: values.len() as u64,
                    count_before: 0,
                    count_after: stats.count,
                    mean_before: None,
                    mean_after: stats.mean,
                    std_before: None,
                    std_after: stats.std,
                    percentiles_exact: true,
                };
                merged.features.insert(name.to_string(), stats);
                report
            }
        };
        features.push(report);
    }
    merged.version = bump_version(&profile.version);
    merged.validate().map_err(|e| e.context("merged profile"))?;
    Ok(Merged {
        report: MergeReport {
            version_before: profile.version.clone(),
            version_after: merged.version.clone(),
            tracks_added: tracks.len() as u64,
            track_count: merged.track_count,
            features,
        },
        profile: merged,
    })
}

fn merge_feature(name: &str, stats: &mut FeatureStats, values: &[f64]) -> FeatureMerge {
    let (count_before, mean_before, std_before) = (stats.count, stats.mean, stats.std);
    let nb = values.len() as f64;
    let mean_b = values.iter().sum::<f64>() / nb;
    let m2_b: f64 = values.iter().map(|v| (v - mean_b) * (v - mean_b)).sum();
    let na = stats.count as f64;
    let m2_a = if stats.count > 1 {
        stats.std * stats.std * (na - 1.0)
    } else {
        0.0
    };
    let n = na + nb;
    let delta = mean_b - stats.mean;
    stats.mean += delta * nb / n;
    let m2 = m2_a + m2_b + delta * delta * na * nb / n;
    stats.std = if n > 1.0 {
        (m2 / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    stats.count += values.len() as u64;
    let exact = match &mut stats.samples {
        Some(samples) => {
            samples.extend_from_slice(values);
            true
        }
        None => false,
    };
    if exact {
        stats.recompute_from_samples();
    } else {
        for &v in values {
            stats.min = stats.min.min(v);
            stats.max = stats.max.max(v);
        }
    }
    // Rounding may put the mean a hair outside [min, max] when all values are equal.
    stats.mean = stats.mean.clamp(stats.min, stats.max);
    FeatureMerge {
        feature: name.to_string(),
        added: false,
        new_values: values.len() as u64,
        count_before,
        count_after: stats.count,
        mean_before: Some(mean_before),
        mean_after: stats.mean,
        std_before: Some(std_before),
        std_after: stats.std,
        percentiles_exact: exact,
    }
}

impl std::fmt::Display for MergeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Merged {} new reference track(s): {} → {} ({} tracks)",
            self.tracks_added, self.version_before, self.version_after, self.track_count
        )?;
        for m in &self.features {
            match (m.mean_before, m.std_before) {
                (Some(mean), Some(std)) => writeln!(
                    f,
                    "  {}: n {} → {}, mean {mean:.3} → {:.3}, std {std:.3} → {:.3}{}",
                    m.feature,
                    m.count_before,
                    m.count_after,
                    m.mean_after,
                    m.std_after,
                    if m.percentiles_exact {
                        ""
                    } else {
                        " (percentiles kept: no samples stored)"
                    }
                )?,
                _ => writeln!(
                    f,
                    "  {}: new feature, n {}, mean {:.3}, std {:.3}",
                    m.feature, m.count_after, m.mean_after, m.std_after
                )?,
            }
        }
        Ok(())
    }
}
