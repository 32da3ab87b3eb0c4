//! A hand-written MessagePack encoder and decoder for the frames the writer emits most
//! (the envelope with `fix_applied`, `user_action`, `outcome`, `session_saved`,
//! `deactivated`, `track_bounced` and `dropped`; the decoder also takes `session_start`),
//! several times cheaper than going through serde. `rmp_serde` stays the reference: the encoder writes exactly its bytes
//! (tested), and anything the decoder does not recognise exactly (another kind, an
//! unknown or repeated key, another encoding of a value) returns `None` so the caller
//! decodes the payload with `rmp_serde`.

use crate::feedback::records::{
    Bounce, BounceEvidence, Dropped, EventId, FixApplied, FixId, Outcome, Record, SessionMark,
    SessionStart, UserActionRecord,
};
use crate::feedback::{Arm, Text, UserAction};
use std::collections::BTreeMap;

struct Rd<'a> {
    b: &'a [u8],
}

impl<'a> Rd<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.b.split_first()?;
        self.b = rest;
        Some(first)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Some(head)
    }

    fn be<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// Consumes `bytes` if the input starts with them.
    fn lit(&mut self, bytes: &[u8]) -> Option<()> {
        self.b = self.b.strip_prefix(bytes)?;
        Some(())
    }

    fn map_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x80..=0x8f => Some((m & 0x0f) as usize),
            0xde => Some(u16::from_be_bytes(self.be()?) as usize),
            _ => None,
        }
    }

    fn str_bytes(&mut self) -> Option<&'a [u8]> {
        let n = match self.byte()? {
            m @ 0xa0..=0xbf => (m & 0x1f) as usize,
            0xd9 => self.byte()? as usize,
            0xda => u16::from_be_bytes(self.be()?) as usize,
            _ => return None,
        };
        self.take(n)
    }

    fn uint(&mut self) -> Option<u64> {
        match self.byte()? {
            m @ 0x00..=0x7f => Some(u64::from(m)),
            0xcc => Some(u64::from(self.byte()?)),
            0xcd => Some(u64::from(u16::from_be_bytes(self.be()?))),
            0xce => Some(u64::from(u32::from_be_bytes(self.be()?))),
            0xcf => Some(u64::from_be_bytes(self.be()?)),
            _ => None,
        }
    }

    fn int(&mut self) -> Option<i64> {
        match *self.b.first()? {
            0x00..=0x7f | 0xcc..=0xcf => i64::try_from(self.uint()?).ok(),
            m @ 0xe0..=0xff => {
                self.byte()?;
                Some(i64::from(m as i8))
            }
            0xd0 => {
                self.byte()?;
                Some(i64::from(self.byte()? as i8))
            }
            0xd1 => {
                self.byte()?;
                Some(i64::from(i16::from_be_bytes(self.be()?)))
            }
            0xd2 => {
                self.byte()?;
                Some(i64::from(i32::from_be_bytes(self.be()?)))
            }
            0xd3 => {
                self.byte()?;
                Some(i64::from_be_bytes(self.be()?))
            }
            _ => None,
        }
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.uint()?).ok()
    }

    fn f64(&mut self) -> Option<f64> {
        match self.byte()? {
            0xcb => Some(f64::from_be_bytes(self.be()?)),
            0xca => Some(f64::from(f32::from_be_bytes(self.be()?))),
            _ => None,
        }
    }

    fn f32(&mut self) -> Option<f32> {
        match self.byte()? {
            0xca => Some(f32::from_be_bytes(self.be()?)),
            _ => None,
        }
    }

    fn event_id(&mut self) -> Option<EventId> {
        if self.byte()? != 0x92 {
            return None;
        }
        Some(EventId {
            collector: self.uint()?,
            serial: self.u32()?,
        })
    }
}

