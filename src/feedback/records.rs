//! Lifecycle records (SPEC §3.2): the vocabulary the collector writes and the reader
//! reads. [`crate::feedback::fold`] turns a stream of them into events.
//!
//! A fix's feedback arrives in steps, each its own record, each durable on its own:
//! [`Record::FixApplied`] (which carries the [`EventId`]) → [`Record::UserAction`] →
//! [`Record::Outcome`] → the implicit [`Record::SessionSaved`] / [`Record::TrackBounced`]
//! marks. A crash between steps loses nothing already written; the fold leaves the
//! missing parts null (`user_action`, `gap_after`, `improvement_ratio`) or false.
//!
//! Records pushed from the audio thread ([`FixApplied`], [`UserActionRecord`],
//! [`Outcome`], [`SessionMark`], [`Bounce`]) are fixed-size `Copy` values: fix ids live
//! inline in a [`FixId`], features and fix types are the catalogue's `u32` ids. Only
//! [`SessionStart`] (created off the audio thread) and [`Record::Event`] (import) own
//! heap data.

use super::event::{Arm, FeedbackEvent, UserAction};
pub use super::ids::{EventId, FixId, FixIdTooLong, FIX_ID_CAPACITY};
use super::Text;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The context of a host session, recorded once when it starts (off the audio thread).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionStart {
    /// The collector-local session number the later records refer to (from 1).
    #[serde(rename = "s")]
    pub session: u32,
    /// The track (project or file) being worked on.
    #[serde(rename = "track")]
    pub track_path: Text,
    /// The host session id (unit of A/B assignment).
    #[serde(rename = "sid")]
    pub session_id: Text,
    /// The profile version gaps are measured against.
    #[serde(rename = "pv")]
    pub profile_version: Text,
    /// A/B assignments in force, test id → arm.
    #[serde(default)]
    #[serde(rename = "ab")]
    pub ab: BTreeMap<Text, Arm>,
    /// The mean |z| of the track's gaps at the start, before any fix was proposed (the
    /// A/B analysis's covariate). Written only when measured, so older records read as
    /// `None` and a record without it keeps format version 1's bytes.
    #[serde(rename = "z0", default, skip_serializing_if = "Option::is_none")]
    pub start_mean_abs_z: Option<f64>,
}

/// A fix was applied: the start of one event.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixApplied {
    /// The new event's id.
    #[serde(rename = "e")]
    pub event: EventId,
    /// The collector-local session it belongs to (0 before any session start).
    #[serde(rename = "s")]
    pub session: u32,
    /// The proposed fix's id.
    #[serde(rename = "fix")]
    pub fix_id: FixId,
    /// The catalogue id of the feature ([`crate::features::Feature::id`]).
    #[serde(rename = "ft")]
    pub feature: u32,
    /// The catalogue id of the fix type (`FixType as u32`).
    #[serde(rename = "ty")]
    pub fix_type: u32,
    /// The feature's value before the fix.
    #[serde(rename = "ov")]
    pub original_value: f64,
    /// The target the fix aimed at.
    #[serde(rename = "tv")]
    pub target_value: f64,
    /// The feature value the applied fix aims for.
    #[serde(rename = "av")]
    pub applied_value: f64,
    /// z-score of the gap before the fix.
    #[serde(rename = "gb")]
    pub gap_before: f64,
    /// Whether the fix was applied at all: `false` for a proposal rejected before it was
    /// applied (its `applied_value` is then the original value). Written only when false,
    /// so the bytes of an applied fix are those of format version 1 before this key.
    #[serde(rename = "ap", default = "applied", skip_serializing_if = "is_applied")]
    pub was_applied: bool,
}

fn applied() -> bool {
    true
}

fn is_applied(was_applied: &bool) -> bool {
    *was_applied
}

/// The producer's explicit action on an applied fix.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserActionRecord {
    /// The event acted on.
    #[serde(rename = "e")]
    pub event: EventId,
    /// What the producer did.
    #[serde(rename = "a")]
    pub action: UserAction,
    /// The value the producer set instead (for `modify`).
    #[serde(rename = "mv")]
    pub modified_value: Option<f64>,
}

/// The gap measured on re-analysis after a fix.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The event measured.
    #[serde(rename = "e")]
    pub event: EventId,
    /// z-score of the gap after the fix.
    #[serde(rename = "ga")]
    pub gap_after: f64,
}

/// A mark on a whole session (saved, deactivated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMark {
    /// The collector-local session number.
    #[serde(rename = "s")]
    pub session: u32,
}

