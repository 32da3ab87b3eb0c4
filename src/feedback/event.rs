//! The feedback event of SPEC §3.1: the seed's `FeedbackEvent`, field for field, plus
//! fixloop's `ab` extension.

use super::Text;
use crate::error::{require_finite, Result};
use crate::features::FixType;
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// What the producer did with a fix (SPEC §1 "User actions").
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UserAction {
    /// Kept the fix.
    Accept = 0,
    /// Skipped it.
    Reject = 1,
    /// Applied it and then reversed it.
    Undo = 2,
    /// Applied it with a different value.
    Modify = 3,
}

impl UserAction {
    /// Every action, in id order.
    pub const ALL: [UserAction; 4] = [
        UserAction::Accept,
        UserAction::Reject,
        UserAction::Undo,
        UserAction::Modify,
    ];

    /// The stable lower-case name used in files.
    pub fn name(self) -> &'static str {
        match self {
            UserAction::Accept => "accept",
            UserAction::Reject => "reject",
            UserAction::Undo => "undo",
            UserAction::Modify => "modify",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn from_name(name: &str) -> Option<UserAction> {
        UserAction::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The action with numeric id `id` (the C ABI's `uint32_t`), if valid.
    pub fn from_id(id: u32) -> Option<UserAction> {
        UserAction::ALL.get(id as usize).copied()
    }
}

impl fmt::Display for UserAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for UserAction {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for UserAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        UserAction::from_name(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown user_action {s:?} (expected accept, reject, undo or modify)"
            ))
        })
    }
}

/// The arm of an A/B test a session was assigned to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// The control configuration.
    Control,
    /// The treatment configuration.
    Treatment,
}

impl Arm {
    /// The stable lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Control => "control",
            Arm::Treatment => "treatment",
        }
    }
}

/// A point in time, UTC, with microsecond precision (what Python's `datetime` holds).
///
/// Parsed from RFC 3339 (`2026-10-01T12:00:00.25Z`, any offset) and, for files written by
/// the Python prototype with `datetime.isoformat()`, from timestamps without an offset,
/// which are taken as UTC. Written as RFC 3339 in UTC with `Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time, truncated to microseconds.
    pub fn now() -> Self {
        Self::from_micros(Utc::now().timestamp_micros())
    }

    /// From microseconds since the Unix epoch (saturating at the representable range).
    pub fn from_micros(micros: i64) -> Self {
        Timestamp(
            DateTime::from_timestamp_micros(micros).unwrap_or(if micros < 0 {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            }),
        )
    }

    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> i64 {
        self.0.timestamp_micros()
    }

    /// The chrono value.
    pub fn as_datetime(self) -> DateTime<Utc> {
        self.0
    }

    /// Parses RFC 3339 or an offset-less ISO 8601 timestamp (taken as UTC).
    pub fn parse(text: &str) -> Option<Timestamp> {
        let t = if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            t.with_timezone(&Utc)
        } else {
            let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
                .ok()?;
            naive.and_utc()
        };
        Some(Self::from_micros(t.timestamp_micros()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("timestamp {s:?} is not RFC 3339 or ISO 8601"))
        })
    }
}

/// A fix type as written in event files: the snake_case name, or the Python prototype's
/// enum spellings on import.
mod fix_type_lenient {
    use crate::features::FixType;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &FixType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FixType, D::Error> {
        let s = String::deserialize(d)?;
        FixType::from_name(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown fix_type {s:?} (known: {})",
                FixType::ALL.map(|t| t.name()).join(", ")
            ))
        })
    }
}

