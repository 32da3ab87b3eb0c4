//! Where fixloop keeps its files: `--home DIR`, else `FIXLOOP_HOME`, else the platform
//! data directory (`~/.local/share/fixloop` on Linux, `~/Library/Application Support/fixloop`
//! on macOS, `%APPDATA%\fixloop\data` on Windows). Layout: `feedback/` (log segments),
//! `profiles/`, `abtests/` (one `<test_id>.json` per test).

use crate::error::{Error, ErrorKind, Result};
use std::path::{Path, PathBuf};

/// The environment variable that overrides the default home.
pub const HOME_ENV: &str = "FIXLOOP_HOME";

/// A resolved fixloop home directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// Uses `explicit` if given, else `FIXLOOP_HOME`, else the platform data directory.
    pub fn resolve(explicit: Option<&Path>) -> Result<Home> {
        if let Some(p) = explicit {
            return Ok(Home::at(p));
        }
        if let Some(p) = std::env::var_os(HOME_ENV).filter(|p| !p.is_empty()) {
            return Ok(Home::at(Path::new(&p)));
        }
        directories::ProjectDirs::from("", "", "fixloop")
            .map(|d| Home::at(d.data_dir()))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("no home directory found; pass --home or set {HOME_ENV}"),
                )
            })
    }

    /// A home rooted at `root` (not created until something is written).
    pub fn at(root: &Path) -> Home {
        Home {
            root: root.to_path_buf(),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The feedback log directory.
    pub fn feedback_dir(&self) -> PathBuf {
        self.root.join("feedback")
    }

    /// The profiles directory.
    pub fn profiles_dir(&self) -> PathBuf {
        self.root.join("profiles")
    }

    /// The A/B tests directory.
    pub fn abtests_dir(&self) -> PathBuf {
        self.root.join("abtests")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_home_wins_and_layout_is_fixed() {
        let h = Home::resolve(Some(Path::new("/tmp/fx"))).unwrap();
        assert_eq!(h.feedback_dir(), Path::new("/tmp/fx/feedback"));
        assert_eq!(h.profiles_dir(), Path::new("/tmp/fx/profiles"));
        assert_eq!(h.abtests_dir(), Path::new("/tmp/fx/abtests"));
    }
}
