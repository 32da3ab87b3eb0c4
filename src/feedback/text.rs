//! [`Text`]: the immutable, shared string of a [`FeedbackEvent`](super::FeedbackEvent).

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
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
/// Deserializing builds a new allocation per string. (A per-thread cache that shared
/// repeats was 1.2× faster on a JSON-lines file's strings, below the 1.5× a hand-written
/// speed-up must earn; the compact fold of a log shares its strings in tables instead.)
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
                Ok(Text::from(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Text, E> {
                let s = std::str::from_utf8(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Bytes(v), &self))?;
                Ok(Text::from(s))
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
    fn clones_share_one_allocation() {
        let a = Text::from("/music/track.als");
        assert!(a.ptr_eq(&a.clone()));
        let x: Text = serde_json::from_str("\"/music/shared\\u002eals\"").unwrap();
        assert_eq!(x, "/music/shared.als");
        assert!(!x.ptr_eq(&Text::from("/music/shared.als")));
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
