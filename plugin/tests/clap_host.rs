//! Loads the plugin's CLAP binary in a `clack-host` host and drives it as a DAW would:
//! instantiate, save state before activation (as hosts do at instantiation), activate at
//! 44.1 and 48 kHz with several block sizes (zero included), process synthetic audio, save
//! and restore state, switch to offline rendering through the CLAP render extension
//! (deactivate → `render.set(offline)` → activate), deactivate. Then the feedback store
//! under `FIXLOOP_HOME` holds one session start, one state save (none for the saves before
//! activation), one host-reported bounce and one mark per deactivation, nothing dropped,
//! and the output equals the input bit for bit, since no fix is applied.
//!
//! The CLAP "bundle" on Linux is the cdylib itself with a `.clap` name; the test builds
//! `libfixloop_plugin.so` with `cargo build`, copies it to `fixloop.clap` and loads that. Debug builds of the plugin enable nice-plug's `assert_process_allocs`, so an
//! allocation in `process()` would abort this test.

use clack_extensions::render::RenderMode;
use fixloop::feedback::records::{BounceEvidence as StoreBounce, Record};
use support::clap::{load, run, save};
use support::plugin_library;

mod support;

#[test]
fn clap_host_lifecycle_records_session_save_and_bounce() {
    let home = tempfile::tempdir().unwrap();
    // Read by the plugin's feedback sink when it opens the store (first activation).
    std::env::set_var("FIXLOOP_HOME", home.path());
    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = bundle_dir.path().join("fixloop.clap");
    std::fs::copy(plugin_library(), &bundle).unwrap();

    let (entry, mut instance) = load(&bundle);

    // Hosts serialise at instantiation; these are not saves.
    let early = save(&mut instance);
    save(&mut instance);

    // State load before activation.
    {
        let state = instance
            .access_shared_handler(|h| h.state.get().copied().flatten())
            .unwrap();
        state
            .load(&instance.plugin_handle(), &mut early.as_slice())
            .unwrap();
    }

    let stopped = run(&mut instance, 44_100.0, &[64, 1, 511, 0, 1024, 256], 1);
    instance.deactivate(stopped);
    let stopped = run(&mut instance, 48_000.0, &[128, 1024, 0, 4096, 7], 100);

    // A save while active, then a restore of it (not a save).
    let saved = save(&mut instance);
    {
        let state = instance
            .access_shared_handler(|h| h.state.get().copied().flatten())
            .unwrap();
        state
            .load(&instance.plugin_handle(), &mut saved.as_slice())
            .unwrap();
    }
    instance.deactivate(stopped);
    // Re-activation without processing, and a reset cycle.
    let stopped = run(&mut instance, 48_000.0, &[0], 200);
    instance.deactivate(stopped);

    // Offline render through the render extension: deactivated, switch, re-activate.
    let render = instance
        .access_shared_handler(|h| h.render.get().copied().flatten())
        .expect("the plugin has the render extension");
    render
        .set(&instance.plugin_handle(), RenderMode::Offline)
        .unwrap();
    let stopped = run(&mut instance, 48_000.0, &[512, 512, 1024, 333], 300);
    instance.deactivate(stopped);
    render
        .set(&instance.plugin_handle(), RenderMode::Realtime)
        .unwrap();
    drop(instance);
    drop(entry);

    let log = fixloop::store::read_log(&home.path().join("feedback")).unwrap();
    let records: Vec<&Record> = log.entries.iter().map(|e| &e.record).collect();
    // Nothing damaged, and the writer sealed its segment when the instance went away.
    assert!(log.report.is_clean(), "{}", log.report);
    assert!(!log.report.segments.is_empty());
    assert!(
        log.report.segments.iter().all(|s| s.sealed),
        "{}",
        log.report
    );

    let starts: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::SessionStart(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 1, "{records:#?}");
    assert!(matches!(records.first(), Some(Record::SessionStart(_))));
    assert!(
        starts[0].session_id.starts_with("clap-"),
        "{}",
        starts[0].session_id
    );
    assert_eq!(starts[0].track_path, "unknown");
    assert_eq!(starts[0].profile_version, "trance_v1");
    let saves = records
        .iter()
        .filter(|r| matches!(r, Record::SessionSaved(_)))
        .count();
    assert_eq!(saves, 1, "{records:#?}");
    let bounces: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::TrackBounced(b) => Some(b.evidence),
            _ => None,
        })
        .collect();
    assert_eq!(bounces, vec![StoreBounce::Host], "{records:#?}");
    let deactivations = records
        .iter()
        .filter(|r| matches!(r, Record::Deactivated(_)))
        .count();
    // Of the four deactivations, the first came before the session's first record (the
    // save) and the last ended the render, inside its bounce's burst: neither is written.
    assert_eq!(deactivations, 2, "{records:#?}");
    // Every record of the plugin's collector belongs to its one session.
    assert!(records.iter().all(|r| match r {
        Record::SessionSaved(m) | Record::Deactivated(m) => m.session == 1,
        Record::TrackBounced(b) => b.session == 1,
        _ => true,
    }));
    // Accounting: the plugin pushed exactly these 5 records (session start, save, bounce,
    // 2 deactivations; no fix was touched). All 5 are in the log, the writer's seal counts
    // the same 5, and no `dropped` record says any was lost (pushed = durable + dropped).
    let collected = records.iter().filter(|r| r.is_collected()).count();
    assert_eq!(collected, 5, "{records:#?}");
    assert!(
        records
            .iter()
            .any(|r| matches!(r, Record::SegmentEnd(e) if e.records == 5)),
        "{records:#?}"
    );
    assert!(!records.iter().any(|r| matches!(r, Record::Dropped(_))));
    let collectors: std::collections::HashSet<u64> = log
        .entries
        .iter()
        .filter(|e| e.record.is_collected())
        .map(|e| e.collector)
        .collect();
    assert_eq!(collectors.len(), 1);
}
