//! The editor's real UI driven headlessly by egui_kittest (no window, no renderer), with
//! its accessibility check: every control has a name. The plugin's engine runs without
//! threads on the plugin's real parameters, and the GUI context is a test host's that
//! records gestures and, like nice-plug, applies a value set from the GUI only when the
//! host flushes parameters — the window in which a watcher that trusted the parameter
//! would have seen the old value and recorded a spurious undo.

use egui_kittest::kittest::Queryable;
use fixloop::feedback::records::Record;
use fixloop::feedback::UserAction;
use fixloop::fixes::Control as FixParam;
use nice_plug::prelude::*;
use support::editor::{click, Gesture, Rig, SR};

mod support;

#[test]
fn apply_is_one_gesture_and_a_deferred_value_is_not_an_undo() {
    let mut rig = Rig::new();
    let (fix, param) = rig.first_fix();
    let mut h = rig.harness();
    assert!(h.query_by_label(&fix.instruction()).is_some());
    click(&mut h, "Apply");
    let g = rig.gestures();
    let [Gesture::Begin(b), Gesture::Set(s, _), Gesture::End(e)] = g.as_slice() else {
        panic!("{g:?}")
    };
    assert_eq!((b, s, e), (&param, &param, &param));
    assert_eq!(rig.applied_records(), 1);
    // The host has not flushed yet: the parameter still reads its old value while the
    // engine steps. That is not the host putting it back.
    for _ in 0..5 {
        rig.step();
    }
    rig.gui.flush();
    rig.play(SR as usize / 4);
    for _ in 0..5 {
        rig.step();
    }
    assert_eq!(rig.actions_recorded(), Vec::<UserAction>::new());
    let open = rig.actions().applied();
    assert!(open[0].seen_applied && !open[0].undone, "{open:?}");
    h.run();
    // Applied: Keep and Undo are offered for it.
    assert!(h.query_by_label("Keep").is_some() && h.query_by_label("Undo").is_some());
}

#[test]
fn skip_records_reject_and_hides_the_fix() {
    let rig = Rig::new();
    let (fix, _) = rig.first_fix();
    let mut h = rig.harness();
    let skips = h.get_all_by_label("Skip").count();
    // Skip the card of the first fix: cards are listed most confident first.
    click(&mut h, "Skip");
    assert_eq!(rig.actions_recorded(), vec![UserAction::Reject]);
    assert!(
        rig.gestures().is_empty(),
        "a skipped proposal moves nothing"
    );
    assert_eq!(h.get_all_by_label("Skip").count(), skips - 1);
    let _ = fix;
}

#[test]
fn undo_puts_the_parameter_back_and_records_undo() {
    let mut rig = Rig::new();
    let (_, param) = rig.first_fix();
    let before = rig.params.output_gain_db.unmodulated_plain_value();
    let mut h = rig.harness();
    click(&mut h, "Apply");
    rig.gui.flush();
    rig.play(SR as usize / 4);
    rig.gestures();
    click(&mut h, "Undo");
    let g = rig.gestures();
    assert!(
        matches!(g.as_slice(), [Gesture::Begin(b), Gesture::Set(..), Gesture::End(e)] if *b == param && *e == param),
        "{g:?}"
    );
    rig.gui.flush();
    rig.play(SR as usize / 4);
    assert_eq!(rig.actions_recorded(), vec![UserAction::Undo]);
    if param == rig.params.output_gain_db.name() {
        assert_eq!(rig.params.output_gain_db.unmodulated_plain_value(), before);
    }
    let _ = rig.params.param(FixParam::OutputGain);
}

#[test]
fn keep_records_accept() {
    let mut rig = Rig::new();
    let mut h = rig.harness();
    click(&mut h, "Apply");
    rig.gui.flush();
    rig.play(SR as usize / 4);
    click(&mut h, "Keep");
    assert_eq!(rig.actions_recorded(), vec![UserAction::Accept]);
    // Kept fixes leave the list for the history.
    assert!(h.query_by_label("Keep").is_none());
}

