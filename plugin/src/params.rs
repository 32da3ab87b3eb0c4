//! Host-visible parameters (the fix stage's controls, automatable, so an applied fix is a
//! parameter change the host records and can undo), the persisted fields (profile path,
//! save probe), and the [`HostView`] / [`ParamWriter`] traits through which the
//! background thread and the action API see and move them.

use crate::host_signals::SaveProbe;
use fixloop::dsp::{FixSettings, BAND_COUNT};
use fixloop::fixes::{Control, GAIN_RANGE_DB, MAX_WIDTH_RATIO};
use nice_plug::prelude::*;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Two parameter values closer than this are the same value (host normalisation round-off).
pub const PARAM_TOLERANCE: f64 = 1e-3;

/// What the background thread needs to see of the host side: control values, the save
/// counter and the profile choice. Implemented by [`FixloopParams`]; tests supply their own.
pub trait HostView: Send + Sync {
    /// The current (unmodulated) value of `control`.
    fn param(&self, control: Control) -> f64;
    /// State serialisations so far.
    fn save_count(&self) -> u64;
    /// The profile choice: generation and path (`None` = bundled).
    fn profile_selection(&self) -> (u64, Option<String>);
}

impl HostView for FixloopParams {
    fn param(&self, control: Control) -> f64 {
        self.param(control)
            .map(|p| f64::from(p.unmodulated_plain_value()))
            .unwrap_or(0.0)
    }

    fn save_count(&self) -> u64 {
        self.save_probe.count()
    }

    fn profile_selection(&self) -> (u64, Option<String>) {
        self.profile.get()
    }
}

/// Moves a host parameter. The editor implements this with nice-plug's `ParamSetter`
/// (`begin_set_parameter`, `set_parameter`, `end_set_parameter`), so the move is one
/// undoable gesture in the host.
pub trait ParamWriter {
    /// Sets `control` to `value` (in the control's own unit).
    fn set(&self, control: Control, value: f64);
}

/// The plugin's parameters and persisted fields.
#[derive(Params)]
pub struct FixloopParams {
    /// Output gain, dB (0 = untouched).
    #[id = "gain"]
    pub output_gain_db: FloatParam,
    /// `sub_level` band (20–60 Hz, low shelf), dB.
    #[id = "eq_sub"]
    pub sub_gain_db: FloatParam,
    /// `bass_level` band (60–250 Hz), dB.
    #[id = "eq_bass"]
    pub bass_gain_db: FloatParam,
    /// `low_mid_level` band (250–500 Hz), dB.
    #[id = "eq_low_mid"]
    pub low_mid_gain_db: FloatParam,
    /// `mid_level` band (500 Hz–2 kHz), dB.
    #[id = "eq_mid"]
    pub mid_gain_db: FloatParam,
    /// `high_mid_level` band (2–6 kHz), dB.
    #[id = "eq_high_mid"]
    pub high_mid_gain_db: FloatParam,
    /// `high_level` band (6–12 kHz), dB.
    #[id = "eq_high"]
    pub high_gain_db: FloatParam,
    /// `air_level` band (12–20 kHz, high shelf), dB.
    #[id = "eq_air"]
    pub air_gain_db: FloatParam,
    /// Mid/side width: side gain as a ratio (1 = untouched).
    #[id = "width"]
    pub width_ratio: FloatParam,
    /// Bypasses the fix stage (the host's bypass button: A/B of the applied fixes).
    #[id = "bypass"]
    pub bypass: BoolParam,
    /// The profile in use: a path, or none for the bundled default.
    #[persist = "profile"]
    pub profile: ProfileSelection,
    /// Counts state serialisations, i.e. host saves.
    #[persist = "saves"]
    pub save_probe: SaveProbe,
}

fn gain_param(name: &str) -> FloatParam {
    FloatParam::new(
        name,
        0.0,
        FloatRange::Linear {
            min: -GAIN_RANGE_DB as f32,
            max: GAIN_RANGE_DB as f32,
        },
    )
    .with_unit(" dB")
    .with_value_to_string(formatters::v2s_f32_rounded(2))
}

