//! Building a profile from reference tracks: analyse the files (in parallel, with
//! progress), then the per-feature statistics of the tracks that could be analysed.

use super::{FeatureStats, Profile};
use crate::error::Result;
use crate::features::{Feature, FeatureVector};
#[cfg(feature = "decode")]
use crate::{
    error::Error,
    features::{analyze_files, Progress},
};
#[cfg(feature = "decode")]
use std::path::PathBuf;

/// The result of [`build_profile`].
#[cfg(feature = "decode")]
#[derive(Debug)]
pub struct BuiltProfile {
    /// The profile of the files that could be analysed (`track_count` of them), with
    /// per-track `samples` kept; features no track had are left out.
    pub profile: Profile,
    /// The files that failed, with why; they are not in the profile.
    pub failed: Vec<(PathBuf, Error)>,
    /// The files in the profile that had non-finite samples (replaced by silence before
    /// analysis), with how many.
    pub repaired: Vec<(PathBuf, u64)>,
    /// The WAV files in the profile whose header sizes were never finalised (read to the
    /// end of the file).
    pub unfinalised: Vec<PathBuf>,
}

/// Analyses `paths` in parallel and builds the profile `name` from those that succeed
/// (statistics by [`FeatureStats::from_samples`]). Fails only when no file succeeds, with
/// an error that names the first failure.
#[cfg(feature = "decode")]
pub fn build_profile(
    name: &str,
    paths: &[PathBuf],
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Result<BuiltProfile> {
    let results = analyze_files(paths, progress);
    let mut failed = Vec::new();
    let mut repaired = Vec::new();
    let mut unfinalised = Vec::new();
    let mut vectors = Vec::new();
    for r in results {
        match r.analysis {
            Ok(a) => {
                if a.info.header_unfinalised {
                    unfinalised.push(r.path.clone());
                }
                if a.info.non_finite_samples > 0 {
                    repaired.push((r.path, a.info.non_finite_samples));
                }
                vectors.push(a.features)
            }
            Err(e) => failed.push((r.path, e)),
        }
    }
    if vectors.is_empty() {
        let why = match failed.first() {
            Some((_, e)) => format!("no file could be analysed (first failure: {e})"),
            None => "no audio files given".to_string(),
        };
        return Err(
            Error::new(crate::error::ErrorKind::Audio, why).with_origin(format!("profile {name}"))
        );
    }
    Ok(BuiltProfile {
        profile: profile_from_vectors(name, &vectors)?,
        failed,
        repaired,
        unfinalised,
    })
}

/// The profile `name` of the tracks `vectors`: per feature, the statistics of the tracks
/// where it is present ([`FeatureStats::from_samples`]).
pub fn profile_from_vectors(name: &str, vectors: &[FeatureVector]) -> Result<Profile> {
    let mut profile = Profile::new(name);
    profile.track_count = vectors.len() as u64;
    for feature in Feature::ALL {
        let samples: Vec<f64> = vectors.iter().filter_map(|v| v.value(feature)).collect();
        if samples.is_empty() {
            continue;
        }
        let stats = FeatureStats::from_samples(&samples).map_err(|e| e.context(feature))?;
        profile.features.insert(feature.name().to_string(), stats);
    }
    Ok(profile)
}
