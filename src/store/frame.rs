//! The byte format of a segment: a fixed header, then frames. Pure functions over
//! bytes; no I/O. See the [module docs](super) for the layout.

use crate::feedback::fold::EventRecordRef;
use crate::feedback::records::{LogEntry, Record};
use serde::{Deserialize, Serialize};

/// The first 8 bytes of every segment (PNG-style: a high byte, a name, a newline).
pub const MAGIC: [u8; 8] = *b"\x89FXLSEG\n";
/// The segment format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Length of the segment header in bytes.
pub const HEADER_LEN: usize = 40;
/// The word that starts every frame; readers resynchronise on it after damage.
pub const SYNC: [u8; 4] = [0xF1, 0x0C, 0x5E, 0xA7];
/// Bytes of a frame before its payload: sync word, length, masked CRC32C.
pub const FRAME_OVERHEAD: usize = 12;
/// The largest payload a reader accepts (longer lengths are damage).
pub const MAX_PAYLOAD_BYTES: u32 = 16 << 20;

const MASK_DELTA: u32 = 0xa282_ead8;

/// LevelDB's CRC mask, so a CRC over data that itself holds CRCs stays strong.
pub fn mask_crc(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// The identity of a segment, written once at its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Format version.
    pub version: u16,
    /// The random id of the writer that owns the segment.
    pub writer: u64,
    /// When the segment was created, µs since the Unix epoch.
    pub created_us: i64,
    /// The writer's process id.
    pub pid: u32,
}

/// Why a segment header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The file is shorter than a header (a zero-length file included).
    Truncated {
        /// The file's length in bytes.
        len_bytes: usize,
    },
    /// The magic is wrong: not a fixloop segment.
    BadMagic,
    /// The header checksum does not match.
    BadChecksum,
    /// A format version this build cannot read.
    UnsupportedVersion(u16),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::Truncated { len_bytes } => write!(
                f,
                "truncated header: the file has {len_bytes} bytes, a header needs {HEADER_LEN}"
            ),
            HeaderError::BadMagic => f.write_str("not a fixloop segment (bad magic)"),
            HeaderError::BadChecksum => f.write_str("header checksum mismatch"),
            HeaderError::UnsupportedVersion(v) => write!(
                f,
                "segment format version {v} is not supported (this build reads {FORMAT_VERSION})"
            ),
        }
    }
}

impl SegmentHeader {
    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..10].copy_from_slice(&self.version.to_le_bytes());
        b[10..12].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        b[12..20].copy_from_slice(&self.writer.to_le_bytes());
        b[20..28].copy_from_slice(&self.created_us.to_le_bytes());
        b[28..32].copy_from_slice(&self.pid.to_le_bytes());
        // 32..36: flags, zero in version 1.
        let crc = mask_crc(crc32c_append(0, &b[0..36]));
        b[36..40].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses the header at the start of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, HeaderError> {
        if bytes.len() < HEADER_LEN {
            if !bytes.is_empty() && !MAGIC.starts_with(&bytes[..bytes.len().min(8)]) {
                return Err(HeaderError::BadMagic);
            }
            return Err(HeaderError::Truncated {
                len_bytes: bytes.len(),
            });
        }
        if bytes[0..8] != MAGIC {
            return Err(HeaderError::BadMagic);
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let mut u32b = [0u8; 4];
        u32b.copy_from_slice(&bytes[36..40]);
        if mask_crc(crc32c_append(0, &bytes[0..36])) != u32::from_le_bytes(u32b) {
            return Err(HeaderError::BadChecksum);
        }
        let version = u16_at(8);
        if version != FORMAT_VERSION {
            return Err(HeaderError::UnsupportedVersion(version));
        }
        let mut u64b = [0u8; 8];
        u64b.copy_from_slice(&bytes[12..20]);
        let writer = u64::from_le_bytes(u64b);
        u64b.copy_from_slice(&bytes[20..28]);
        let created_us = i64::from_le_bytes(u64b);
        u32b.copy_from_slice(&bytes[28..32]);
        let pid = u32::from_le_bytes(u32b);
        Ok(SegmentHeader {
            version,
            writer,
            created_us,
            pid,
        })
    }
}

/// The payload of a frame, as encoded (borrows the record). The envelope's keys are one
/// letter (`s`eq, `t`ime_us, `c`ollector, `r`ecord) because every record carries them.
#[derive(Serialize)]
struct EntryOut<'a> {
    #[serde(rename = "s")]
    seq: u64,
    #[serde(rename = "t")]
    time_us: i64,
    #[serde(rename = "c")]
    collector: u64,
    #[serde(rename = "r")]
    record: &'a Record,
}

