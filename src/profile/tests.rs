use super::*;
use serde_json::{json, Value};

fn stats_json() -> Value {
    json!({
        "count": 4, "mean": -6.1, "std": 1.2, "min": -9.0, "max": -3.2,
        "p10": -7.6, "p25": -6.9, "p50": -6.0, "p75": -5.3, "p90": -4.6,
        "acceptable_range": [-7.3, -4.9], "weight": 1.0
    })
}

fn profile_json() -> Value {
    json!({
        "schema": SCHEMA, "name": "trance", "version": "trance_v1", "track_count": 4,
        "features": { "bass_level": stats_json() },
        "fix_confidence": { "volume_adjust": 0.85, "eq_band_cut": 0.78 }
    })
}

fn load(v: &Value) -> Result<Profile> {
    Profile::from_json(&v.to_string(), "profile.json")
}

fn err(v: &Value) -> String {
    let e = load(v).unwrap_err();
    assert_eq!(e.origin(), Some("profile.json"));
    e.to_string()
}

fn with_field(field: &str, value: Value) -> Value {
    let mut p = profile_json();
    p["features"]["bass_level"][field] = value;
    p
}

#[test]
fn valid_profile_loads() {
    let p = load(&profile_json()).unwrap();
    assert_eq!(p.stats(Feature::BassLevel).unwrap().p50, -6.0);
    assert_eq!(p.fix_confidence(FixType::VolumeAdjust), 0.85);
    assert_eq!(
        p.fix_confidence(FixType::Compression),
        DEFAULT_FIX_CONFIDENCE
    );
}

#[test]
fn inverted_range_is_named() {
    let e = err(&with_field("acceptable_range", json!([-4.9, -7.3])));
    assert_eq!(
        e,
        "profile.json: feature bass_level: acceptable_range [-4.9, -7.3] is inverted"
    );
}

#[test]
fn negative_std_is_named() {
    let e = err(&with_field("std", json!(-0.5)));
    assert_eq!(e, "profile.json: feature bass_level: std -0.5 is negative");
}

#[test]
fn negative_weight_is_named() {
    let e = err(&with_field("weight", json!(-1.0)));
    assert!(
        e.ends_with("feature bass_level: weight -1 is negative"),
        "{e}"
    );
}

#[test]
fn wrong_schema_is_refused() {
    let mut p = profile_json();
    p["schema"] = json!("fixloop.profile/2");
    let e = err(&p);
    assert!(e.contains("schema is \"fixloop.profile/2\""), "{e}");
    let mut p = profile_json();
    p.as_object_mut().unwrap().remove("schema");
    assert!(err(&p).contains("not a fixloop profile"));
}

