//! The fold: a merged stream of lifecycle records ([`crate::feedback::records`]) into
//! events, kept compact ([`Folded`]) for learning and built into [`FeedbackEvent`]s on
//! demand ([`Folded::into_fold`]).

use super::event::{improvement_ratio, Arm, FeedbackEvent, Timestamp, UserAction};
use super::records::{BounceEvidence, EventId, FixApplied, FixId, LogEntry, Record, SessionStart};
use super::EventOutcome;
use super::Text;
use crate::features::{Feature, FixType};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// The events of a fold and what it noticed on the way.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fold {
    /// The events, in the order their first record appears.
    pub events: Vec<FeedbackEvent>,
    /// Counts.
    pub report: FoldReport,
}

/// What a fold counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FoldReport {
    /// Records read.
    pub records: u64,
    /// Records pushed by collectors (everything but `Dropped` and `SegmentEnd`).
    pub collected: u64,
    /// Records the collectors could not queue (sum over collectors of their last count).
    pub dropped: u64,
    /// User actions and outcomes whose fix-applied record is not in the log.
    pub orphans: u64,
    /// Fix-applied records with a fix type id this build does not know (skipped).
    pub unknown_fix_types: u64,
    /// Bounces the host reported.
    pub bounces_host: u64,
    /// Bounces a heuristic believed likely.
    pub bounces_likely: u64,
}

#[derive(Default)]
struct Pending {
    action: Option<(UserAction, Option<f64>)>,
    gap_after: Option<f64>,
}

#[derive(Default)]
struct Session {
    /// The session's context: 1 + index in `Folder::contexts`, 0 for none.
    context: u32,
    /// The session's events (indices in `Folder::slots`).
    events: Vec<usize>,
}

/// `Slot::flags`: the last action was `undo`.
const UNDONE: u8 = 1;
/// `Slot::flags`: `session_saved_after`.
const SAVED: u8 = 2;
/// `Slot::flags`: `track_bounced_after`.
const BOUNCED: u8 = 4;
/// `Slot::flags`: `gap_after` is set.
const HAS_GAP_AFTER: u8 = 8;
/// `Slot::flags`: a modified value is set (in `modified`).
const HAS_MODIFIED: u8 = 16;
/// `Slot::flags`: an imported event; what its slot cannot hold is in
/// `imported[collector]`.
const IMPORTED: u8 = 32;
/// `Slot::flags`: the fix was never applied (rejected as a proposal).
const NOT_APPLIED: u8 = 64;

/// One folded event, compact: 72 bytes instead of a [`FeedbackEvent`]'s 240, and no
/// heap. Strings are indices into the fold's shared tables; the rare modified value sits
/// in a side table; the event is built on demand.
#[derive(Clone, Copy, Default)]
struct Slot {
    time_us: i64,
    original_value: f64,
    target_value: f64,
    applied_value: f64,
    gap_before: f64,
    gap_after: f64,
    /// The fix id: offset in `fix_ids` << 8 | length.
    fix: u64,
    serial: u32,
    /// The collector's table in the event index; for an imported event, its index in
    /// `imported`.
    collector: u32,
    /// 1 + index in `contexts`, 0 for no session.
    context: u32,
    /// Index in `features`; [`FEATURE_ELSEWHERE`] when it does not fit (then in
    /// `feature_overflow`).
    feature: u16,
    /// `FixType as u8` in the low nibble, 1 + `UserAction as u8` (0 for none) in the high.
    kind: u8,
    flags: u8,
}

/// `Slot::feature` of an event whose feature index is in `feature_overflow`.
const FEATURE_ELSEWHERE: u16 = u16::MAX;

/// What an imported event holds beyond its slot: its own id and fix id (in
/// `Folder::imported_text`), the improvement ratio as given (it is kept, not recomputed,
/// SPEC §3.2), and its notes.
#[derive(Clone, Debug)]
struct ImportedMeta {
    event_id: TextRange,
    fix_id: TextRange,
    improvement_ratio: Option<f64>,
    notes: Option<Text>,
}

/// A range of `imported_text`.
#[derive(Clone, Copy, Debug)]
struct TextRange {
    at: usize,
    len: usize,
}

/// Appends `text` to `arena`, returning its range.
fn keep_text(arena: &mut Vec<u8>, text: &str) -> TextRange {
    let at = arena.len();
    arena.extend_from_slice(text.as_bytes());
    TextRange {
        at,
        len: text.len(),
    }
}

fn text_at(arena: &[u8], r: TextRange) -> &str {
    // Whole strings were appended, each valid UTF-8.
    std::str::from_utf8(&arena[r.at..r.at + r.len]).unwrap_or_default()
}

const _: () = assert!(std::mem::size_of::<Slot>() == 72);

impl Slot {
    fn fix_type(&self) -> FixType {
        FixType::ALL[usize::from(self.kind & 0x0f)]
    }

    fn user_action(&self) -> Option<UserAction> {
        (self.kind >> 4)
            .checked_sub(1)
            .and_then(|a| UserAction::from_id(u32::from(a)))
    }

    /// Sets the action (the caller keeps the modified value, if any, in `modified`).
    fn apply_action(&mut self, action: UserAction, modified: bool) {
        self.kind = (self.kind & 0x0f) | (action as u8 + 1) << 4;
        self.flags &= !(UNDONE | HAS_MODIFIED);
        if action == UserAction::Undo {
            self.flags |= UNDONE;
        }
        if modified {
            self.flags |= HAS_MODIFIED;
        }
    }

    fn improvement_ratio(&self) -> Option<f64> {
        self.flag(HAS_GAP_AFTER)
            .then(|| improvement_ratio(self.gap_before, self.gap_after))
    }

    fn apply_outcome(&mut self, gap_after: f64) {
        self.flags |= HAS_GAP_AFTER;
        self.gap_after = gap_after;
    }