/// The payload of the intact frame at `pos` of `data` and the position after it; `None`
/// when no whole frame with a good checksum starts there.
#[inline]
pub(crate) fn frame_at(data: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let head = data.get(pos..pos.checked_add(FRAME_OVERHEAD)?)?;
    if head[0..4] != SYNC {
        return None;
    }
    let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if len > MAX_PAYLOAD_BYTES {
        return None;
    }
    let end = (pos + FRAME_OVERHEAD).checked_add(len as usize)?;
    let payload = data.get(pos + FRAME_OVERHEAD..end)?;
    let stored = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    let crc = frame_crc([head[4], head[5], head[6], head[7]], payload);
    (mask_crc(crc) == stored).then_some((payload, end))
}

/// CRC32C of a frame's length field followed by its payload (before masking).
fn frame_crc(len_bytes: [u8; 4], payload: &[u8]) -> u32 {
    crc32c_append(crc32c_append(0, &len_bytes), payload)
}

/// CRC32C (Castagnoli) of `data`, continuing from `crc`, as `crc32c::crc32c_append`.
///
/// Up to [`SHORT_CRC_BYTES`] a plain loop of the SSE 4.2 instruction (when the CPU has
/// it), beyond that the crate. `benches/speed.rs`, same run (2-core EPYC VM): the loop
/// takes 7.1 ns for a 100-byte frame against the crate's 12.3 ns (1.7×; the crate's
/// alignment prologue and three-way interleaving are set up for long buffers), but from
/// about 256 bytes the crate wins (1 KiB: 57 vs 94 ns), so longer data goes to it.
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if data.len() <= SHORT_CRC_BYTES && std::arch::is_x86_feature_detected!("sse4.2") {
        // SAFETY: the CPU supports SSE 4.2, checked just above (the only requirement of
        // the `target_feature` function).
        return unsafe { crc32c_sse42(crc, data) };
    }
    crc32c::crc32c_append(crc, data)
}

/// Longest data [`crc32c_append`] checks with its own loop.
pub const SHORT_CRC_BYTES: usize = 128;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
fn crc32c_sse42(crc: u32, data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut c = u64::from(!crc);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        c = _mm_crc32_u64(c, u64::from_le_bytes(b));
    }
    let mut c = c as u32;
    for &b in words.remainder() {
        c = _mm_crc32_u8(c, b);
    }
    !c
}

/// The payload of a frame, as decoded.
#[derive(Deserialize)]
struct EntryIn {
    #[serde(rename = "s")]
    seq: u64,
    #[serde(rename = "t")]
    time_us: i64,
    #[serde(rename = "c")]
    collector: u64,
    #[serde(rename = "r")]
    record: Record,
}

/// Appends one frame holding `record` to `buf` (MessagePack with field names).
pub fn encode_frame(buf: &mut Vec<u8>, seq: u64, time_us: i64, collector: u64, record: &Record) {
    let start = buf.len();
    buf.extend_from_slice(&SYNC);
    buf.extend_from_slice(&[0u8; 8]);
    if !encode_payload(buf, seq, time_us, collector, record) {
        // Writing MessagePack into a Vec cannot fail for these types; never leave half a frame.
        buf.truncate(start);
        return;
    }
    finish_frame(buf, start);
}

/// Appends a frame holding the payload bytes `payload` as they are: compaction copies
/// frames this way (the same payload gives the same frame bytes), and tests build frames
/// that are intact but do not decode.
pub(crate) fn raw_frame(buf: &mut Vec<u8>, payload: &[u8]) {
    let start = buf.len();
    buf.extend_from_slice(&SYNC);
    buf.extend_from_slice(&[0u8; 8]);
    buf.extend_from_slice(payload);
    finish_frame(buf, start);
}

/// Fills in the length and checksum of the frame starting at `start`, its payload
/// written after the header.
fn finish_frame(buf: &mut [u8], start: usize) {
    let payload_len = (buf.len() - start - FRAME_OVERHEAD) as u32;
    let len_bytes = payload_len.to_le_bytes();
    buf[start + 4..start + 8].copy_from_slice(&len_bytes);
    let crc = frame_crc(len_bytes, &buf[start + FRAME_OVERHEAD..]);
    buf[start + 8..start + 12].copy_from_slice(&mask_crc(crc).to_le_bytes());
}

