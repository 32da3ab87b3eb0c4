//! Helpers shared by the plugin's host tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod clap;
pub mod editor;
pub mod gui_host;

/// Builds the plugin's cdylib (cargo does not build a package's cdylib for its own
/// integration tests) and returns its path in `target/<profile>/`.
pub fn plugin_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let mut build = std::process::Command::new(env!("CARGO"));
    build.args(["build", "--package", "fixloop-plugin", "--lib"]);
    if dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the plugin failed");
    let name = format!(
        "{}fixloop_plugin{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let path = dir.join(&name);
    assert!(path.exists(), "{} not built", path.display());
    path
}

/// Every record in the feedback log at `dir`, in order (flush the sink first).
pub fn read_records(dir: &Path) -> Vec<fixloop::feedback::records::Record> {
    fixloop::store::read_log(dir)
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.record)
        .collect()
}