/// One fix's feedback: SPEC §3.1, the seed's fields in the seed's order, then `ab`.
///
/// Field meanings are the seed's. `gap_before`/`gap_after` are z-scores;
/// `improvement_ratio` is `(|gap_before| − |gap_after|) / |gap_before|` when fixloop
/// computes it (see [`improvement_ratio`]); a value read from a file is kept as it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedbackEvent {
    /// Unique id of this event (one per applied fix).
    pub event_id: Text,
    /// When the fix was applied.
    pub timestamp: Timestamp,
    /// The proposed fix's id.
    pub fix_id: Text,
    /// The kind of fix.
    #[serde(with = "fix_type_lenient")]
    pub fix_type: FixType,
    /// The feature the fix addressed (a catalogue name, or a newer one this build does not know).
    pub feature_name: Text,
    /// The track (project or file) the fix was proposed for.
    pub track_path: Text,
    /// The host session (unit of A/B assignment).
    pub session_id: Text,
    /// The profile version the gap was measured against.
    pub profile_version: Text,
    /// The feature's value before the fix.
    pub original_value: f64,
    /// The target the fix aimed at.
    pub target_value: f64,
    /// The feature value the applied fix aims for.
    pub applied_value: f64,
    /// The producer's explicit action, if any yet.
    pub user_action: Option<UserAction>,
    /// Whether the fix was applied.
    pub was_applied: bool,
    /// Whether it was undone.
    pub was_undone: bool,
    /// z-score of the gap before the fix.
    pub gap_before: f64,
    /// z-score measured on re-analysis after the fix.
    pub gap_after: Option<f64>,
    /// Relative reduction of |gap|.
    pub improvement_ratio: Option<f64>,
    /// The value the producer set instead, for `modify`.
    pub user_modified_value: Option<f64>,
    /// The session was saved while the fix was in place.
    pub session_saved_after: bool,
    /// The track was bounced (exported) while the fix was in place.
    pub track_bounced_after: bool,
    /// Free text.
    pub notes: Option<Text>,
    /// fixloop extension: A/B assignments in force, test id → arm. Omitted when empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ab: BTreeMap<Text, Arm>,
}

impl FeedbackEvent {
    /// Checks that every number is finite, naming the first field that is not.
    pub fn validate(&self) -> Result<()> {
        require_finite("original_value", self.original_value)?;
        require_finite("target_value", self.target_value)?;
        require_finite("applied_value", self.applied_value)?;
        require_finite("gap_before", self.gap_before)?;
        for (name, v) in [
            ("gap_after", self.gap_after),
            ("improvement_ratio", self.improvement_ratio),
            ("user_modified_value", self.user_modified_value),
        ] {
            if let Some(v) = v {
                require_finite(name, v)?;
            }
        }
        Ok(())
    }
}

/// fixloop's improvement ratio: `(|before| − |after|) / |before|`, 0 when `before` is 0.
///
/// Deviation from the seed, which used signed gaps: there an overshoot past the target
/// (before = 2, after = −1) scored 1.5, "150 % improvement"; with magnitudes it scores 0.5.
pub fn improvement_ratio(gap_before: f64, gap_after: f64) -> f64 {
    let before = gap_before.abs();
    if before == 0.0 {
        0.0
    } else {
        (before - gap_after.abs()) / before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn improvement_uses_magnitudes() {
        // Hand-computed: (2 − 1) / 2 = 0.5 for an overshoot to −1.
        assert_eq!(improvement_ratio(2.0, -1.0), 0.5);
        assert_eq!(improvement_ratio(-2.0, -0.5), 0.75);
        assert_eq!(improvement_ratio(0.0, 1.0), 0.0);
        assert_eq!(improvement_ratio(1.0, 3.0), -2.0);
    }

    #[test]
    fn timestamps_parse_python_and_rfc3339() {
        let a = Timestamp::parse("2024-01-15T10:30:00.123456").unwrap();
        let b = Timestamp::parse("2024-01-15T10:30:00.123456+00:00").unwrap();
        let c = Timestamp::parse("2024-01-15T11:30:00.123456+01:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(a.to_string(), "2024-01-15T10:30:00.123456Z");
        assert_eq!(Timestamp::parse(&a.to_string()), Some(a));
        assert!(Timestamp::parse("yesterday").is_none());
    }

    #[test]
    fn user_action_names() {
        for a in UserAction::ALL {
            assert_eq!(UserAction::from_name(a.name()), Some(a));
            assert_eq!(UserAction::from_id(a as u32), Some(a));
        }
        assert_eq!(UserAction::from_id(4), None);
    }
}
