//! Learning from what was recorded, without anyone asking: a profile's **lineage** — its
//! versions under `profiles/<name>/` in the home, an append-only history, and the step
//! that refines the version in force once enough feedback for it has arrived.
//!
//! ```text
//! profiles/<name>/
//!   <version>.json     one file per version, written once (temporary file, fsync, rename)
//!   history.jsonl      one line per change: created, refined (with every adjustment and
//!                      confidence update) or reverted; the last line names the version in force
//!   checked.json       what the last check saw of the log (so a check with nothing new is cheap)
//!   paused             present while learning is paused
//! ```
//!
//! **Crash safety.** A new version's file is complete on disk before the history line
//! that puts it in force is appended (and synced); a crash before the append leaves the
//! previous version in force and an unused file, a crash during it a torn last line that
//! is ignored. Nothing is rewritten in place and nothing is deleted: a revert appends a
//! line naming an earlier version.
//!
//! **Lineage.** Every event carries the profile version it was proposed under; a step
//! learns only from the events of the version in force, so after a revert the events of
//! the abandoned branch are not learned again.
//!
//! **When.** [`Lineage::learn`] refines when some feature has at least the refine guard
//! rail's minimum of events (SPEC §4.3, default 20) for the version in force. It is meant
//! to run at session start and after a session ends, off the audio thread. When the log
//! has not changed since the last check (same segment names and sizes), it answers from
//! `checked.json` without reading the log.

use super::refine::{refine, refined_version, Adjustment, Decision, RefineOptions, RefineReport};
use super::taste::{learn_taste, TargetMove};
use super::ConfidenceUpdate;
use crate::error::{Error, ErrorKind, Result};
use crate::features::{Feature, FixType};
use crate::feedback::{Only, Outcomes};
use crate::home::Home;
use crate::profile::Profile;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

const HISTORY: &str = "history.jsonl";
const CHECKED: &str = "checked.json";
const PAUSED: &str = "paused";

/// What a history line records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// A version entered the lineage from outside (the first profile, or another file
    /// with the same name).
    Created,
    /// Refinement made this version from its parent.
    Refined,
    /// The producer went back to this version.
    Reverted,
}

/// One line of `history.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// What happened.
    pub kind: HistoryKind,
    /// The version in force from this entry on.
    pub version: String,
    /// The version in force before (`null` for the first).
    pub parent: Option<String>,
    /// When (UTC).
    pub time: DateTime<Utc>,
    /// Events the refinement learned from (0 otherwise).
    pub events_used: u64,
    /// The newest of them (µs since the Unix epoch): a later step from the same parent
    /// (after a revert) learns only from events after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned_through_micros: Option<i64>,
    /// The features whose range changed (refinements only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjustments: Vec<Adjustment>,
    /// Confidence updates per fix type (refinements only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub confidence: BTreeMap<FixType, ConfidenceUpdate>,
    /// Confidence updates per fix type and feature (refinements only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub confidence_by_feature: BTreeMap<FixType, BTreeMap<String, ConfidenceUpdate>>,
    /// The learned targets this step moved, from what evidence, with their intervals
    /// ([`super::taste`]; refinements only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetMove>,
}

impl HistoryEntry {
    /// A line that only changes the version in force (created or reverted).
    fn marker(
        kind: HistoryKind,
        version: &str,
        parent: Option<String>,
        time: DateTime<Utc>,
    ) -> HistoryEntry {
        HistoryEntry {
            kind,
            version: version.to_owned(),
            parent,
            time,
            events_used: 0,
            learned_through_micros: None,
            adjustments: Vec::new(),
            confidence: BTreeMap::new(),
            confidence_by_feature: BTreeMap::new(),
            targets: Vec::new(),
        }
    }
}

