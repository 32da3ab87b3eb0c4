//! The A/B test file (SPEC §4.5).

use crate::error::{Error, ErrorKind, Result};
use crate::feedback::{EventOutcome, Timestamp, UserAction};
use crate::fixes::Policy;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::path::Path;

/// One value per arm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Arms<T> {
    /// The control arm's.
    pub control: T,
    /// The treatment arm's.
    pub treatment: T,
}

/// A metric an A/B test compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Mean improvement ratio of the events that have one (higher is better).
    ImprovementRatio,
    /// Share of events accepted (a proportion; higher is better).
    AcceptRate,
    /// Share of events undone (a proportion; lower is better).
    UndoRate,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 3] = [
        Metric::ImprovementRatio,
        Metric::AcceptRate,
        Metric::UndoRate,
    ];

    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::ImprovementRatio => "improvement_ratio",
            Metric::AcceptRate => "accept_rate",
            Metric::UndoRate => "undo_rate",
        }
    }

    /// Words for the human report ("avg improvement").
    pub fn label(self) -> &'static str {
        match self {
            Metric::ImprovementRatio => "avg improvement",
            Metric::AcceptRate => "accept rate",
            Metric::UndoRate => "undo rate",
        }
    }

    /// Whether the metric is a share of zero-one outcomes.
    pub fn is_proportion(self) -> bool {
        !matches!(self, Metric::ImprovementRatio)
    }

    /// +1 when higher is better, −1 when lower is better.
    pub fn direction(self) -> f64 {
        if self == Metric::UndoRate {
            -1.0
        } else {
            1.0
        }
    }

    /// The metric's value for one event, `None` when the event does not measure it.
    pub fn value(self, event: &EventOutcome<'_>) -> Option<f64> {
        match self {
            Metric::ImprovementRatio => event.improvement_ratio,
            Metric::AcceptRate => Some(f64::from(u8::from(
                event.user_action == Some(UserAction::Accept),
            ))),
            Metric::UndoRate => Some(f64::from(u8::from(event.was_undone))),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings of a test run as a bandit: Thompson sampling on a Beta-Bernoulli model of
/// acceptance (see [`bandit`](super::bandit)).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BanditSettings {
    /// Smallest share of sessions either arm keeps (default 0.1), so neither arm
    /// starves and the comparison stays possible.
    pub min_share: f64,
    /// Monte-Carlo draws used to estimate each arm's probability of being best (default 2000).
    pub draws: u32,
    /// Seed of those draws, so a share is reproducible (default 0).
    pub seed: u64,
}

impl Default for BanditSettings {
    fn default() -> Self {
        BanditSettings {
            min_share: 0.1,
            draws: 2000,
            seed: 0,
        }
    }
}

fn default_ratio() -> f64 {
    0.5
}

fn default_min_samples() -> u64 {
    50
}

fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Timestamp, D::Error> {
    let s = String::deserialize(d)?;
    parse_date_or_time(&s).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "{s:?} is not a date (2026-10-01) or an RFC 3339 timestamp"
        ))
    })
}

fn lenient_time_opt<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Timestamp>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| {
        parse_date_or_time(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{s:?} is not a date (2026-10-01) or an RFC 3339 timestamp"
            ))
        })
    })
    .transpose()
}

fn parse_date_or_time(s: &str) -> Option<Timestamp> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(Timestamp::from_micros(
            d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros(),
        ));
    }
    Timestamp::parse(s)
}

/// An A/B test: the JSON file `<test_id>.json` of SPEC §4.5. Dates may be written as
/// `2026-10-01` (midnight UTC) or RFC 3339; they are written back as RFC 3339.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbTest {
    /// Identifier, also the file name: letters, digits, `_`, `-` and `.`.
    pub test_id: String,
    /// Human name ("Conservative vs Mean Targeting").
    pub name: String,
    /// What the test is about.
    #[serde(default)]
    pub description: String,
    /// The control arm's fix-generation policy (unset keys take the defaults).
    pub control: Policy,
    /// The treatment arm's fix-generation policy.
    pub treatment: Policy,
    /// Share of sessions in the treatment arm (default 0.5).
    #[serde(default = "default_ratio")]
    pub assignment_ratio: f64,
    /// When the test starts.
    #[serde(deserialize_with = "lenient_time")]
    pub start_date: Timestamp,
    /// When the test ends (`null`: open-ended).
    #[serde(default, deserialize_with = "lenient_time_opt")]
    pub end_date: Option<Timestamp>,
    /// Samples each arm needs before a recommendation (default 50).
    #[serde(default = "default_min_samples")]
    pub min_samples: u64,
    /// The sessions the test plans to run, both arms together: the horizon the
    /// anytime-valid confidence sequence is tuned at (absent: derived from `min_samples`
    /// and the events per session so far; see `AbStatus`'s `anytime.horizon`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_sessions: Option<u64>,
    /// The metric the recommendation rests on.
    pub primary_metric: Metric,
    /// Metrics reported beside it.
    #[serde(default)]
    pub secondary_metrics: Vec<Metric>,
    /// Run as a Thompson-sampling bandit instead of a fixed split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandit: Option<BanditSettings>,
}

