//! The profile of SPEC §2 (`fixloop.profile/1`): per-feature statistics of a set of
//! reference tracks and an acceptable range, plus the confidence in each fix type.
//!
//! Loading validates everything and refuses a bad profile with an error naming the
//! file, the feature and the field. When a feature keeps its per-track `samples`,
//! `count`, `min`, `max` and the percentiles are recomputed from them on load (the
//! samples are the truth; stored summaries may be stale), using linear interpolation
//! between order statistics (numpy's default `percentile`, Hyndman–Fan type 7).
//! `mean` and `std` are kept as stored. `std` is the sample standard deviation (n − 1).
//! Unknown fields, at the top level and per feature, are kept on round trip.

mod build;
mod merge;
mod stats;

pub use build::profile_from_vectors;
#[cfg(feature = "decode")]
pub use build::{build_profile, BuiltProfile};
pub use merge::{bump_version, merge_references, FeatureMerge, MergeReport, Merged};
pub use stats::percentile;

use crate::error::{Error, ErrorKind, Result};
use crate::features::{Feature, FixType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The schema string of this profile format.
pub const SCHEMA: &str = "fixloop.profile/1";

/// A reference profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Human name ("trance").
    pub name: String,
    /// Version string, recorded on every feedback event (`trance_v1`, `trance_v1_refined_20261128`).
    pub version: String,
    /// Number of reference tracks behind the profile.
    pub track_count: u64,
    /// Statistics per feature, by name. Names outside this build's catalogue are kept
    /// (a newer build may have measured them) but are not scored.
    pub features: BTreeMap<String, FeatureStats>,
    /// Prior confidence per fix type (0–1), the starting point of a fix's confidence.
    #[serde(default)]
    pub fix_confidence: BTreeMap<FixType, f64>,
    /// Confidence per fix type and feature (SPEC §4.3), learned by refinement once a
    /// (type, feature) pair has enough events; fix generation uses it and falls back to
    /// the type's value. Optional: absent in profiles that never learned one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fix_confidence_by_feature: BTreeMap<FixType, BTreeMap<String, f64>>,
    /// Where the producer wants each feature, learned from their decisions
    /// ([`crate::learn::taste`]; schema `fixloop.taste/1`). Absent in a profile built from
    /// references and in any that never learned one; fixes aim at it under the policy's
    /// `targets: learned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taste: Option<crate::learn::taste::TasteModel>,
    /// Fields this version does not know, kept on round trip.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// One feature's statistics over the reference tracks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    /// Number of reference tracks with a value.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// The range a track's value should lie in, `[low, high]`.
    pub acceptable_range: [f64; 2],
    /// Weight in the score (default 1; 0 leaves the feature out of the score).
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// Per-track values, when kept; they make percentiles exact after merges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<Vec<f64>>,
    /// Fields this version does not know, kept on round trip.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn default_weight() -> f64 {
    1.0
}

/// The fix confidence assumed for a fix type the profile does not list.
pub const DEFAULT_FIX_CONFIDENCE: f64 = 0.7;