/// What [`Lineage::learn`] did. As JSON (the C ABI's and `profile learn --json`'s form)
/// the variant is the field `result` (`paused`, `not_due`, `unchanged`, `refined`) beside
/// the variant's fields (a refinement's are those of its [`HistoryEntry`]; the full
/// report is not repeated).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Learned {
    /// Learning is paused; nothing was read.
    Paused,
    /// Not enough feedback yet for the version in force.
    NotDue {
        /// Events of the version in force.
        events: u64,
        /// The most events any one feature has.
        most_per_feature: u64,
        /// Events one feature needs.
        needed: u64,
        /// Whether the answer came from `checked.json` (the log had not changed).
        cached: bool,
    },
    /// Enough feedback, but refinement changed nothing (no range, no confidence).
    Unchanged {
        /// Events of the version in force.
        events: u64,
    },
    /// A new version is in force.
    Refined {
        /// The history line that put it in force.
        #[serde(flatten)]
        entry: Box<HistoryEntry>,
        /// The refinement's full report (every feature's decision, kept ones included).
        #[serde(skip)]
        report: Box<RefineReport>,
    },
}

/// A lineage at a glance: what `fixloop profile history --json` prints and the C ABI's
/// `fixloop_lineage_history_json` returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineageReport {
    /// The profile's name.
    pub name: String,
    /// The version in force (`null` for a new lineage).
    pub in_force: Option<String>,
    /// Whether learning is paused.
    pub paused: bool,
    /// Every history line, oldest first.
    pub history: Vec<HistoryEntry>,
    /// [`Lineage::changes_since_original`].
    pub changes_since_original: Vec<String>,
}

/// What the last check saw (`checked.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Checked {
    version: String,
    log: Vec<(String, u64)>,
    events: u64,
    most_per_feature: u64,
    needed: u64,
    changed_nothing: bool,
}

/// A profile's versions and history in a home.
#[derive(Clone, Debug)]
pub struct Lineage {
    dir: PathBuf,
    name: String,
}

fn bad_name(name: &str) -> bool {
    name.is_empty()
        || name == "."
        || name == ".."
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced, renamed.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, "write", e)
    })
}

