//! Time windows for the learning reports: `--since 30d`, `--since 12h`,
//! `--since 2026-10-01`, `--since 2026-10-01T12:00:00Z`.

use crate::error::{Error, ErrorKind, Result};
use crate::feedback::{FeedbackEvent, Timestamp};
use chrono::NaiveDate;
use serde::Serialize;
use std::fmt;

/// The start of a time window, absolute or relative to a given "now".
///
/// Serialises as its text form (`"30d"`, `"2026-10-01"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Since {
    /// The last `days` days before now.
    Days(u32),
    /// The last `hours` hours before now.
    Hours(u32),
    /// From midnight UTC of a date.
    Date(NaiveDate),
    /// From an instant.
    Instant(Timestamp),
}

impl Since {
    /// Parses `30d`, `12h`, `2w` (weeks, as days), `2026-10-01` or an RFC 3339 timestamp.
    pub fn parse(text: &str) -> Result<Since> {
        let t = text.trim();
        let bad = || {
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "--since {text:?} is not a window; expected e.g. 30d, 12h, 2w, 2026-10-01 \
                     or an RFC 3339 timestamp"
                ),
            )
        };
        if let Some(unit) = t.chars().last().filter(|c| c.is_ascii_alphabetic()) {
            let digits = &t[..t.len() - 1];
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                let n: u32 = digits.parse().map_err(|_| bad())?;
                return match unit.to_ascii_lowercase() {
                    'd' => Ok(Since::Days(n)),
                    'h' => Ok(Since::Hours(n)),
                    'w' => n.checked_mul(7).map(Since::Days).ok_or_else(bad),
                    _ => Err(bad()),
                };
            }
        }
        if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Ok(Since::Date(date));
        }
        Timestamp::parse(t).map(Since::Instant).ok_or_else(bad)
    }

    /// The first instant inside the window, for a window ending at `now`.
    pub fn cutoff(&self, now: Timestamp) -> Timestamp {
        const HOUR_US: i64 = 3_600_000_000;
        match *self {
            Since::Days(d) => {
                Timestamp::from_micros(now.as_micros().saturating_sub(i64::from(d) * 24 * HOUR_US))
            }
            Since::Hours(h) => {
                Timestamp::from_micros(now.as_micros().saturating_sub(i64::from(h) * HOUR_US))
            }
            Since::Date(date) => Timestamp::from_micros(
                date.and_hms_opt(0, 0, 0)
                    .map(|d| d.and_utc().timestamp_micros())
                    .unwrap_or(i64::MIN),
            ),
            Since::Instant(t) => t,
        }
    }

    /// Whether `event` lies in the window `[cutoff, now]`.
    pub fn contains(&self, event: &FeedbackEvent, now: Timestamp) -> bool {
        event.timestamp >= self.cutoff(now) && event.timestamp <= now
    }

    /// The report title's words: "Last 30 Days", "Since 2026-10-01".
    pub fn title(&self) -> String {
        let plural = |n: u32, unit: &str| {
            if n == 1 {
                format!("Last {unit}")
            } else {
                format!("Last {n} {unit}s")
            }
        };
        match *self {
            Since::Days(d) => plural(d, "Day"),
            Since::Hours(h) => plural(h, "Hour"),
            Since::Date(date) => format!("Since {date}"),
            Since::Instant(t) => format!("Since {t}"),
        }
    }
}

impl Serialize for Since {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Since {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Since::Days(d) => write!(f, "{d}d"),
            Since::Hours(h) => write!(f, "{h}h"),
            Since::Date(date) => write!(f, "{date}"),
            Since::Instant(t) => write!(f, "{t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relative_and_absolute() {
        let now = Timestamp::parse("2026-11-28T12:00:00Z").unwrap();
        assert_eq!(Since::parse("30d").unwrap(), Since::Days(30));
        assert_eq!(Since::parse("2w").unwrap(), Since::Days(14));
        assert_eq!(
            Since::parse("30d").unwrap().cutoff(now),
            Timestamp::parse("2026-10-29T12:00:00Z").unwrap()
        );
        assert_eq!(
            Since::parse("12h").unwrap().cutoff(now),
            Timestamp::parse("2026-11-28T00:00:00Z").unwrap()
        );
        assert_eq!(
            Since::parse("2026-10-01").unwrap().cutoff(now),
            Timestamp::parse("2026-10-01T00:00:00Z").unwrap()
        );
        assert_eq!(
            Since::parse("2026-10-01T06:30:00+02:00")
                .unwrap()
                .cutoff(now),
            Timestamp::parse("2026-10-01T04:30:00Z").unwrap()
        );
        assert_eq!(Since::Days(30).title(), "Last 30 Days");
        assert_eq!(Since::Days(1).title(), "Last Day");
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "",
            "d",
            "30x",
            "-3d",
            "yesterday",
            "2026-13-01",
            "99999999999d",
        ] {
            let e = Since::parse(bad).unwrap_err();
            assert!(e.to_string().contains("--since"), "{e}");
        }
    }
}