    fn flag(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

type IdMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// Event id → index in `Folder::slots`, and the collectors the ids name (a slot keeps
/// its collector's index in `collector_ids`, 4 bytes instead of 8).
#[derive(Default)]
struct EventIndex {
    events: IdMap<EventId, usize>,
    collectors: IdMap<u64, u32>,
    collector_ids: Vec<u64>,
}

/// Slots of the fold's fix-id cache: direct-mapped, so it stays in cache and costs one
/// probe whether the ids repeat (shared) or not (each event gets its own copy).
const FIX_ID_SLOTS: usize = 256;

impl EventIndex {
    fn get(&self, id: EventId) -> Option<usize> {
        self.events.get(&id).copied()
    }

    /// Records `id` at `idx` and returns its collector's index; `None` when `id` is
    /// already there.
    fn insert(&mut self, id: EventId, idx: usize) -> Option<u32> {
        match self.events.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => return None,
            std::collections::hash_map::Entry::Vacant(v) => v.insert(idx),
        };
        let next = self.collector_ids.len() as u32;
        let c = *self.collectors.entry(id.collector).or_insert(next);
        if c == next {
            self.collector_ids.push(id.collector);
        }
        Some(c)
    }
}

/// An imported event as the fold reads it, its strings borrowed: decoded in place from an
/// `event` record's bytes (strings borrow the log's bytes, so reading a log written by
/// `fixloop import` allocates almost nothing per event), rebuilt from the string spans
/// the fold keeps, or viewed from a decoded [`FeedbackEvent`].
#[derive(Debug, serde::Deserialize)]
pub struct EventRecordRef<'a> {
    pub(crate) event_id: &'a str,
    pub(crate) timestamp: Timestamp,
    pub(crate) fix_id: &'a str,
    #[serde(with = "super::event::fix_type_lenient")]
    pub(crate) fix_type: FixType,
    pub(crate) feature_name: &'a str,
    pub(crate) track_path: &'a str,
    pub(crate) session_id: &'a str,
    pub(crate) profile_version: &'a str,
    pub(crate) original_value: f64,
    pub(crate) target_value: f64,
    pub(crate) applied_value: f64,
    pub(crate) user_action: Option<UserAction>,
    pub(crate) was_applied: bool,
    pub(crate) was_undone: bool,
    pub(crate) gap_before: f64,
    pub(crate) gap_after: Option<f64>,
    pub(crate) improvement_ratio: Option<f64>,
    pub(crate) user_modified_value: Option<f64>,
    pub(crate) session_saved_after: bool,
    pub(crate) track_bounced_after: bool,
    pub(crate) notes: Option<&'a str>,
    #[serde(default, borrow)]
    pub(crate) ab: BTreeMap<&'a str, Arm>,
    #[serde(default)]
    pub(crate) session_start_mean_abs_z: Option<f64>,
}