/// The merge key `(time_us, seq)` of a payload the writer wrote, read from the start of
/// its envelope without decoding the record; `None` for any other layout (the caller
/// then decodes the whole payload).
pub(crate) fn peek_key(payload: &[u8]) -> Option<(i64, u64)> {
    let mut r = Rd { b: payload };
    r.lit(b"\x84\xa1s")?;
    let seq = r.uint()?;
    r.lit(b"\xa1t")?;
    Some((r.int()?, seq))
}

/// Decodes `(seq, time_us, collector, record)`, or `None` to fall back on serde.
pub(crate) fn decode(payload: &[u8]) -> Option<(u64, i64, u64, Record)> {
    decode_in_order(payload).or_else(|| decode_any_order(payload))
}

/// The three records of every event (`fix_applied`, `user_action`, `outcome`) with their
/// keys in exactly the order [`encode`] writes them: the bytes between values are
/// compared whole, so a frame costs a few comparisons instead of a key match per field.
/// Anything else is `None` and goes to [`decode_any_order`], which gives the same result
/// for what both accept.
fn decode_in_order(payload: &[u8]) -> Option<(u64, i64, u64, Record)> {
    let mut r = Rd { b: payload };
    r.lit(b"\x84\xa1s")?;
    let seq = r.uint()?;
    r.lit(b"\xa1t")?;
    let time_us = r.int()?;
    r.lit(b"\xa1c")?;
    let collector = r.uint()?;
    r.lit(b"\xa1r\x81")?;
    let record = if r.lit(b"\xabfix_applied\x89\xa1e").is_some() {
        let event = r.event_id()?;
        r.lit(b"\xa1s")?;
        let session = r.u32()?;
        r.lit(b"\xa3fix")?;
        let fix_id = FixId::new(std::str::from_utf8(r.str_bytes()?).ok()?).ok()?;
        r.lit(b"\xa2ft")?;
        let feature = r.u32()?;
        r.lit(b"\xa2ty")?;
        let fix_type = r.u32()?;
        r.lit(b"\xa2ov")?;
        let original_value = r.f64()?;
        r.lit(b"\xa2tv")?;
        let target_value = r.f64()?;
        r.lit(b"\xa2av")?;
        let applied_value = r.f64()?;
        r.lit(b"\xa2gb")?;
        let gap_before = r.f64()?;
        Record::FixApplied(FixApplied {
            event,
            session,
            fix_id,
            feature,
            fix_type,
            original_value,
            target_value,
            applied_value,
            gap_before,
            was_applied: true,
        })
    } else if r.lit(b"\xabuser_action\x83\xa1e").is_some() {
        let event = r.event_id()?;
        r.lit(b"\xa1a")?;
        let action = match r.str_bytes()? {
            b"accept" => UserAction::Accept,
            b"reject" => UserAction::Reject,
            b"undo" => UserAction::Undo,
            b"modify" => UserAction::Modify,
            _ => return None,
        };
        r.lit(b"\xa2mv")?;
        let modified_value = if r.lit(b"\xc0").is_some() {
            None
        } else {
            Some(r.f64()?)
        };
        Record::UserAction(UserActionRecord {
            event,
            action,
            modified_value,
        })
    } else if r.lit(b"\xa7outcome\x82\xa1e").is_some() {
        let event = r.event_id()?;
        r.lit(b"\xa2ga")?;
        Record::Outcome(Outcome {
            event,
            gap_after: r.f64()?,
        })
    } else {
        return None;
    };
    r.b.is_empty().then_some((seq, time_us, collector, record))
}

/// Every kind the fast path knows, keys in any order (each once).
fn decode_any_order(payload: &[u8]) -> Option<(u64, i64, u64, Record)> {
    let mut r = Rd { b: payload };
    if r.map_len()? != 4 {
        return None;
    }
    let mut seq = None;
    let mut time_us = None;
    let mut collector = None;
    let mut record = None;
    for _ in 0..4 {
        match r.str_bytes()? {
            b"s" if seq.is_none() => seq = Some(r.uint()?),
            b"t" if time_us.is_none() => time_us = Some(r.int()?),
            b"c" if collector.is_none() => collector = Some(r.uint()?),
            b"r" if record.is_none() => record = Some(decode_record(&mut r)?),
            _ => return None,
        }
    }
    if !r.b.is_empty() {
        return None;
    }
    Some((seq?, time_us?, collector?, record?))
}

