//! [`Text`]: the immutable, shared string of a [`FeedbackEvent`](super::FeedbackEvent).

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// An immutable string whose clones share one allocation.
///
/// A feedback history repeats the same few strings on every event: the events of one
/// session share their track path, session id and profile version, and a catalogue has
/// a few dozen feature names. Holding them as `Text` makes a clone a reference-count
/// increment, so a million events hold each distinct string about once instead of a
/// million times.
///
/// `Text` reads like a `&str` (it derefs to `str`, compares with `str`, `&str` and
/// `String`, and displays as the text); build one with `Text::from("…")` or `.into()`.
///
/// # Deserialization shares repeats
/// Deserializing looks the string up in a small per-thread cache of recently built
/// texts (64 entries, at most 256 bytes each) and shares the earlier allocation on a
/// match, so reading a file whose consecutive lines repeat the same track or session
/// allocates each repeat once. The cache never grows; it only affects sharing, never the
/// value.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(Arc<str>);

impl Text {
    /// The text as a `&str`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `self` and `other` share one allocation (not just equal text).
    pub fn ptr_eq(&self, other: &Text) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A `Text` equal to `s`, shared with a recent equal one from this thread's cache
    /// when there is one (see the type's docs).
    pub fn interned(s: &str) -> Text {
        const SLOTS: usize = 64;
        const MAX_LEN: usize = 256;
        thread_local! {
            static RECENT: RefCell<Vec<Option<Text>>> = RefCell::new(vec![None; SLOTS]);
        }
        if s.len() > MAX_LEN {
            return Text::from(s);
        }
        let slot = (quick_hash(s.as_bytes()) as usize) % SLOTS;
        RECENT
            .try_with(|recent| {
                let mut recent = recent.borrow_mut();
                match &recent[slot] {
                    Some(t) if t.as_str() == s => t.clone(),
                    _ => {
                        let t = Text::from(s);
                        recent[slot] = Some(t.clone());
                        t
                    }
                }
            })
            .unwrap_or_else(|_| Text::from(s))
    }
}

/// A cheap hash for [`Text::interned`]'s cache slot: the length and the first and last
/// eight bytes (the cache compares whole strings, so a weak hash only costs hits).
fn quick_hash(b: &[u8]) -> u64 {
    let word = |part: &[u8]| {
        let mut w = [0u8; 8];
        w[..part.len()].copy_from_slice(part);
        u64::from_le_bytes(w)
    };
    let n = b.len();
    let head = word(&b[..n.min(8)]);
    let tail = word(&b[n.saturating_sub(8)..]);
    crate::rng::mix64(head ^ tail.rotate_left(29) ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

impl Default for Text {
    fn default() -> Self {
        Text::from("")
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Arc::from(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Arc::from(s))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::from(s.as_str())
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.as_str().to_owned()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text::interned(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Text, E> {
                let s = std::str::from_utf8(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Bytes(v), &self))?;
                Ok(Text::interned(s))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_compares_like_a_str() {
        let t = Text::from("trance_v1");
        assert_eq!(t, "trance_v1");
        assert_eq!("trance_v1", t);
        assert_eq!(t, String::from("trance_v1"));
        assert_ne!(t, "trance_v2");
        assert_eq!(t.len(), 9);
        assert_eq!(format!("{t} {t:?}"), "trance_v1 \"trance_v1\"");
        assert_eq!(String::from(t.clone()), "trance_v1");
        assert_eq!(Text::default(), "");
    }

    #[test]
    fn clones_and_repeats_share_one_allocation() {
        let a = Text::from("/music/track.als");
        assert!(a.ptr_eq(&a.clone()));
        let x: Text = serde_json::from_str("\"/music/shared.als\"").unwrap();
        let y: Text = serde_json::from_str("\"/music/shared.als\"").unwrap();
        assert!(x.ptr_eq(&y), "a repeat read on one thread shares");
        // Escaped text arrives as an owned string and interns the same way.
        let z: Text = serde_json::from_str("\"/music/shared\\u002eals\"").unwrap();
        assert_eq!(z, "/music/shared.als");
        let long = "x".repeat(300);
        let l1 = Text::interned(&long);
        let l2 = Text::interned(&long);
        assert_eq!(l1, l2);
        assert!(!l1.ptr_eq(&l2), "long strings are not cached");
    }

    #[test]
    fn round_trips_through_json_and_messagepack() {
        let t = Text::from("fix_bass_level_001");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"fix_bass_level_001\"");
        assert_eq!(serde_json::from_str::<Text>(&json).unwrap(), t);
        let mp = rmp_serde::to_vec(&t).unwrap();
        assert_eq!(rmp_serde::from_slice::<Text>(&mp).unwrap(), t);
        assert!(serde_json::from_str::<Text>("12").is_err());
    }
}