impl<'a> EventRecordRef<'a> {
    /// The event's id.
    pub fn event_id(&self) -> &'a str {
        self.event_id
    }

    fn of_event(e: &'a FeedbackEvent) -> EventRecordRef<'a> {
        EventRecordRef {
            event_id: &e.event_id,
            timestamp: e.timestamp,
            fix_id: &e.fix_id,
            fix_type: e.fix_type,
            feature_name: &e.feature_name,
            track_path: &e.track_path,
            session_id: &e.session_id,
            profile_version: &e.profile_version,
            original_value: e.original_value,
            target_value: e.target_value,
            applied_value: e.applied_value,
            user_action: e.user_action,
            was_applied: e.was_applied,
            was_undone: e.was_undone,
            gap_before: e.gap_before,
            gap_after: e.gap_after,
            improvement_ratio: e.improvement_ratio,
            user_modified_value: e.user_modified_value,
            session_saved_after: e.session_saved_after,
            track_bounced_after: e.track_bounced_after,
            notes: e.notes.as_deref(),
            ab: e.ab.iter().map(|(t, a)| (t.as_str(), *a)).collect(),
            session_start_mean_abs_z: e.session_start_mean_abs_z,
        }
    }

    /// The event whose strings `spans` places in `bytes`; `None` when a span is not
    /// there or not UTF-8.
    fn from_spans(e: &EventSpans, bytes: &'a [u8]) -> Option<EventRecordRef<'a>> {
        let text = |r: &std::ops::Range<usize>| std::str::from_utf8(bytes.get(r.clone())?).ok();
        Some(EventRecordRef {
            event_id: text(&e.event_id)?,
            timestamp: e.timestamp,
            fix_id: text(&e.fix_id)?,
            fix_type: e.fix_type,
            feature_name: text(&e.feature_name)?,
            track_path: text(&e.track_path)?,
            session_id: text(&e.session_id)?,
            profile_version: text(&e.profile_version)?,
            original_value: e.numbers[0],
            target_value: e.numbers[1],
            applied_value: e.numbers[2],
            user_action: e.user_action,
            was_applied: e.flags[0],
            was_undone: e.flags[1],
            gap_before: e.numbers[3],
            gap_after: e.optional[0],
            improvement_ratio: e.optional[1],
            user_modified_value: e.optional[2],
            session_saved_after: e.flags[2],
            track_bounced_after: e.flags[3],
            notes: match &e.notes {
                Some(r) => Some(text(r)?),
                None => None,
            },
            ab: e
                .ab
                .iter()
                .map(|(r, a)| Some((text(r)?, *a)))
                .collect::<Option<_>>()?,
            session_start_mean_abs_z: e.optional[3],
        })
    }
}

/// An imported `event` record decoded on the reading thread: its numbers parsed and its
/// strings as byte ranges of the batch that carries it to the folding thread, which
/// folds it without decoding it again ([`Folder::push_event_spans`]).
#[derive(Clone, Debug)]
pub(crate) struct EventSpans {
    event_id: std::ops::Range<usize>,
    timestamp: Timestamp,
    fix_id: std::ops::Range<usize>,
    fix_type: FixType,
    feature_name: std::ops::Range<usize>,
    track_path: std::ops::Range<usize>,
    session_id: std::ops::Range<usize>,
    profile_version: std::ops::Range<usize>,
    /// original, target, applied, gap before.
    numbers: [f64; 4],
    /// gap after, improvement ratio, modified value, session-start mean |z|.
    optional: [Option<f64>; 4],
    user_action: Option<UserAction>,
    /// was applied, was undone, saved after, bounced after.
    flags: [bool; 4],
    notes: Option<std::ops::Range<usize>>,
    ab: Vec<(std::ops::Range<usize>, Arm)>,
}

impl EventSpans {
    /// The spans of `e`, whose strings borrow `bytes`; `None` when a string is not in
    /// `bytes` or a number is not finite (the caller then decodes the record the owned
    /// way, which names the error).
    pub(crate) fn new(e: &EventRecordRef<'_>, bytes: &[u8]) -> Option<EventSpans> {
        let base = bytes.as_ptr() as usize;
        let span = |s: &str| {
            let at = (s.as_ptr() as usize).checked_sub(base)?;
            (at + s.len() <= bytes.len()).then_some(at..at + s.len())
        };
        let numbers = [
            e.original_value,
            e.target_value,
            e.applied_value,
            e.gap_before,
        ];
        let optional = [
            e.gap_after,
            e.improvement_ratio,
            e.user_modified_value,
            e.session_start_mean_abs_z,
        ];
        if !numbers
            .into_iter()
            .chain(optional.into_iter().flatten())
            .all(f64::is_finite)
        {
            return None;
        }
        Some(EventSpans {
            event_id: span(e.event_id)?,
            timestamp: e.timestamp,
            fix_id: span(e.fix_id)?,
            fix_type: e.fix_type,
            feature_name: span(e.feature_name)?,
            track_path: span(e.track_path)?,
            session_id: span(e.session_id)?,
            profile_version: span(e.profile_version)?,
            numbers,
            optional,
            user_action: e.user_action,
            flags: [
                e.was_applied,
                e.was_undone,
                e.session_saved_after,
                e.track_bounced_after,
            ],
            notes: match e.notes {
                Some(n) => Some(span(n)?),
                None => None,
            },
            ab: e
                .ab
                .iter()
                .map(|(t, a)| Some((span(t)?, *a)))
                .collect::<Option<_>>()?,
        })
    }
}

/// The fold of [`fold`], fed one record at a time (so a reader can stream a merge into
/// it without holding every record).
#[derive(Default)]
pub struct Folder {
    report: FoldReport,
    slots: Vec<Slot>,
    imported: Vec<ImportedMeta>,
    /// Ids and fix ids of imported events, end to end.
    imported_text: Vec<u8>,
    /// Imported events by a 64-bit hash of their id (the id itself is compared on a hit);
    /// ids whose hash another id already has go to `imported_collided`.
    imported_by_hash: IdMap<u64, usize>,
    imported_collided: HashMap<String, usize>,
    /// Feature names of imported events → index in `features`.
    imported_features: rustc_hash::FxHashMap<Text, u32>,
    by_id: EventIndex,
    /// Feature names, shared by the events that name them (`Slot::feature`).
    features: Vec<Text>,
    feature_index: IdMap<u32, u32>,
    /// Feature indices of events whose index does not fit their slot.
    feature_overflow: IdMap<usize, u32>,
    /// Modified values, by event index.
    modified: IdMap<usize, f64>,
    /// Fix ids, end to end (`Slot::fix`); repeated ids are stored once while they stay
    /// in the direct-mapped cache `fix_cache`.
    fix_ids: Vec<u8>,
    fix_cache: Vec<Option<(FixId, u64)>>,
    /// Session contexts, one per session start record.
    contexts: Vec<SessionStart>,
    pending: IdMap<EventId, Pending>,
    session_index: IdMap<(u64, u32), usize>,
    sessions: Vec<Session>,
    last_session: Option<((u64, u32), usize)>,
    last_imported_context: Option<u32>,
    dropped: IdMap<u64, u64>,
}

impl Folder {
    /// An empty fold.
    pub fn new() -> Folder {
        Folder::default()
    }

    fn session(&mut self, key: (u64, u32)) -> usize {
        if let Some((k, i)) = self.last_session {
            if k == key {
                return i;
            }
        }
        let i = match self.session_index.get(&key) {
            Some(&i) => i,
            None => {
                self.sessions.push(Session::default());
                self.session_index.insert(key, self.sessions.len() - 1);
                self.sessions.len() - 1
            }
        };
        self.last_session = Some((key, i));
        i
    }

    /// Folds in the next record (records must come in merged order).
    pub fn push(&mut self, entry: &LogEntry) {
        self.report.records += 1;
        if entry.record.is_collected() {
            self.report.collected += 1;
        }
        match &entry.record {
            Record::SessionStart(s) => {
                // A new context, so events folded under an earlier start keep theirs.
                let i = self.session((entry.collector, s.session));
                self.contexts.push((**s).clone());
                self.sessions[i].context = u32::try_from(self.contexts.len()).unwrap_or(0);
            }
            Record::FixApplied(f) => self.fix_applied(entry, f),
            Record::UserAction(a) => match self.by_id.get(a.event) {
                Some(i) => self.apply_action(i, a.action, a.modified_value),
                None => {
                    self.pending.entry(a.event).or_default().action =
                        Some((a.action, a.modified_value))
                }
            },
            Record::Outcome(o) => match self.by_id.get(o.event) {
                Some(i) => self.slots[i].apply_outcome(o.gap_after),
                None => self.pending.entry(o.event).or_default().gap_after = Some(o.gap_after),
            },
            Record::SessionSaved(m) => self.mark_open(entry.collector, m.session, SAVED),
            Record::TrackBounced(b) => {
                match b.evidence {
                    BounceEvidence::Host => self.report.bounces_host += 1,
                    BounceEvidence::Likely { .. } => self.report.bounces_likely += 1,
                }
                self.mark_open(entry.collector, b.session, BOUNCED);
            }
            Record::Dropped(d) => {
                let total = self.dropped.entry(entry.collector).or_insert(0);
                *total = (*total).max(d.total);
            }
            Record::Event(ev) => {
                // Counted by `import`, as an event decoded without copies is.
                self.report.records -= 1;
                self.report.collected -= 1;
                self.import(&EventRecordRef::of_event(ev));
            }
            Record::Deactivated(_) | Record::SegmentEnd(_) => {}
        }
    }

    /// Folds in a whole imported event, compact: values and flags in a slot, strings in
    /// the tables; an event id imported again replaces the earlier event in place.
    fn import(&mut self, ev: &EventRecordRef<'_>) {
        self.report.records += 1;
        self.report.collected += 1;
        let hash = {
            use std::hash::{Hash, Hasher};
            let mut h = rustc_hash::FxHasher::default();
            ev.event_id.hash(&mut h);
            h.finish()
        };
        let earlier = match self.imported_by_hash.get(&hash) {
            Some(&i) => {
                let meta = &self.imported[self.slots[i].collector as usize];
                if text_at(&self.imported_text, meta.event_id) == ev.event_id {
                    Some(i)
                } else {
                    self.imported_collided.get(ev.event_id).copied()
                }
            }
            None => None,
        };
        let feature = match self.imported_features.get(ev.feature_name) {
            Some(&i) => i,
            None => {
                let i = match Feature::from_name(ev.feature_name) {
                    Some(f) => self.feature(f.id()),
                    None => {
                        self.features.push(Text::from(ev.feature_name));
                        self.features.len() as u32 - 1
                    }
                };
                self.imported_features
                    .insert(Text::from(ev.feature_name), i);
                i
            }
        };
        let context = self.imported_context(ev);
        let meta = ImportedMeta {
            event_id: keep_text(&mut self.imported_text, ev.event_id),
            fix_id: keep_text(&mut self.imported_text, ev.fix_id),
            improvement_ratio: ev.improvement_ratio,
            notes: ev.notes.map(Text::from),
        };
        let (idx, meta_index) = match earlier {
            Some(i) => {
                let m = self.slots[i].collector as usize;
                self.imported[m] = meta;
                (i, m)
            }
            None => {
                let i = self.slots.len();
                match self.imported_by_hash.entry(hash) {
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(i);
                    }
                    std::collections::hash_map::Entry::Occupied(_) => {
                        self.imported_collided.insert(ev.event_id.to_string(), i);
                    }
                }
                self.imported.push(meta);
                self.slots.push(Slot::default());
                (i, self.imported.len() - 1)
            }
        };
        let flag = |on: bool, f: u8| if on { f } else { 0 };
        let action = ev.user_action.map_or(0, |a| a as u8 + 1);
        self.slots[idx] = Slot {
            time_us: ev.timestamp.as_micros(),
            original_value: ev.original_value,
            target_value: ev.target_value,
            applied_value: ev.applied_value,
            gap_before: ev.gap_before,
            gap_after: ev.gap_after.unwrap_or(0.0),
            fix: 0,
            serial: 0,
            collector: meta_index as u32,
            context,
            feature: u16::try_from(feature)
                .ok()
                .filter(|&x| x != FEATURE_ELSEWHERE)
                .unwrap_or(FEATURE_ELSEWHERE),
            kind: ev.fix_type as u8 | action << 4,
            flags: IMPORTED
                | flag(ev.was_undone, UNDONE)
                | flag(ev.session_saved_after, SAVED)
                | flag(ev.track_bounced_after, BOUNCED)
                | flag(ev.gap_after.is_some(), HAS_GAP_AFTER)
                | flag(ev.user_modified_value.is_some(), HAS_MODIFIED)
                | flag(!ev.was_applied, NOT_APPLIED),
        };
        if self.slots[idx].feature == FEATURE_ELSEWHERE {
            self.feature_overflow.insert(idx, feature);
        } else if earlier.is_some() {
            self.feature_overflow.remove(&idx);
        }
        match ev.user_modified_value {
            Some(v) => {
                self.modified.insert(idx, v);
            }
            None if earlier.is_some() => {
                self.modified.remove(&idx);
            }
            None => {}
        }
    }

    /// Folds in an imported event decoded in place (tests of the decoders).
    #[cfg(test)]
    pub(crate) fn push_event_ref_for_test(&mut self, ev: &EventRecordRef<'_>) {
        self.import(ev);
    }

    /// Folds in an imported event decoded on another thread, its strings in `bytes`
    /// (see [`EventSpans`]); false (nothing folded) when a span is not there.
    pub(crate) fn push_event_spans(&mut self, ev: &EventSpans, bytes: &[u8]) -> bool {
        match EventRecordRef::from_spans(ev, bytes) {
            Some(view) => {
                self.import(&view);
                true
            }
            None => false,
        }
    }

    /// The context (1 + index in `contexts`) of an imported event: the previous imported
    /// event's when track, session, profile version and arms are the same (events of one
    /// session come together), else a new one.
    fn imported_context(&mut self, ev: &EventRecordRef<'_>) -> u32 {
        let same = |c: &SessionStart| {
            c.session == 0
                && c.track_path == ev.track_path
                && c.session_id == ev.session_id
                && c.profile_version == ev.profile_version
                && c.start_mean_abs_z.map(f64::to_bits)
                    == ev.session_start_mean_abs_z.map(f64::to_bits)
                && c.ab.len() == ev.ab.len()
                && c.ab
                    .iter()
                    .zip(&ev.ab)
                    .all(|((t, a), (u, b))| t == u && a == b)
        };
        if let Some(c) = self.last_imported_context {
            if same(&self.contexts[c as usize - 1]) {
                return c;
            }
        }
        self.contexts.push(SessionStart {
            session: 0,
            track_path: ev.track_path.into(),
            session_id: ev.session_id.into(),
            profile_version: ev.profile_version.into(),
            ab: ev.ab.iter().map(|(&t, &a)| (Text::from(t), a)).collect(),
            start_mean_abs_z: ev.session_start_mean_abs_z,
        });
        let c = u32::try_from(self.contexts.len()).unwrap_or(0);
        self.last_imported_context = Some(c);
        c
    }

    fn apply_action(&mut self, i: usize, action: UserAction, value: Option<f64>) {
        let had = self.slots[i].flag(HAS_MODIFIED);
        self.slots[i].apply_action(action, value.is_some());
        match value {
            Some(v) => {
                self.modified.insert(i, v);
            }
            None if had => {
                self.modified.remove(&i);
            }
            None => {}
        }
    }

    fn feature(&mut self, id: u32) -> u32 {
        let next = self.features.len() as u32;
        let i = *self.feature_index.entry(id).or_insert(next);
        if i == next {
            self.features.push(match Feature::from_id(id) {
                Some(feat) => Text::from(feat.name()),
                None => Text::from(format!("feature_{id}")),
            });
        }
        i
    }

    fn fix(&mut self, fix_id: &FixId) -> u64 {
        if self.fix_cache.is_empty() {
            self.fix_cache.resize(FIX_ID_SLOTS, None);
        }
        let slot = {
            use std::hash::{Hash, Hasher};
            let mut h = rustc_hash::FxHasher::default();
            fix_id.hash(&mut h);
            (h.finish() >> 32) as usize % FIX_ID_SLOTS
        };
        match &self.fix_cache[slot] {
            Some((id, at)) if id == fix_id => *at,
            _ => {
                let text = fix_id.as_bytes();
                let at = (self.fix_ids.len() as u64) << 8 | text.len() as u64;
                self.fix_ids.extend_from_slice(text);
                self.fix_cache[slot] = Some((*fix_id, at));
                at
            }
        }
    }

    fn fix_applied(&mut self, entry: &LogEntry, f: &FixApplied) {
        let Some(fix_type) = FixType::from_id(f.fix_type) else {
            self.report.unknown_fix_types += 1;
            return;
        };
        let idx = self.slots.len();
        let Some(table) = self.by_id.insert(f.event, idx) else {
            return; // the same event id twice: keep the first
        };
        let si = self.session((entry.collector, f.session));
        let feature = self.feature(f.feature);
        let slot = Slot {
            time_us: entry.time_us,
            original_value: f.original_value,
            target_value: f.target_value,
            applied_value: f.applied_value,
            gap_before: f.gap_before,
            gap_after: 0.0,
            fix: self.fix(&f.fix_id),
            serial: f.event.serial,
            collector: table,
            context: self.sessions[si].context,
            feature: u16::try_from(feature)
                .ok()
                .filter(|&x| x != FEATURE_ELSEWHERE)
                .unwrap_or(FEATURE_ELSEWHERE),
            kind: fix_type as u8,
            flags: if f.was_applied { 0 } else { NOT_APPLIED },
        };
        if slot.feature == FEATURE_ELSEWHERE {
            self.feature_overflow.insert(idx, feature);
        }
        self.sessions[si].events.push(idx);
        self.slots.push(slot);
        if let Some(p) = (!self.pending.is_empty())
            .then(|| self.pending.remove(&f.event))
            .flatten()
        {
            if let Some((action, value)) = p.action {
                self.apply_action(idx, action, value);
            }
            if let Some(gap_after) = p.gap_after {
                self.slots[idx].apply_outcome(gap_after);
            }
        }
    }

    fn mark_open(&mut self, collector: u64, session: u32, flag: u8) {
        let Some(&si) = self.session_index.get(&(collector, session)) else {
            return;
        };
        for &idx in &self.sessions[si].events {
            let s = &mut self.slots[idx];
            if !s.flag(UNDONE) && s.user_action() != Some(UserAction::Reject) {
                s.flags |= flag;
            }
        }
    }

    /// The events, compact (see [`Folded`]), and the report.
    pub fn into_folded(mut self) -> Folded {
        self.report.dropped = self.dropped.values().sum();
        self.report.orphans = self
            .pending
            .values()
            .map(|p| u64::from(p.action.is_some()) + u64::from(p.gap_after.is_some()))
            .sum();
        Folded {
            report: self.report,
            feature_overflow: self.feature_overflow,
            modified: self.modified,
            slots: self.slots,
            imported: self.imported,
            imported_text: self.imported_text,
            collector_ids: self.by_id.collector_ids,
            features: self.features,
            fix_ids: self.fix_ids,
            contexts: self.contexts,
        }
    }

    /// The events and the report.
    pub fn finish(self) -> Fold {
        self.into_folded().into_fold()
    }
}

