//! One track against a profile: its features, and with a profile its gaps, score and
//! proposed fixes ([`TrackAnalysis`]). This is the document `fixloop analyze --json` prints
//! ([`TrackAnalysis::to_json`], the fields of SPEC §5) and the report it prints otherwise
//! (`Display`), built here so the CLI, the C ABI and tests share one definition.

use crate::error::Result;
use crate::features::{Direction, Feature, FeatureVector, Measurement, SpectrumProfile};
use crate::fixes::{self, Fix, Plan, Policy, Render};
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
    /// The joint plan the fixes come from (`None` for `plan: independent`).
    pub plan: Option<Plan>,
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
        TrackAnalysis::checked(track, features, spectrum, profile, policy, None)
    }

    /// [`TrackAnalysis::with_spectrum`] whose joint plan is checked against the audio:
    /// `render` renders the track through the fix stage at the plan's moves and
    /// re-analyses it, and [`Plan::checked`] holds what it measured. The fixes are the
    /// ones the plugin and the C ABI propose for the same features, spectrum, profile and
    /// policy: the check measures them, it does not change them.
    pub fn checked(
        track: &str,
        features: FeatureVector,
        spectrum: Option<SpectrumProfile>,
        profile: Option<&Profile>,
        policy: &Policy,
        render: Option<Render<'_>>,
    ) -> Result<TrackAnalysis> {
        policy.validate()?;
        let compared = match profile {
            Some(profile) => {
                // The producer's learned targets, where the policy aims at them.
                let aimed = profile.aimed(policy.targets);
                let profile = aimed.as_ref();
                let report = gaps::compare(profile, &features);
                let (mut plan, fixes) = fixes::propose_plan(
                    profile,
                    &report,
                    Some(&features),
                    spectrum.as_ref(),
                    policy,
                    None,
                )?;
                if let (Some(plan), Some(render)) = (plan.as_mut(), render) {
                    plan.checked = Some(if plan.moves.moves_a_control() {
                        render(&plan.moves.controls_only())?
                    } else {
                        features
                    });
                }
                Some(Compared {
                    profile: profile.clone(),
                    report,
                    policy: *policy,
                    fixes,
                    plan,
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
            if let Some(plan) = &c.plan {
                doc["plan"] = plan_json(plan);
            }
        }
        doc
    }
}

/// The `plan` object of the `analyze --json` document: the moves, the weighted excess
/// before and predicted after, the predicted features and, when checked, the measured
/// ones.
fn plan_json(plan: &Plan) -> serde_json::Value {
    let values = |v: &FeatureVector| {
        v.iter_values()
            .map(|(f, x)| (f.name().to_string(), json!(x)))
            .collect::<serde_json::Map<_, _>>()
    };
    let m = &plan.moves;
    json!({
        "moves": {
            "gain_db": m.gain_db,
            "band_db": m.band_db,
            "width": m.width,
            "dynamics_db": m.dynamics_db,
            "pumping_db": m.pumping_db,
        },
        "excess_before": plan.excess_before,
        "excess_after": plan.excess_after,
        "predicted": values(&plan.predicted),
        "predicted_controls": values(&plan.predicted_controls),
        "checked": plan.checked.as_ref().map(values),
        "peak_correction_db": plan.peak_correction_db,
    })
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
            if !fix.serves.is_empty() {
                let serves: Vec<&str> = fix.serves.iter().map(|f| f.name()).collect();
                writeln!(f, "      serves {}", serves.join(", "))?;
            }
            if !fix.effects.is_empty() {
                let effects: Vec<String> = fix
                    .effects
                    .iter()
                    .map(|e| format!("{} {:+.2}", e.feature, e.after - e.before))
                    .collect();
                writeln!(f, "      predicted alone: {}", effects.join(", "))?;
            }
        }
        if let Some(plan) = &c.plan {
            write_plan(f, plan, &self.features, &c.profile)?;
        }
        Ok(())
    }
}

/// The plan's table: every feature it moves, now, predicted after all fixes, and predicted
/// and (when checked) measured after the fix stage's own controls; then the scores.
fn write_plan(
    f: &mut fmt::Formatter<'_>,
    plan: &Plan,
    now: &FeatureVector,
    profile: &Profile,
) -> fmt::Result {
    writeln!(f)?;
    let checked = plan.checked.as_ref();
    writeln!(
        f,
        "Plan: distance to your references {:.2} → {:.2} (predicted: Σ weight · c(|value − mean| / std), c(z) = min(z, 5) + 0.1·max(z − 5, 0), \
         over every feature; each fix, in the order shown, lowers it, EQ, width and dynamics at matched level as the output gain sets the level){}",
        plan.excess_before,
        plan.excess_after,
        if checked.is_some() {
            "; the fix stage's part checked on the track rendered through it and re-analysed"
        } else {
            ""
        }
    )?;
    writeln!(
        f,
        "  {:<20} {:>10} {:>11} {:>17} {:>10}",
        "Feature",
        "Now",
        "After plan",
        "Fix stage: pred.",
        if checked.is_some() { "measured" } else { "" }
    )?;
    for feature in Feature::ALL {
        let (Some(a), Some(p), Some(pc)) = (
            now.value(feature),
            plan.predicted.value(feature),
            plan.predicted_controls.value(feature),
        ) else {
            continue;
        };
        let m = checked.and_then(|c| c.value(feature));
        let moved = |x: f64| (x - a).abs() >= 0.005;
        if !moved(p) && !moved(pc) && m.is_none_or(|m| !moved(m)) {
            continue;
        }
        let m = m.map_or(String::new(), |m| format!("{m:.2}"));
        writeln!(
            f,
            "  {:<20} {a:>10.2} {p:>11.2} {pc:>17.2} {m:>10}",
            feature.name()
        )?;
    }
    let score = |v: &FeatureVector| {
        gaps::compare(profile, v)
            .score
            .map_or("—".to_string(), |s| format!("{s:.1}"))
    };
    write!(
        f,
        "Score: {} now, {} after the plan (predicted); fix stage alone {} predicted",
        score(now),
        score(&plan.predicted),
        score(&plan.predicted_controls)
    )?;
    match checked {
        Some(c) => writeln!(f, ", {} measured", score(c)),
        None => writeln!(f),
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
