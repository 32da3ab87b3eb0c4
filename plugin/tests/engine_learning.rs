//! The loop closed inside the plugin, with no command-line step: the engine runs session
//! after session in a home with a running A/B test, a simulated producer (the
//! simulation's decisions) acts on the proposed fixes through the editor's action API,
//! and the engine refines its profile by itself after a session ends. Then the history
//! lists each version, a revert from the editor restores the earlier version exactly, the
//! sessions are split between the arms with each arm's policy in its proposed fixes, and
//! `ab status` reads what the plugin recorded.

use fixloop::feedback::{Arm, Timestamp, UserAction};
use fixloop::fixes::{Policy, TargetStrategy};
use fixloop::home::Home;
use fixloop::learn::{AbStatus, AbStore, AbTest, HistoryKind, Lineage};
use fixloop::sim::closed_loop::{World, WorldConfig};
use fixloop_plugin::editor::GuiWriter;
use nice_plug::context::gui::GuiContext;
use support::editor::{Rig, SR};

mod support;

#[test]
fn the_plugin_refines_by_itself_reverts_and_runs_an_ab_test() {
    let home_dir = tempfile::tempdir().unwrap();
    let home = Home::at(home_dir.path());
    let test = AbTest {
        test_id: "targeting_in_plugin".into(),
        name: "Conservative vs mean, in the plugin".into(),
        description: String::new(),
        control: Policy::default(),
        treatment: Policy {
            target_strategy: TargetStrategy::Mean,
            ..Policy::default()
        },
        assignment_ratio: 0.5,
        start_date: Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
        end_date: None,
        min_samples: 5,
        planned_sessions: None,
        primary_metric: fixloop::learn::ab::Metric::AcceptRate,
        secondary_metrics: Vec::new(),
        bandit: None,
    };
    AbStore::new(home.abtests_dir()).create(&test).unwrap();
    // The simulation's producer (taste shifted from the references on bass, width, top).
    let world = World::build(
        &WorldConfig {
            references: 6,
            wip_tracks: 2,
            ..WorldConfig::default()
        },
        1,
    )
    .unwrap();
    let mut rng = fixloop::rng::SplitMix64::new(7);

    // One plugin instance per session, as a DAW makes one per project opening; the
    // guard rail at 5 events per feature so a few sessions are enough.
    let config = fixloop_plugin::engine::EngineConfig {
        outcome_after_seconds: 1.0,
        learn_min_events: 5,
        ..Default::default()
    };
    let original = fixloop::profile::bundled();
    let lineage = Lineage::open(&home, &original.name).unwrap();
    let mut arms_seen = Vec::new();
    let mut refined_after = None;
    let mut last_rig = None;
    for session in 0..16 {
        let mut rig = Rig::configured(Some(home_dir.path()), config);
        let analysis = rig.hub.analysis();
        let policy = *rig.engine.session_policy();
        // The arm's policy is the one the fixes were proposed under...
        assert_eq!(analysis.policy, policy);
        let arm = if policy.target_strategy == TargetStrategy::Mean {
            Arm::Treatment
        } else {
            Arm::Control
        };
        arms_seen.push(arm);
        // ...and it shows in them: a fix's target is the profile's mean under the
        // treatment, the nearest range edge under the control.
        let profile = analysis.profile.clone().unwrap();
        for fix in analysis.fixes.iter().filter(|f| f.note.is_none()) {
            let Some(st) = profile.stats(fix.gap_feature) else {
                continue;
            };
            let outside = fix.current_value < st.acceptable_range[0]
                || fix.current_value > st.acceptable_range[1];
            if !outside {
                continue;
            }
            let above = fix.current_value > st.acceptable_range[1];
            // A target learned well enough is aimed at instead of the range: its centre
            // under the treatment, the near side of its ±1 sd interval under the control.
            let want = match (
                arm,
                profile
                    .learned_target(fix.gap_feature)
                    .filter(|t| t.known()),
            ) {
                (Arm::Treatment, Some(t)) => t.target,
                (Arm::Control, Some(t)) if above => t.target + t.sd,
                (Arm::Control, Some(t)) => t.target - t.sd,
                (Arm::Treatment, None) => st.mean,
                (Arm::Control, None) if above => st.acceptable_range[1],
                (Arm::Control, None) => st.acceptable_range[0],
            };
            assert!((fix.target_value - want).abs() < 1e-9, "{arm:?} {fix:?}");
        }
        // The producer decides on every fix of the session.
        let gui = GuiContext::new(rig.gui.clone());
        let writer = GuiWriter::new(&gui, &rig.params);
        let actions = rig.actions();
        for fix in analysis.fixes.clone() {
            let d =
                world
                    .producer
                    .decide(fix.gap_feature, fix.current_value, fix.new_value, &mut rng);
            let _ = match d.action {
                UserAction::Reject => actions.reject(&fix.fix_id, &writer),
                UserAction::Accept => actions
                    .apply(&fix.fix_id, &writer)
                    .and_then(|_| actions.accept(&fix.fix_id)),
                UserAction::Undo => actions
                    .apply(&fix.fix_id, &writer)
                    .and_then(|_| actions.undo(&fix.fix_id, &writer)),
                UserAction::Modify => actions.modify(
                    &fix.fix_id,
                    fixloop::fixes::setting_value(&fix) * 0.5,
                    &writer,
                ),
            };
        }
        rig.gui.flush();
        rig.play(SR as usize / 2);
        let before = rig.hub.analysis().profile_version.clone();
        rig.deactivate();
        let after = rig.hub.analysis().profile_version.clone();
        if after != before && refined_after.is_none() {
            refined_after = Some(session);
        }
        last_rig = Some(rig);
    }
    let mut rig = last_rig.unwrap();
    let refined_after = refined_after.expect("the profile refined itself within 16 sessions");
    println!("first refinement after session {refined_after}; arms {arms_seen:?}");

    // The history lists each version; the version in force is the last refined one.
    let history = lineage.history().unwrap();
    assert_eq!(history[0].kind, HistoryKind::Created);
    assert_eq!(history[0].version, original.version);
    assert!(history
        .iter()
        .skip(1)
        .all(|h| h.kind == HistoryKind::Refined));
    let in_force = history.last().unwrap().version.clone();
    assert_eq!(rig.hub.analysis().profile_version, in_force);
    assert_eq!(rig.hub.analysis().learning.version, in_force);
    assert!(!rig.hub.analysis().learning.changes.is_empty());
    // The same steps learned where this producer wants the features it decided on.
    let learned = lineage.current().unwrap().unwrap();
    let taste = learned
        .taste
        .as_ref()
        .expect("the plugin's lineage learns targets");
    assert!(
        taste.features.values().any(|t| t.decisions > 0),
        "{taste:?}"
    );
    println!(
        "what fixloop has learned: {:?}",
        rig.hub.analysis().learning.changes
    );

    // Revert from the editor's action API: the original is in force again, exactly.
    rig.actions().revert_profile(&original.version);
    rig.step();
    assert_eq!(rig.hub.analysis().profile_version, original.version);
    assert_eq!(lineage.current().unwrap().unwrap(), original);
    assert_eq!(
        lineage.history().unwrap().last().unwrap().kind,
        HistoryKind::Reverted
    );

    // Sessions were split between the arms; every event carries its session's arm; and
    // `ab status` analyses what the plugin recorded.
    assert!(arms_seen.contains(&Arm::Control) && arms_seen.contains(&Arm::Treatment));
    let events = fixloop::store::read_events(&home.feedback_dir()).unwrap();
    assert!(!events.is_empty());
    assert!(events
        .iter()
        .all(|e| e.ab.keys().any(|k| k.as_str() == "targeting_in_plugin")));
    let status = AbStatus::compute(&test, &events, Timestamp::now()).unwrap();
    // Sessions in which no fix was shown leave no event, so `ab status` counts the
    // sessions that recorded one.
    let sessions: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.session_id.as_str()).collect();
    assert_eq!(
        status.srm.control_sessions + status.srm.treatment_sessions,
        sessions.len() as u64
    );
    assert!(sessions.len() >= 8, "{} sessions recorded", sessions.len());
}
