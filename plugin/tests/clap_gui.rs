//! The editor end to end in a real window: a `clack-host` host with the `gui` and
//! `params` extensions loads the CLAP binary, plays a rendered loop, opens the editor
//! embedded in the root window of an X server (Xvfb in CI), takes a screenshot, clicks
//! Apply on the first fix with xdotool, flushes parameters through process calls, and
//! checks the host saw one gesture (begin, value, end) on a fix-stage parameter and the
//! store holds the fix-applied record.
//!
//! Needs an X display and `xwininfo`, `import` (ImageMagick) and `xdotool`. Without a
//! display the test says so and passes, unless `FIXLOOP_REQUIRE_GUI` is set — as `.ci/run`
//! does after starting Xvfb — when a missing display or tool fails it.
//!
//! Where to click comes from the same editor laid out headlessly (egui_kittest) at the
//! window's size: the card buttons come first, so the first Apply's place does not depend
//! on the fixes' text. The screenshot is `target/tmp/fixloop-editor.png` (the README's and docs/plugin.md's).

use egui_kittest::kittest::Queryable;
use fixloop::feedback::records::Record;
use support::gui_host::{
    close_editor, display, load_in_fresh_home, looped, open_editor, pump, tool, Player,
};

mod support;

#[test]
fn editor_opens_in_a_clap_host_and_apply_is_one_gesture() {
    let Some(root) = display() else {
        return;
    };
    let mut fresh = load_in_fresh_home();
    let instance = &mut fresh.instance;

    // A rendered trance loop with its bass 4 dB up and its master 6 dB down, looped.
    let sr = support::editor::SR;
    let mix = fixloop::sim::synth::render(
        &fixloop::sim::synth::MixParams {
            bass_db: 4.0,
            master_db: -6.0,
            ..Default::default()
        },
        4.0,
        sr as u32,
    );
    let mut player = Player::start(instance, sr, 1024, looped(mix));
    player.play_real_time(sr, 5.0);

    let size = open_editor(instance, root);
    assert!(size.width >= 720 && size.height >= 480, "{size:?}");
    for _ in 0..20 {
        player.block();
        pump(instance, 50);
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let geometry = format!("{}x{}+0+0", size.width, size.height);
    let shot = dir.join("fixloop-editor.png").display().to_string();
    tool("import", &["-window", "root", "-crop", &geometry, &shot]).expect("a screenshot");
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "{shot}");
    eprintln!("screenshot: {shot}");
    assert!(
        player.seen.is_empty(),
        "nothing moved before the click: {:?}",
        player.seen
    );

    // Where the first Apply is, from the same editor laid out headlessly at this size.
    let rig = support::editor::Rig::new();
    let harness = rig.harness_sized(size.width as f32, size.height as f32);
    let apply = harness
        .get_all_by_label("Apply")
        .next()
        .expect("an Apply button")
        .rect()
        .center();
    drop(harness);
    let (x, y) = (apply.x.round().to_string(), apply.y.round().to_string());
    tool("xdotool", &["mousemove", &x, &y]).expect("xdotool moves the pointer");
    pump(instance, 100);
    tool("xdotool", &["click", "1"]).expect("xdotool clicks");
    // The host flushes parameters through its process calls.
    for _ in 0..20 {
        player.block();
        pump(instance, 25);
    }
    let after = dir.join("fixloop-editor-applied.png").display().to_string();
    let _ = tool("import", &["-window", "root", "-crop", &geometry, &after]);

    let seen = &player.seen;
    let kinds: Vec<&str> = seen.iter().map(|(_, k, _)| *k).collect();
    assert_eq!(kinds, ["begin", "value", "end"], "{seen:?}");
    assert!(
        seen.iter()
            .all(|(n, _, _)| *n == seen[0].0 && !n.is_empty()),
        "{seen:?}"
    );
    close_editor(instance);
    player.stop(instance);

    let log = fixloop::store::read_log(&fresh.home.path().join("feedback")).unwrap();
    let applied: Vec<_> = log
        .entries
        .iter()
        .filter_map(|e| match &e.record {
            Record::FixApplied(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(applied.len(), 1, "{:?}", log.entries);
    assert!(applied[0].was_applied);
}
