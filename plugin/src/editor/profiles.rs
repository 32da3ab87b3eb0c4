//! The profiles the picker offers (the home's `profiles/` folder) and building a new one
//! from a folder of reference tracks off the GUI thread.

use fixloop::features::list_audio_files;
use fixloop::home::Home;
use fixloop::profile::build_profile;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Profile files in the home's `profiles/` folder and one level below it (a profile's
/// versions live in `profiles/<name>/`), sorted by path. Empty when there is no home.
pub fn home_profiles() -> Vec<PathBuf> {
    let Ok(home) = Home::resolve(None) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let dir = home.profiles_dir();
    let json = |p: &Path| p.extension().is_some_and(|e| e == "json");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if let Ok(inner) = std::fs::read_dir(&p) {
                    out.extend(inner.flatten().map(|e| e.path()).filter(|p| json(p)));
                }
            } else if json(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Where a build is.
#[derive(Clone, Debug, PartialEq)]
pub enum BuildState {
    /// Analysing: files done of total.
    Running {
        /// Files finished.
        done: usize,
        /// Files in the folder.
        total: usize,
    },
    /// Saved at this path (and selected).
    Done(PathBuf),
    /// Failed, with the reason.
    Failed(String),
}

/// A profile being built from a folder of references on a thread of its own.
#[derive(Clone)]
pub struct ProfileBuild {
    state: Arc<Mutex<BuildState>>,
}

impl ProfileBuild {
    /// Starts building a profile called `name` from the audio files in `folder`, saved as
    /// `profiles/<name>.json` in the home.
    pub fn start(name: &str, folder: &Path) -> ProfileBuild {
        let state = Arc::new(Mutex::new(BuildState::Running { done: 0, total: 0 }));
        let build = ProfileBuild {
            state: state.clone(),
        };
        let (name, folder) = (name.trim().to_owned(), folder.to_owned());
        let spawned = std::thread::Builder::new()
            .name("fixloop-profile-build".into())
            .spawn({
                let state = state.clone();
                move || {
                    let result = run(&name, &folder, &state);
                    *state.lock() = match result {
                        Ok(path) => BuildState::Done(path),
                        Err(e) => BuildState::Failed(e),
                    };
                }
            });
        if let Err(e) = spawned {
            *state.lock() = BuildState::Failed(format!("cannot start the build: {e}"));
        }
        build
    }

    /// Where the build is.
    pub fn state(&self) -> BuildState {
        self.state.lock().clone()
    }
}

fn run(name: &str, folder: &Path, state: &Mutex<BuildState>) -> Result<PathBuf, String> {
    if name.is_empty() || name.contains(['/', '\\']) {
        return Err(format!("{name:?} is not a profile name"));
    }
    let files = list_audio_files(folder).map_err(|e| format!("{e:#}"))?;
    if files.is_empty() {
        return Err(format!("no audio files in {}", folder.display()));
    }
    *state.lock() = BuildState::Running {
        done: 0,
        total: files.len(),
    };
    let built = build_profile(name, &files, &|p| {
        *state.lock() = BuildState::Running {
            done: p.done,
            total: p.total,
        };
    })
    .map_err(|e| format!("{e:#}"))?;
    let home = Home::resolve(None).map_err(|e| format!("{e:#}"))?;
    let dir = home.profiles_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{name}.json"));
    built.profile.save(&path).map_err(|e| format!("{e:#}"))?;
    Ok(path)
}

/// What a file dialog is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// A profile file to use.
    ProfileFile,
    /// A folder of reference tracks for a new profile.
    ReferenceFolder,
}

/// A native file dialog on a thread of its own (the GUI thread never blocks on it).
#[derive(Clone, Default)]
pub struct Dialog {
    state: Arc<Mutex<DialogState>>,
}

#[derive(Default)]
struct DialogState {
    open: bool,
    picked: Option<(Pick, PathBuf)>,
}

impl Dialog {
    /// Opens a dialog for `pick` unless one is open.
    pub fn open(&self, pick: Pick) {
        {
            let mut s = self.state.lock();
            if s.open {
                return;
            }
            s.open = true;
        }
        let state = self.state.clone();
        let spawned = std::thread::Builder::new()
            .name("fixloop-file-dialog".into())
            .spawn(move || {
                let dialog = rfd::FileDialog::new();
                let path = match pick {
                    Pick::ProfileFile => dialog
                        .set_title("Choose a fixloop profile")
                        .add_filter("fixloop profile", &["json"])
                        .pick_file(),
                    Pick::ReferenceFolder => dialog
                        .set_title("Choose a folder of reference tracks")
                        .pick_folder(),
                };
                let mut s = state.lock();
                s.open = false;
                s.picked = path.map(|p| (pick, p));
            });
        if spawned.is_err() {
            self.state.lock().open = false;
        }
    }

    /// Whether a dialog is open.
    pub fn is_open(&self) -> bool {
        self.state.lock().open
    }

    /// What the last dialog picked, once.
    pub fn take(&self) -> Option<(Pick, PathBuf)> {
        self.state.lock().picked.take()
    }
}