/// The segment files of a log directory with their sizes, sorted (empty when it does not
/// exist): what changes whenever anything is recorded.
fn log_signature(feedback_dir: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = std::fs::read_dir(feedback_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let len = e.metadata().ok()?.len();
                    Some((e.file_name().to_string_lossy().into_owned(), len))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

impl Lineage {
    /// The lineage of the profile called `name` in `home` (nothing is created yet).
    /// Errors: a name that cannot be a folder name.
    pub fn open(home: &Home, name: &str) -> Result<Lineage> {
        if bad_name(name) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "profile name {name:?} cannot name a folder (letters, digits, space, _ - . only)"
                ),
            ));
        }
        Ok(Lineage {
            dir: home.profiles_dir().join(name),
            name: name.to_owned(),
        })
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The folder of the lineage.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `version`.
    pub fn version_path(&self, version: &str) -> PathBuf {
        self.dir.join(format!("{version}.json"))
    }

    /// Makes sure `base` is part of the lineage: the first time (or when `base` is a
    /// version the lineage has never seen, e.g. a rebuilt profile file of the same name)
    /// it is written and put in force; otherwise nothing changes (a refined descendant
    /// stays in force). Returns the profile in force.
    pub fn adopt(&self, base: &Profile, now: DateTime<Utc>) -> Result<Profile> {
        if base.name != self.name {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "profile {:?} does not belong to lineage {:?}",
                    base.name, self.name
                ),
            ));
        }
        let history = self.history()?;
        if !history.iter().any(|h| h.version == base.version) {
            std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, "create", e))?;
            let path = self.version_path(&base.version);
            if !path.exists() {
                base.validate()?;
                write_atomic(&path, crate::json::to_pretty(base).as_bytes())?;
            }
            self.append(&HistoryEntry::marker(
                HistoryKind::Created,
                &base.version,
                history.last().map(|h| h.version.clone()),
                now,
            ))?;
            return Ok(base.clone());
        }
        self.current()?.ok_or_else(|| {
            Error::new(ErrorKind::Corrupt, "history names no version")
                .with_origin(self.history_path())
        })
    }

    fn history_path(&self) -> String {
        self.dir.join(HISTORY).display().to_string()
    }

    /// Every history line, oldest first (empty for a new lineage). A torn last line (a
    /// crash while appending) is ignored; any other bad line is an error naming it.
    pub fn history(&self) -> Result<Vec<HistoryEntry>> {
        let path = self.dir.join(HISTORY);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&path, "read", e)),
        };
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        let mut out = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<HistoryEntry>(line) {
                Ok(h) => out.push(h),
                Err(_) if i + 1 == lines.len() && !complete => break,
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::Corrupt,
                        format!("line {}: not a history entry: {e}", i + 1),
                    )
                    .with_origin(path.display().to_string()))
                }
            }
        }
        Ok(out)
    }

    fn append(&self, entry: &HistoryEntry) -> Result<()> {
        let path = self.dir.join(HISTORY);
        let mut line = serde_json::to_string(entry)
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot encode history: {e}")))?;
        line.push('\n');
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            f.write_all(line.as_bytes())?;
            f.sync_data()
        })();
        result.map_err(|e| Error::io(&path, "append to", e))
    }

    /// The version in force (`None` for a new lineage).
    pub fn current_version(&self) -> Result<Option<String>> {
        Ok(self.history()?.last().map(|h| h.version.clone()))
    }

    /// The profile in force (`None` for a new lineage).
    pub fn current(&self) -> Result<Option<Profile>> {
        match self.current_version()? {
            Some(v) => Profile::load(&self.version_path(&v)).map(Some),
            None => Ok(None),
        }
    }

    /// The versions the lineage has held, in the order they first appeared.
    pub fn versions(&self) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for h in self.history()? {
            if !out.contains(&h.version) {
                out.push(h.version);
            }
        }
        Ok(out)
    }

    /// Puts the earlier `version` back in force (a history line; no file is changed or
    /// deleted). Errors: a version the lineage never held, or whose file is missing.
    pub fn revert(&self, version: &str, now: DateTime<Utc>) -> Result<HistoryEntry> {
        let history = self.history()?;
        if !history.iter().any(|h| h.version == version) {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "profile {} has no version {version:?} (its versions: {})",
                    self.name,
                    self.versions()?.join(", ")
                ),
            ));
        }
        // Loading checks the file is there and valid before it is put in force.
        Profile::load(&self.version_path(version))?;
        let entry = HistoryEntry::marker(
            HistoryKind::Reverted,
            version,
            history.last().map(|h| h.version.clone()),
            now,
        );
        self.append(&entry)?;
        Ok(entry)
    }

    /// The lineage at a glance (history, version in force, pause, changes in words).
    pub fn report(&self) -> Result<LineageReport> {
        let history = self.history()?;
        Ok(LineageReport {
            name: self.name.clone(),
            in_force: history.last().map(|h| h.version.clone()),
            paused: self.paused(),
            changes_since_original: self.changes_since_original()?,
            history,
        })
    }

    /// Whether learning is paused.
    pub fn paused(&self) -> bool {
        self.dir.join(PAUSED).exists()
    }

    /// Pauses or resumes learning.
    pub fn set_paused(&self, paused: bool) -> Result<()> {
        let path = self.dir.join(PAUSED);
        if paused {
            std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, "create", e))?;
            write_atomic(&path, b"learning paused\n")
        } else {
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::io(&path, "remove", e)),
            }
        }
    }

    /// One step of learning (see the module docs): refines the version in force from the
    /// events recorded under it in the log at `feedback_dir` when some feature has at
    /// least `options.min_events` of them, writes the new version and puts it in force.
    /// `options.date` is replaced by `now`'s date. Not for the audio thread: it reads the
    /// log and writes files.
    pub fn learn(
        &self,
        feedback_dir: &Path,
        options: &RefineOptions,
        now: DateTime<Utc>,
    ) -> Result<Learned> {
        if self.paused() {
            return Ok(Learned::Paused);
        }
        let history = self.history()?;
        let Some(version) = history.last().map(|h| h.version.clone()) else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "profile {} has no lineage yet (adopt a profile first)",
                    self.name
                ),
            ));
        };
        let signature = log_signature(feedback_dir);
        if let Some(c) = self
            .checked()
            .filter(|c| c.version == version && c.log == signature)
        {
            return Ok(if c.changed_nothing {
                Learned::Unchanged { events: c.events }
            } else {
                Learned::NotDue {
                    events: c.events,
                    most_per_feature: c.most_per_feature,
                    needed: c.needed,
                    cached: true,
                }
            });
        }
        // Events already learned from by a refinement of this version (before a revert)
        // are not learned again.
        let after = history
            .iter()
            .filter(|h| h.kind == HistoryKind::Refined && h.parent.as_deref() == Some(&version))
            .filter_map(|h| h.learned_through_micros)
            .max();
        let feedback = match crate::store::load_feedback(feedback_dir) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => crate::store::Feedback::Lines(Vec::new()),
            Err(e) => return Err(e),
        };
        // Which events count, and per feature how many, in one pass over the log.
        let mut per_feature: BTreeMap<&str, u64> = BTreeMap::new();
        let mut newest: Option<i64> = None;
        let events = Only::visiting(
            &feedback,
            |e| e.profile_version == version && after.is_none_or(|t| e.timestamp.as_micros() > t),
            |e| {
                *per_feature.entry(e.feature_name).or_default() += 1;
                newest = newest.max(Some(e.timestamp.as_micros()));
            },
        );
        let most = per_feature.values().copied().max().unwrap_or(0);
        let mut checked = Checked {
            version: version.clone(),
            log: signature,
            events: events.count() as u64,
            most_per_feature: most,
            needed: options.min_events,
            changed_nothing: false,
        };
        if most < options.min_events {
            self.save_checked(&checked);
            return Ok(Learned::NotDue {
                events: checked.events,
                most_per_feature: most,
                needed: options.min_events,
                cached: false,
            });
        }
        let profile = Profile::load(&self.version_path(&version))?;
        let opts = RefineOptions {
            date: now.date_naive(),
            ..*options
        };
        // Where the producer wants each feature: learned from the same events, kept in
        // the new version beside the seed's refinement (which it leaves as it is); the two
        // passes are independent, so they run side by side on a large log.
        let (r, (taste, targets)) = super::join(
            events.count() >= super::PARALLEL_EVENTS,
            || refine(&profile, &events, &opts),
            || learn_taste(&profile, &events),
        );
        let r = r?;
        if !r.report.changes_anything() && targets.is_empty() {
            checked.changed_nothing = true;
            self.save_checked(&checked);
            return Ok(Learned::Unchanged {
                events: checked.events,
            });
        }
        let mut refined = r.profile;
        if !targets.is_empty() {
            refined.taste = Some(taste);
        }
        refined.version = self.unused_version(&refined_version(&version, opts.date));
        // Nothing that would not load again is written (a learned value that is not a
        // finite number would serialise as `null`).
        refined.validate()?;
        write_atomic(
            &self.version_path(&refined.version),
            crate::json::to_pretty(&refined).as_bytes(),
        )?;
        let entry = HistoryEntry {
            kind: HistoryKind::Refined,
            version: refined.version.clone(),
            parent: Some(version),
            time: now,
            events_used: r.report.events,
            learned_through_micros: newest,
            adjustments: r
                .report
                .adjustments
                .iter()
                .filter(|a| matches!(a.decision, Decision::Widen | Decision::Narrow))
                .cloned()
                .collect(),
            confidence: r.report.confidence.clone(),
            confidence_by_feature: r.report.confidence_by_feature.clone(),
            targets,
        };
        self.append(&entry)?;
        Ok(Learned::Refined {
            entry: Box::new(entry),
            report: Box::new(r.report),
        })
    }

    /// `wanted`, or `wanted_2`, `wanted_3`… when a version of that name exists (a branch
    /// refined again the same day after a revert).
    fn unused_version(&self, wanted: &str) -> String {
        let taken = |v: &str| self.version_path(v).exists();
        if !taken(wanted) {
            return wanted.to_owned();
        }
        (2..)
            .map(|n| format!("{wanted}_{n}"))
            .find(|v| !taken(v))
            .unwrap_or_else(|| wanted.to_owned())
    }

    fn checked(&self) -> Option<Checked> {
        let text = std::fs::read_to_string(self.dir.join(CHECKED)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Best effort: a lost watermark only costs the next check a read of the log.
    fn save_checked(&self, c: &Checked) {
        if let Ok(text) = serde_json::to_string(c) {
            let _ = write_atomic(&self.dir.join(CHECKED), text.as_bytes());
        }
    }

    /// What changed from the lineage's first version to the version in force, in words,
    /// one line per feature range, per learned target and per confidence ("Bass range
    /// widened to −8.0…−4.9 dB: you skipped 14 of 19 bass cuts"; "Sub: you want it 1.8 dB
    /// above your references (90 %: 1.1–2.4 dB above, 46 decisions)", for a learned target
    /// whose 90 % interval leaves the references' mean out; "EQ Band Cut confidence 0.78 →
    /// 0.71"). Empty
    /// for a new lineage or when nothing changed. Counts are those of the refinements
    /// on the way from the first version to the one in force.
    pub fn changes_since_original(&self) -> Result<Vec<String>> {
        let history = self.history()?;
        let (Some(first), Some(last)) = (history.first(), history.last()) else {
            return Ok(Vec::new());
        };
        let original = Profile::load(&self.version_path(&first.version))?;
        let current = Profile::load(&self.version_path(&last.version))?;
        // The refinements on the path to the version in force: walk its parents.
        let mut on_path: Vec<&HistoryEntry> = Vec::new();
        let mut v = Some(last.version.as_str());
        while let Some(version) = v {
            let Some(made) = history
                .iter()
                .rev()
                .find(|h| h.version == version && h.kind != HistoryKind::Reverted)
            else {
                break;
            };
            if made.kind != HistoryKind::Refined {
                break;
            }
            on_path.push(made);
            v = made.parent.as_deref();
        }
        let mut out = Vec::new();
        for (name, now) in &current.features {
            let Some(then) = original.features.get(name) else {
                continue;
            };
            let (a, b) = (then.acceptable_range, now.acceptable_range);
            if a == b {
                continue;
            }
            let how = if b[1] - b[0] > a[1] - a[0] {
                "widened"
            } else {
                "narrowed"
            };
            let (events, refused) = on_path
                .iter()
                .flat_map(|h| h.adjustments.iter())
                .filter(|adj| adj.feature == *name)
                .fold((0, 0), |(e, r), adj| (e + adj.events, r + adj.refused));
            let (title, fmt): (String, Box<dyn Fn(f64) -> String>) = match Feature::from_name(name)
            {
                Some(f) => (f.title().to_owned(), Box::new(move |v| f.format_value(v))),
                None => (name.clone(), Box::new(|v| format!("{v:.2}"))),
            };
            let why = if how == "widened" {
                format!("you refused {refused} of {events} of its fixes")
            } else {
                format!("you kept {} of {events} of its fixes", events - refused)
            };
            out.push(format!(
                "{title} range {how} to {}\u{2026}{}: {why}",
                fmt(b[0]),
                fmt(b[1]),
            ));
        }
        if let Some(taste) = &current.taste {
            for (name, t) in &taste.features {
                let Some(f) = Feature::from_name(name) else {
                    continue;
                };
                if t.departs() {
                    out.push(format!("{}: {}", f.title(), t.describe(f)));
                }
                if let Some(care) = t.describe_weight() {
                    out.push(format!("{}: {care}", f.title()));
                }
            }
        }
        for t in FixType::ALL {
            let (a, b) = (original.fix_confidence(t), current.fix_confidence(t));
            if (a - b).abs() >= 0.005 {
                out.push(format!("{} confidence {a:.2} \u{2192} {b:.2}", t.title()));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_be_folders_are_refused() {
        let home = Home::at(Path::new("/nonexistent"));
        for bad in ["", "..", "a/b", "a\\b", "x\0"] {
            assert!(Lineage::open(&home, bad).is_err(), "{bad:?}");
        }
        assert!(Lineage::open(&home, "trance v2.1").is_ok());
    }
}
