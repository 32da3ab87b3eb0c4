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
        with_str(d, |s| {
            UserAction::from_name(s).ok_or_else(|| {
                format!("unknown user_action {s:?} (expected accept, reject, undo or modify)")
            })
        })
    }
}

/// Deserializes a string and maps it with `f`, borrowing it from the input where the
/// format allows (no allocation per value); `f`'s error becomes the format's error.
fn with_str<'de, D: Deserializer<'de>, T>(
    d: D,
    f: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> std::result::Result<T, D::Error> {
    struct V<F>(F);
    impl<T, F: FnOnce(&str) -> std::result::Result<T, String>> serde::de::Visitor<'_> for V<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<T, E> {
            (self.0)(v).map_err(E::custom)
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> std::result::Result<T, E> {
            let s = std::str::from_utf8(v)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Bytes(v), &"UTF-8 text"))?;
            (self.0)(s).map_err(E::custom)
        }
    }
    d.deserialize_str(V(f))
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
///
/// Held as microseconds since the Unix epoch, within chrono's range, so building and
/// comparing timestamps costs nothing (learning compares one per event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

/// `DateTime::<Utc>::MIN_UTC` in microseconds (checked by a test).
const MIN_MICROS: i64 = -8_334_601_228_800_000_000;
/// `DateTime::<Utc>::MAX_UTC` in microseconds, truncated (checked by a test).
const MAX_MICROS: i64 = 8_210_266_876_799_999_999;

impl Timestamp {
    /// The current time, truncated to microseconds.
    pub fn now() -> Self {
        Self::from_micros(Utc::now().timestamp_micros())
    }

