//! One track against a profile: its features, and with a profile its gaps, score and
//! proposed fixes ([`TrackAnalysis`]). This is the document `fixloop analyze --json` prints
//! ([`TrackAnalysis::to_json`], the fields of SPEC §5) and the report it prints otherwise
//! (`Display`), built here so the CLI, the C ABI and tests share one definition.

use crate::error::Result;
use crate::features::{Direction, Feature, FeatureVector, Measurement, SpectrumProfile};
use crate::fixes::{self, Fix, Policy};
use crate::gaps::{self, GapReport};
use crate::profile::Profile;
use serde_json::json;
use std::fmt;

/// A track's features and, when compared with a profile, what that comparison found.
#[derive(Clone, Debug)]
pub struct TrackAnalysis {
    /// What the track is called in the report (a path, usually).
    pub track: String,
    /// The track's features.
    pub features: FeatureVector,
    /// The comparison with a profile, if one was given.
    pub compared: Option<Compared>,
    /// For a decoded audio file: how many samples were NaN or infinite and replaced by
    /// silence before analysis (`None` for features read from a file).
    pub non_finite_samples: Option<u64>,
}

/// A track compared with a profile.
#[derive(Clone, Debug)]
pub struct Compared {
    /// The profile.
    pub profile: Profile,
    /// Gaps and score.
    pub report: GapReport,
    /// The policy the fixes were proposed under.
    pub policy: Policy,
    /// The proposed fixes, most confident first.
    pub fixes: Vec<Fix>,
}

impl TrackAnalysis {
    /// The analysis of `features` (of `track`), compared with `profile` under `policy`
    /// when a profile is given. Fails for an invalid policy.
    pub fn new(
        track: &str,
        features: FeatureVector,
        profile: Option<&Profile>,
        policy: &Policy,
    ) -> Result<TrackAnalysis> {
        TrackAnalysis::with_spectrum(track, features, None, profile, policy)
    }

    /// [`TrackAnalysis::new`] for a track whose spectrum profile was measured (an audio
    /// file): the joint plan predicts its side effects from it.
    pub fn with_spectrum(
        track: &str,
        features: FeatureVector,
        spectrum: Option<SpectrumProfile>,
        profile: Option<&Profile>,
        policy: &Policy,
    ) -> Result<TrackAnalysis> {
        policy.validate()?;
        let compared = match profile {
            Some(profile) => {
                let report = gaps::compare(profile, &features);
                let fixes = fixes::propose_for(
                    profile,
                    &report,
                    Some(&features),
                    spectrum.as_ref(),
                    policy,
                )?;
                Some(Compared {
                    profile: profile.clone(),
                    report,
                    policy: *policy,
                    fixes,
                })
            }
            None => None,
        };
        Ok(TrackAnalysis {
            track: track.to_string(),
            features,
            compared,
            non_finite_samples: None,
        })
    }

