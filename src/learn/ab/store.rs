//! The directory of A/B test files: `abtests/<test_id>.json`.

use super::AbTest;
use crate::error::{Error, ErrorKind, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A directory holding one `<test_id>.json` per A/B test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbStore {
    dir: PathBuf,
}

impl AbStore {
    /// The store in `dir` (e.g. `<home>/abtests`); the directory need not exist yet.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AbStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of test `test_id`.
    pub fn path_of(&self, test_id: &str) -> PathBuf {
        self.dir.join(format!("{test_id}.json"))
    }

    /// Every test, sorted by id. A missing directory holds no tests; a damaged file is
    /// an error naming it.
    pub fn list(&self) -> Result<Vec<AbTest>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.dir, "list", e)),
        };
        let mut tests = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&self.dir, "list", e))?.path();
            if path.extension().is_some_and(|x| x == "json") {
                tests.push(AbTest::load(&path)?);
            }
        }
        tests.sort_by(|a, b| a.test_id.cmp(&b.test_id));
        Ok(tests)
    }

    /// The ids of the tests in the store (file stems), sorted; unreadable files included.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        ids.sort();
        ids
    }

    /// The test with id `test_id`; a clear `NotFound` error listing the known ids otherwise.
    pub fn load(&self, test_id: &str) -> Result<AbTest> {
        let path = self.path_of(test_id);
        if !path.is_file() || test_id.contains(['/', '\\']) {
            let known = self.ids();
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("no A/B test {test_id:?} (known tests: {known})"),
            )
            .with_origin(self.dir.display().to_string()));
        }
        let test = AbTest::load(&path)?;
        if test.test_id != test_id {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "file is named after {test_id:?} but holds test_id {:?}",
                    test.test_id
                ),
            )
            .with_origin(path.display().to_string()));
        }
        Ok(test)
    }

    /// A test given as an id in the store or as a path to a test file (anything with a
    /// path separator or a `.json` ending that exists).
    pub fn resolve(&self, id_or_path: &str) -> Result<AbTest> {
        let path = Path::new(id_or_path);
        if (id_or_path.contains(['/', '\\']) || id_or_path.ends_with(".json")) && path.is_file() {
            return AbTest::load(path);
        }
        self.load(id_or_path)
    }

    /// Validates `test` and writes it as `<test_id>.json`, creating the directory;
    /// refuses to replace an existing test. Returns the file written.
    ///
    /// Also refused: a test that sets a policy key ([`keys_set`](super::keys_set)) that a
    /// test not yet ended sets, since one session is in every running test at once.
    pub fn create(&self, test: &AbTest) -> Result<PathBuf> {
        test.validate()?;
        let now = crate::feedback::Timestamp::now();
        let keys = super::keys_set(test);
        for other in self.list().unwrap_or_default() {
            if other.test_id == test.test_id || other.end_date.is_some_and(|end| now >= end) {
                continue;
            }
            if let Some(k) = super::keys_set(&other)
                .into_iter()
                .find(|k| keys.contains(k))
            {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "A/B test {:?} sets {k}, which test {:?} also sets and has not ended; \
                         end it (end_date) or test another key",
                        test.test_id, other.test_id
                    ),
                ));
            }
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, "create", e))?;
        let path = self.path_of(&test.test_id);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::new(
                        ErrorKind::InvalidInput,
                        format!(
                            "an A/B test with id {:?} already exists; choose another test_id",
                            test.test_id
                        ),
                    )
                    .with_origin(path.display().to_string())
                } else {
                    Error::io(&path, "create", e)
                }
            })?;
        file.write_all(test.to_json().as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(|e| Error::io(&path, "write", e))?;
        Ok(path)
    }
}
