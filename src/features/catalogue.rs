//! The feature catalogue: stable names, units, band edges and the default feature →
//! fix-type mapping (SPEC §1). Every other module takes names from here; none spells
//! a feature or fix name as a string literal of its own.

use crate::dsp::Band;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One analysed feature. The discriminant is the stable numeric id used by the C ABI;
/// ids are never reused or renumbered (new features take new ids).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Integrated loudness, ITU-R BS.1770-4 / EBU R128, gated (LUFS).
    Loudness = 0,
    /// EBU R128 loudness range, EBU Tech 3342 (LU).
    LoudnessRange = 1,
    /// Maximum true peak, BS.1770-4 Annex 2, 4× oversampling (dBTP).
    TruePeak = 2,
    /// Peak-to-loudness ratio, true_peak − loudness (dB).
    Plr = 3,
    /// Energy of L and R in 20–60 Hz relative to 20 Hz–20 kHz (dB).
    SubLevel = 4,
    /// Energy in 60–250 Hz relative to 20 Hz–20 kHz (dB).
    BassLevel = 5,
    /// Energy in 250–500 Hz relative to 20 Hz–20 kHz (dB).
    LowMidLevel = 6,
    /// Energy in 500 Hz–2 kHz relative to 20 Hz–20 kHz (dB).
    MidLevel = 7,
    /// Energy in 2–6 kHz relative to 20 Hz–20 kHz (dB).
    HighMidLevel = 8,
    /// Energy in 6–12 kHz relative to 20 Hz–20 kHz (dB).
    HighLevel = 9,
    /// Energy in 12–20 kHz relative to 20 Hz–20 kHz (dB).
    AirLevel = 10,
    /// Energy-weighted mean frequency over 20 Hz–20 kHz (Hz).
    SpectralCentroid = 11,
    /// RMS(side) / RMS(mid), capped at 10 (ratio; 0 = mono).
    StereoWidth = 12,
    /// Pearson correlation of L and R (−1…1).
    StereoCorrelation = 13,
    /// Stereo width of mid and side low-passed at 150 Hz (ratio).
    LowEndWidth = 14,
    /// Pumping depth: median over 1 s windows of the 95th − 5th percentile of 10 ms mid RMS (dB).
    ModulationDepth = 15,
}

/// How features are grouped for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeatureGroup {
    /// Loudness, loudness range, true peak, PLR.
    LoudnessDynamics,
    /// The seven bands and the centroid.
    Tone,
    /// Width, correlation, low-end width.
    Stereo,
    /// Pumping.
    Movement,
}

impl FeatureGroup {
    /// Every group, in display order.
    pub const ALL: [FeatureGroup; 4] = [
        FeatureGroup::LoudnessDynamics,
        FeatureGroup::Tone,
        FeatureGroup::Stereo,
        FeatureGroup::Movement,
    ];

    /// The group's heading.
    pub fn title(self) -> &'static str {
        match self {
            FeatureGroup::LoudnessDynamics => "Loudness & dynamics",
            FeatureGroup::Tone => "Tone",
            FeatureGroup::Stereo => "Stereo",
            FeatureGroup::Movement => "Movement",
        }
    }
}

/// The unit a feature is measured in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Loudness units relative to full scale.
    Lufs,
    /// Loudness units (a difference of LUFS values).
    Lu,
    /// Decibels true peak.
    Dbtp,
    /// Decibels.
    Db,
    /// Hertz.
    Hz,
    /// A dimensionless ratio.
    Ratio,
    /// A correlation coefficient in −1…1.
    Correlation,
}

impl Unit {
    /// The unit's symbol as printed in reports (`""` for dimensionless units).
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Lufs => "LUFS",
            Unit::Lu => "LU",
            Unit::Dbtp => "dBTP",
            Unit::Db => "dB",
            Unit::Hz => "Hz",
            Unit::Ratio | Unit::Correlation => "",
        }
    }
}

/// The kind of action a fix asks for (SPEC §1 "Fix action types").
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixType {
    /// Overall gain.
    VolumeAdjust = 0,
    /// Cut one band (or, for the centroid, tilt darker).
    EqBandCut = 1,
    /// Boost one band (or, for the centroid, tilt brighter).
    EqBandBoost = 2,
    /// Dynamics: compression or limiting (peak-to-loudness ratio, loudness range).
    Compression = 3,
    /// Stereo image: mid/side balance.
    WidthAdjust = 4,
    /// Side-chain pumping depth.
    ModulationAdjust = 5,
}

impl FixType {
    /// Every fix type, in id order.
    pub const ALL: [FixType; 6] = [
        FixType::VolumeAdjust,
        FixType::EqBandCut,
        FixType::EqBandBoost,
        FixType::Compression,
        FixType::WidthAdjust,
        FixType::ModulationAdjust,
    ];