/// A finished fold that keeps its events compact (about 100 bytes each, strings shared
/// in tables) and builds each [`FeedbackEvent`] only when asked. Learning reads
/// [`Folded::outcomes`] without building any; [`Folded::into_fold`] builds them all.
///
/// Why it is hand-packed (`benches/learn.rs`, same run, 2-core EPYC VM, a native log of
/// 1M events): reading it and computing the summary from the compact fold takes
/// 406 ms, building the 1M [`FeedbackEvent`]s first 581 ms (1.43×; 1.6–1.8× in other runs
/// today), and only the compact fold meets the 0.5 s budget; it also holds an event in
/// about a third of the memory. (The fix-id cache is part of that number; the event
/// index is a plain `rustc-hash` map.)
pub struct Folded {
    report: FoldReport,
    feature_overflow: IdMap<usize, u32>,
    modified: IdMap<usize, f64>,
    slots: Vec<Slot>,
    imported: Vec<ImportedMeta>,
    imported_text: Vec<u8>,
    collector_ids: Vec<u64>,
    features: Vec<Text>,
    fix_ids: Vec<u8>,
    contexts: Vec<SessionStart>,
}

impl fmt::Debug for Folded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Folded")
            .field("events", &self.slots.len())
            .field("report", &self.report)
            .finish()
    }
}

