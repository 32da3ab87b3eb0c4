use super::*;
use crate::features::FixType;
use crate::feedback::{Arm, FeedbackEvent, Text, Timestamp, UserAction};
use crate::learn::mergeable::SessionTable;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fixloop-pool-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Events exercising every field: nulls and values, every action, odd text, extreme
/// doubles, several assignments or none.
fn events() -> Vec<FeedbackEvent> {
    (0..300)
        .map(|i| {
            let action = [
                None,
                Some(UserAction::Accept),
                Some(UserAction::Reject),
                Some(UserAction::Undo),
                Some(UserAction::Modify),
            ][i % 5];
            let mut ab = BTreeMap::new();
            if i % 3 != 0 {
                ab.insert(
                    Text::from("t1"),
                    if i % 2 == 0 {
                        Arm::Control
                    } else {
                        Arm::Treatment
                    },
                );
            }
            if i % 4 == 0 {
                ab.insert(Text::from("zz ünïcode"), Arm::Treatment);
            }
            FeedbackEvent {
                event_id: format!("ev-{i}").into(),
                timestamp: Timestamp::from_micros(1_767_225_600_123_456 + i as i64 * 7_777),
                fix_id: format!("fix-{}", i / 3).into(),
                fix_type: FixType::ALL[i % FixType::ALL.len()],
                feature_name: ["bass_level", "loudness", "stereo_width"][i % 3].into(),
                track_path: format!("/home/me/tracks/näme {}.wav", i % 4).into(),
                session_id: format!("s{}", i / 10).into(),
                profile_version: "trance_v1_refined_20261201".into(),
                original_value: -6.1 + i as f64 * 0.1,
                target_value: f64::MIN_POSITIVE * i as f64,
                applied_value: 1e300 / (i + 1) as f64,
                user_action: action,
                was_applied: i % 7 != 0,
                was_undone: action == Some(UserAction::Undo),
                gap_before: 0.1 + 0.2 * i as f64,
                gap_after: (i % 2 == 0).then_some(-0.3 * i as f64),
                improvement_ratio: (i % 3 == 1).then_some(1.0 / 3.0 + i as f64),
                user_modified_value: (action == Some(UserAction::Modify)).then_some(-0.0),
                session_saved_after: i % 2 == 1,
                track_bounced_after: i % 5 == 2,
                notes: (i % 6 == 0).then(|| Text::from(format!("note \"{i}\"\n\ttabbed"))),
                ab,
                session_start_mean_abs_z: (i % 10 != 3).then_some(0.25 * (i / 10) as f64),
            }
        })
        .collect()
}

#[test]
fn every_field_of_every_event_survives_export_and_the_arrow_reader() {
    let d = dir("roundtrip");
    let identity = Identity::random().unwrap();
    let all = events();
    let path = d.join("events.parquet");
    let options = ExportOptions {
        identity: &identity,
        keep_track_paths: true,
    };
    let written = export_events(&path, &all, &options).unwrap();
    assert_eq!(written.events, all.len());
    let back = read_events(&path).unwrap();
    assert_eq!(back.events.len(), all.len());
    for (a, b) in all.iter().zip(&back.events) {
        assert_eq!(a, b);
        // Bit-exact doubles (PartialEq would let -0.0 equal 0.0).
        assert_eq!(
            a.user_modified_value.map(f64::to_bits),
            b.user_modified_value.map(f64::to_bits)
        );
    }
    assert!(back.producer_ids.iter().all(|p| *p == identity.producer_id));
    assert_eq!(back.metadata[SCHEMA_KEY], EVENTS_SCHEMA);
    assert_eq!(back.metadata[TRACK_PATH_KEY], TRACK_PATH_PLAIN);
    assert_eq!(back.metadata[PRODUCER_KEY], identity.producer_id);
    // An empty export is a valid file with no rows.
    export_events(&d.join("empty.parquet"), &[], &options).unwrap();
    assert!(read_events(&d.join("empty.parquet"))
        .unwrap()
        .events
        .is_empty());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn track_paths_are_hashed_by_default_and_nothing_else_changes() {
    let d = dir("hashed");
    let identity = Identity::random().unwrap();
    let all = events();
    let path = d.join("events.parquet");
    export_events(
        &path,
        &all,
        &ExportOptions {
            identity: &identity,
            keep_track_paths: false,
        },
    )
    .unwrap();
    let back = read_events(&path).unwrap();
    assert_eq!(back.metadata[TRACK_PATH_KEY], TRACK_PATH_HASHED);
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        !String::from_utf8_lossy(&bytes).contains("/home/me/tracks"),
        "a plain path is in the file"
    );
    for (a, b) in all.iter().zip(&back.events) {
        assert_eq!(b.track_path, identity.hash_track(&a.track_path));
        let mut b = b.clone();
        b.track_path = a.track_path.clone();
        assert_eq!(*a, b);
    }
    let distinct: std::collections::BTreeSet<_> =
        back.events.iter().map(|e| e.track_path.as_str()).collect();
    assert_eq!(distinct.len(), 4, "one hash per track");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_schema_version_is_checked_and_bad_files_name_what_is_wrong() {
    let d = dir("schema");
    // A Parquet file without fixloop's metadata (the session table is one).
    let other = d.join("sessions.parquet");
    write_sessions(&other, &SessionTable::of(&events())).unwrap();
    let e = read_events(&other).unwrap_err().to_string();
    assert!(
        e.contains("sessions.parquet") && e.contains("fixloop.schema"),
        "{e}"
    );
    // Not Parquet at all.
    let junk = d.join("junk.parquet");
    std::fs::write(&junk, b"PAR1 not really").unwrap();
    let e = read_events(&junk).unwrap_err().to_string();
    assert!(e.contains("junk.parquet") && e.contains("Parquet"), "{e}");
    // An events file read as a session table: the missing column is named.
    let identity = Identity::random().unwrap();
    let ev = d.join("events.parquet");
    export_events(
        &ev,
        &events(),
        &ExportOptions {
            identity: &identity,
            keep_track_paths: false,
        },
    )
    .unwrap();
    let e = read_sessions(&ev).unwrap_err().to_string();
    assert!(
        e.contains("events.parquet") && e.contains("column test_id"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_session_table_round_trips_through_parquet() {
    let d = dir("sessions");
    let table = SessionTable::of(&events());
    assert!(table.rows() > 10);
    let path = d.join("s.parquet");
    write_sessions(&path, &table).unwrap();
    assert_eq!(read_sessions(&path).unwrap(), table);
    // A directory of part files reads as their union.
    let parts = d.join("parts");
    std::fs::create_dir_all(&parts).unwrap();
    let all = events();
    let (a, b) = all.split_at(140);
    write_sessions(&parts.join("part-0.parquet"), &SessionTable::of(a)).unwrap();
    write_sessions(&parts.join("part-1.parquet"), &SessionTable::of(b)).unwrap();
    std::fs::write(parts.join("_SUCCESS"), b"").unwrap();
    assert_eq!(read_sessions(&parts).unwrap(), table);
    let _ = std::fs::remove_dir_all(&d);
}
