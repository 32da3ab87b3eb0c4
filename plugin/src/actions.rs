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

use crate::engine::{Hub, OpenFix};
use crate::params::{HostView, ParamWriter};
use fixloop::feedback::records::{EventId, FixId, FIX_ID_CAPACITY};
use fixloop::feedback::UserAction;
use fixloop::fixes::{aimed_value, control_move, setting_value, Fix};
use fixloop::store::AppliedFix;
use std::fmt;
use std::sync::Arc;

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

/// `id` inline, cut at a character boundary if longer than the store holds (fix ids are
/// `<feature>.<fix type>.<8 hex digits>`, well within it).
fn fix_id(id: &str) -> FixId {
    let mut end = id.len().min(FIX_ID_CAPACITY);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    FixId::new(&id[..end]).unwrap_or_else(|_| FixId::new("").expect("the empty id fits"))
}

/// The editor's handle on the plugin's fixes. Cheap to clone.
///
/// Every action returns the id of the feedback event it recorded into, or `None` when the
/// store could not take the record (the action itself still took effect; the sink counts
/// what it could not record).
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

    /// The shared state these actions work on.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The latest analysis: features, gaps, score, proposed fixes. Lock-free.
    pub fn analysis(&self) -> Arc<crate::engine::Analysis> {
        self.hub.analysis()
    }

    /// Applied fixes still tracked.
    pub fn applied(&self) -> Vec<OpenFix> {
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
    ) -> (Option<EventId>, Option<f64>) {
        let moved = writer.and_then(|_| control_move(fix, |c| self.host.param(c), setting));
        if let (Some(w), Some(m)) = (writer, moved) {
            w.set(m.control, m.applied);
        }
        let applied_setting = match (writer, moved) {
            (Some(_), Some(m)) => Some(m.setting()),
            (Some(_), None) => Some(setting.unwrap_or_else(|| setting_value(fix))),
            (None, _) => None,
        };
        let event_id = self.hub.recorder.fix_applied(&AppliedFix {
            fix_id: fix_id(&fix.fix_id),
            feature: fix.gap_feature,
            fix_type: fix.action_type,
            original_value: fix.current_value,
            target_value: fix.target_value,
            applied_value: applied_setting.map_or(fix.current_value, |s| aimed_value(fix, s)),
            gap_before: fix.z_score,
            was_applied: writer.is_some(),
        });
        if writer.is_some() {
            let window_reset = self.hub.request_window_reset();
            self.hub.applied.lock().push(OpenFix {
                event_id,
                fix: fix.clone(),
                param: moved,
                window_reset,
                undone: false,
                outcome_recorded: false,
                outcome_z: None,
                seen_applied: false,
                decision: None,
            });
        }
        (event_id, applied_setting)
    }

    /// Records `action`; for `modify`, `modified` is the fix and the setting in force.
    fn record(&self, event: Option<EventId>, action: UserAction, modified: Option<(&Fix, f64)>) {
        if let Some(event) = event {
            let value = modified.map(|(fix, s)| aimed_value(fix, s));
            self.hub.recorder.user_action(event, action, value);
        }
    }

    /// Applies the proposed fix `fix_id`: moves its parameter (if the plugin can apply it)
    /// and records "fix applied".
    /// Until the next re-analysis the proposal stays in [`analysis`](Self::analysis); applying
    /// it again is refused.
    pub fn apply(
        &self,
        fix_id: &str,
        writer: &dyn ParamWriter,
    ) -> Result<Option<EventId>, ActionError> {
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
    ) -> Result<Option<EventId>, ActionError> {
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
                    if let Some(moved) = control_move(&a.fix, |_| m.previous, Some(value)) {
                        writer.set(moved.control, moved.applied);
                        a.param = Some(moved);
                        a.seen_applied = false;
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
        if let Some(index) = self.find_open(fix_id) {
            self.hub.applied.lock()[index].decision = Some(UserAction::Modify);
        }
        self.record(event_id, UserAction::Modify, Some((&fix, setting)));
        Ok(event_id)
    }

    /// Rejects `fix_id`: an applied fix is put back and its event gets `reject`; a proposal
    /// never applied gets an event of its own (`was_applied` false, `applied_value` the
    /// original value) with `reject`.
    pub fn reject(
        &self,
        fix_id: &str,
        writer: &dyn ParamWriter,
    ) -> Result<Option<EventId>, ActionError> {
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
    pub fn undo(
        &self,
        fix_id: &str,
        writer: &dyn ParamWriter,
    ) -> Result<Option<EventId>, ActionError> {
        let event_id = self
            .close(fix_id, writer)
            .ok_or_else(|| ActionError::NotApplied(fix_id.to_owned()))?;
        self.record(event_id, UserAction::Undo, None);
        Ok(event_id)
    }

    /// Accepts the applied fix `fix_id` (keeps it) and records `accept`. Its outcome is
    /// recorded by the background thread once enough audio was heard after the fix.
    pub fn accept(&self, fix_id: &str) -> Result<Option<EventId>, ActionError> {
        let index = self
            .find_open(fix_id)
            .ok_or_else(|| ActionError::NotApplied(fix_id.to_owned()))?;
        let event_id = {
            let mut applied = self.hub.applied.lock();
            applied[index].decision = Some(UserAction::Accept);
            applied[index].event_id
        };
        self.record(event_id, UserAction::Accept, None);
        Ok(event_id)
    }

    /// Asks the background thread to put the earlier profile `version` back in force
    /// (see `fixloop::learn::Lineage::revert`); the next analysis shows it.
    pub fn revert_profile(&self, version: &str) {
        self.hub
            .learning_requests
            .lock()
            .push(crate::engine::LearningRequest::Revert(version.to_owned()));
    }

    /// Asks the background thread to pause (or resume) learning for the profile in use.
    pub fn pause_learning(&self, paused: bool) {
        self.hub
            .learning_requests
            .lock()
            .push(crate::engine::LearningRequest::Pause(paused));
    }

    fn find_open(&self, fix_id: &str) -> Option<usize> {
        self.hub
            .applied
            .lock()
            .iter()
            .rposition(|a| a.fix.fix_id == fix_id && !a.undone)
    }

    /// Puts an applied fix's parameter back and marks it undone; its event id.
    fn close(&self, fix_id: &str, writer: &dyn ParamWriter) -> Option<Option<EventId>> {
        let index = self.find_open(fix_id)?;
        let event_id = {
            let mut applied = self.hub.applied.lock();
            let a = &mut applied[index];
            a.undone = true;
            if let Some(m) = a.param {
                writer.set(m.control, m.previous);
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

    #[test]
    fn long_fix_ids_are_cut_at_a_character_boundary() {
        let long = format!("{}é", "x".repeat(FIX_ID_CAPACITY - 1));
        assert_eq!(fix_id(&long).as_str(), "x".repeat(FIX_ID_CAPACITY - 1));
        assert_eq!(fix_id("a.b.c").as_str(), "a.b.c");
    }
}