impl Folded {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// What the fold counted.
    pub fn report(&self) -> &FoldReport {
        &self.report
    }

    /// What learning reads of each event, in order, without building the events.
    pub fn outcomes(&self) -> impl Iterator<Item = EventOutcome<'_>> + Clone + '_ {
        self.slots.iter().enumerate().map(move |(i, s)| {
            let (session_id, profile_version, ab, session_covariate) = match s.context {
                0 => ("", "", &super::NO_ARMS, None),
                c => {
                    let ctx = &self.contexts[c as usize - 1];
                    (
                        ctx.session_id.as_str(),
                        ctx.profile_version.as_str(),
                        &ctx.ab,
                        ctx.start_mean_abs_z,
                    )
                }
            };
            EventOutcome {
                timestamp: Timestamp::from_micros(s.time_us),
                fix_type: s.fix_type(),
                feature_name: self.feature_name(i, s),
                user_action: s.user_action(),
                was_undone: s.flag(UNDONE),
                improvement_ratio: self.improvement_ratio(s),
                gap_before: s.gap_before,
                target_value: s.target_value,
                original_value: s.original_value,
                applied_value: s.applied_value,
                user_modified_value: match s.flag(HAS_MODIFIED) {
                    true => self.modified.get(&i).copied(),
                    false => None,
                },
                session_id,
                profile_version,
                ab,
                session_covariate,
            }
        })
    }