fn decode_record(r: &mut Rd<'_>) -> Option<Record> {
    if r.map_len()? != 1 {
        return None;
    }
    let kind = r.str_bytes()?;
    let n = r.map_len()?;
    match kind {
        b"fix_applied" if n == 9 || n == 10 => {
            let (mut e, mut s, mut fix, mut ft, mut ty) = (None, None, None, None, None);
            let (mut ov, mut tv, mut av, mut gb, mut ap) = (None, None, None, None, None);
            for _ in 0..n {
                match r.str_bytes()? {
                    b"e" if e.is_none() => e = Some(r.event_id()?),
                    b"s" if s.is_none() => s = Some(r.u32()?),
                    b"fix" if fix.is_none() => {
                        let text = std::str::from_utf8(r.str_bytes()?).ok()?;
                        fix = Some(FixId::new(text).ok()?);
                    }
                    b"ft" if ft.is_none() => ft = Some(r.u32()?),
                    b"ty" if ty.is_none() => ty = Some(r.u32()?),
                    b"ov" if ov.is_none() => ov = Some(r.f64()?),
                    b"tv" if tv.is_none() => tv = Some(r.f64()?),
                    b"av" if av.is_none() => av = Some(r.f64()?),
                    b"gb" if gb.is_none() => gb = Some(r.f64()?),
                    b"ap" if ap.is_none() => {
                        ap = Some(match r.byte()? {
                            0xc2 => false,
                            0xc3 => true,
                            _ => return None,
                        })
                    }
                    _ => return None,
                }
            }
            Some(Record::FixApplied(FixApplied {
                event: e?,
                session: s?,
                fix_id: fix?,
                feature: ft?,
                fix_type: ty?,
                original_value: ov?,
                target_value: tv?,
                applied_value: av?,
                gap_before: gb?,
                was_applied: ap.unwrap_or(true),
            }))
        }
        b"user_action" if n == 3 => {
            let (mut e, mut a, mut mv) = (None, None, None);
            for _ in 0..n {
                match r.str_bytes()? {
                    b"e" if e.is_none() => e = Some(r.event_id()?),
                    b"a" if a.is_none() => {
                        let name = std::str::from_utf8(r.str_bytes()?).ok()?;
                        a = Some(UserAction::from_name(name)?);
                    }
                    b"mv" if mv.is_none() => {
                        mv = Some(if r.b.first() == Some(&0xc0) {
                            r.byte()?;
                            None
                        } else {
                            Some(r.f64()?)
                        });
                    }
                    _ => return None,
                }
            }
            Some(Record::UserAction(UserActionRecord {
                event: e?,
                action: a?,
                modified_value: mv?,
            }))
        }
        b"outcome" if n == 2 => {
            let (mut e, mut ga) = (None, None);
            for _ in 0..n {
                match r.str_bytes()? {
                    b"e" if e.is_none() => e = Some(r.event_id()?),
                    b"ga" if ga.is_none() => ga = Some(r.f64()?),
                    _ => return None,
                }
            }
            Some(Record::Outcome(Outcome {
                event: e?,
                gap_after: ga?,
            }))
        }
        b"session_start" if n == 5 => {
            let (mut s, mut track, mut sid, mut pv, mut ab) = (None, None, None, None, None);
            for _ in 0..n {
                match r.str_bytes()? {
                    b"s" if s.is_none() => s = Some(r.u32()?),
                    b"track" if track.is_none() => track = Some(text(r)?),
                    b"sid" if sid.is_none() => sid = Some(text(r)?),
                    b"pv" if pv.is_none() => pv = Some(text(r)?),
                    b"ab" if ab.is_none() => {
                        let mut arms = BTreeMap::new();
                        for _ in 0..r.map_len()? {
                            let test = text(r)?;
                            let arm = match r.str_bytes()? {
                                b"control" => Arm::Control,
                                b"treatment" => Arm::Treatment,
                                _ => return None,
                            };
                            arms.insert(test, arm); // a repeated key: the last wins, as in serde
                        }
                        ab = Some(arms);
                    }
                    _ => return None,
                }
            }
            Some(Record::SessionStart(Box::new(SessionStart {
                session: s?,
                track_path: track?,
                session_id: sid?,
                profile_version: pv?,
                ab: ab?,
            })))
        }
        b"session_saved" | b"deactivated" if n == 1 => {
            if r.str_bytes()? != b"s" {
                return None;
            }
            let mark = SessionMark { session: r.u32()? };
            Some(if kind == b"session_saved" {
                Record::SessionSaved(mark)
            } else {
                Record::Deactivated(mark)
            })
        }
        b"track_bounced" if n == 2 => {
            let (mut s, mut ev) = (None, None);
            for _ in 0..n {
                match r.str_bytes()? {
                    b"s" if s.is_none() => s = Some(r.u32()?),
                    b"ev" if ev.is_none() => ev = Some(evidence(r)?),
                    _ => return None,
                }
            }
            Some(Record::TrackBounced(Bounce {
                session: s?,
                evidence: ev?,
            }))
        }
        b"dropped" if n == 1 => {
            if r.str_bytes()? != b"total" {
                return None;
            }
            Some(Record::Dropped(Dropped { total: r.uint()? }))
        }
        _ => None,
    }
}

