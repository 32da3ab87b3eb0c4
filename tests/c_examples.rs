//! The C and C++ examples build against `include/fixloop.h` and the static library with
//! `-Wall -Wextra -Werror` (C11, C++17), run — the C host generates a mix, writes it as a
//! WAV file and analyses it as a file and live (pushed block by block); both load the
//! profile, score a track, record a fix lifecycle, flush, read the summary, refine, keep
//! the profile's lineage (learn, history, revert) — and print what the library computes;
//! then once more under AddressSanitizer (which includes LeakSanitizer on Linux) and
//! UndefinedBehaviorSanitizer, with no error or leak. The log they write is then read back
//! by the library.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The static library cargo built for this test run (target/<profile>/deps/libfixloop.a).
fn static_lib() -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let lib = deps.join("libfixloop.a");
    assert!(lib.exists(), "{} not built", lib.display());
    lib
}

fn build(source: &str, compiler: &str, std: &str, sanitize: bool) -> PathBuf {
    // In the target's scratch space, overwritten by the next run: statically linked
    // hosts are large, and a per-run directory under /tmp would pile up.
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("examples");
    std::fs::create_dir_all(&out_dir).unwrap();
    // examples/c/host.c → examples_c_host_c: the C and C++ hosts share a stem.
    let stem = source.replace(['/', '.'], "_");
    let exe = out_dir.join(format!("{stem}{}", if sanitize { "-asan" } else { "" }));
    let mut cmd = Command::new(compiler);
    cmd.arg(format!("-std={std}"))
        .args(["-Wall", "-Wextra", "-Werror", "-g"])
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join(source));
    if sanitize {
        cmd.args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
            "-fno-omit-frame-pointer",
        ]);
    }
    cmd.arg(static_lib())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(
        out.status.success(),
        "{compiler} {source} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Where a host writes the mix it generates (beside its feedback log).
fn mix_path(exe: &Path) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "examples-mix-{}.wav",
        exe.file_name().unwrap().to_string_lossy()
    ))
}