/// Appends the payload of a frame holding `record` (what [`encode_frame`] writes after
/// the frame's head): `rmp_serde` with struct maps, as `to_vec_named`. False (and nothing
/// appended) if serialisation failed.
pub fn encode_payload(
    buf: &mut Vec<u8>,
    seq: u64,
    time_us: i64,
    collector: u64,
    record: &Record,
) -> bool {
    let start = buf.len();
    let entry = EntryOut {
        seq,
        time_us,
        collector,
        record,
    };
    let mut ser = rmp_serde::Serializer::new(&mut *buf).with_struct_map();
    let ok = entry.serialize(&mut ser).is_ok();
    if !ok {
        buf.truncate(start);
    }
    ok
}

/// Decodes a frame's payload into a log entry of `writer`.
pub fn decode_payload(writer: u64, payload: &[u8]) -> Result<LogEntry, rmp_serde::decode::Error> {
    if let Some((seq, time_us, collector, record)) = super::decode::decode(payload) {
        return Ok(LogEntry {
            time_us,
            writer,
            seq,
            collector,
            record,
        });
    }
    decode_payload_serde(writer, payload)
}

/// [`decode_payload`] through `rmp_serde` only: the reference the hand-written decoder is
/// tested against, and its baseline in `benches/speed.rs`.
pub fn decode_payload_serde(
    writer: u64,
    payload: &[u8],
) -> Result<LogEntry, rmp_serde::decode::Error> {
    let e: EntryIn = rmp_serde::from_slice(payload)?;
    Ok(LogEntry {
        time_us: e.time_us,
        writer,
        seq: e.seq,
        collector: e.collector,
        record: e.record,
    })
}

/// The envelope of an imported `event` record, decoded in place.
#[derive(Deserialize)]
struct EventEntryRef<'a> {
    #[serde(rename = "r", borrow)]
    record: EventKindRef<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum EventKindRef<'a> {
    #[serde(borrow)]
    Event(EventRecordRef<'a>),
}

/// An imported whole `event` record whose strings borrow `payload` (the hand decoder for
/// the writer's layout, `rmp_serde` otherwise); `None` for another kind or anything the
/// owned decode must judge.
pub fn decode_event_ref(payload: &[u8]) -> Option<EventRecordRef<'_>> {
    super::decode::decode_event(payload).or_else(|| decode_event_ref_serde(payload))
}

/// [`decode_event_ref`] through `rmp_serde` only: the baseline of the hand decoder in
/// `benches/speed.rs`.
pub fn decode_event_ref_serde(payload: &[u8]) -> Option<EventRecordRef<'_>> {
    let entry: EventEntryRef<'_> = rmp_serde::from_slice(payload).ok()?;
    let EventKindRef::Event(ev) = entry.record;
    Some(ev)
}

/// One step of a [`FrameScanner`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scanned<'a> {
    /// An intact frame (checksum verified).
    Frame {
        /// File offset of the frame's sync word.
        offset: u64,
        /// The payload.
        payload: &'a [u8],
    },
    /// Bytes that are not an intact frame, followed by an intact one.
    Damaged {
        /// File offset of the first bad byte.
        offset: u64,
        /// How many bytes were skipped.
        len_bytes: u64,
    },
    /// Bytes at the end that are not an intact frame (an interrupted write).
    TornTail {
        /// File offset of the first bad byte.
        offset: u64,
        /// How many bytes, up to the end of the data.
        len_bytes: u64,
    },
}

/// Walks the frames of a segment body, resynchronising on the sync word after damage.
/// Never panics, whatever the bytes.
pub struct FrameScanner<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> FrameScanner<'a> {
    /// Scans `data`, which starts at file offset `base`.
    pub fn new(data: &'a [u8], base: u64) -> Self {
        FrameScanner { data, pos: 0, base }
    }

    fn frame_at(&self, pos: usize) -> Option<(&'a [u8], usize)> {
        frame_at(self.data, pos)
    }

    fn next_intact(&self, from: usize) -> Option<usize> {
        let d = self.data;
        let mut p = from;
        while p + SYNC.len() <= d.len() {
            let rel = d[p..].windows(SYNC.len()).position(|w| w == SYNC)?;
            let at = p + rel;
            if self.frame_at(at).is_some() {
                return Some(at);
            }
            p = at + 1;
        }
        None
    }
}

impl<'a> Iterator for FrameScanner<'a> {
    type Item = Scanned<'a>;