    /// The stable snake_case name used in files, JSON and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            FixType::VolumeAdjust => "volume_adjust",
            FixType::EqBandCut => "eq_band_cut",
            FixType::EqBandBoost => "eq_band_boost",
            FixType::Compression => "compression",
            FixType::WidthAdjust => "width_adjust",
            FixType::ModulationAdjust => "modulation_adjust",
        }
    }

    /// A title for human reports ("Volume Adjust", as in the seed's summary).
    pub fn title(self) -> &'static str {
        match self {
            FixType::VolumeAdjust => "Volume Adjust",
            FixType::EqBandCut => "EQ Band Cut",
            FixType::EqBandBoost => "EQ Band Boost",
            FixType::Compression => "Compression",
            FixType::WidthAdjust => "Width Adjust",
            FixType::ModulationAdjust => "Modulation Adjust",
        }
    }

    /// Parses a name. Accepts the snake_case name and, for files written by the Python
    /// prototype, the enum spellings `VOLUME_ADJUST` and `FixActionType.VOLUME_ADJUST`.
    pub fn from_name(name: &str) -> Option<FixType> {
        let short = name.rsplit('.').next().unwrap_or(name);
        FixType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(short))
    }

    /// The fix type with numeric id `id` (the C ABI's `uint32_t`), if valid.
    pub fn from_id(id: u32) -> Option<FixType> {
        FixType::ALL.get(id as usize).copied()
    }
}

impl fmt::Display for FixType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which side of its acceptable range a value lies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Below the lower edge.
    Below,
    /// Above the upper edge.
    Above,
}

impl Feature {
    /// Number of features in the catalogue.
    pub const COUNT: usize = 16;

    /// Every feature, in id order.
    pub const ALL: [Feature; Feature::COUNT] = [
        Feature::Loudness,
        Feature::LoudnessRange,
        Feature::TruePeak,
        Feature::Plr,
        Feature::SubLevel,
        Feature::BassLevel,
        Feature::LowMidLevel,
        Feature::MidLevel,
        Feature::HighMidLevel,
        Feature::HighLevel,
        Feature::AirLevel,
        Feature::SpectralCentroid,
        Feature::StereoWidth,
        Feature::StereoCorrelation,
        Feature::LowEndWidth,
        Feature::ModulationDepth,
    ];

    /// The seven band-level features, low to high.
    pub const BANDS: [Feature; 7] = [
        Feature::SubLevel,
        Feature::BassLevel,
        Feature::LowMidLevel,
        Feature::MidLevel,
        Feature::HighMidLevel,
        Feature::HighLevel,
        Feature::AirLevel,
    ];