impl Default for FixloopParams {
    fn default() -> Self {
        FixloopParams {
            output_gain_db: gain_param("Output gain"),
            sub_gain_db: gain_param("Sub 20-60 Hz"),
            bass_gain_db: gain_param("Bass 60-250 Hz"),
            low_mid_gain_db: gain_param("Low mid 250-500 Hz"),
            mid_gain_db: gain_param("Mid 500-2k Hz"),
            high_mid_gain_db: gain_param("High mid 2k-6k Hz"),
            high_gain_db: gain_param("High 6k-12k Hz"),
            air_gain_db: gain_param("Air 12k-20k Hz"),
            width_ratio: FloatParam::new(
                "Width",
                1.0,
                FloatRange::Linear {
                    min: 0.0,
                    max: MAX_WIDTH_RATIO as f32,
                },
            )
            .with_value_to_string(formatters::v2s_f32_rounded(3)),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
            profile: ProfileSelection::default(),
            save_probe: SaveProbe::default(),
        }
    }
}

impl FixloopParams {
    /// The band parameters, low to high.
    pub fn bands(&self) -> [&FloatParam; BAND_COUNT] {
        [
            &self.sub_gain_db,
            &self.bass_gain_db,
            &self.low_mid_gain_db,
            &self.mid_gain_db,
            &self.high_mid_gain_db,
            &self.high_gain_db,
            &self.air_gain_db,
        ]
    }

    /// The parameter behind `control` (`None` for a band index out of range).
    pub fn param(&self, control: Control) -> Option<&FloatParam> {
        match control {
            Control::OutputGain => Some(&self.output_gain_db),
            Control::Width => Some(&self.width_ratio),
            Control::Band(i) => self.bands().get(i).copied(),
        }
    }

    /// The fix stage's targets from the current parameter values: neutral while bypassed.
    /// Values within float round-off of neutral count as neutral, so a host that stores
    /// normalised values still gets the exact bypass.
    ///
    /// # Real-time safety
    ///
    /// Atomic loads only; safe on the audio thread.
    pub fn fix_settings(&self) -> FixSettings {
        if self.bypass.value() {
            return FixSettings::NEUTRAL;
        }
        let gain = |p: &FloatParam| {
            let v = p.value();
            if v.abs() < 1e-4 {
                0.0
            } else {
                v
            }
        };
        let width = self.width_ratio.value();
        FixSettings {
            output_gain_db: gain(&self.output_gain_db),
            band_gain_db: self.bands().map(gain),
            width_ratio: if (width - 1.0).abs() < 1e-5 {
                1.0
            } else {
                width
            },
        }
    }
}

/// The persisted profile choice. Restoring a state that names another profile bumps a
/// generation counter; the background thread sees it and loads the profile. The audio
/// thread never touches this.
#[derive(Debug, Default)]
pub struct ProfileSelection {
    path: RwLock<Option<String>>,
    generation: AtomicU64,
}

impl ProfileSelection {
    /// The chosen path (`None`: the bundled default) and the generation it belongs to.
    pub fn get(&self) -> (u64, Option<String>) {
        let path = self.path.read().clone();
        (self.generation.load(Ordering::Acquire), path)
    }

    /// Chooses a profile file (`None` for the bundled default). Not for the audio thread.
    pub fn choose(&self, path: Option<String>) {
        let mut guard = self.path.write();
        if *guard != path {
            *guard = path;
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl<'a> nice_plug::params::persist::PersistentField<'a, Option<String>> for ProfileSelection {
    fn set(&self, new_value: Option<String>) {
        self.choose(new_value);
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&Option<String>) -> R,
    {
        f(&self.path.read())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_exact_bypass() {
        let p = FixloopParams::default();
        assert_eq!(p.fix_settings(), FixSettings::NEUTRAL);
        // Defaults sit at normalised 0.5, which maps back to exactly 0 dB and width 1.
        assert_eq!(p.output_gain_db.preview_plain(0.5), 0.0);
        assert_eq!(p.width_ratio.preview_plain(0.5), 1.0);
    }

    #[test]
    fn persisted_fields_round_trip_and_count_saves() {
        let p = FixloopParams::default();
        p.profile.choose(Some("/tmp/p.json".into()));
        let fields = p.serialize_fields();
        assert_eq!(fields["profile"], "\"/tmp/p.json\"");
        assert_eq!(fields["saves"], "1");
        assert_eq!(p.save_probe.count(), 1);
        let q = FixloopParams::default();
        let (g0, _) = q.profile.get();
        q.deserialize_fields(&fields);
        assert_eq!(q.profile.get(), (g0 + 1, Some("/tmp/p.json".into())));
        // Restoring is not saving.
        assert_eq!(q.save_probe.count(), 0);
    }

    #[test]
    fn every_fix_param_exists() {
        let p = FixloopParams::default();
        assert!(p.param(Control::OutputGain).is_some());
        assert!(p.param(Control::Band(6)).is_some());
        assert!(p.param(Control::Band(7)).is_none());
    }
}