fn run(exe: &Path) -> String {
    let feedback = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "examples-fb-{}",
        exe.file_name().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_dir_all(&feedback);
    let home = feedback.with_extension("home");
    let _ = std::fs::remove_dir_all(&home);
    // A freshly linked executable can be "busy" for a moment while another thread of
    // this test process forks (Linux ETXTBSY); retry, as build tools do.
    let mut tries = 0;
    let out = loop {
        let mut cmd = Command::new(exe);
        cmd.arg(root().join("assets/trance_profile.json"))
            .arg(&feedback)
            .arg(&home)
            .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
            .arg(mix_path(exe));
        let result = cmd.output();
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.unwrap(),
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{} failed:\n{stderr}", exe.display());
    assert!(!stderr.contains("Sanitizer"), "{stderr}");
    // What the example recorded is in the log, folded into one event.
    let events = fixloop::store::read_events(&feedback).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert!(e.was_applied && e.gap_after.is_some());
    assert!(e.session_saved_after || e.track_bounced_after);
    std::fs::remove_dir_all(&feedback).unwrap();
    let _ = std::fs::remove_dir_all(&home);
    String::from_utf8(out.stdout).unwrap()
}

/// What the library makes of the mix a host wrote: its features, how many are present,
/// and the fixes `fixloop analyze` proposes for it against the example profile under
/// `policy`.
fn analysed_mix(
    mix: &Path,
    policy: &fixloop::fixes::Policy,
) -> (
    fixloop::features::FeatureVector,
    usize,
    Vec<fixloop::fixes::Fix>,
) {
    let analysed = fixloop::features::analyze_file(mix).unwrap();
    let count = fixloop::features::Feature::ALL
        .iter()
        .filter(|f| analysed.features.value(**f).is_some())
        .count();
    let profile =
        fixloop::profile::Profile::load(&root().join("assets/trance_profile.json")).unwrap();
    let fixes = fixloop::analysis::TrackAnalysis::with_spectrum(
        "mix",
        analysed.features,
        analysed.spectrum,
        Some(&profile),
        policy,
    )
    .unwrap()
    .compared
    .unwrap()
    .fixes;
    (analysed.features, count, fixes)
}

fn check_c_output(text: &str, mix: &Path) {
    // The mix it generated, analysed by the library: the same features live and from the
    // file, and the same numbers the library gives for that file (the example's policy:
    // default with amount 0.5).
    let policy = fixloop::fixes::Policy {
        amount: 0.5,
        ..fixloop::fixes::Policy::default()
    };
    let (features, count, fixes) = analysed_mix(mix, &policy);
    assert!(
        text.contains(&format!("analysed 4.0 s: {count} features\n")),
        "{text}"
    );
    assert!(
        text.contains("live: 192000 frames, 0 dropped, features equal the file's"),
        "{text}"
    );
    let profile =
        fixloop::profile::Profile::load(&root().join("assets/trance_profile.json")).unwrap();
    let report = fixloop::gaps::compare(&profile, &features);
    let want = format!(
        "score {:.1} ({} of {} in range)",
        report.score.unwrap(),
        report.in_range_count(),
        report.gaps.len()
    );
    assert!(text.contains("profile trance_v1\n"), "{text}");
    assert!(text.contains(&want), "want {want:?} in\n{text}");
    for g in report.gaps.iter().filter(|g| !g.in_range) {
        let want = format!("gap {} z={:+.2}\n", g.feature.name(), g.z);
        assert!(text.contains(&want), "want {want:?} in\n{text}");
    }
    // The fixes are `fixloop analyze`'s for the file, and the fix model through the C ABI
    // agrees with the library's (the first fix from neutral controls).
    assert!(!fixes.is_empty());
    for fix in &fixes {
        let want = format!("fix {} {}: ", fix.fix_id, fix.gap_feature.name());
        assert!(text.contains(&want), "want {want:?} in\n{text}");
        assert!(text.contains(&format!(": {}\n", fix.describe())), "{text}");
    }
    // An advisory first fix (compression) moves no control, and the example says none.
    let first = fixes[0].clone();
    match fixloop::fixes::control_move(&first, |c| c.neutral(), None) {
        Some(m) => {
            let want = format!(
                "control {}: {:.4} -> {:.4} aims {} at {:.4}",
                m.control.index(),
                m.previous,
                m.applied,
                first.gap_feature.name(),
                fixloop::fixes::aimed_value(&first, m.setting())
            );
            assert!(text.contains(&want), "want {want:?} in\n{text}");
        }
        None => assert!(!text.contains("control "), "{text}"),
    }
    // Session start, fix applied, action, outcome, session saved: all durable, none dropped.
    assert!(
        text.contains("collector pushed=5 durable=5 dropped=0"),
        "{text}"
    );
    assert!(
        text.contains("summary {\"since\":null,\"total\":1,\"accept_rate\":1.0"),
        "{text}"
    );
    assert!(text.contains("refined trance_v1_refined_"), "{text}");
    // The lineage in the home: the step refined the version in force from the one event,
    // the history names the lineage, and the revert put the original back.
    assert!(
        text.contains("learned refined: in force trance_v1_refined_"),
        "{text}"
    );
    assert!(
        text.contains("history {\"name\":\"trance\",\"in_force\":\"trance_v1_refined_"),
        "{text}"
    );
    assert!(text.contains("reverted: in force trance_v1\n"), "{text}");
    assert!(text.ends_with("ok\n"), "{text}");
}

fn check_cpp_output(text: &str, mix: &Path) {
    assert!(text.contains("profile trance_v1\n"), "{text}");
    assert!(text.contains("score "), "{text}");
    // The bass-heavy mix it wrote, analysed: `fixloop analyze`'s fixes under its policy
    // (default, aiming at the mean), a bass cut among them.
    let policy = fixloop::fixes::Policy {
        target_strategy: fixloop::fixes::TargetStrategy::Mean,
        ..fixloop::fixes::Policy::default()
    };
    let (_, count, fixes) = analysed_mix(mix, &policy);
    assert!(
        text.contains(&format!("analysed {count} features\n")),
        "{text}"
    );
    for fix in &fixes {
        let want = format!("fix {}: {}\n", fix.gap_feature.name(), fix.describe());
        assert!(text.contains(&want), "want {want:?} in\n{text}");
    }
    assert!(text.contains("fix bass_level: Cut 60–250 Hz by"), "{text}");
    assert!(text.contains("collector pushed=5 durable=5"), "{text}");
    assert!(
        text.contains("summary {\"since\":null,\"total\":1,\"accept_rate\":0."),
        "{text}"
    );
    assert!(text.contains("refined trance_v1_refined_"), "{text}");
    // Its one event is a `modify` (score 0.5, factor 0.5: no range or confidence rule
    // moves), but a modify says where the producer wants the value: the lineage learns the
    // feature's target (`learn::taste`) and puts a version holding it in force.
    assert!(
        text.contains("lineage refined: in force trance_v1_refined_"),
        "{text}"
    );
    assert!(text.contains("learned target "), "{text}");
    assert!(text.contains(" from 1 decision(s)\n"), "{text}");
    assert!(text.contains("reverted: in force trance_v1\n"), "{text}");
    assert!(
        text.contains("expected error: fixloop_profile_load: i/o error: /nonexistent/profile.json: cannot read"),
        "{text}"
    );
    assert!(text.ends_with("ok\n"), "{text}");
}

#[test]
fn c_example_builds_and_runs() {
    let exe = build("examples/c/host.c", "cc", "c11", false);
    check_c_output(&run(&exe), &mix_path(&exe));
}

#[test]
fn cpp_example_builds_and_runs() {
    let exe = build("examples/cpp/host.cpp", "c++", "c++17", false);
    check_cpp_output(&run(&exe), &mix_path(&exe));
}

#[test]
fn examples_are_clean_under_address_and_undefined_behaviour_sanitizers() {
    let exe = build("examples/c/host.c", "cc", "c11", true);
    check_c_output(&run(&exe), &mix_path(&exe));
    let exe = build("examples/cpp/host.cpp", "c++", "c++17", true);
    check_cpp_output(&run(&exe), &mix_path(&exe));
}