impl FeatureStats {
    /// Statistics of `samples` (at least one, all finite): mean, sample std, min, max,
    /// percentiles; acceptable range mean ± std (as in the seed's example profile, about the
    /// middle two thirds of normally spread references) clipped to [min, max]; weight 1;
    /// samples kept.
    pub fn from_samples(samples: &[f64]) -> Result<FeatureStats> {
        if samples.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "cannot build statistics from zero samples",
            ));
        }
        if let Some((i, v)) = samples.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("sample {i} is {v}, which is not a finite number"),
            ));
        }
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let m2: f64 = samples.iter().map(|v| (v - mean) * (v - mean)).sum();
        let std = if samples.len() > 1 {
            (m2 / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        let mut stats = FeatureStats {
            count: samples.len() as u64,
            mean,
            std,
            min: 0.0,
            max: 0.0,
            p10: 0.0,
            p25: 0.0,
            p50: 0.0,
            p75: 0.0,
            p90: 0.0,
            acceptable_range: [0.0, 0.0],
            weight: 1.0,
            samples: Some(samples.to_vec()),
            extra: BTreeMap::new(),
        };
        stats.recompute_from_samples();
        stats.acceptable_range = [
            (mean - std).max(stats.min).min(mean),
            (mean + std).min(stats.max).max(mean),
        ];
        Ok(stats)
    }

    /// Recomputes count, min, max and percentiles from `samples`, if present.
    pub fn recompute_from_samples(&mut self) {
        let Some(samples) = &self.samples else {
            return;
        };
        if samples.is_empty() {
            return;
        }
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        self.count = sorted.len() as u64;
        self.min = sorted[0];
        self.max = sorted[sorted.len() - 1];
        self.p10 = percentile(&sorted, 10.0);
        self.p25 = percentile(&sorted, 25.0);
        self.p50 = percentile(&sorted, 50.0);
        self.p75 = percentile(&sorted, 75.0);
        self.p90 = percentile(&sorted, 90.0);
    }

    /// Width of the acceptable range.
    pub fn range_width(&self) -> f64 {
        self.acceptable_range[1] - self.acceptable_range[0]
    }

    /// Whether `value` lies in the acceptable range (edges included).
    pub fn in_range(&self, value: f64) -> bool {
        value >= self.acceptable_range[0] && value <= self.acceptable_range[1]
    }

    /// Checks the rules of `fixloop.profile/1`; errors name the field (not the feature or file).
    pub fn validate(&self) -> Result<()> {
        let invalid = |msg: String| Err(Error::new(ErrorKind::InvalidProfile, msg));
        let numbers = [
            ("mean", self.mean),
            ("std", self.std),
            ("min", self.min),
            ("max", self.max),
            ("p10", self.p10),
            ("p25", self.p25),
            ("p50", self.p50),
            ("p75", self.p75),
            ("p90", self.p90),
            ("acceptable_range[0]", self.acceptable_range[0]),
            ("acceptable_range[1]", self.acceptable_range[1]),
            ("weight", self.weight),
        ];
        for (field, v) in numbers {
            if !v.is_finite() {
                return invalid(format!("{field} is {v}, which is not a finite number"));
            }
        }
        if let Some(samples) = &self.samples {
            if let Some((i, v)) = samples.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return invalid(format!("samples[{i}] is {v}, which is not a finite number"));
            }
            if samples.len() as u64 != self.count {
                return invalid(format!(
                    "count is {} but samples holds {} values",
                    self.count,
                    samples.len()
                ));
            }
        }
        if self.count == 0 {
            return invalid("count is 0: a feature needs at least one reference value".into());
        }
        if self.std < 0.0 {
            return invalid(format!("std {} is negative", self.std));
        }
        if self.weight < 0.0 {
            return invalid(format!("weight {} is negative", self.weight));
        }
        let [low, high] = self.acceptable_range;
        if low > high {
            return invalid(format!("acceptable_range [{low}, {high}] is inverted"));
        }
        if self.min > self.max {
            return invalid(format!("min {} is above max {}", self.min, self.max));
        }
        let order = [
            ("min", self.min),
            ("p10", self.p10),
            ("p25", self.p25),
            ("p50", self.p50),
            ("p75", self.p75),
            ("p90", self.p90),
            ("max", self.max),
        ];
        for pair in order.windows(2) {
            let ((a, va), (b, vb)) = (pair[0], pair[1]);
            if va > vb {
                return invalid(format!("{a} {va} is above {b} {vb}"));
            }
        }
        if self.mean < self.min || self.mean > self.max {
            return invalid(format!(
                "mean {} lies outside [min, max] = [{}, {}]",
                self.mean, self.min, self.max
            ));
        }
        Ok(())
    }
}

/// The bundled default profile (`assets/trance_profile.json`: 40 synthesised trance
/// references, written by `examples/data/generate.py`), the one the plugin uses until
/// the producer picks another.
pub const BUNDLED_JSON: &str = include_str!("../../assets/trance_profile.json");

/// The bundled default profile, parsed ([`BUNDLED_JSON`]). A test checks that it is
/// valid, so this cannot fail in a release; should it ever, an empty profile keeps a
/// host running.
pub fn bundled() -> Profile {
    Profile::from_json(BUNDLED_JSON, "bundled trance_profile.json")
        .unwrap_or_else(|_| Profile::new("empty"))
}

impl Profile {
    /// An empty profile called `name`, version `{name}_v1`.
    pub fn new(name: &str) -> Profile {
        Profile {
            schema: SCHEMA.into(),
            name: name.into(),
            version: format!("{name}_v1"),
            track_count: 0,
            features: BTreeMap::new(),
            fix_confidence: BTreeMap::new(),
            fix_confidence_by_feature: BTreeMap::new(),
            taste: None,
            extra: BTreeMap::new(),
        }
    }

