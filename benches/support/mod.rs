//! What the learning benchmarks share: 1M synthetic events and a native log written from
//! them through the collector, as a host records them.
#![allow(dead_code)]

use fixloop::features::{Feature, FixType};
use fixloop::feedback::records::FixId;
use fixloop::feedback::{FeedbackEvent, Timestamp, UserAction};
use fixloop::learn::SplitMix64;
use fixloop::profile::{FeatureStats, Profile};
use fixloop::store::{AppliedFix, Collector, SessionInfo, StoreOptions};
use std::collections::BTreeMap;
use std::path::Path;

/// Events the benchmarks use.
pub const EVENTS: usize = 1_000_000;
/// The first event's time (µs since the epoch); events are 2 s apart.
pub const START_US: i64 = 1_790_000_000_000_000;

/// `n` events on every feature and fix type, 20 per session, all under `trance_v1`
/// (the bundled profile's version): 60 % accepted, 20 % rejected, 5 % undone, 5 %
/// modified, 10 % without an action; 70 % with an improvement ratio.
pub fn synthetic_events(n: usize) -> Vec<FeedbackEvent> {
    let mut rng = SplitMix64::new(1);
    let features = Feature::ALL;
    (0..n)
        .map(|i| {
            let feature = features[(rng.next_u64() % features.len() as u64) as usize];
            let fix_type = FixType::ALL[(rng.next_u64() % FixType::ALL.len() as u64) as usize];
            let u = rng.next_f64();
            let (action, undone) = match u {
                u if u < 0.6 => (Some(UserAction::Accept), false),
                u if u < 0.8 => (Some(UserAction::Reject), false),
                u if u < 0.85 => (Some(UserAction::Undo), true),
                u if u < 0.9 => (Some(UserAction::Modify), false),
                _ => (None, false),
            };
            let ratio = (rng.next_f64() < 0.7).then(|| rng.next_f64() * 1.2 - 0.1);
            FeedbackEvent {
                event_id: format!("ev{i:08}").into(),
                timestamp: Timestamp::from_micros(START_US + i as i64 * 2_000_000),
                fix_id: format!("fix{i:08}").into(),
                fix_type,
                feature_name: feature.name().into(),
                track_path: format!("/projects/track{}.als", i / 500).into(),
                session_id: format!("session{}", i / 20).into(),
                profile_version: "trance_v1".into(),
                original_value: -4.0,
                target_value: -6.0,
                applied_value: -6.0,
                user_action: action,
                was_applied: true,
                was_undone: undone,
                gap_before: 2.0,
                gap_after: ratio.map(|r| 2.0 * (1.0 - r)),
                improvement_ratio: ratio,
                user_modified_value: None,
                session_saved_after: i % 3 == 0,
                track_bounced_after: i % 7 == 0,
                notes: None,
                ab: BTreeMap::new(),
                session_start_mean_abs_z: None,
            }
        })
        .collect()
}

/// A profile with every feature (the same 40 samples).
pub fn profile() -> Profile {
    let mut p = Profile::new("bench");
    p.track_count = 40;
    let samples: Vec<f64> = (0..40).map(|i| -10.0 + i as f64 * 0.25).collect();
    for f in Feature::ALL {
        p.features.insert(
            f.name().into(),
            FeatureStats::from_samples(&samples).unwrap(),
        );
    }
    p
}

/// Writes `events` through a collector into the log directory `dir` (replaced), as a
/// host would record them, stopping once `max_records` records are written.
/// Returns (records, events) written.
pub fn write_native_log(dir: &Path, events: &[FeedbackEvent], max_records: u64) -> (u64, u64) {
    let _ = std::fs::remove_dir_all(dir);
    let opts = StoreOptions {
        queue_capacity: 1 << 16,
        ..StoreOptions::default()
    };
    let col = Collector::open(dir, &opts).unwrap();
    let retry = |push: &dyn Fn() -> bool| {
        while !push() {
            std::thread::yield_now();
        }
    };
    let (mut records, mut written) = (0u64, 0u64);
    let mut session: Option<&str> = None;
    for e in events {
        if records >= max_records {
            break;
        }
        if session != Some(e.session_id.as_str()) {
            if session.is_some() {
                retry(&|| col.session_saved().is_ok());
                records += 1;
            }
            col.start_session(&SessionInfo {
                track_path: e.track_path.to_string(),
                session_id: e.session_id.to_string(),
                profile_version: e.profile_version.to_string(),
                ab: Default::default(),
                start_mean_abs_z: None,
            })
            .unwrap();
            session = Some(e.session_id.as_str());
            records += 1;
        }
        let fix = AppliedFix {
            fix_id: FixId::new(&e.fix_id).unwrap(),
            feature: Feature::from_name(&e.feature_name).unwrap(),
            fix_type: e.fix_type,
            original_value: e.original_value,
            target_value: e.target_value,
            applied_value: e.applied_value,
            gap_before: e.gap_before,
            was_applied: e.was_applied,
        };
        let mut id = None;
        while id.is_none() {
            id = col.fix_applied(&fix).ok();
        }
        let id = id.unwrap();
        records += 1;
        written += 1;
        if let Some(action) = e.user_action {
            retry(&|| col.user_action(id, action, e.user_modified_value).is_ok());
            records += 1;
        }
        if let Some(gap_after) = e.gap_after {
            retry(&|| col.outcome(id, gap_after).is_ok());
            records += 1;
        }
    }
    retry(&|| col.session_saved().is_ok());
    col.close().unwrap();
    (records + 1, written)
}