/// What tells fixloop a bounce (offline render, export) happened.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceEvidence {
    /// The host said so (CLAP offline render, an explicit API call from a C/C++ host).
    Host,
    /// A heuristic saw audio processed much faster than wall-clock time: a *likely*
    /// offline render (the VST3 case of SPEC §7).
    Likely {
        /// Audio time processed per wall-clock time during the stretch (e.g. 8.0).
        #[serde(rename = "rt")]
        realtime_factor: f32,
        /// Length of the stretch of audio, in milliseconds.
        #[serde(rename = "ms")]
        audio_ms: u32,
    },
}

/// The track was bounced (exported).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bounce {
    /// The collector-local session number.
    #[serde(rename = "s")]
    pub session: u32,
    /// Why the bounce is believed.
    #[serde(rename = "ev")]
    pub evidence: BounceEvidence,
    /// Renders merged into this record: a burst of offline restarts (a host or a
    /// validator re-activating the plugin again and again) is one bounce. Key `n`,
    /// written only when above 1, so older logs read as 1.
    #[serde(rename = "n", default = "one", skip_serializing_if = "is_one")]
    pub renders: u32,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// How many records a collector could not queue so far (cumulative; written by the
/// writer thread whenever the count changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// Records dropped by this collector since it was opened.
    pub total: u64,
}

/// The last record of a segment closed cleanly or recovered after a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEnd {
    /// Collector records in the segment (not counting `dropped` and this one).
    pub records: u64,
    /// True when a later writer sealed the segment of a dead one.
    pub recovered: bool,
}

/// One lifecycle record. New kinds may be added; a reader that does not know a kind
/// reports it as undecodable and skips it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// A host session started (strings; created off the audio thread).
    SessionStart(Box<SessionStart>),
    /// A fix was applied.
    FixApplied(FixApplied),
    /// The producer acted on a fix.
    UserAction(UserActionRecord),
    /// The gap after the fix was measured.
    Outcome(Outcome),
    /// The host saved the session.
    SessionSaved(SessionMark),
    /// The track was bounced.
    TrackBounced(Bounce),
    /// The plugin was deactivated.
    Deactivated(SessionMark),
    /// The collector's count of dropped records.
    Dropped(Dropped),
    /// A complete event, imported from JSON lines.
    Event(Box<FeedbackEvent>),
    /// The segment is sealed.
    SegmentEnd(SegmentEnd),
}

impl Record {
    /// Records after which the writer syncs at once (SPEC §3.3: bounce, save, deactivate).
    pub fn wants_sync(&self) -> bool {
        matches!(
            self,
            Record::SessionSaved(_) | Record::TrackBounced(_) | Record::Deactivated(_)
        )
    }

    /// Whether a collector pushed this record (as opposed to the writer's bookkeeping).
    pub fn is_collected(&self) -> bool {
        !matches!(self, Record::Dropped(_) | Record::SegmentEnd(_))
    }
}

/// A record as it sits in the merged log: when the writer took it, which writer and
/// collector, and its sequence number within the writer's segment.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// When the writer took the record from the queue, µs since the Unix epoch.
    pub time_us: i64,
    /// The writer (segment) id.
    pub writer: u64,
    /// Sequence number within the segment (from 1).
    pub seq: u64,
    /// The collector that pushed it (0 for the writer's own records).
    pub collector: u64,
    /// The record.
    pub record: Record,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::features::{Feature, FixType};

    /// A fix-applied record of collector 7 (shared with the fold's tests).
    pub(crate) fn applied(serial: u32, session: u32, gap_before: f64) -> Record {
        Record::FixApplied(FixApplied {
            event: EventId {
                collector: 7,
                serial,
            },
            session,
            fix_id: FixId::new(&format!("fix-{serial}")).unwrap(),
            feature: Feature::BassLevel.id(),
            fix_type: FixType::EqBandCut as u32,
            original_value: -3.0,
            target_value: -6.0,
            applied_value: -4.5,
            gap_before,
            was_applied: true,
        })
    }

    /// The id of [`applied`]`(serial, ..)`.
    pub(crate) fn id(serial: u32) -> EventId {
        EventId {
            collector: 7,
            serial,
        }
    }

    #[test]
    fn records_round_trip_through_messagepack() {
        let recs = [
            applied(5, 2, -1.25),
            Record::TrackBounced(Bounce {
                session: 3,
                evidence: BounceEvidence::Host,
                renders: 1,
            }),
            Record::TrackBounced(Bounce {
                session: 3,
                evidence: BounceEvidence::Host,
                renders: 41,
            }),
            Record::UserAction(UserActionRecord {
                event: id(5),
                action: UserAction::Accept,
                modified_value: None,
            }),
        ];
        for r in recs {
            let bytes = rmp_serde::to_vec_named(&r).unwrap();
            let back: Record = rmp_serde::from_slice(&bytes).unwrap();
            assert_eq!(back, r);
        }
    }
}
