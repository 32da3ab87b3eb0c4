//! The producer's pseudonymous identity for pooled exports.

use crate::error::{Error, ErrorKind, Result};
use crate::home::Home;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Schema name of `identity.json`.
pub const IDENTITY_SCHEMA: &str = "fixloop.identity/1";

/// What a home exports under: a random `producer_id` and the secret key of the keyed hash
/// that replaces track paths. Both are drawn from the operating system's random source
/// the first time a home exports, never derived from anything about the producer (name,
/// machine, paths), and kept in `pool/identity.json` in the home. The key never leaves
/// the home: without it a track path cannot be confirmed from its hash, even by someone
/// who guesses the path.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// The pseudonymous producer id (`p` and 32 hex digits).
    pub producer_id: String,
    key: [u8; 32],
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("producer_id", &self.producer_id)
            .field("key", &"…")
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct IdentityFile {
    schema: String,
    producer_id: String,
    track_key: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl Identity {
    /// A new random identity (not stored).
    pub fn random() -> Result<Identity> {
        let mut id = [0u8; 16];
        let mut key = [0u8; 32];
        getrandom::fill(&mut id)
            .and_then(|()| getrandom::fill(&mut key))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("no random source for the producer id: {e}"),
                )
            })?;
        Ok(Identity {
            producer_id: format!("p{}", hex(&id)),
            key,
        })
    }

    /// Where `home` keeps its identity.
    pub fn path(home: &Home) -> PathBuf {
        home.root().join("pool").join("identity.json")
    }

    /// The identity of `home`, created (and stored) the first time. Two processes creating
    /// it at once end with the same one: the file is written aside and linked into place
    /// only if none is there yet.
    pub fn load_or_create(home: &Home) -> Result<Identity> {
        let path = Identity::path(home);
        if path.exists() {
            return Identity::load(&path);
        }
        let dir = path.parent().expect("identity path has a parent");
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
        let fresh = Identity::random()?;
        let tmp = dir.join(format!(".identity-{}.json", std::process::id()));
        let text = serde_json::to_string_pretty(&IdentityFile {
            schema: IDENTITY_SCHEMA.into(),
            producer_id: fresh.producer_id.clone(),
            track_key: hex(&fresh.key),
        })
        .expect("identity serialises");
        std::fs::write(&tmp, text + "\n").map_err(|e| Error::io(&tmp, "write", e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600));
        }
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(fresh),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Identity::load(&path),
            Err(e) => Err(Error::io(&path, "create", e)),
        }
    }

    /// Reads an identity file.
    pub fn load(path: &Path) -> Result<Identity> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
        let bad = |what: &str| {
            Error::new(ErrorKind::Parse, format!("not a fixloop identity: {what}"))
                .with_origin(path.display().to_string())
        };
        let file: IdentityFile = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
        if file.schema != IDENTITY_SCHEMA {
            return Err(bad(&format!(
                "schema {:?}, expected {IDENTITY_SCHEMA:?}",
                file.schema
            )));
        }
        let key = unhex(&file.track_key).ok_or_else(|| bad("track_key is not 64 hex digits"))?;
        if file.producer_id.is_empty() {
            return Err(bad("producer_id is empty"));
        }
        Ok(Identity {
            producer_id: file.producer_id,
            key,
        })
    }

    /// The keyed hash of a track path: BLAKE3 in keyed mode (a pseudorandom function) with
    /// this identity's key, first 128 bits as 32 hex digits. The same path gives the same
    /// hash within one producer's exports (so tracks can still be counted and grouped),
    /// a different one in another producer's.
    pub fn hash_track(&self, track_path: &str) -> String {
        let h = blake3::keyed_hash(&self.key, track_path.as_bytes());
        hex(&h.as_bytes()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_home_keeps_one_identity_and_hashes_depend_on_its_key() {
        let dir = std::env::temp_dir().join(format!("fixloop-identity-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let home = Home::at(&dir);
        let a = Identity::load_or_create(&home).unwrap();
        let b = Identity::load_or_create(&home).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.producer_id.len(), 33);
        let other = Identity::random().unwrap();
        assert_ne!(a.producer_id, other.producer_id);
        let h = a.hash_track("/Users/me/Music/secret demo.wav");
        assert_eq!(h.len(), 32);
        assert_eq!(h, b.hash_track("/Users/me/Music/secret demo.wav"));
        assert_ne!(h, other.hash_track("/Users/me/Music/secret demo.wav"));
        assert_ne!(h, a.hash_track("/Users/me/Music/secret demo 2.wav"));
        // BLAKE3's keyed-mode test vector (BLAKE3 repo, test_vectors.json: key "whats the
        // Elvish word for friend", input_len 0, keyed_hash 92b2b756…8a9227ad…).
        let k = Identity {
            producer_id: "p".into(),
            key: *b"whats the Elvish word for friend",
        };
        assert_eq!(k.hash_track(""), "92b2b75604ed3c761f9d6f62392c8a92");
        std::fs::write(Identity::path(&home), "{\"schema\":\"x\"}").unwrap();
        let e = Identity::load(&Identity::path(&home)).unwrap_err();
        assert!(e.to_string().contains("identity.json"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
