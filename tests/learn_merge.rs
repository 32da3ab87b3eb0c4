//! Merging new reference tracks (SPEC §4.4): Chan's parallel formula equals recomputing
//! from all samples.

use fixloop::learn::SplitMix64;
use fixloop::profile::{bump_version, merge_references, FeatureStats, Profile};
use std::collections::BTreeMap;

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

fn tracks(values: &[f64], feature: &str) -> Vec<BTreeMap<String, f64>> {
    values
        .iter()
        .map(|&v| BTreeMap::from([(feature.to_string(), v)]))
        .collect()
}

#[test]
fn chan_merge_equals_recomputation_on_random_data() {
    let mut rng = SplitMix64::new(42);
    for round in 0..50 {
        let n_old = 2 + (rng.next_u64() % 40) as usize;
        let n_new = 1 + (rng.next_u64() % 40) as usize;
        let shift = rng.next_normal() * 5.0;
        let all: Vec<f64> = (0..n_old + n_new)
            .map(|i| -6.0 + 1.5 * rng.next_normal() + if i >= n_old { shift } else { 0.0 })
            .collect();
        let mut p = Profile::new("t");
        p.track_count = n_old as u64;
        p.features.insert(
            "bass_level".into(),
            FeatureStats::from_samples(&all[..n_old]).unwrap(),
        );
        let merged = merge_references(&p, &tracks(&all[n_old..], "bass_level")).unwrap();
        let got = &merged.profile.features["bass_level"];
        let want = FeatureStats::from_samples(&all).unwrap();
        // Tolerance 1e-12 relative: both are exact up to a few roundings.
        for (name, a, b) in [
            ("mean", got.mean, want.mean),
            ("std", got.std, want.std),
            ("min", got.min, want.min),
            ("max", got.max, want.max),
            ("p10", got.p10, want.p10),
            ("p25", got.p25, want.p25),
            ("p50", got.p50, want.p50),
            ("p75", got.p75, want.p75),
            ("p90", got.p90, want.p90),
        ] {
            assert!(rel_close(a, b, 1e-12), "round {round}: {name} {a} vs {b}");
        }
        assert_eq!(got.count, (n_old + n_new) as u64);
        assert_eq!(merged.profile.track_count, (n_old + n_new) as u64);
        assert!(merged.report.features[0].percentiles_exact);
        // The range is kept.
        assert_eq!(
            got.acceptable_range,
            p.features["bass_level"].acceptable_range
        );
    }
}

#[test]
fn without_samples_moments_are_exact_and_percentiles_kept() {
    let old = [1.0, 2.0, 4.0, 7.0, 11.0];
    let new = [3.0, 20.0];
    let mut stats = FeatureStats::from_samples(&old).unwrap();
    stats.samples = None;
    let mut p = Profile::new("t");
    p.track_count = 5;
    p.features.insert("plr".into(), stats.clone());
    let m = merge_references(&p, &tracks(&new, "plr")).unwrap();
    let got = &m.profile.features["plr"];
    let all: Vec<f64> = old.iter().chain(&new).copied().collect();
    let want = FeatureStats::from_samples(&all).unwrap();
    assert!(rel_close(got.mean, want.mean, 1e-12) && rel_close(got.std, want.std, 1e-12));
    assert_eq!((got.min, got.max, got.count), (1.0, 20.0, 7));
    assert_eq!(got.p50, stats.p50);
    assert!(!m.report.features[0].percentiles_exact);
}

#[test]
fn new_features_versions_and_bad_input() {
    let mut p = Profile::new("trance");
    p.track_count = 3;
    p.features.insert(
        "loudness".into(),
        FeatureStats::from_samples(&[-9.0, -8.0, -7.5]).unwrap(),
    );
    let t = vec![
        BTreeMap::from([
            ("loudness".to_string(), -8.5),
            ("air_level".to_string(), -30.0),
        ]),
        BTreeMap::from([("air_level".to_string(), -28.0)]),
    ];
    let before = p.clone();
    let m = merge_references(&p, &t).unwrap();
    assert_eq!(p, before);
    assert_eq!(m.profile.version, "trance_v2");
    assert_eq!(m.profile.track_count, 5);
    assert_eq!(m.profile.features["loudness"].count, 4);
    let air = &m.profile.features["air_level"];
    assert_eq!((air.count, air.mean), (2, -29.0));
    assert!(m
        .report
        .features
        .iter()
        .any(|f| f.feature == "air_level" && f.added));

    assert_eq!(bump_version("trance_v9"), "trance_v10");
    assert_eq!(bump_version("trance"), "trance_v2");
    assert_eq!(
        bump_version("trance_v1_refined_20261128"),
        "trance_v1_refined_20261128_v2"
    );

    let e = merge_references(&p, &[]).unwrap_err();
    assert!(e.to_string().contains("no new reference tracks"), "{e}");
    let bad = vec![BTreeMap::from([("loudness".to_string(), f64::NAN)])];
    let e = merge_references(&p, &bad).unwrap_err();
    assert!(
        e.to_string().contains("track 0: feature loudness is NaN"),
        "{e}"
    );
}
