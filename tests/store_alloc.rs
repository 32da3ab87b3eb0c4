//! The real-time push path under an allocation checker.
//!
//! `assert_no_alloc` is registered as the global allocator of this test binary only
//! (never in the library). Its `warn_*` features count violations per thread instead of
//! aborting, so each test asserts the count.

mod common;

use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count, AllocDisabler};
use common::{fix, TempDir};
use fixloop::feedback::records::{BounceEvidence, FixId};
use fixloop::feedback::UserAction;
use fixloop::store::{Collector, PushError, StoreOptions};
use std::time::Duration;

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

#[test]
fn control_the_checker_catches_an_allocation() {
    reset_violation_count();
    assert_no_alloc(|| {
        let v = std::hint::black_box(vec![1u8; 64]);
        std::hint::black_box(&v);
    });
    assert!(
        violation_count() >= 1,
        "the checker missed a Vec allocation, so the other tests would prove nothing"
    );
}

#[test]
fn every_real_time_record_function_is_allocation_free() {
    let dir = TempDir::new("alloc");
    let c = Collector::open(dir.path(), &StoreOptions::default()).unwrap();
    let f = fix("fix_bass_level_001", 1);
    reset_violation_count();
    let mut accepted = 0;
    assert_no_alloc(|| {
        for _ in 0..100 {
            let id = FixId::new("fix_bass_level_001").unwrap();
            let mut g = f;
            g.fix_id = id;
            if let Ok(event) = c.fix_applied(&g) {
                accepted += 1;
                let _ = c.user_action(event, UserAction::Modify, Some(-5.0));
                let _ = c.outcome(event, 0.25);
            }
            let _ = c.session_saved();
            let _ = c.track_bounced(BounceEvidence::Likely {
                realtime_factor: 8.0,
                audio_ms: 1000,
            });
            let _ = c.deactivated();
            let _ = c.session();
        }
    });
    assert_eq!(violation_count(), 0, "the push path allocated");
    assert!(accepted > 0);
    c.close().unwrap();
}

#[test]
fn full_queue_path_is_allocation_free_and_counts_drops() {
    let dir = TempDir::new("alloc-full");
    // An idle writer that sleeps for an hour between polls leaves the queue full.
    let opts = StoreOptions {
        queue_capacity: 4,
        poll_interval: Duration::from_secs(3600),
        ..StoreOptions::default()
    };
    let c = Collector::open(dir.path(), &opts).unwrap();
    let f = fix("full", 0);
    reset_violation_count();
    let mut full = 0u64;
    assert_no_alloc(|| {
        for _ in 0..1000 {
            if c.fix_applied(&f) == Err(PushError::Full) {
                full += 1;
            }
            if c.outcome(
                fixloop::feedback::records::EventId {
                    collector: 1,
                    serial: 1,
                },
                0.0,
            ) == Err(PushError::Full)
            {
                full += 1;
            }
        }
    });
    assert_eq!(violation_count(), 0, "the full-queue path allocated");
    assert!(
        full > 0,
        "the queue never filled, so the full path was not exercised"
    );
    // `pushed` may lag by one while the writer is taking a record; exact once flushed.
    c.flush().unwrap();
    let stats = c.stats();
    assert_eq!(stats.dropped, full);
    assert_eq!(stats.pushed, 2000);
    c.close().unwrap();
}

#[test]
fn non_finite_values_are_refused_without_allocating() {
    let dir = TempDir::new("alloc-nan");
    let c = Collector::open(dir.path(), &StoreOptions::default()).unwrap();
    let mut f = fix("nan", 0);
    f.gap_before = f64::NAN;
    reset_violation_count();
    let r = assert_no_alloc(|| c.fix_applied(&f));
    assert_eq!(violation_count(), 0);
    assert_eq!(r, Err(PushError::NonFinite));
    assert_eq!(c.stats().pushed, 0);
}