    /// From microseconds since the Unix epoch (saturating at the representable range).
    pub fn from_micros(micros: i64) -> Self {
        Timestamp(micros.clamp(MIN_MICROS, MAX_MICROS))
    }

    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// The chrono value.
    pub fn as_datetime(self) -> DateTime<Utc> {
        // In range by construction.
        DateTime::from_timestamp_micros(self.0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Parses RFC 3339 or an offset-less ISO 8601 timestamp (taken as UTC).
    pub fn parse(text: &str) -> Option<Timestamp> {
        if let Some(micros) = parse_utc_micros(text) {
            return Some(Self::from_micros(micros));
        }
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

/// Microseconds since the Unix epoch of the common exact forms
/// `YYYY-MM-DDTHH:MM:SS[.fraction][Z|+00:00]` (no offset: UTC), without chrono:
/// the fast path of [`Timestamp::parse`]. `None` for anything else (other offsets, leap
/// seconds, out-of-range fields), which the full parser then decides.
///
/// Why it exists (`benches/speed.rs`, same run, 2-core EPYC VM, 1000 timestamps): 21.7 µs
/// against chrono's `parse_from_rfc3339` 33.5 µs (1.55×) for RFC 3339, and 21.1 µs
/// against chrono's `NaiveDateTime::parse_from_str` 254 µs (12×) for the Python
/// prototype's `isoformat()` form; every JSON-lines event has one.
fn parse_utc_micros(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &b[19..];
    let mut micros = 0i64;
    if let Some((b'.', frac)) = rest.split_first() {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        for (i, &c) in frac[..digits].iter().enumerate() {
            if i < 6 {
                micros = micros * 10 + i64::from(c - b'0');
            }
        }
        for _ in digits..6 {
            micros *= 10;
        }
        rest = &frac[digits..];
    }
    if !matches!(rest, b"" | b"Z" | b"+00:00") {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[month as usize - 1]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days from 1970-01-01 to the civil date (H. Hinnant's `days_from_civil`).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000 + micros)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .as_datetime()
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        with_str(d, |s| {
            Timestamp::parse(s)
                .ok_or_else(|| format!("timestamp {s:?} is not RFC 3339 or ISO 8601"))
        })
    }
}

/// A fix type as written in event files: the snake_case name, or the Python prototype's
/// enum spellings on import.
pub(crate) mod fix_type_lenient {
    use crate::features::FixType;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &FixType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FixType, D::Error> {
        super::with_str(d, |s| {
            FixType::from_name(s).ok_or_else(|| {
                format!(
                    "unknown fix_type {s:?} (known: {})",
                    FixType::ALL.map(|t| t.name()).join(", ")
                )
            })
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
    /// fixloop extension: the mean |z| of the track's gaps when its session started,
    /// before any fix was proposed (the A/B analysis's pre-assignment covariate; the same
    /// for every event of a session). Omitted when not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_start_mean_abs_z: Option<f64>,
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
            ("session_start_mean_abs_z", self.session_start_mean_abs_z),
        ] {
            if let Some(v) = v {
                require_finite(name, v)?;
            }
        }
        Ok(())
    }

    /// What learning reads of this event.
    pub fn outcome(&self) -> super::EventOutcome<'_> {
        super::EventOutcome {
            timestamp: self.timestamp,
            fix_type: self.fix_type,
            feature_name: &self.feature_name,
            user_action: self.user_action,
            was_undone: self.was_undone,
            improvement_ratio: self.improvement_ratio,
            gap_before: self.gap_before,
            target_value: self.target_value,
            original_value: self.original_value,
            applied_value: self.applied_value,
            user_modified_value: self.user_modified_value,
            session_id: &self.session_id,
            profile_version: &self.profile_version,
            ab: &self.ab,
            session_covariate: self.session_start_mean_abs_z,
        }
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
    fn timestamp_range_is_chronos() {
        assert_eq!(MIN_MICROS, DateTime::<Utc>::MIN_UTC.timestamp_micros());
        assert_eq!(MAX_MICROS, DateTime::<Utc>::MAX_UTC.timestamp_micros());
        assert_eq!(
            Timestamp::from_micros(i64::MIN).as_datetime(),
            DateTime::<Utc>::MIN_UTC
        );
        assert_eq!(
            Timestamp::from_micros(i64::MAX).as_micros(),
            DateTime::<Utc>::MAX_UTC.timestamp_micros()
        );
    }

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
    fn fast_timestamp_path_agrees_with_chrono() {
        // Reference: chrono's RFC 3339 / naive ISO parsers on the same text, for random
        // instants from year 1 to 9999 in every form the fast path takes.
        let mut rng = crate::rng::SplitMix64::new(7);
        let lo = NaiveDateTime::parse_from_str("0001-01-01T00:00:00", "%Y-%m-%dT%H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp_micros();
        let hi = NaiveDateTime::parse_from_str("9999-12-31T23:59:59", "%Y-%m-%dT%H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp_micros();
        for i in 0..20_000u64 {
            let micros = lo + (rng.next_u64() % (hi - lo) as u64) as i64;
            let t = DateTime::from_timestamp_micros(micros).unwrap();
            let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
            let frac = match i % 5 {
                0 => String::new(),
                1 => format!(".{:06}", t.timestamp_subsec_micros()),
                2 => format!(".{:03}", t.timestamp_subsec_millis()),
                3 => format!(".{:09}", t.timestamp_subsec_nanos()),
                _ => format!(".{}", t.timestamp_subsec_micros() / 100_000),
            };
            let zone = ["", "Z", "+00:00"][(i % 3) as usize];
            let text = format!("{base}{frac}{zone}");
            let reference = if zone.is_empty() {
                NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
                    .unwrap()
                    .and_utc()
            } else {
                DateTime::parse_from_rfc3339(&text)
                    .unwrap()
                    .with_timezone(&Utc)
            };
            assert_eq!(
                parse_utc_micros(&text),
                Some(reference.timestamp_micros()),
                "{text}"
            );
        }
        // Forms the fast path leaves to chrono, which still parses them.
        for text in [
            "2024-01-15T11:30:00+01:00",
            "2024-01-15 10:30:00",
            "2016-12-31T23:59:60Z",
        ] {
            assert_eq!(parse_utc_micros(text), None, "{text}");
        }
        assert_eq!(
            Timestamp::parse("2024-01-15T11:30:00+01:00"),
            Timestamp::parse("2024-01-15T10:30:00Z")
        );
        for bad in [
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
        ] {
            assert_eq!(parse_utc_micros(bad), None, "{bad}");
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
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
