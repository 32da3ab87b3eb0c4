//! The feature vector of one track: a value or an absence reason for each feature of
//! the catalogue, never NaN or infinity.
//!
//! JSON form (the `features` file `fixloop analyze` reads, and the `features` field it
//! writes): `{"features": {"loudness": -8.9, ...}, "absent": {"loudness_range": "too_short"}}`.
//! A bare map of names to numbers is accepted as well. Unknown names are refused (a typo
//! would otherwise silently drop a feature); `null` means absent with no reason given.

use super::catalogue::Feature;
use crate::error::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Why a feature has no value.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Absent {
    /// Not measured (not in the input, or the analyser was not asked for it).
    NotMeasured = 0,
    /// The audio is silent (or below the absolute gate) where the feature needs signal.
    Silence = 1,
    /// One channel is silent, so a correlation is undefined.
    SilentChannel = 2,
    /// Too little audio for the feature's window (e.g. LRA needs 3 s).
    TooShort = 3,
}

impl Absent {
    /// A short explanation for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Absent::NotMeasured => "not measured",
            Absent::Silence => "the audio is silent",
            Absent::SilentChannel => "a channel is silent",
            Absent::TooShort => "the audio is too short",
        }
    }
}

/// One feature's measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Measurement {
    /// A finite value in the feature's unit.
    Value(f64),
    /// No value, and why.
    Absent(Absent),
}

impl Measurement {
    /// The value, if present.
    pub fn value(self) -> Option<f64> {
        match self {
            Measurement::Value(v) => Some(v),
            Measurement::Absent(_) => None,
        }
    }
}

/// The features of one track, indexed by [`Feature`]. Fixed size, `Copy`, allocation-free:
/// the streaming analyser fills one on the audio thread's side without allocating.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeatureVector {
    values: [Measurement; Feature::COUNT],
}

impl Default for FeatureVector {
    fn default() -> Self {
        FeatureVector {
            values: [Measurement::Absent(Absent::NotMeasured); Feature::COUNT],
        }
    }
}

impl FeatureVector {
    /// A vector with every feature absent (not measured).
    pub fn new() -> Self {
        Self::default()
    }

    /// The measurement of `feature`.
    pub fn get(&self, feature: Feature) -> Measurement {
        self.values[feature as usize]
    }

    /// The value of `feature`, if present.
    pub fn value(&self, feature: Feature) -> Option<f64> {
        self.get(feature).value()
    }

    /// Sets `feature` to `value`; a non-finite value is refused with an error naming the feature.
    pub fn set(&mut self, feature: Feature, value: f64) -> Result<()> {
        if !value.is_finite() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("feature {feature}: value {value} is not a finite number"),
            ));
        }
        self.values[feature as usize] = Measurement::Value(value);
        Ok(())
    }

    /// Marks `feature` absent for `reason`.
    pub fn set_absent(&mut self, feature: Feature, reason: Absent) {
        self.values[feature as usize] = Measurement::Absent(reason);
    }

    /// Present features and their values, in catalogue order.
    pub fn iter_values(&self) -> impl Iterator<Item = (Feature, f64)> + '_ {
        Feature::ALL
            .into_iter()
            .filter_map(|f| self.value(f).map(|v| (f, v)))
    }

    /// Builds a vector from (name, value) pairs, refusing unknown names and non-finite values.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, f64)>) -> Result<Self> {
        let mut v = FeatureVector::new();
        for (name, value) in pairs {
            let feature = Feature::from_name(name).ok_or_else(|| unknown_feature(name))?;
            v.set(feature, value)?;
        }
        Ok(v)
    }

    /// Reads the JSON features file at `path` (see the module docs for the format).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// Parses the JSON features format; `origin` names the source in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Doc {
            Wrapped {
                features: BTreeMap<String, Option<f64>>,
                #[serde(default)]
                absent: BTreeMap<String, Absent>,
            },
            Bare(BTreeMap<String, Option<f64>>),
        }
        // Untagged enums hide the field path in errors, so first check that the text is
        // JSON at all, which gives NaN tokens their own message.
        let value: serde_json::Value = crate::json::parse(text, origin)?;
        let doc: Doc = serde_json::from_value(value).map_err(|_| {
            Error::new(
                ErrorKind::Parse,
                "expected {\"features\": {NAME: number, ...}} or a map of feature names to numbers",
            )
            .with_origin(origin)
        })?;
        let (features, absent) = match doc {
            Doc::Wrapped { features, absent } => (features, absent),
            Doc::Bare(features) => (features, BTreeMap::new()),
        };
        let mut v = FeatureVector::new();
        for (name, value) in features {
            let feature = Feature::from_name(&name)
                .ok_or_else(|| unknown_feature(&name).with_origin(origin))?;
            match value {
                Some(x) => v.set(feature, x).map_err(|e| e.with_origin(origin))?,
                None => v.set_absent(feature, Absent::NotMeasured),
            }
        }
        for (name, reason) in absent {
            let feature = Feature::from_name(&name)
                .ok_or_else(|| unknown_feature(&name).with_origin(origin))?;
            if v.value(feature).is_some() {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("feature {name} has a value and is also listed as absent"),
                )
                .with_origin(origin));
            }
            v.set_absent(feature, reason);
        }
        Ok(v)
    }

    /// The JSON form: `{"features": {...}, "absent": {...}}` (absent omitted when empty).
    pub fn to_json_value(&self) -> serde_json::Value {
        let mut features = serde_json::Map::new();
        let mut absent = serde_json::Map::new();
        for f in Feature::ALL {
            match self.get(f) {
                Measurement::Value(x) => {
                    features.insert(f.name().into(), x.into());
                }
                Measurement::Absent(Absent::NotMeasured) => {}
                Measurement::Absent(reason) => {
                    absent.insert(f.name().into(), serde_json::to_value(reason).unwrap());
                }
            }
        }
        let mut doc = serde_json::Map::new();
        doc.insert("features".into(), features.into());
        if !absent.is_empty() {
            doc.insert("absent".into(), absent.into());
        }
        doc.into()
    }
}