    /// Reads, validates and normalises the profile at `path`.
    pub fn load(path: &Path) -> Result<Profile> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
        Profile::from_json(&text, &origin_of(path))
    }

    /// Parses, validates and normalises a profile; `origin` names the source in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Profile> {
        // Check the schema before the shape, so an unrelated JSON file gets the clearest error.
        let value: serde_json::Value = crate::json::parse(text, origin)?;
        match value.get("schema").and_then(|s| s.as_str()) {
            Some(SCHEMA) => {}
            Some(other) => {
                return Err(Error::new(
                    ErrorKind::InvalidProfile,
                    format!("schema is {other:?}, expected {SCHEMA:?}"),
                )
                .with_origin(origin))
            }
            None => {
                return Err(Error::new(
                    ErrorKind::InvalidProfile,
                    format!("no \"schema\": {SCHEMA:?} field; this is not a fixloop profile"),
                )
                .with_origin(origin))
            }
        }
        let mut profile: Profile = crate::json::parse(text, origin)?;
        for stats in profile.features.values_mut() {
            stats.recompute_from_samples();
        }
        profile.validate().map_err(|e| e.with_origin(origin))?;
        Ok(profile)
    }

    /// Checks every rule of `fixloop.profile/1`; errors name the feature and field.
    pub fn validate(&self) -> Result<()> {
        let invalid = |msg: String| Err(Error::new(ErrorKind::InvalidProfile, msg));
        if self.schema != SCHEMA {
            return invalid(format!("schema is {:?}, expected {SCHEMA:?}", self.schema));
        }
        if self.version.trim().is_empty() {
            return invalid("version is empty".into());
        }
        for (name, stats) in &self.features {
            stats
                .validate()
                .map_err(|e| e.context(format_args!("feature {name}")))?;
            if stats.count > self.track_count {
                return invalid(format!(
                    "feature {name}: count {} exceeds track_count {}",
                    stats.count, self.track_count
                ));
            }
        }
        for (fix_type, c) in &self.fix_confidence {
            if !(c.is_finite() && (0.0..=1.0).contains(c)) {
                return invalid(format!(
                    "fix_confidence {fix_type}: {c} is not a number in [0, 1]"
                ));
            }
        }
        for (fix_type, by_feature) in &self.fix_confidence_by_feature {
            for (feature, c) in by_feature {
                if !(c.is_finite() && (0.0..=1.0).contains(c)) {
                    return invalid(format!(
                        "fix_confidence_by_feature {fix_type}.{feature}: {c} is not a number in [0, 1]"
                    ));
                }
            }
        }
        if let Some(taste) = &self.taste {
            taste.validate()?;
        }
        Ok(())
    }

    /// Validates and writes the profile as pretty JSON to `path`, atomically (a temporary
    /// file in the same directory, then a rename), so a crash never leaves half a profile.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.validate()
            .map_err(|e| e.with_origin(origin_of(path)))?;
        let text = crate::json::to_pretty(self);
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file_name = path.file_name().ok_or_else(|| {
            Error::new(ErrorKind::InvalidInput, "output path has no file name")
                .with_origin(path.display().to_string())
        })?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            file_name.to_string_lossy(),
            std::process::id()
        ));
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, "write", e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, "replace", e)
        })
    }

    /// The statistics of a catalogue feature, if the profile has them.
    pub fn stats(&self, feature: Feature) -> Option<&FeatureStats> {
        self.features.get(feature.name())
    }

    /// The prior confidence of `fix_type`: the profile's value, else [`DEFAULT_FIX_CONFIDENCE`].
    pub fn fix_confidence(&self, fix_type: FixType) -> f64 {
        self.fix_confidence
            .get(&fix_type)
            .copied()
            .unwrap_or(DEFAULT_FIX_CONFIDENCE)
    }

    /// The prior confidence of a `fix_type` fix for `feature`: the learned per-feature
    /// value when there is one, else the type's ([`fix_confidence`](Self::fix_confidence)).
    pub fn fix_confidence_for(&self, fix_type: FixType, feature: Feature) -> f64 {
        self.fix_confidence_by_feature
            .get(&fix_type)
            .and_then(|m| m.get(feature.name()))
            .copied()
            .unwrap_or_else(|| self.fix_confidence(fix_type))
    }

    /// The profile as pretty JSON.
    pub fn to_json(&self) -> String {
        crate::json::to_pretty(self)
    }
}

/// The name errors use for a file: its file name alone when it has one, else the path.
fn origin_of(path: &Path) -> String {
    path.display().to_string()
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {} tracks, {} features)",
            self.name,
            self.version,
            self.track_count,
            self.features.len()
        )
    }
}

#[cfg(test)]
mod tests;