    /// The event's improvement ratio: computed from its gaps, or as given on import.
    fn improvement_ratio(&self, s: &Slot) -> Option<f64> {
        if s.flag(IMPORTED) {
            self.imported[s.collector as usize].improvement_ratio
        } else {
            s.improvement_ratio()
        }
    }

    fn feature_name(&self, i: usize, s: &Slot) -> &Text {
        let f = match s.feature {
            FEATURE_ELSEWHERE => self.feature_overflow.get(&i).copied().unwrap_or(0),
            f => u32::from(f),
        };
        &self.features[f as usize]
    }

    fn fix_text(&self, fix: u64) -> &str {
        let (at, len) = ((fix >> 8) as usize, (fix & 0xff) as usize);
        // Whole fix ids were appended, each valid UTF-8.
        std::str::from_utf8(&self.fix_ids[at..at + len]).unwrap_or_default()
    }

    /// Builds event `i`, whose slot is `s`; `fix_id` is its fix id's shared text.
    fn event(&self, i: usize, s: &Slot, fix_id: Text) -> FeedbackEvent {
        let empty = SessionStart::default();
        let ctx = match s.context {
            0 => &empty,
            c => &self.contexts[c as usize - 1],
        };
        let imported = s
            .flag(IMPORTED)
            .then(|| &self.imported[s.collector as usize]);
        let event_id = match imported {
            Some(m) => Text::from(text_at(&self.imported_text, m.event_id)),
            None => EventId {
                collector: self.collector_ids[s.collector as usize],
                serial: s.serial,
            }
            .to_text(),
        };
        FeedbackEvent {
            event_id,
            timestamp: Timestamp::from_micros(s.time_us),
            fix_id,
            fix_type: s.fix_type(),
            feature_name: self.feature_name(i, s).clone(),
            track_path: ctx.track_path.clone(),
            session_id: ctx.session_id.clone(),
            profile_version: ctx.profile_version.clone(),
            original_value: s.original_value,
            target_value: s.target_value,
            applied_value: s.applied_value,
            user_action: s.user_action(),
            was_applied: !s.flag(NOT_APPLIED),
            was_undone: s.flag(UNDONE),
            gap_before: s.gap_before,
            gap_after: s.flag(HAS_GAP_AFTER).then_some(s.gap_after),
            improvement_ratio: self.improvement_ratio(s),
            user_modified_value: match s.flag(HAS_MODIFIED) {
                true => self.modified.get(&i).copied(),
                false => None,
            },
            session_saved_after: s.flag(SAVED),
            track_bounced_after: s.flag(BOUNCED),
            notes: imported.and_then(|m| m.notes.clone()),
            ab: ctx.ab.clone(),
            session_start_mean_abs_z: ctx.start_mean_abs_z,
        }
    }

    /// Builds every event, in order; events with the same fix id (stored once) share
    /// its text. Large folds are built on every core (rayon), each worker keeping its
    /// own cache of recent fix-id texts.
    pub fn into_fold(self) -> Fold {
        use rayon::prelude::*;
        const MIN_PER_TASK: usize = 1 << 15;
        let mut events = Vec::with_capacity(self.slots.len());
        self.slots
            .par_iter()
            .with_min_len(MIN_PER_TASK)
            .enumerate()
            .map_init(
                || vec![None; FIX_ID_SLOTS],
                |cache, (i, s)| self.build(cache, i, s),
            )
            .collect_into_vec(&mut events);
        Fold {
            events,
            report: self.report,
        }
    }

    /// Builds event `i`, whose slot is `s`, sharing its fix-id text through `cache`.
    fn build(&self, cache: &mut [Option<(u64, Text)>], i: usize, s: &Slot) -> FeedbackEvent {
        if s.flag(IMPORTED) {
            let m = &self.imported[s.collector as usize];
            let fix_id = Text::from(text_at(&self.imported_text, m.fix_id));
            return self.event(i, s, fix_id);
        }
        let c = &mut cache[(s.fix >> 8) as usize % FIX_ID_SLOTS];
        let fix_id = match c {
            Some((at, text)) if *at == s.fix => text.clone(),
            _ => {
                let text = Text::from(self.fix_text(s.fix));
                *c = Some((s.fix, text.clone()));
                text
            }
        };
        self.event(i, s, fix_id)
    }
}