fn unknown_feature(name: &str) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!(
            "unknown feature {name:?} (known: {})",
            Feature::ALL.map(|f| f.name()).join(", ")
        ),
    )
}

impl fmt::Display for FeatureVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for feature in Feature::ALL {
            match self.get(feature) {
                Measurement::Value(v) => writeln!(
                    f,
                    "  {:<20} {:>10.2} {}",
                    feature.name(),
                    v,
                    feature.unit().symbol()
                )?,
                Measurement::Absent(reason) => writeln!(
                    f,
                    "  {:<20} {:>10} ({})",
                    feature.name(),
                    "—",
                    reason.describe()
                )?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_and_bare_forms_parse() {
        let a = FeatureVector::from_json(
            r#"{"features": {"loudness": -9.5, "plr": null}, "absent": {"stereo_correlation": "silent_channel"}}"#,
            "t.json",
        )
        .unwrap();
        assert_eq!(a.value(Feature::Loudness), Some(-9.5));
        assert_eq!(
            a.get(Feature::Plr),
            Measurement::Absent(Absent::NotMeasured)
        );
        assert_eq!(
            a.get(Feature::StereoCorrelation),
            Measurement::Absent(Absent::SilentChannel)
        );
        let b = FeatureVector::from_json(r#"{"loudness": -9.5}"#, "t.json").unwrap();
        assert_eq!(b.value(Feature::Loudness), Some(-9.5));
    }

    #[test]
    fn json_round_trip() {
        let mut v = FeatureVector::new();
        v.set(Feature::BassLevel, -6.25).unwrap();
        v.set_absent(Feature::Loudness, Absent::Silence);
        let text = v.to_json_value().to_string();
        assert_eq!(FeatureVector::from_json(&text, "x").unwrap(), v);
    }

    #[test]
    fn bad_inputs_are_refused_with_names() {
        let e = FeatureVector::from_json(r#"{"features": {"bass": 1.0}}"#, "t.json").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.json: unknown feature \"bass\""),
            "{e}"
        );
        let e =
            FeatureVector::from_json(r#"{"features": {"loudness": NaN}}"#, "t.json").unwrap_err();
        assert!(e.to_string().contains("NaN is not a finite number"), "{e}");
        let e = FeatureVector::from_json("[1, 2]", "t.json").unwrap_err();
        assert!(e.to_string().starts_with("t.json: expected"), "{e}");
        let mut v = FeatureVector::new();
        let e = v.set(Feature::Plr, f64::INFINITY).unwrap_err();
        assert!(e.to_string().contains("feature plr: value inf"), "{e}");
    }
}