/// A string, shared with a recent equal one as serde's path does ([`Text::interned`]).
fn text(r: &mut Rd<'_>) -> Option<Text> {
    Some(Text::interned(std::str::from_utf8(r.str_bytes()?).ok()?))
}

fn evidence(r: &mut Rd<'_>) -> Option<BounceEvidence> {
    if let Some(0xa0..=0xbf) = r.b.first() {
        return (r.str_bytes()? == b"host").then_some(BounceEvidence::Host);
    }
    if r.map_len()? != 1 || r.str_bytes()? != b"likely" || r.map_len()? != 2 {
        return None;
    }
    let (mut rt, mut ms) = (None, None);
    for _ in 0..2 {
        match r.str_bytes()? {
            b"rt" if rt.is_none() => rt = Some(r.f32()?),
            b"ms" if ms.is_none() => ms = Some(r.u32()?),
            _ => return None,
        }
    }
    Some(BounceEvidence::Likely {
        realtime_factor: rt?,
        audio_ms: ms?,
    })
}

fn put_uint(b: &mut Vec<u8>, v: u64) {
    if v < 128 {
        b.push(v as u8);
    } else if v <= u64::from(u8::MAX) {
        b.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= u64::from(u16::MAX) {
        b.push(0xcd);
        b.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= u64::from(u32::MAX) {
        b.push(0xce);
        b.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        b.push(0xcf);
        b.extend_from_slice(&v.to_be_bytes());
    }
}

fn put_int(b: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        put_uint(b, v as u64);
    } else if v >= -32 {
        b.push(v as i8 as u8);
    } else if v >= i64::from(i8::MIN) {
        b.extend_from_slice(&[0xd0, v as i8 as u8]);
    } else if v >= i64::from(i16::MIN) {
        b.push(0xd1);
        b.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= i64::from(i32::MIN) {
        b.push(0xd2);
        b.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        b.push(0xd3);
        b.extend_from_slice(&v.to_be_bytes());
    }
}

fn put_str(b: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 32 {
        b.push(0xa0 | n as u8);
    } else if n < 256 {
        b.extend_from_slice(&[0xd9, n as u8]);
    } else {
        // Longer strings never occur in the kinds encoded here (fix ids are ≤ 47 bytes).
        b.push(0xda);
        b.extend_from_slice(&(n as u16).to_be_bytes());
    }
    b.extend_from_slice(s);
}

fn put_f64(b: &mut Vec<u8>, v: f64) {
    b.push(0xcb);
    b.extend_from_slice(&v.to_be_bytes());
}

fn put_event(b: &mut Vec<u8>, e: EventId) {
    b.push(0x92);
    put_uint(b, e.collector);
    put_uint(b, u64::from(e.serial));
}

/// Appends the payload of one frame exactly as `rmp_serde` with struct maps would, for
/// the kinds above; returns false (appending nothing) for any other kind.
pub(crate) fn encode(
    b: &mut Vec<u8>,
    seq: u64,
    time_us: i64,
    collector: u64,
    rec: &Record,
) -> bool {
    let (kind, fields): (&[u8], u8) = match rec {
        Record::FixApplied(f) => (b"fix_applied", 9 + u8::from(!f.was_applied)),
        Record::UserAction(_) => (b"user_action", 3),
        Record::Outcome(_) => (b"outcome", 2),
        Record::SessionSaved(_) => (b"session_saved", 1),
        Record::Deactivated(_) => (b"deactivated", 1),
        Record::TrackBounced(_) => (b"track_bounced", 2),
        Record::Dropped(_) => (b"dropped", 1),
        _ => return false,
    };
    b.push(0x84);
    put_str(b, b"s");
    put_uint(b, seq);
    put_str(b, b"t");
    put_int(b, time_us);
    put_str(b, b"c");
    put_uint(b, collector);
    put_str(b, b"r");
    b.push(0x81);
    put_str(b, kind);
    b.push(0x80 | fields);
    match rec {
        Record::FixApplied(f) => {
            put_str(b, b"e");
            put_event(b, f.event);
            put_str(b, b"s");
            put_uint(b, u64::from(f.session));
            put_str(b, b"fix");
            put_str(b, f.fix_id.as_str().as_bytes());
            put_str(b, b"ft");
            put_uint(b, u64::from(f.feature));
            put_str(b, b"ty");
            put_uint(b, u64::from(f.fix_type));
            put_str(b, b"ov");
            put_f64(b, f.original_value);
            put_str(b, b"tv");
            put_f64(b, f.target_value);
            put_str(b, b"av");
            put_f64(b, f.applied_value);
            put_str(b, b"gb");
            put_f64(b, f.gap_before);
            if !f.was_applied {
                put_str(b, b"ap");
                b.push(0xc2);
            }
        }
        Record::UserAction(a) => {
            put_str(b, b"e");
            put_event(b, a.event);
            put_str(b, b"a");
            put_str(b, a.action.name().as_bytes());
            put_str(b, b"mv");
            match a.modified_value {
                Some(v) => put_f64(b, v),
                None => b.push(0xc0),
            }
        }
        Record::Outcome(o) => {
            put_str(b, b"e");
            put_event(b, o.event);
            put_str(b, b"ga");
            put_f64(b, o.gap_after);
        }
        Record::SessionSaved(m) | Record::Deactivated(m) => {
            put_str(b, b"s");
            put_uint(b, u64::from(m.session));
        }
        Record::TrackBounced(t) => {
            put_str(b, b"s");
            put_uint(b, u64::from(t.session));
            put_str(b, b"ev");
            match t.evidence {
                BounceEvidence::Host => put_str(b, b"host"),
                BounceEvidence::Likely {
                    realtime_factor,
                    audio_ms,
                } => {
                    b.push(0x81);
                    put_str(b, b"likely");
                    b.push(0x82);
                    put_str(b, b"rt");
                    b.push(0xca);
                    b.extend_from_slice(&realtime_factor.to_be_bytes());
                    put_str(b, b"ms");
                    put_uint(b, u64::from(audio_ms));
                }
            }
        }
        Record::Dropped(d) => {
            put_str(b, b"total");
            put_uint(b, d.total);
        }
        _ => {}
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::records::SegmentEnd;
    use crate::store::frame::{encode_frame, FRAME_OVERHEAD};

    fn payload(seq: u64, time_us: i64, collector: u64, rec: &Record) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_frame(&mut buf, seq, time_us, collector, rec);
        buf[FRAME_OVERHEAD..].to_vec()
    }

    fn records() -> Vec<Record> {
        let id = EventId {
            collector: u64::MAX - 3,
            serial: u32::MAX,
        };
        vec![
            Record::FixApplied(FixApplied {
                event: id,
                session: 70_000,
                fix_id: FixId::new("fix_ünï_001").unwrap(),
                feature: 5,
                fix_type: 1,
                original_value: -3.25,
                target_value: f64::MIN_POSITIVE,
                applied_value: 1e300,
                gap_before: -0.0,
                was_applied: true,
            }),
            Record::UserAction(UserActionRecord {
                event: id,
                action: UserAction::Modify,
                modified_value: Some(-5.5),
            }),
            Record::UserAction(UserActionRecord {
                event: EventId {
                    collector: 0,
                    serial: 0,
                },
                action: UserAction::Undo,
                modified_value: None,
            }),
            Record::Outcome(Outcome {
                event: id,
                gap_after: 0.125,
            }),
            Record::SessionSaved(SessionMark { session: 0 }),
            Record::Deactivated(SessionMark { session: 300 }),
            Record::TrackBounced(Bounce {
                session: 2,
                evidence: BounceEvidence::Host,
            }),
            Record::TrackBounced(Bounce {
                session: 2,
                evidence: BounceEvidence::Likely {
                    realtime_factor: 7.5,
                    audio_ms: 123_456,
                },
            }),
            Record::Dropped(Dropped { total: 1 << 40 }),
            // A proposal rejected unapplied: one key more (`ap`), general path only.
            Record::FixApplied(FixApplied {
                event: EventId {
                    collector: 9,
                    serial: 1,
                },
                session: 1,
                fix_id: FixId::new("rejected").unwrap(),
                feature: 2,
                fix_type: 3,
                original_value: -3.0,
                target_value: -6.0,
                applied_value: -3.0,
                gap_before: 2.0,
                was_applied: false,
            }),
        ]
    }

    #[test]
    fn fast_path_agrees_with_serde_on_every_kind_it_handles() {
        for (i, rec) in records().into_iter().enumerate() {
            for (seq, time_us, collector) in
                [(1, 0, 0), (u64::MAX, -5, 77), (300, i64::MAX, 1 << 63)]
            {
                let p = payload(seq, time_us, collector, &rec);
                let fast = decode(&p).unwrap_or_else(|| panic!("record {i} fell back"));
                let slow = crate::store::frame::decode_payload_serde(9, &p).unwrap();
                assert_eq!(fast, (slow.seq, slow.time_us, slow.collector, slow.record));
                assert_eq!(fast.3, rec);
            }
        }
    }

    #[test]
    fn in_order_path_agrees_with_the_any_order_path() {
        let mut taken = 0;
        for rec in records() {
            for (seq, time_us, collector) in [(1, 0, 0), (u64::MAX, -5, 77), (300, i64::MAX, 1)] {
                let p = payload(seq, time_us, collector, &rec);
                let general = decode_any_order(&p).unwrap();
                if let Some(fast) = decode_in_order(&p) {
                    assert_eq!(fast, general);
                    taken += 1;
                }
                for cut in 0..p.len() {
                    assert!(decode_in_order(&p[..cut]).is_none());
                }
            }
        }
        // fix_applied, two user actions and the outcome, three envelopes each.
        assert_eq!(taken, 4 * 3);
        // Another key order or spelling still decodes, through the general path.
        let rec = &records()[1];
        let mut p = payload(1, 2, 3, rec);
        let at = p.windows(6).position(|w| w == b"modify").unwrap();
        p[at..at + 6].copy_from_slice(b"MODIFY");
        assert!(decode_in_order(&p).is_none());
        assert_eq!(decode(&p).unwrap().3, *rec);
    }

    #[test]
    fn encoder_writes_exactly_what_serde_writes() {
        let ints = [
            0i64,
            1,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            u32::MAX as i64,
            u32::MAX as i64 + 1,
            i64::MAX,
            -1,
            -32,
            -33,
            -128,
            -129,
            -32_768,
            -32_769,
            i32::MIN as i64,
            i32::MIN as i64 - 1,
            i64::MIN,
        ];
        let mut recs = records();
        for &v in &ints {
            recs.push(Record::Dropped(Dropped {
                total: v.unsigned_abs(),
            }));
            recs.push(Record::FixApplied(FixApplied {
                event: EventId {
                    collector: v.unsigned_abs(),
                    serial: v.unsigned_abs() as u32,
                },
                session: v as u32,
                fix_id: FixId::new(&"x".repeat(v.unsigned_abs() as usize % 48)).unwrap(),
                feature: v as u32,
                fix_type: 0,
                original_value: v as f64,
                target_value: f64::NAN,
                applied_value: f64::INFINITY,
                gap_before: -(v as f64),
                was_applied: v % 2 == 0,
            }));
        }
        for rec in &recs {
            for &t in &ints {
                let seq = t.unsigned_abs();
                let mut fast = Vec::new();
                assert!(encode(&mut fast, seq, t, seq ^ 5, rec));
                let mut slow = Vec::new();
                crate::store::frame::encode_payload_serde(&mut slow, seq, t, seq ^ 5, rec);
                assert_eq!(fast, slow, "{rec:?} at {t}");
            }
        }
        let mut none = Vec::new();
        assert!(!encode(
            &mut none,
            1,
            2,
            3,
            &Record::SessionStart(Box::default())
        ));
        assert!(none.is_empty());
    }

    #[test]
    fn session_starts_decode_as_serde_decodes_them() {
        let long = "/Users/someone/Music/Projects/ünïcode — a long track name.als";
        let starts = [
            SessionStart::default(),
            SessionStart {
                session: 70_000,
                track_path: long.into(),
                session_id: "s-1".into(),
                profile_version: "trance_v1_refined_20261128".into(),
                ab: BTreeMap::from([
                    (Text::from("amount"), Arm::Treatment),
                    (Text::from("width"), Arm::Control),
                ]),
            },
        ];
        for start in starts {
            let rec = Record::SessionStart(Box::new(start));
            let p = payload(7, -3, 1 << 40, &rec);
            let fast = decode(&p).expect("session start takes the fast path");
            let slow = crate::store::frame::decode_payload_serde(9, &p).unwrap();
            assert_eq!(fast, (slow.seq, slow.time_us, slow.collector, slow.record));
            assert_eq!(fast.3, rec);
            for cut in 0..p.len() {
                assert!(decode(&p[..cut]).is_none());
            }
        }
        // An arm this build does not know, or no `ab` key: left to serde.
        let mut p = payload(
            1,
            2,
            3,
            &Record::SessionStart(Box::new(SessionStart {
                ab: BTreeMap::from([(Text::from("t"), Arm::Control)]),
                ..SessionStart::default()
            })),
        );
        let at = p.windows(7).position(|w| w == b"control").unwrap();
        p[at..at + 7].copy_from_slice(b"CONTROL");
        assert!(decode(&p).is_none());
    }

    #[test]
    fn other_kinds_and_truncations_fall_back_without_panicking() {
        let end = Record::SegmentEnd(SegmentEnd {
            records: 1,
            recovered: false,
        });
        assert!(decode(&payload(1, 2, 3, &end)).is_none());
        for rec in records() {
            let p = payload(1, 2, 3, &rec);
            for cut in 0..p.len() {
                assert!(decode(&p[..cut]).is_none());
            }
        }
    }
}