/// Folds records, already merged in (time, writer, sequence) order, into events.
///
/// - `fix_applied` starts an event with the session's context (track, session id,
///   profile version, A/B arms; empty strings when no session was started) and
///   the record's `was_applied` (false for a proposal rejected unapplied); the event's timestamp is the time the writer took the record.
/// - `user_action` sets `user_action`, `user_modified_value`, and `was_undone` (true
///   exactly when the last action is `undo`, as in the seed).
/// - `outcome` sets `gap_after` and `improvement_ratio` by [`improvement_ratio`]
///   (magnitudes, SPEC §3.2).
/// - `session_saved` / `track_bounced` set `session_saved_after` / `track_bounced_after`
///   on every event of that collector session that is still open: applied, not undone and
///   not rejected. Both a host-reported and a *likely* bounce count.
/// - An imported `event` is taken as it is; an event id imported again replaces the
///   earlier one in place, so importing a file twice does not duplicate it.
/// - Actions and outcomes that arrive before their fix-applied record are kept and
///   applied when it arrives; those whose fix never appears are counted as orphans.
pub fn fold<'a>(entries: impl IntoIterator<Item = &'a LogEntry>) -> Fold {
    let mut folder = Folder::new();
    for e in entries {
        folder.push(e);
    }
    folder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::records::tests::{applied, id};
    use crate::feedback::records::*;
    use crate::feedback::{Arm, FeedbackEvent};

    fn entry(seq: u64, collector: u64, record: Record) -> LogEntry {
        LogEntry {
            time_us: 1_700_000_000_000_000 + seq as i64,
            writer: 1,
            seq,
            collector,
            record,
        }
    }

    #[test]
    fn full_lifecycle_folds_to_one_event() {
        let session = Record::SessionStart(Box::new(SessionStart {
            session: 1,
            track_path: "/music/track.als".into(),
            session_id: "s1".into(),
            profile_version: "trance_v1".into(),
            ab: BTreeMap::from([(Text::from("amount"), Arm::Treatment)]),
            start_mean_abs_z: None,
        }));
        let log = [
            entry(1, 7, session),
            entry(2, 7, applied(1, 1, 2.0)),
            entry(
                3,
                7,
                Record::UserAction(UserActionRecord {
                    event: id(1),
                    action: UserAction::Modify,
                    modified_value: Some(-5.0),
                }),
            ),
            entry(
                4,
                7,
                Record::Outcome(Outcome {
                    event: id(1),
                    gap_after: -1.0,
                }),
            ),
            entry(5, 7, Record::SessionSaved(SessionMark { session: 1 })),
            entry(
                6,
                7,
                Record::TrackBounced(Bounce {
                    session: 1,
                    evidence: BounceEvidence::Likely {
                        realtime_factor: 8.0,
                        audio_ms: 30_000,
                    },
                    renders: 1,
                }),
            ),
        ];
        let fold = fold(&log);
        assert_eq!(fold.events.len(), 1);
        let e = &fold.events[0];
        assert_eq!(e.event_id, "0000000000000007-00000001");
        assert_eq!(e.fix_id, "fix-1");
        assert_eq!(e.feature_name, "bass_level");
        assert_eq!(e.fix_type, FixType::EqBandCut);
        assert_eq!(e.track_path, "/music/track.als");
        assert_eq!(e.session_id, "s1");
        assert_eq!(e.profile_version, "trance_v1");
        assert_eq!(e.ab.get("amount"), Some(&Arm::Treatment));
        assert_eq!(e.user_action, Some(UserAction::Modify));
        assert_eq!(e.user_modified_value, Some(-5.0));
        assert_eq!(e.gap_after, Some(-1.0));
        // Magnitudes (SPEC §3.2): (|2| − |−1|) / |2| = 0.5, not the seed's 1.5.
        assert_eq!(e.improvement_ratio, Some(0.5));
        assert!(e.session_saved_after && e.track_bounced_after);
        assert_eq!(fold.report.bounces_likely, 1);
        assert_eq!(fold.report.collected, 6);
    }

    fn start(session: u32, track: &str) -> Record {
        Record::SessionStart(Box::new(SessionStart {
            session,
            track_path: track.into(),
            session_id: format!("sid-{track}").into(),
            profile_version: "v1".into(),
            ab: BTreeMap::new(),
            start_mean_abs_z: None,
        }))
    }

    fn action(serial: u32, action: UserAction, value: Option<f64>) -> Record {
        Record::UserAction(UserActionRecord {
            event: id(serial),
            action,
            modified_value: value,
        })
    }

    #[test]
    fn compact_fold_keeps_contexts_shares_fix_ids_and_agrees_with_its_events() {
        let mut imported = FeedbackEvent {
            event_id: "imported-1".into(),
            timestamp: Timestamp::from_micros(5),
            fix_id: "fx".into(),
            fix_type: FixType::WidthAdjust,
            feature_name: "stereo_width".into(),
            track_path: "/t".into(),
            session_id: "s".into(),
            profile_version: "v0".into(),
            original_value: 0.5,
            target_value: 0.4,
            applied_value: 0.45,
            user_action: Some(UserAction::Reject),
            was_applied: true,
            was_undone: false,
            gap_before: 1.0,
            gap_after: None,
            improvement_ratio: None,
            user_modified_value: None,
            session_saved_after: false,
            track_bounced_after: false,
            notes: Some("first".into()),
            ab: BTreeMap::new(),
            session_start_mean_abs_z: None,
        };
        let mut second = applied(2, 1, 3.0);
        if let Record::FixApplied(f) = &mut second {
            f.fix_id = FixId::new("fix-1").unwrap(); // the same fix proposed again
            f.feature = 9_999; // a feature this build does not know
        }
        let mut log = vec![
            entry(1, 7, start(1, "a")),
            entry(2, 7, applied(1, 1, 2.0)),
            entry(3, 7, action(1, UserAction::Modify, Some(-5.0))),
            entry(4, 7, action(1, UserAction::Accept, None)),
            // The session starts again with another context: later events take it,
            // earlier ones keep theirs.
            entry(5, 7, start(1, "b")),
            entry(6, 7, second),
            entry(
                7,
                7,
                Record::Outcome(Outcome {
                    event: id(2),
                    gap_after: -1.5,
                }),
            ),
            entry(8, 7, action(2, UserAction::Undo, None)),
            entry(9, 7, Record::Event(Box::new(imported.clone()))),
            entry(10, 7, Record::SessionSaved(SessionMark { session: 1 })),
        ];
        imported.notes = Some("second".into());
        log.push(entry(11, 7, Record::Event(Box::new(imported.clone()))));
        let mut folder = Folder::new();
        log.iter().for_each(|e| folder.push(e));
        let folded = folder.into_folded();
        let outcomes: Vec<EventOutcome<'_>> = folded.outcomes().collect();
        let fold = fold(&log);
        assert_eq!(folded.len(), 3);
        assert_eq!(&fold.report, folded.report());
        let expected: Vec<EventOutcome<'_>> = fold.events.iter().map(|e| e.outcome()).collect();
        assert_eq!(outcomes, expected);

        let [a, b, c] = &fold.events[..] else {
            panic!("three events expected, got {}", fold.events.len());
        };
        assert_eq!(
            (a.track_path.as_str(), a.session_id.as_str()),
            ("a", "sid-a")
        );
        assert_eq!(
            (b.track_path.as_str(), b.session_id.as_str()),
            ("b", "sid-b")
        );
        // A later action without a value clears the modified value.
        assert_eq!(
            (a.user_action, a.user_modified_value),
            (Some(UserAction::Accept), None)
        );
        assert!(a.session_saved_after, "accepted and open when saved");
        assert!(
            b.was_undone && !b.session_saved_after,
            "undone before the save"
        );
        assert_eq!(b.feature_name, "feature_9999");
        assert_eq!(b.improvement_ratio, Some(0.5)); // (3 − 1.5) / 3
        assert!(
            Text::ptr_eq(&a.fix_id, &b.fix_id),
            "one text for a repeated fix id"
        );
        assert_eq!(c, &imported, "a re-import replaces the event in place");
        assert_eq!(outcomes[2].user_action, Some(UserAction::Reject));
    }

    #[test]
    fn many_features_and_early_modified_values_fold_exactly() {
        // More distinct feature ids than a slot holds inline (65 535), and actions that
        // arrive before their fix, with and without a modified value.
        let n = 70_000u32;
        let mut log = Vec::new();
        for i in 1..=n {
            if i % 3 == 0 {
                let value = (i % 2 == 0).then_some(f64::from(i));
                log.push(entry(
                    log.len() as u64,
                    7,
                    action(i, UserAction::Modify, value),
                ));
            }
            let mut rec = applied(i, 0, 1.0);
            if let Record::FixApplied(f) = &mut rec {
                f.feature = 1_000 + i;
            }
            log.push(entry(log.len() as u64, 7, rec));
        }
        let fold = fold(&log);
        assert_eq!(fold.events.len(), n as usize);
        assert_eq!(fold.report.orphans, 0);
        for (i, e) in (1..=n).zip(&fold.events) {
            assert_eq!(e.feature_name, format!("feature_{}", 1_000 + i));
            let value = (i % 3 == 0 && i % 2 == 0).then_some(f64::from(i));
            assert_eq!(e.user_modified_value, value, "event {i}");
        }
    }

    #[test]
    fn missing_parts_stay_null() {
        let fold = fold(&[entry(1, 7, applied(1, 0, 1.0))]);
        let e = &fold.events[0];
        assert_eq!(e.user_action, None);
        assert_eq!(e.gap_after, None);
        assert_eq!(e.improvement_ratio, None);
        assert!(e.was_applied && !e.was_undone);
        assert!(!e.session_saved_after && !e.track_bounced_after);
        assert_eq!(e.session_id, "");
    }

    #[test]
    fn save_marks_only_open_fixes_of_that_session() {
        let undo = Record::UserAction(UserActionRecord {
            event: id(2),
            action: UserAction::Undo,
            modified_value: None,
        });
        let reject = Record::UserAction(UserActionRecord {
            event: id(3),
            action: UserAction::Reject,
            modified_value: None,
        });
        let log = [
            entry(1, 7, applied(1, 1, 1.0)),
            entry(2, 7, applied(2, 1, 1.0)),
            entry(3, 7, applied(3, 1, 1.0)),
            entry(4, 7, undo),
            entry(5, 7, reject),
            // Another collector's session 1 is a different session.
            entry(6, 8, Record::SessionSaved(SessionMark { session: 1 })),
            entry(7, 7, Record::SessionSaved(SessionMark { session: 2 })),
            entry(8, 7, Record::SessionSaved(SessionMark { session: 1 })),
            entry(9, 7, applied(4, 1, 1.0)),
        ];
        let f = fold(&log);
        let saved: Vec<bool> = f.events.iter().map(|e| e.session_saved_after).collect();
        assert_eq!(saved, [true, false, false, false]);
        assert!(f.events[1].was_undone);
    }

    #[test]
    fn early_actions_wait_for_their_fix_and_orphans_are_counted() {
        let log = [
            entry(
                1,
                7,
                Record::Outcome(Outcome {
                    event: id(1),
                    gap_after: 0.0,
                }),
            ),
            entry(2, 7, applied(1, 0, 4.0)),
            entry(
                3,
                7,
                Record::Outcome(Outcome {
                    event: id(99),
                    gap_after: 0.0,
                }),
            ),
            entry(4, 7, Record::Dropped(Dropped { total: 3 })),
            entry(5, 7, Record::Dropped(Dropped { total: 5 })),
            entry(6, 9, Record::Dropped(Dropped { total: 2 })),
        ];
        let f = fold(&log);
        assert_eq!(f.events.len(), 1);
        assert_eq!(f.events[0].improvement_ratio, Some(1.0));
        assert_eq!(f.report.orphans, 1);
        // Cumulative counts: the last of collector 7 (5) plus collector 9's (2).
        assert_eq!(f.report.dropped, 7);
    }

    #[test]
    fn far_serials_and_repeated_ids_fold_without_a_huge_table() {
        let mut far = applied(1, 0, 1.0);
        if let Record::FixApplied(f) = &mut far {
            f.event.serial = u32::MAX;
        }
        let log = [
            entry(1, 7, applied(1, 0, 1.0)),
            entry(2, 7, far),
            // The same event id again (a replayed frame): the first one stays.
            entry(3, 7, applied(1, 0, 9.0)),
            entry(
                4,
                7,
                Record::Outcome(Outcome {
                    event: id(u32::MAX),
                    gap_after: 0.5,
                }),
            ),
        ];
        let mut folder = Folder::new();
        for e in &log {
            folder.push(e);
        }
        let f = folder.finish();
        assert_eq!(f.events.len(), 2);
        assert_eq!(f.events[0].gap_before, 1.0);
        assert_eq!(f.events[1].improvement_ratio, Some(0.5));
    }

    #[test]
    fn unknown_fix_type_is_skipped_and_counted() {
        let mut r = applied(1, 0, 1.0);
        if let Record::FixApplied(f) = &mut r {
            f.fix_type = 999;
        }
        let f = fold(&[entry(1, 7, r)]);
        assert!(f.events.is_empty());
        assert_eq!(f.report.unknown_fix_types, 1);
    }
}
