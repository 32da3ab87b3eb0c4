//! The ids of the record vocabulary: [`FixId`] (a proposal's id, inline so it can travel
//! the real-time queue) and [`EventId`] (one event's id, unique across processes).

use super::Text;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How many bytes of UTF-8 a [`FixId`] holds inline.
pub const FIX_ID_CAPACITY: usize = 47;

/// A fix id stored inline (no heap), so it can travel through the real-time queue.
///
/// Holds up to [`FIX_ID_CAPACITY`] bytes of UTF-8.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FixId {
    len: u8,
    bytes: [u8; FIX_ID_CAPACITY],
}

impl std::hash::Hash for FixId {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        // The used bytes, a word at a time (the rest are always zero).
        h.write_u8(self.len);
        for word in self.bytes[..usize::from(self.len)].chunks(8) {
            let mut w = [0u8; 8];
            w[..word.len()].copy_from_slice(word);
            h.write_u64(u64::from_le_bytes(w));
        }
    }
}

/// A fix id was longer than [`FIX_ID_CAPACITY`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixIdTooLong {
    /// The length of the id that was refused, in bytes.
    pub len_bytes: usize,
}

impl fmt::Display for FixIdTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fix id is {} bytes long; at most {FIX_ID_CAPACITY} fit",
            self.len_bytes
        )
    }
}

impl std::error::Error for FixIdTooLong {}

impl FixId {
    /// Copies `id` inline.
    ///
    /// # Real-time safety
    /// Real-time safe: copies at most [`FIX_ID_CAPACITY`] bytes, never allocates.
    pub fn new(id: &str) -> Result<FixId, FixIdTooLong> {
        let src = id.as_bytes();
        if src.len() > FIX_ID_CAPACITY {
            return Err(FixIdTooLong {
                len_bytes: src.len(),
            });
        }
        let mut bytes = [0u8; FIX_ID_CAPACITY];
        bytes[..src.len()].copy_from_slice(src);
        Ok(FixId {
            len: src.len() as u8,
            bytes,
        })
    }

    /// The id's bytes (valid UTF-8), without checking them again.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// The id as text.
    ///
    /// # Real-time safety
    /// Real-time safe.
    pub fn as_str(&self) -> &str {
        // Built only from a `&str` cut at its own length, so always valid UTF-8.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for FixId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FixId({:?})", self.as_str())
    }
}

impl fmt::Display for FixId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FixId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FixId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FixId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a fix id of at most {FIX_ID_CAPACITY} bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FixId, E> {
                FixId::new(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// The id of one feedback event: the random id of the collector that created it and
/// that collector's serial number. Unique across processes without any coordination
/// (64 random bits per collector, 2³² events per collector).
///
/// Written in events as `{collector:016x}-{serial:08x}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    /// The collector's random id.
    pub collector: u64,
    /// The collector's counter (from 1).
    pub serial: u32,
}

impl EventId {
    /// Parses the `{collector:016x}-{serial:08x}` form written by `Display`.
    pub fn parse(text: &str) -> Option<EventId> {
        let (c, s) = text.split_once('-')?;
        if c.len() != 16 || s.len() != 8 {
            return None;
        }
        Some(EventId {
            collector: u64::from_str_radix(c, 16).ok()?,
            serial: u32::from_str_radix(s, 16).ok()?,
        })
    }
}

impl EventId {
    /// The text form in a stack buffer (the fold formats one per event; `fmt` is slow).
    fn text(&self) -> [u8; 25] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut b = [b'-'; 25];
        for i in 0..16 {
            b[i] = HEX[((self.collector >> (60 - 4 * i)) & 0xf) as usize];
        }
        for i in 0..8 {
            b[17 + i] = HEX[((self.serial >> (28 - 4 * i)) & 0xf) as usize];
        }
        b
    }

    pub(crate) fn to_text(self) -> Text {
        let b = self.text();
        // ASCII hex digits and a dash: always UTF-8.
        Text::from(std::str::from_utf8(&b).unwrap_or_default())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.text();
        f.write_str(std::str::from_utf8(&b).unwrap_or(""))
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.collector)?;
        t.serialize_element(&self.serial)?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EventId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event id [collector, serial]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EventId, A::Error> {
                let collector = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let serial = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                Ok(EventId { collector, serial })
            }
        }
        d.deserialize_tuple(2, V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fix_id_is_inline_and_bounded() {
        let f = FixId::new("fix_bass_level_001").unwrap();
        assert_eq!(f.as_str(), "fix_bass_level_001");
        let long = "x".repeat(FIX_ID_CAPACITY + 1);
        assert_eq!(
            FixId::new(&long),
            Err(FixIdTooLong {
                len_bytes: FIX_ID_CAPACITY + 1
            })
        );
        assert!(FixId::new(&"y".repeat(FIX_ID_CAPACITY)).is_ok());
    }

    #[test]
    fn event_id_text_round_trips() {
        let e = EventId {
            collector: 0xdead_beef_0000_0001,
            serial: 42,
        };
        assert_eq!(e.to_string(), "deadbeef00000001-0000002a");
        assert_eq!(EventId::parse(&e.to_string()), Some(e));
        assert_eq!(EventId::parse("nonsense"), None);
    }
}
