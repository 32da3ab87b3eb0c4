//! The action API the editor calls: apply, reject, undo, modify and accept a proposed fix.
//!
//! Applying a fix moves a host-visible parameter through a [`ParamWriter`] (the editor's
//! implementation wraps nice-plug's `ParamSetter`, so the host records the change as
//! automation and can undo it) and opens a feedback event. The background thread then
//! watches the parameter: when the host puts it back, that is recorded as `undo`; once
//! enough audio was heard after the fix, its outcome (gap after) is recorded.
//!
//! Fixes the plugin cannot apply itself (compression, pumping, spectral tilt) are opened
//! with no parameter move; the producer applies them elsewhere and their outcome is
//! measured by re-analysis all the same.
//!
//! Not for the audio thread: these calls lock a mutex shared with the background thread
//! only, and record through the feedback sink.

use crate::dsp::fix_stage::BandLayout;
use crate::engine::{AppliedFix, Hub, ParamMove};
use crate::feedback::{EventId, FixApplied, UserActionRecord};
use crate::params::{FixloopParams, GAIN_RANGE_DB, MAX_WIDTH_RATIO};
use fixloop::features::Feature;
use fixloop::feedback::UserAction;
use fixloop::fixes::{Fix, FixSetting};
use nice_plug::prelude::Param;
use std::fmt;
use std::sync::Arc;

/// Two parameter values closer than this are the same value (host normalisation round-off).
pub const PARAM_TOLERANCE: f64 = 1e-3;

/// A parameter of the fix stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FixParam {
    /// Output gain, dB.
    OutputGain,
    /// Gain of band `i` (0 = sub … 6 = air), dB.
    Band(usize),
    /// Side gain ratio.
    Width,
}

impl FixParam {
    /// The parameter's value range.
    pub fn range(self) -> (f64, f64) {
        match self {
            FixParam::OutputGain | FixParam::Band(_) => {
                (-f64::from(GAIN_RANGE_DB), f64::from(GAIN_RANGE_DB))
            }
            FixParam::Width => (0.0, f64::from(MAX_WIDTH_RATIO)),
        }
    }
}

/// What the background thread needs to see of the host side: parameter values, the save
/// counter and the profile choice. Implemented by [`FixloopParams`]; tests supply their own.
pub trait HostView: Send + Sync {
    /// The current (unmodulated) value of `param`.
    fn param(&self, param: FixParam) -> f64;
    /// State serialisations so far.
    fn save_count(&self) -> u64;
    /// The profile choice: generation and path (`None` = bundled).
    fn profile_selection(&self) -> (u64, Option<String>);
}

impl HostView for FixloopParams {
    fn param(&self, param: FixParam) -> f64 {
        self.param(param)
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
    /// Sets `param` to `value` (in the parameter's own unit).
    fn set(&self, param: FixParam, value: f64);
}

/// Why an action was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionError {
    /// No proposed fix has this id.
    UnknownFix(String),
    /// No applied, still open fix has this id.
    NotApplied(String),
    /// The fix is already applied (and not undone).
    AlreadyApplied(String),
    /// The modified value is not a finite number.
    BadValue,
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionError::UnknownFix(id) => write!(f, "no proposed fix has id {id:?}"),
            ActionError::NotApplied(id) => write!(f, "fix {id:?} is not applied"),
            ActionError::AlreadyApplied(id) => write!(f, "fix {id:?} is already applied"),
            ActionError::BadValue => f.write_str("the value is not a finite number"),
        }
    }
}

impl std::error::Error for ActionError {}

/// The parameter a fix moves and the value it moves it to from `current` with setting
/// value `setting` (the fix's own when `None`). `None` for fixes the plugin cannot apply.
pub fn param_move(
    fix: &Fix,
    current: impl Fn(FixParam) -> f64,
    setting: Option<f64>,
) -> Option<ParamMove> {
    let (param, applied) = match fix.setting {
        FixSetting::Gain { gain_db } => {
            let p = FixParam::OutputGain;
            (p, current(p) + setting.unwrap_or(gain_db))
        }
        FixSetting::EqBand {
            low_hz,
            high_hz,
            gain_db,
        } => {
            let p = FixParam::Band(BandLayout::index_of(low_hz, high_hz)?);
            (p, current(p) + setting.unwrap_or(gain_db))
        }
        FixSetting::Width { width_ratio } => {
            let p = FixParam::Width;
            (p, current(p) * setting.unwrap_or(width_ratio))
        }
        FixSetting::EqTilt { .. } | FixSetting::Dynamics { .. } | FixSetting::Pumping { .. } => {
            return None
        }
    };
    let (lo, hi) = param.range();
    Some(ParamMove {
        param,
        previous: current(param),
        applied: if applied.is_finite() {
            applied.clamp(lo, hi)
        } else {
            current(param)
        },
    })
}