impl AbTest {
    /// Checks every field; errors name the test and field.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| {
            Err(Error::new(
                ErrorKind::InvalidInput,
                format!("A/B test {:?}: {msg}", self.test_id),
            ))
        };
        if self.test_id.is_empty()
            || self.test_id.starts_with('.')
            || !self
                .test_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        {
            return bad("test_id must be non-empty, made of letters, digits, _, - and ., and not start with .".into());
        }
        if self.name.trim().is_empty() {
            return bad("name is empty".into());
        }
        if !(self.assignment_ratio > 0.0 && self.assignment_ratio < 1.0) {
            return bad(format!(
                "assignment_ratio is {}; expected a number strictly between 0 and 1",
                self.assignment_ratio
            ));
        }
        if let Some(end) = self.end_date {
            if end <= self.start_date {
                return bad(format!(
                    "end_date {end} is not after start_date {}",
                    self.start_date
                ));
            }
        }
        if self.planned_sessions.is_some_and(|n| n < 4) {
            return bad(format!(
                "planned_sessions is {}; at least 4 (2 per arm) are needed",
                self.planned_sessions.unwrap_or(0)
            ));
        }
        if self.min_samples < 2 {
            return bad(format!(
                "min_samples is {}; at least 2 are needed for a variance",
                self.min_samples
            ));
        }
        self.control
            .validate()
            .or_else(|e| bad(format!("control: {}", e.message())))?;
        self.treatment
            .validate()
            .or_else(|e| bad(format!("treatment: {}", e.message())))?;
        if let Some(b) = &self.bandit {
            if !(b.min_share > 0.0 && b.min_share <= 0.5) {
                return bad(format!(
                    "bandit.min_share is {}; expected a number in (0, 0.5]",
                    b.min_share
                ));
            }
            if b.draws == 0 || b.draws > 1_000_000 {
                return bad(format!(
                    "bandit.draws is {}; expected 1 to 1 000 000",
                    b.draws
                ));
            }
        }
        Ok(())
    }

    /// Parses and validates a test; `origin` names the source in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<AbTest> {
        let test: AbTest = crate::json::parse(text, origin)?;
        test.validate().map_err(|e| e.with_origin(origin))?;
        Ok(test)
    }

    /// Reads and validates the test file at `path`.
    pub fn load(path: &Path) -> Result<AbTest> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
        AbTest::from_json(&text, &path.display().to_string())
    }

    /// The test as pretty JSON.
    pub fn to_json(&self) -> String {
        crate::json::to_pretty(self)
    }

    /// Validates and writes the test to `path` (replacing it).
    pub fn save(&self, path: &Path) -> Result<()> {
        self.validate()
            .map_err(|e| e.with_origin(path.display().to_string()))?;
        std::fs::write(path, self.to_json()).map_err(|e| Error::io(path, "write", e))
    }

    /// Short labels of the two arms: the policy keys in which they differ
    /// (`conservative` / `mean`), or `control` / `treatment` when they are equal.
    pub fn arm_labels(&self) -> Arms<String> {
        let (c, t) = (&self.control, &self.treatment);
        let mut parts = [Vec::new(), Vec::new()];
        if c.target_strategy != t.target_strategy {
            parts[0].push(c.target_strategy.name().to_string());
            parts[1].push(t.target_strategy.name().to_string());
        }
        if c.amount != t.amount {
            parts[0].push(format!("amount {}", c.amount));
            parts[1].push(format!("amount {}", t.amount));
        }
        if c.min_confidence != t.min_confidence {
            parts[0].push(format!("min_confidence {}", c.min_confidence));
            parts[1].push(format!("min_confidence {}", t.min_confidence));
        }
        if c.targets != t.targets {
            parts[0].push(format!("{} targets", c.targets.name()));
            parts[1].push(format!("{} targets", t.targets.name()));
        }
        if parts[0].is_empty() {
            return Arms {
                control: "control".into(),
                treatment: "treatment".into(),
            };
        }
        let [control, treatment] = parts.map(|p| p.join(", "));
        Arms { control, treatment }
    }
}

impl fmt::Display for AbTest {
    /// One line for `fixloop ab list`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Arms {
            control: c,
            treatment: t,
        } = self.arm_labels();
        write!(
            f,
            "{}: {} ({}; {} vs {}; treatment share {}; from {}",
            self.test_id,
            self.name,
            self.primary_metric,
            c,
            t,
            self.assignment_ratio,
            self.start_date.as_datetime().format("%Y-%m-%d")
        )?;
        match self.end_date {
            Some(end) => write!(f, " to {})", end.as_datetime().format("%Y-%m-%d"))?,
            None => write!(f, ", open-ended)")?,
        }
        if self.bandit.is_some() {
            write!(f, " [bandit]")?;
        }
        Ok(())
    }
}