#[test]
fn nan_anywhere_is_refused() {
    let text = profile_json()
        .to_string()
        .replace("\"std\":1.2", "\"std\":NaN");
    assert!(text.contains("NaN"));
    let e = Profile::from_json(&text, "profile.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("NaN is not a finite number"), "{e}");
    assert!(e.contains("features.bass_level.std"), "{e}");
    let text = profile_json()
        .to_string()
        .replace("\"volume_adjust\":0.85", "\"volume_adjust\":Infinity");
    let e = Profile::from_json(&text, "profile.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("Infinity is not a finite number"), "{e}");
}

#[test]
fn count_mismatch_with_samples_is_refused() {
    // With samples present, count is recomputed from them, so a mismatch against
    // track_count is what can go wrong.
    let p = with_field("samples", json!([-6.0, -5.0, -7.0, -6.5, -6.1]));
    let e = err(&p);
    assert!(
        e.contains("feature bass_level: count 5 exceeds track_count 4"),
        "{e}"
    );
    let mut p = profile_json();
    p["features"]["bass_level"]["count"] = json!(9);
    assert!(err(&p).contains("count 9 exceeds track_count 4"));
    let mut p = profile_json();
    p["features"]["bass_level"]["count"] = json!(0);
    assert!(err(&p).contains("count is 0"));
}

#[test]
fn count_mismatch_detected_by_validate() {
    let mut p = load(&profile_json()).unwrap();
    let stats = p.features.get_mut("bass_level").unwrap();
    stats.samples = Some(vec![-6.0, -5.0]);
    let e = p.validate().unwrap_err().to_string();
    assert_eq!(
        e,
        "feature bass_level: count is 4 but samples holds 2 values"
    );
    stats_mut(&mut p).samples = Some(vec![-6.0, f64::NAN, -5.0, -4.0]);
    assert!(p
        .validate()
        .unwrap_err()
        .to_string()
        .contains("samples[1] is NaN"));
}

fn stats_mut(p: &mut Profile) -> &mut FeatureStats {
    p.features.get_mut("bass_level").unwrap()
}

#[test]
fn unordered_percentiles_are_refused() {
    let e = err(&with_field("p75", json!(-8.0)));
    assert!(e.contains("p50 -6 is above p75 -8"), "{e}");
    let e = err(&with_field("min", json!(0.0)));
    assert!(e.contains("min 0 is above max -3.2"), "{e}");
    let e = err(&with_field("mean", json!(5.0)));
    assert!(e.contains("mean 5 lies outside"), "{e}");
}

#[test]
fn bad_fix_confidence_is_refused() {
    let mut p = profile_json();
    p["fix_confidence"]["compression"] = json!(1.5);
    assert!(err(&p).contains("fix_confidence compression: 1.5 is not a number in [0, 1]"));
    let mut p = profile_json();
    p["fix_confidence"]["saturation"] = json!(0.5);
    assert!(err(&p).contains("saturation"));
}

#[test]
fn wrong_type_and_missing_field_are_named() {
    let e = err(&with_field("mean", json!("loud")));
    assert!(e.contains("features.bass_level.mean"), "{e}");
    let mut p = profile_json();
    p["features"]["bass_level"]
        .as_object_mut()
        .unwrap()
        .remove("p90");
    let e = err(&p);
    assert!(e.contains("p90"), "{e}");
    assert!(err(&json!({"schema": SCHEMA})).contains("missing field"));
}

#[test]
fn empty_version_is_refused() {
    let mut p = profile_json();
    p["version"] = json!(" ");
    assert!(err(&p).contains("version is empty"));
}

#[test]
fn percentiles_come_from_samples() {
    // Samples 1..=4: numpy.percentile gives p10 1.3, p25 1.75, p50 2.5, p75 3.25, p90 3.7.
    let mut p = profile_json();
    p["features"]["bass_level"] = json!({
        "count": 4, "mean": 2.5, "std": 1.29, "min": 0, "max": 0,
        "p10": 0, "p25": 0, "p50": 0, "p75": 0, "p90": 0,
        "acceptable_range": [2.0, 3.0], "samples": [4.0, 1.0, 3.0, 2.0]
    });
    let p = load(&p).unwrap();
    let s = p.stats(Feature::BassLevel).unwrap();
    let got = [s.min, s.p10, s.p25, s.p50, s.p75, s.p90, s.max];
    let want = [1.0, 1.3, 1.75, 2.5, 3.25, 3.7, 4.0];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{got:?}");
    }
}

#[test]
fn from_samples_matches_hand_computation() {
    // mean 2.5; sample variance ((1.5² + 0.5²) · 2) / 3 = 5/3.
    let s = FeatureStats::from_samples(&[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert_eq!(s.mean, 2.5);
    assert!((s.std - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
    let sd = (5.0f64 / 3.0).sqrt();
    assert_eq!(s.acceptable_range, [2.5 - sd, 2.5 + sd]);
    // One sample: std 0, range collapses to the value.
    assert_eq!(
        FeatureStats::from_samples(&[3.0]).unwrap().acceptable_range,
        [3.0, 3.0]
    );
    assert!(FeatureStats::from_samples(&[]).is_err());
    assert!(FeatureStats::from_samples(&[1.0, f64::INFINITY]).is_err());
}

#[test]
fn round_trip_keeps_unknown_fields() {
    let mut v = profile_json();
    v["created_by"] = json!("studio A");
    v["features"]["bass_level"]["note"] = json!({"x": 1});
    let p = load(&v).unwrap();
    let again = Profile::from_json(&p.to_json(), "again.json").unwrap();
    assert_eq!(p, again);
    assert_eq!(again.extra["created_by"], json!("studio A"));
    assert_eq!(again.features["bass_level"].extra["note"], json!({"x": 1}));
}

#[test]
fn save_is_atomic_and_validated() {
    let dir = std::env::temp_dir().join(format!("fixloop-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.json");
    let p = load(&profile_json()).unwrap();
    p.save(&path).unwrap();
    assert_eq!(Profile::load(&path).unwrap(), p);
    let mut bad = p.clone();
    stats_mut(&mut bad).std = -1.0;
    let e = bad.save(&path).unwrap_err().to_string();
    assert!(e.contains("std -1 is negative"), "{e}");
    // The good file is untouched by the refused save.
    assert_eq!(Profile::load(&path).unwrap(), p);
    let e = Profile::load(&dir.join("missing.json")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("missing.json"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_bundled_profile_is_valid_and_scores_every_feature() {
    let p = Profile::from_json(BUNDLED_JSON, "bundled").unwrap();
    assert_eq!(p.name, "trance");
    assert_eq!(bundled(), p);
    for f in crate::features::Feature::ALL {
        assert!(p.features.contains_key(f.name()), "{}", f.name());
    }
}