/// The setting value of a fix in its own unit (gain dB, width ratio), if it has one.
pub fn setting_value(fix: &Fix) -> Option<f64> {
    match fix.setting {
        FixSetting::Gain { gain_db } | FixSetting::EqBand { gain_db, .. } => Some(gain_db),
        FixSetting::Width { width_ratio } => Some(width_ratio),
        FixSetting::EqTilt {
            slope_db_per_octave,
            ..
        } => Some(slope_db_per_octave),
        FixSetting::Dynamics { change_db } | FixSetting::Pumping { change_db } => Some(change_db),
    }
}

/// The feature value that `setting` (in the unit of the fix's setting: gain dB, width
/// ratio, change dB, tilt slope) aims for: the inverse of `fixloop::fixes::setting`, so
/// the fix's own setting gives back `fix.new_value`. The store records this as the event's
/// `applied_value` (SPEC §3.1: the feature value the applied fix aims for).
///
/// Gains add to loudness and true peak; a band gain `G` moves a relative band level with
/// ratio `r = 10^(L/10)` to `r' = G·r / (1 − r + G·r)` (the ideal-band model of
/// `FixSetting::EqBand`, solved for `r'`); a width ratio multiplies the width (floored at
/// 0.01 as the library does), and for correlation scales `√((1 − ρ)/(1 + ρ))`; a tilt
/// slope moves the value in proportion to the proposed slope.
pub fn aimed_value(fix: &Fix, setting: f64) -> f64 {
    let current = fix.current_value;
    if setting_value(fix) == Some(setting) {
        return fix.new_value;
    }
    let value = match fix.setting {
        FixSetting::Gain { .. } | FixSetting::Dynamics { .. } | FixSetting::Pumping { .. } => {
            current + setting
        }
        FixSetting::EqBand { .. } => {
            let r = 10f64.powf(current.min(-0.01) / 10.0);
            let g = 10f64.powf(setting / 10.0);
            10.0 * (g * r / (1.0 - r + g * r)).log10()
        }
        FixSetting::Width { .. } if fix.gap_feature == Feature::StereoCorrelation => {
            let rho = current.clamp(-0.999, 1.0);
            let w = ((1.0 - rho) / (1.0 + rho)).sqrt() * setting.max(0.0);
            (1.0 - w * w) / (1.0 + w * w)
        }
        FixSetting::Width { .. } => current.max(0.01) * setting.max(0.0),
        FixSetting::EqTilt {
            slope_db_per_octave,
            ..
        } if slope_db_per_octave != 0.0 => {
            current + (fix.new_value - current) * setting / slope_db_per_octave
        }
        FixSetting::EqTilt { .. } => current,
    };
    if value.is_finite() {
        value
    } else {
        fix.new_value
    }
}

/// The editor's handle on the plugin's fixes. Cheap to clone.
#[derive(Clone)]
pub struct Actions {
    hub: Arc<Hub>,
    host: Arc<dyn HostView>,
}

impl Actions {
    /// Actions on the plugin whose shared state is `hub` and host view `host`.
    pub fn new(hub: Arc<Hub>, host: Arc<dyn HostView>) -> Actions {
        Actions { hub, host }
    }

    /// The latest analysis: features, gaps, score, proposed fixes. Lock-free.
    pub fn analysis(&self) -> Arc<crate::engine::Analysis> {
        self.hub.analysis()
    }

    /// Applied fixes still tracked.
    pub fn applied(&self) -> Vec<AppliedFix> {
        self.hub.applied_fixes()
    }