    /// The `analyze --json` document: `track`, `features{NAME: value}`, `absent{NAME:
    /// reason}`, and with a profile `profile{name, version}`, `score`, `gaps{NAME:{value,
    /// z, in_range}}`, `policy` and `fixes[]`; for a decoded file `non_finite_samples`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut doc = self.features.to_json_value();
        doc["track"] = json!(self.track);
        if let Some(n) = self.non_finite_samples {
            doc["non_finite_samples"] = json!(n);
        }
        if let Some(c) = &self.compared {
            doc["profile"] = json!({"name": c.profile.name, "version": c.profile.version});
            doc["score"] = json!(c.report.score);
            doc["gaps"] = c
                .report
                .gaps
                .iter()
                .map(|g| {
                    (
                        g.feature.name().to_string(),
                        json!({"value": g.value, "z": g.z, "in_range": g.in_range}),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
                .into();
            doc["policy"] = json!(c.policy);
            doc["fixes"] = json!(c.fixes);
        }
        doc
    }
}

/// The human report: the track, then either its features or the profile, the score, a
/// table of every feature against its acceptable range, and the fixes.
impl fmt::Display for TrackAnalysis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Track: {}", self.track)?;
        if let Some(n) = self.non_finite_samples.filter(|&n| n > 0) {
            writeln!(
                f,
                "Warning: {n} sample(s) were not finite numbers (NaN or infinity) and were \
                 replaced by silence before analysis"
            )?;
        }
        let Some(c) = &self.compared else {
            return write!(f, "{}", self.features);
        };
        writeln!(f, "Profile: {}", c.profile)?;
        writeln!(f)?;
        match c.report.score {
            Some(score) => writeln!(
                f,
                "Score: {score:.1} / 100  ({} of {} features in range)",
                c.report.in_range_count(),
                c.report.gaps.len()
            )?,
            None => writeln!(f, "Score: none (no feature of the track is in the profile)")?,
        }
        writeln!(f)?;
        writeln!(
            f,
            "  {:<20} {:>12}  {:<22} {:>7}",
            "Feature", "Value", "Acceptable range", "z"
        )?;
        for feature in Feature::ALL {
            let unit = feature.unit().symbol();
            let value = match self.features.get(feature) {
                Measurement::Value(v) => format!("{v:.2} {unit}"),
                Measurement::Absent(reason) => format!("— ({})", reason.describe()),
            };
            let Some(stats) = c.profile.stats(feature) else {
                writeln!(
                    f,
                    "  {:<20} {:>12}  (not in profile)",
                    feature.name(),
                    value
                )?;
                continue;
            };
            let [lo, hi] = stats.acceptable_range;
            let range = format!("[{lo:.2}, {hi:.2}]");
            match c.report.gap(feature) {
                Some(g) => {
                    let mark = match g.direction {
                        None => "✓",
                        Some(Direction::Below) => "▼ below",
                        Some(Direction::Above) => "▲ above",
                    };
                    writeln!(
                        f,
                        "  {:<20} {:>12}  {:<22} {:>+7.2}  {mark}",
                        feature.name(),
                        value,
                        range,
                        g.z
                    )?;
                }
                None => writeln!(f, "  {:<20} {:>12}  {:<22}", feature.name(), value, range)?,
            }
        }
        writeln!(f)?;
        if c.fixes.is_empty() {
            return writeln!(f, "No fixes proposed ({}).", c.policy);
        }
        writeln!(f, "Fixes ({}):", c.policy)?;
        for (i, fix) in c.fixes.iter().enumerate() {
            let unit = fix.gap_feature.unit().symbol();
            writeln!(f, "  {:>2}. {}", i + 1, fix.describe())?;
            writeln!(
                f,
                "      {} {:.2} → {:.2} {unit} · {} · confidence {:.2}",
                fix.gap_feature, fix.current_value, fix.new_value, fix.action_type, fix.confidence
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wip() -> FeatureVector {
        let mut v = FeatureVector::default();
        v.set(Feature::Loudness, -20.0).unwrap();
        v.set(Feature::BassLevel, -2.0).unwrap();
        v
    }

    #[test]
    fn without_a_profile_only_features_are_reported() {
        let a = TrackAnalysis::new("t.wav", wip(), None, &Policy::default()).unwrap();
        let doc = a.to_json();
        assert_eq!(doc["track"], "t.wav");
        assert_eq!(doc["features"]["loudness"], -20.0);
        assert!(doc.get("score").is_none() && doc.get("fixes").is_none());
        assert!(a.to_string().starts_with("Track: t.wav\n"));
    }

    #[test]
    fn with_the_bundled_profile_gaps_score_and_fixes_agree_with_the_library() {
        let profile = crate::profile::bundled();
        let policy = Policy::default();
        let a = TrackAnalysis::new("t.wav", wip(), Some(&profile), &policy).unwrap();
        let report = gaps::compare(&profile, &wip());
        let fixes = fixes::propose(&profile, &report, &policy).unwrap();
        let doc = a.to_json();
        assert_eq!(doc["score"].as_f64(), report.score);
        assert_eq!(doc["fixes"].as_array().unwrap().len(), fixes.len());
        assert_eq!(doc["profile"]["version"], "trance_v1");
        let g = report.gap(Feature::Loudness).unwrap();
        assert_eq!(doc["gaps"]["loudness"]["z"].as_f64(), Some(g.z));
        let text = a.to_string();
        assert!(text.contains("Profile: trance (trance_v1"), "{text}");
        for fix in &fixes {
            assert!(text.contains(&fix.describe()), "{text}");
        }
        let bad = Policy {
            amount: 2.0,
            ..policy
        };
        assert!(TrackAnalysis::new("t", wip(), Some(&profile), &bad).is_err());
    }
}