#[test]
fn releasing_the_amount_slider_records_modify_with_the_value() {
    let mut rig = Rig::new();
    let (fix, param) = rig.first_fix();
    let mut h = rig.harness();
    click(&mut h, "Apply");
    rig.gui.flush();
    rig.play(SR as usize / 4);
    h.run();
    rig.gestures();
    let rect = h
        .get_by_role_and_label(egui::accesskit::Role::Slider, "Amount")
        .rect();
    // Press in the middle, drag to the left end, release: 0 % of the move.
    let from = rect.center();
    let to = egui::pos2(rect.left() - 40.0, rect.center().y);
    h.drag_at(from);
    h.run();
    h.hover_at(to);
    h.run();
    assert_eq!(
        rig.actions_recorded(),
        Vec::<UserAction>::new(),
        "nothing is recorded while dragging"
    );
    h.drop_at(to);
    h.run();
    assert_eq!(rig.actions_recorded(), vec![UserAction::Modify]);
    let modified = rig
        .records()
        .into_iter()
        .find_map(|r| match r {
            Record::UserAction(a) => a.modified_value,
            _ => None,
        })
        .expect("a modified value");
    // 0 % of the move leaves the feature where it was.
    assert!(
        (modified - fix.current_value).abs() < 1e-6,
        "{modified} vs {}",
        fix.current_value
    );
    let g = rig.gestures();
    assert!(
        matches!(g.as_slice(), [Gesture::Begin(b), Gesture::Set(..), Gesture::End(e)] if *b == param && *e == param),
        "one gesture on release: {g:?}"
    );
}

#[test]
fn choosing_a_profile_switches_the_profile() {
    let mut rig = Rig::new();
    let dir = tempfile::tempdir().unwrap();
    let mut profile = fixloop::profile::bundled();
    profile.name = "my_refs".into();
    profile.version = "my_refs_v7".into();
    let path = dir.path().join("my_refs.json");
    profile.save(&path).unwrap();
    let mut h = rig.harness();
    h.get_by_label("Profile file").click();
    h.run();
    h.get_by_label("Profile file")
        .type_text(&path.display().to_string());
    h.run();
    click(&mut h, "Load");
    rig.step();
    assert_eq!(rig.hub.analysis().profile_version, "my_refs_v7");
    h.run();
    assert!(h.query_by_label("Profile: my_refs my_refs_v7").is_some());
    // Back to the bundled default through the picker.
    h.get_by_label("Choose profile").click();
    h.run();
    click(&mut h, "Bundled default");
    rig.step();
    assert_ne!(rig.hub.analysis().profile_version, "my_refs_v7");
}

#[test]
fn an_absent_feature_is_greyed_with_its_reason() {
    let rig = Rig::new();
    // One second is shorter than the loudness range's 3 s block.
    let mut h = rig.harness();
    let row = h.get_by_label("Loudness range: —");
    row.hover();
    h.run();
    assert!(
        h.query_by_label_contains("Loudness range: absent (")
            .is_some(),
        "tooltip with the reason"
    );
}

/// New from references: a folder of two rendered loops becomes `profiles/<name>.json` in
/// the home (the suggested name), built off the GUI thread, and is selected.
#[test]
fn a_profile_built_from_a_folder_of_references_is_saved_and_selected() {
    let home = tempfile::tempdir().unwrap();
    // Only this test reads the home (the rigs record into their own logs).
    std::env::set_var("FIXLOOP_HOME", home.path());
    let refs = tempfile::tempdir().unwrap();
    for (i, bass_db) in [0.0, 2.0].into_iter().enumerate() {
        let mix = fixloop::sim::synth::render(
            &fixloop::sim::synth::MixParams {
                bass_db,
                ..Default::default()
            },
            4.0,
            22_050,
        );
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: mix.sample_rate_hz,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w =
            hound::WavWriter::create(refs.path().join(format!("ref{i}.wav")), spec).unwrap();
        for (l, r) in mix.left.iter().zip(&mix.right) {
            w.write_sample(*l).unwrap();
            w.write_sample(*r).unwrap();
        }
        w.finalize().unwrap();
    }
    let mut rig = Rig::new();
    let mut h = rig.harness();
    h.get_by_label("New from references…").click();
    h.run();
    h.get_by_label("Reference folder").click();
    h.run();
    h.get_by_label("Reference folder")
        .type_text(&refs.path().display().to_string());
    click(&mut h, "Build profile");
    let saved = home.path().join("profiles").join("my_references.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while rig.params.profile.get().1.as_deref() != Some(saved.to_str().unwrap()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the build did not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
        h.run();
    }
    let built = fixloop::profile::Profile::load(&saved).unwrap();
    assert_eq!(built.name, "my_references");
    assert_eq!(built.track_count, 2);
    rig.step();
    assert_eq!(rig.hub.analysis().profile_name, "my_references");
}