    fn proposed(&self, fix_id: &str) -> Result<Fix, ActionError> {
        self.hub
            .analysis()
            .fixes
            .iter()
            .find(|f| f.fix_id == fix_id)
            .cloned()
            .ok_or_else(|| ActionError::UnknownFix(fix_id.to_owned()))
    }

    /// Opens an event for `fix` (applied through `writer`, or rejected unapplied without
    /// one); returns it with the setting applied.
    fn open(
        &self,
        fix: &Fix,
        setting: Option<f64>,
        writer: Option<&dyn ParamWriter>,
    ) -> (EventId, Option<f64>) {
        let moved = writer.and_then(|_| param_move(fix, |p| self.host.param(p), setting));
        if let (Some(w), Some(m)) = (writer, moved) {
            w.set(m.param, m.applied);
        }
        let analysis = self.hub.analysis();
        let applied_setting = match (writer, moved) {
            (Some(_), Some(m)) => Some(m.setting()),
            (Some(_), None) => setting.or_else(|| setting_value(fix)),
            (None, _) => None,
        };
        let event_id = self.hub.sink.fix_applied(&FixApplied {
            session_id: self.hub.session_id,
            profile_version: &analysis.profile_version,
            fix_id: &fix.fix_id,
            fix_type: fix.action_type,
            feature: fix.gap_feature,
            original_value: fix.current_value,
            target_value: fix.target_value,
            applied_value: applied_setting.map_or(fix.current_value, |s| aimed_value(fix, s)),
            setting: applied_setting,
            was_applied: writer.is_some(),
            gap_before: fix.z_score,
        });
        if writer.is_some() {
            let window_reset = self.hub.request_window_reset();
            self.hub.applied.lock().push(AppliedFix {
                event_id,
                fix: fix.clone(),
                param: moved,
                window_reset,
                undone: false,
                outcome_recorded: false,
            });
        }
        (event_id, applied_setting)
    }

    /// Records `action`; for `modify`, `modified` is the fix and the setting in force.
    fn record(&self, event_id: EventId, action: UserAction, modified: Option<(&Fix, f64)>) {
        self.hub.sink.user_action(&UserActionRecord {
            event_id,
            action,
            modified_value: modified.map(|(fix, s)| aimed_value(fix, s)),
            modified_setting: modified.map(|(_, s)| s),
        });
    }

    /// Applies the proposed fix `fix_id`: moves its parameter (if the plugin can apply it)
    /// and records "fix applied". Returns the event id.
    /// Until the next re-analysis the proposal stays in [`analysis`](Self::analysis); applying
    /// it again is refused.
    pub fn apply(&self, fix_id: &str, writer: &dyn ParamWriter) -> Result<EventId, ActionError> {
        if self.find_open(fix_id).is_some() {
            return Err(ActionError::AlreadyApplied(fix_id.to_owned()));
        }
        let fix = self.proposed(fix_id)?;
        Ok(self.open(&fix, None, Some(writer)).0)
    }

    /// Applies the proposed fix `fix_id` with the producer's own setting value (gain dB or
    /// width ratio), or changes the setting of the applied fix `fix_id`; records `modify`.
    pub fn modify(
        &self,
        fix_id: &str,
        value: f64,
        writer: &dyn ParamWriter,
    ) -> Result<EventId, ActionError> {
        if !value.is_finite() {
            return Err(ActionError::BadValue);
        }
        let open = self.find_open(fix_id);
        let (event_id, fix, setting) = match open {
            Some(index) => {
                let mut applied = self.hub.applied.lock();
                let a = &mut applied[index];
                let mut setting = value;
                if let Some(m) = a.param {
                    let moved = param_move(&a.fix, |_| m.previous, Some(value));
                    if let Some(moved) = moved {
                        writer.set(moved.param, moved.applied);
                        a.param = Some(moved);
                        setting = moved.setting();
                    }
                }
                (a.event_id, a.fix.clone(), setting)
            }
            None => {
                let fix = self.proposed(fix_id)?;
                let (event_id, setting) = self.open(&fix, Some(value), Some(writer));
                (event_id, fix, setting.unwrap_or(value))
            }
        };
        if open.is_some() {
            self.hub.request_window_reset();
        }
        self.record(event_id, UserAction::Modify, Some((&fix, setting)));
        Ok(event_id)
    }