    fn next(&mut self) -> Option<Scanned<'a>> {
        if self.pos >= self.data.len() {
            return None;
        }
        let offset = self.base + self.pos as u64;
        if let Some((payload, end)) = self.frame_at(self.pos) {
            self.pos = end;
            return Some(Scanned::Frame { offset, payload });
        }
        match self.next_intact(self.pos + 1) {
            Some(at) => {
                let len_bytes = (at - self.pos) as u64;
                self.pos = at;
                Some(Scanned::Damaged { offset, len_bytes })
            }
            None => {
                let len_bytes = (self.data.len() - self.pos) as u64;
                self.pos = self.data.len();
                Some(Scanned::TornTail { offset, len_bytes })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_agrees_with_the_crc32c_crate() {
        // The crate is the reference (its own tests check the RFC 3720 vectors); also
        // RFC 3720 B.4's 32 zero bytes directly.
        assert_eq!(crc32c_append(0, &[0u8; 32]), 0x8A91_36AA);
        let mut rng = crate::rng::SplitMix64::new(7);
        let data: Vec<u8> = (0..600).map(|_| rng.next_u64() as u8).collect();
        for len in 0..600 {
            for start in [0, 1, 3, 7] {
                let slice = &data[start.min(len)..len];
                let init = rng.next_u64() as u32;
                assert_eq!(
                    crc32c_append(init, slice),
                    crc32c::crc32c_append(init, slice),
                    "len {len} start {start}"
                );
            }
        }
    }
    use crate::feedback::records::{Dropped, SessionMark};

    fn frames(n: u64) -> Vec<u8> {
        let mut buf = Vec::new();
        for i in 0..n {
            encode_frame(
                &mut buf,
                i + 1,
                1000 + i as i64,
                9,
                &Record::Dropped(Dropped { total: i }),
            );
        }
        buf
    }

    fn intact(data: &[u8]) -> Vec<u64> {
        FrameScanner::new(data, 0)
            .filter_map(|s| match s {
                Scanned::Frame { payload, .. } => Some(decode_payload(1, payload).unwrap().seq),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn header_round_trips_and_refuses_damage() {
        let h = SegmentHeader {
            version: FORMAT_VERSION,
            writer: 0x1234,
            created_us: 1_700_000_000_000_000,
            pid: 42,
        };
        let b = h.encode();
        assert_eq!(SegmentHeader::decode(&b), Ok(h));
        assert_eq!(
            SegmentHeader::decode(&b[..10]),
            Err(HeaderError::Truncated { len_bytes: 10 })
        );
        assert_eq!(
            SegmentHeader::decode(&[]),
            Err(HeaderError::Truncated { len_bytes: 0 })
        );
        let mut bad = b;
        bad[13] ^= 1;
        assert_eq!(SegmentHeader::decode(&bad), Err(HeaderError::BadChecksum));
        assert_eq!(
            SegmentHeader::decode(b"hello world, not a segment at all....!!"),
            Err(HeaderError::BadMagic)
        );
    }

    #[test]
    fn frames_round_trip() {
        let data = frames(5);
        assert_eq!(intact(&data), [1, 2, 3, 4, 5]);
        let mut buf = Vec::new();
        let rec = Record::SessionSaved(SessionMark { session: 3 });
        encode_frame(&mut buf, 7, 99, 5, &rec);
        let Some(Scanned::Frame { payload, offset }) = FrameScanner::new(&buf, 40).next() else {
            panic!("no frame");
        };
        assert_eq!(offset, 40);
        let e = decode_payload(77, payload).unwrap();
        assert_eq!((e.seq, e.time_us, e.collector, e.writer), (7, 99, 5, 77));
        assert_eq!(e.record, rec);
    }

    #[test]
    fn every_truncation_is_a_torn_tail_and_keeps_whole_frames() {
        let data = frames(3);
        let one = frames(1).len();
        for cut in 0..data.len() {
            let got = intact(&data[..cut]);
            assert_eq!(got.len(), cut / one, "cut at {cut}");
            let last = FrameScanner::new(&data[..cut], 0).last();
            if cut % one != 0 {
                assert!(matches!(last, Some(Scanned::TornTail { .. })), "cut {cut}");
            }
        }
    }

    #[test]
    fn every_single_bit_flip_loses_at_most_its_frame() {
        let data = frames(3);
        let one = frames(1).len();
        for byte in 0..data.len() {
            for bit in 0..8 {
                let mut d = data.clone();
                d[byte] ^= 1 << bit;
                let got = intact(&d);
                let hit = (byte / one) as u64 + 1;
                let want: Vec<u64> = (1..=3).filter(|&s| s != hit).collect();
                assert_eq!(got, want, "flip byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut data = Vec::new();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push(x as u8);
            if x.is_multiple_of(97) {
                data.extend_from_slice(&SYNC);
            }
        }
        let n = FrameScanner::new(&data, 0).count();
        assert!(n >= 1);
    }
}