    /// The stable snake_case name (SPEC §1).
    pub fn name(self) -> &'static str {
        match self {
            Feature::Loudness => "loudness",
            Feature::LoudnessRange => "loudness_range",
            Feature::TruePeak => "true_peak",
            Feature::Plr => "plr",
            Feature::SubLevel => "sub_level",
            Feature::BassLevel => "bass_level",
            Feature::LowMidLevel => "low_mid_level",
            Feature::MidLevel => "mid_level",
            Feature::HighMidLevel => "high_mid_level",
            Feature::HighLevel => "high_level",
            Feature::AirLevel => "air_level",
            Feature::SpectralCentroid => "spectral_centroid",
            Feature::StereoWidth => "stereo_width",
            Feature::StereoCorrelation => "stereo_correlation",
            Feature::LowEndWidth => "low_end_width",
            Feature::ModulationDepth => "modulation_depth",
        }
    }

    /// A short name for people ("Bass", "Stereo width"); band features name their band
    /// without its Hz range (see [`band`](Self::band)).
    pub fn title(self) -> &'static str {
        match self {
            Feature::Loudness => "Loudness",
            Feature::LoudnessRange => "Loudness range",
            Feature::TruePeak => "True peak",
            Feature::Plr => "Peak-to-loudness",
            Feature::SubLevel => "Sub",
            Feature::BassLevel => "Bass",
            Feature::LowMidLevel => "Low mid",
            Feature::MidLevel => "Mid",
            Feature::HighMidLevel => "High mid",
            Feature::HighLevel => "High",
            Feature::AirLevel => "Air",
            Feature::SpectralCentroid => "Brightness (centroid)",
            Feature::StereoWidth => "Stereo width",
            Feature::StereoCorrelation => "Correlation",
            Feature::LowEndWidth => "Low-end width",
            Feature::ModulationDepth => "Pumping depth",
        }
    }

    /// `value` with the feature's unit at a precision people read ("−4.1 dB", "2480 Hz",
    /// "0.31"); a minus sign, not a hyphen.
    pub fn format_value(self, value: f64) -> String {
        let text = match self.unit() {
            Unit::Hz => format!("{value:.0}"),
            Unit::Ratio | Unit::Correlation => format!("{value:.2}"),
            _ => format!("{value:.1}"),
        }
        .replace('-', "\u{2212}");
        match self.unit().symbol() {
            "" => text,
            unit => format!("{text} {unit}"),
        }
    }

    /// The group the feature is shown in.
    pub fn group(self) -> FeatureGroup {
        match self {
            Feature::Loudness | Feature::LoudnessRange | Feature::TruePeak | Feature::Plr => {
                FeatureGroup::LoudnessDynamics
            }
            Feature::StereoWidth | Feature::StereoCorrelation | Feature::LowEndWidth => {
                FeatureGroup::Stereo
            }
            Feature::ModulationDepth => FeatureGroup::Movement,
            _ => FeatureGroup::Tone,
        }
    }

    /// The feature called `name`, if it is in the catalogue.
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The feature with numeric id `id` (the C ABI's `uint32_t`), if valid.
    pub fn from_id(id: u32) -> Option<Feature> {
        Feature::ALL.get(id as usize).copied()
    }

    /// The stable numeric id.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// The unit of measurement.
    pub fn unit(self) -> Unit {
        match self {
            Feature::Loudness => Unit::Lufs,
            Feature::LoudnessRange => Unit::Lu,
            Feature::TruePeak => Unit::Dbtp,
            Feature::SpectralCentroid => Unit::Hz,
            Feature::StereoWidth | Feature::LowEndWidth => Unit::Ratio,
            Feature::StereoCorrelation => Unit::Correlation,
            _ => Unit::Db,
        }
    }

    /// The band of a band-level feature ([`BANDS`](crate::dsp::BANDS), in
    /// [`Feature::BANDS`] order).
    pub fn band(self) -> Option<Band> {
        let i = Feature::BANDS.iter().position(|&f| f == self)?;
        Some(crate::dsp::BANDS[i])
    }

    /// The fix type proposed when the feature lies on `direction` of its range
    /// (SPEC §1 default mapping).
    pub fn default_fix(self, direction: Direction) -> FixType {
        match self {
            Feature::Loudness | Feature::TruePeak => FixType::VolumeAdjust,
            Feature::Plr | Feature::LoudnessRange => FixType::Compression,
            Feature::StereoWidth | Feature::LowEndWidth | Feature::StereoCorrelation => {
                FixType::WidthAdjust
            }
            Feature::ModulationDepth => FixType::ModulationAdjust,
            _ => match direction {
                Direction::Above => FixType::EqBandCut,
                Direction::Below => FixType::EqBandBoost,
            },
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_with_their_unit_and_a_minus_sign() {
        assert_eq!(Feature::BassLevel.format_value(-4.14), "\u{2212}4.1 dB");
        assert_eq!(Feature::SpectralCentroid.format_value(2480.4), "2480 Hz");
        assert_eq!(Feature::StereoWidth.format_value(0.314), "0.31");
        assert_eq!(Feature::Loudness.format_value(-9.96), "\u{2212}10.0 LUFS");
    }

    #[test]
    fn every_feature_has_a_title_and_one_group() {
        for group in FeatureGroup::ALL {
            assert!(Feature::ALL.iter().any(|f| f.group() == group), "{group:?}");
        }
        let titles: std::collections::BTreeSet<&str> =
            Feature::ALL.iter().map(|f| f.title()).collect();
        assert_eq!(titles.len(), Feature::COUNT);
    }

    #[test]
    fn names_round_trip_and_ids_are_dense() {
        for (i, f) in Feature::ALL.into_iter().enumerate() {
            assert_eq!(f.id() as usize, i);
            assert_eq!(Feature::from_id(f.id()), Some(f));
            assert_eq!(Feature::from_name(f.name()), Some(f));
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.name()));
        }
        assert_eq!(Feature::from_id(Feature::COUNT as u32), None);
        for (i, t) in FixType::ALL.into_iter().enumerate() {
            assert_eq!(t as usize, i);
            assert_eq!(FixType::from_name(t.name()), Some(t));
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
        }
    }

    #[test]
    fn bands_tile_20hz_to_20khz() {
        let mut edge = Band::FULL.low_hz;
        for f in Feature::BANDS {
            let band = f.band().unwrap();
            assert_eq!(band.low_hz, edge, "{f}");
            edge = band.high_hz;
        }
        assert_eq!(edge, Band::FULL.high_hz);
        assert!(Feature::Loudness.band().is_none());
    }

    #[test]
    fn python_enum_spellings_parse() {
        assert_eq!(
            FixType::from_name("FixActionType.EQ_BAND_CUT"),
            Some(FixType::EqBandCut)
        );
        assert_eq!(
            FixType::from_name("VOLUME_ADJUST"),
            Some(FixType::VolumeAdjust)
        );
        assert_eq!(FixType::from_name("saturation"), None);
    }

    #[test]
    fn default_mapping_matches_spec() {
        use Direction::*;
        assert_eq!(Feature::TruePeak.default_fix(Above), FixType::VolumeAdjust);
        assert_eq!(Feature::Plr.default_fix(Below), FixType::Compression);
        assert_eq!(Feature::BassLevel.default_fix(Above), FixType::EqBandCut);
        assert_eq!(
            Feature::SpectralCentroid.default_fix(Below),
            FixType::EqBandBoost
        );
        assert_eq!(
            Feature::StereoCorrelation.default_fix(Below),
            FixType::WidthAdjust
        );
        assert_eq!(
            Feature::ModulationDepth.default_fix(Above),
            FixType::ModulationAdjust
        );
    }
}