/// A fix-stage slider drag is one gesture from press to release, however many values it
/// sets; Reset puts each moved parameter back in a gesture of its own; the bypass is a
/// host parameter too.
#[test]
fn fix_stage_drag_is_one_gesture_and_reset_returns_to_neutral() {
    let mut rig = Rig::new();
    // Tall enough that the fix stage below the fixes is on screen.
    let mut h = rig.harness_sized(1000.0, 2400.0);
    h.get_by_label("Fix stage").click();
    h.run();
    let rect = h
        .get_by_role_and_label(egui::accesskit::Role::Slider, "Bass")
        .rect();
    h.drag_at(rect.center());
    h.run();
    for dx in [10.0, 20.0, 30.0] {
        h.hover_at(rect.center() + egui::vec2(dx, 0.0));
        h.run();
    }
    h.drop_at(rect.center() + egui::vec2(30.0, 0.0));
    h.run();
    let g = rig.gestures();
    let begins = g.iter().filter(|e| matches!(e, Gesture::Begin(_))).count();
    let ends = g.iter().filter(|e| matches!(e, Gesture::End(_))).count();
    let sets = g.iter().filter(|e| matches!(e, Gesture::Set(..))).count();
    assert_eq!((begins, ends), (1, 1), "{g:?}");
    assert!(sets >= 2, "{g:?}");
    assert!(
        matches!(g.first(), Some(Gesture::Begin(n)) if n == "Bass 60-250 Hz"),
        "{g:?}"
    );
    assert!(
        matches!(g.last(), Some(Gesture::End(n)) if n == "Bass 60-250 Hz"),
        "{g:?}"
    );
    rig.gui.flush();
    assert!(rig.params.bass_gain_db.value() > 0.0);

    click(&mut h, "Reset");
    let g = rig.gestures();
    assert!(
        matches!(g.as_slice(), [Gesture::Begin(b), Gesture::Set(_, v), Gesture::End(e)]
            if b == "Bass 60-250 Hz" && e == b && (*v - 0.5).abs() < 1e-6),
        "{g:?}"
    );
    rig.gui.flush();
    assert_eq!(rig.params.bass_gain_db.value(), 0.0);

    h.get_by_label("Bypass the fix stage").click();
    h.run();
    let g = rig.gestures();
    assert!(
        matches!(g.as_slice(), [Gesture::Begin(b), Gesture::Set(_, v), Gesture::End(_)] if b == "Bypass" && *v == 1.0),
        "{g:?}"
    );
    rig.gui.flush();
    assert_eq!(
        rig.params.fix_settings(),
        fixloop::dsp::FixSettings::NEUTRAL
    );
    rig.step();
}

/// Clicking a gap row lists only the fixes for that feature (or serving it); clicking it
/// again lists them all.
#[test]
fn clicking_a_row_filters_the_fixes_to_its_feature() {
    let rig = Rig::new();
    let mut h = rig.harness_sized(1000.0, 2400.0);
    let analysis = rig.hub.analysis();
    let all = h.get_all_by_label("Skip").count();
    assert_eq!(all, analysis.fixes.len());
    let f = fixloop::features::Feature::StereoWidth;
    let expected = analysis
        .fixes
        .iter()
        .filter(|x| x.gap_feature == f || x.serves.contains(&f))
        .count();
    assert!(expected < all, "the filter must hide something");
    let row = h
        .get_all_by_label_contains("Stereo width: ")
        .next()
        .expect("the stereo width row");
    row.click();
    h.run();
    assert_eq!(h.get_all_by_label("Skip").count(), expected);
    assert!(h.query_by_label("Fixes for Stereo width only").is_some());
    h.get_all_by_label_contains("Stereo width: ")
        .next()
        .unwrap()
        .click();
    h.run();
    assert_eq!(h.get_all_by_label("Skip").count(), all);
}