    /// Rejects `fix_id`: an applied fix is put back and its event gets `reject`; a proposal
    /// never applied gets an event of its own (not applied) with `reject`.
    pub fn reject(&self, fix_id: &str, writer: &dyn ParamWriter) -> Result<EventId, ActionError> {
        let event_id = match self.close(fix_id, writer) {
            Some(id) => id,
            None => {
                let fix = self.proposed(fix_id)?;
                self.open(&fix, None, None).0
            }
        };
        self.record(event_id, UserAction::Reject, None);
        Ok(event_id)
    }

    /// Undoes the applied fix `fix_id`: puts its parameter back and records `undo`.
    pub fn undo(&self, fix_id: &str, writer: &dyn ParamWriter) -> Result<EventId, ActionError> {
        let event_id = self
            .close(fix_id, writer)
            .ok_or_else(|| ActionError::NotApplied(fix_id.to_owned()))?;
        self.record(event_id, UserAction::Undo, None);
        Ok(event_id)
    }

    /// Accepts the applied fix `fix_id` (keeps it) and records `accept`. Its outcome is
    /// recorded by the background thread once enough audio was heard after the fix.
    pub fn accept(&self, fix_id: &str) -> Result<EventId, ActionError> {
        let index = self
            .find_open(fix_id)
            .ok_or_else(|| ActionError::NotApplied(fix_id.to_owned()))?;
        let event_id = self.hub.applied.lock()[index].event_id;
        self.record(event_id, UserAction::Accept, None);
        Ok(event_id)
    }

    fn find_open(&self, fix_id: &str) -> Option<usize> {
        self.hub
            .applied
            .lock()
            .iter()
            .rposition(|a| a.fix.fix_id == fix_id && !a.undone)
    }

    /// Puts an applied fix's parameter back and marks it undone; its event id.
    fn close(&self, fix_id: &str, writer: &dyn ParamWriter) -> Option<EventId> {
        let index = self.find_open(fix_id)?;
        let event_id = {
            let mut applied = self.hub.applied.lock();
            let a = &mut applied[index];
            a.undone = true;
            if let Some(m) = a.param {
                writer.set(m.param, m.previous);
            }
            a.event_id
        };
        self.hub.request_window_reset();
        Some(event_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixloop::features::{Direction, Feature};
    use fixloop::fixes::setting;

    fn fix(feature: Feature, current: f64, new: f64) -> Fix {
        let direction = if new < current {
            Direction::Above
        } else {
            Direction::Below
        };
        Fix {
            fix_id: "f".into(),
            action_type: feature.default_fix(direction),
            gap_feature: feature,
            current_value: current,
            target_value: new,
            new_value: new,
            setting: setting(feature, current, new),
            confidence: 1.0,
            z_score: 1.0,
        }
    }

    /// `aimed_value` inverts the library's `setting`: a fix proposed for one new value,
    /// asked about the setting of another, gives that other value back.
    #[test]
    fn aimed_value_inverts_the_librarys_setting() {
        let cases = [
            (Feature::Loudness, -14.0, -9.0, -11.0),
            (Feature::BassLevel, -6.0, -8.0, -7.0),
            (Feature::AirLevel, -30.0, -27.0, -25.5),
            (Feature::StereoWidth, 0.25, 0.37, 0.5),
            (Feature::StereoCorrelation, 0.89, 0.74, 0.8),
            (Feature::Plr, 12.0, 9.0, 10.0),
        ];
        for (feature, current, proposed, other) in cases {
            let f = fix(feature, current, proposed);
            assert_eq!(aimed_value(&f, setting_value(&f).unwrap()), proposed);
            let other_setting = setting_value(&fix(feature, current, other)).unwrap();
            let back = aimed_value(&f, other_setting);
            assert!(
                (back - other).abs() < 1e-9,
                "{feature:?}: {back} vs {other}"
            );
        }
    }

    #[test]
    fn aimed_value_is_finite_for_extreme_settings() {
        let f = fix(Feature::SubLevel, -3.0, -5.0);
        for s in [-200.0, 200.0, f64::MAX] {
            assert!(aimed_value(&f, s).is_finite(), "{s}");
        }
    }
}
