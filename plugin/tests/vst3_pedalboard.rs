//! Loads the plugin's VST3 bundle in a third-party host, Spotify's `pedalboard` (Python,
//! JUCE-based), and processes audio through it: the output must equal the input while no
//! fix is applied, moving the host-visible output gain must change the level, and since
//! pedalboard renders far faster than real time, the VST3 faster-than-real-time heuristic
//! records a *likely* bounce with its evidence for the 20 s render (none for the 2 s
//! ones, too short to tell). pedalboard does set `kOffline` in `setupProcessing`, but
//! nice-plug passes `activate()` the previous call's mode, so the plugin ignores it on VST3.
//!
//! The bundle is laid out as `cargo xtask bundle` lays it out on Linux
//! (`fixloop-plugin.vst3/Contents/x86_64-linux/fixloop-plugin.so`) from the cdylib the test builds.
//!
//! Needs `python3` with `pedalboard` and `numpy` (`python3 -m pip install pedalboard`).
//! Without them the test says so on stderr and passes, unless `FIXLOOP_REQUIRE_PEDALBOARD=1`
//! is set (as CI sets it after installing pedalboard), in which case it fails.

use fixloop::feedback::records::{BounceEvidence, Record};
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

const SCRIPT: &str = r#"
import sys
import numpy as np
import pedalboard

plugin = pedalboard.load_plugin(sys.argv[1])
names = sorted(plugin.parameters.keys())
print("parameters:", names)
assert "output_gain_db" in names and "width" in names, names
sr = 48000
rng = np.random.default_rng(7)
# 20 s of stereo noise: long enough for the render heuristic (10 s at >= 4x real time).
x = (0.1 * rng.standard_normal((2, sr * 20))).astype(np.float32)
for block in (64, 512, 1024):
    y = plugin.process(x[:, : sr * 2], sr, buffer_size=block, reset=True)
    assert y.shape == (2, sr * 2), y.shape
    assert np.array_equal(y, x[:, : sr * 2]), f"not bit-exact at block {block}"
y = plugin.process(x, sr, buffer_size=512, reset=True)
assert np.array_equal(y, x)
plugin.output_gain_db = -6.0
y = plugin.process(x[:, :sr], sr, buffer_size=512, reset=True)
tail = slice(sr // 2, sr)
ratio = float(np.sqrt(np.mean(y[:, tail] ** 2) / np.mean(x[:, tail] ** 2)))
assert abs(20 * np.log10(ratio) + 6.0) < 0.05, ratio
print("ok")
"#;

fn python_with_pedalboard() -> bool {
    Command::new("python3")
        .args(["-c", "import pedalboard, numpy"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Builds the cdylib and lays out the VST3 bundle in `dir`.
fn vst3_bundle(dir: &Path) -> PathBuf {
    let library = support::plugin_library();
    let bundle = dir.join("fixloop-plugin.vst3");
    let arch_dir = bundle
        .join("Contents")
        .join(format!("{}-linux", std::env::consts::ARCH));
    std::fs::create_dir_all(&arch_dir).unwrap();
    std::fs::copy(library, arch_dir.join("fixloop-plugin.so")).unwrap();
    bundle
}

#[test]
fn pedalboard_processes_audio_through_the_vst3() {
    if !cfg!(target_os = "linux") {
        eprintln!("the VST3 bundle layout of this test is Linux's; skipped");
        return;
    }
    if !python_with_pedalboard() {
        assert!(
            std::env::var_os("FIXLOOP_REQUIRE_PEDALBOARD").is_none(),
            "FIXLOOP_REQUIRE_PEDALBOARD is set but python3 cannot import pedalboard and numpy"
        );
        eprintln!("python3 with pedalboard and numpy not found; VST3 host test skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let bundle = vst3_bundle(dir.path());
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&bundle)
        .env("FIXLOOP_HOME", home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok"), "{stdout}\n{stderr}");

    let log = fixloop::store::read_log(&home.path().join("feedback")).unwrap();
    assert!(log.report.is_clean(), "{}", log.report);
    let records: Vec<&Record> = log.entries.iter().map(|e| &e.record).collect();
    let starts: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::SessionStart(s) => Some(s),
            _ => None,
        })
        .collect();
    assert!(!starts.is_empty(), "{records:#?}");
    assert!(
        starts.iter().all(|s| s.session_id.starts_with("vst3-")),
        "{starts:#?}"
    );
    let bounces: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::TrackBounced(b) => Some(b.evidence),
            _ => None,
        })
        .collect();
    // The 2 s renders are too short to tell. Whether the 20 s one is seen depends on the
    // machine keeping pedalboard's pace above 4x real time throughout (a debug build on a
    // loaded machine may not), so this asserts what a seen render must look like, not that
    // it is seen; the heuristic itself is tested with synthetic clocks.
    assert!(bounces.len() <= 1, "{records:#?}");
    if let Some(&evidence) = bounces.first() {
        let BounceEvidence::Likely {
            realtime_factor,
            audio_ms,
        } = evidence
        else {
            panic!("{bounces:?}")
        };
        assert!(realtime_factor >= 4.0 && audio_ms >= 10_000, "{evidence:?}");
    } else {
        eprintln!("the 20 s render ran below the heuristic's pace on this machine");
    }
    // pedalboard never saves state here.
    assert!(!records.iter().any(|r| matches!(r, Record::SessionSaved(_))));
    // Nothing dropped: every record pushed is in the log (pushed = durable + dropped).
    assert!(!records.iter().any(|r| matches!(r, Record::Dropped(_))));
}
