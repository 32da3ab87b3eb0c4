//! The C ABI's record functions, called from a separate thread (as an audio thread would)
//! under an allocation checker: no allocation on any path, including a full queue, NULL
//! arguments, invalid enums and NaN. `assert_no_alloc` is this test binary's global
//! allocator only; its `warn_*` features count violations per thread.

use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count, AllocDisabler};
use fixloop::ffi::fixloop_status::*;
use fixloop::ffi::*;
use std::ffi::CString;
use std::ptr::{null, null_mut};

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

struct SendPtr(*mut fixloop_collector);
// SAFETY: the collector handle is documented as usable from several threads at once.
unsafe impl Send for SendPtr {}

fn open(dir: &std::path::Path) -> *mut fixloop_collector {
    let dir = CString::new(dir.to_str().unwrap()).unwrap();
    let mut c = null_mut();
    // SAFETY: valid string and out-pointer.
    assert_eq!(
        unsafe { fixloop_collector_open(dir.as_ptr(), &mut c) },
        FIXLOOP_OK
    );
    c
}

#[test]
fn control_the_checker_catches_an_allocation() {
    let count = std::thread::spawn(|| {
        reset_violation_count();
        assert_no_alloc(|| {
            std::hint::black_box(String::from("allocates"));
        });
        violation_count()
    })
    .join()
    .unwrap();
    assert!(
        count >= 1,
        "the checker missed an allocation; the other test would prove nothing"
    );
}

#[test]
fn record_functions_never_allocate_on_an_audio_thread() {
    let dir = std::env::temp_dir().join(format!("fixloop-c-rt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let collector = open(&dir);
    let fix_id = CString::new("bass_level.eq_band_cut.0001").unwrap();
    let fix = fixloop_fix {
        fix_id: fix_id.as_ptr(),
        action_type: 1,
        gap_feature: 5,
        current_value: -1.9,
        target_value: -2.5,
        new_value: -2.5,
        confidence: 0.6,
        z_score: 1.6,
        setting_kind: 1,
        setting_value: -1.5,
        band_low_hz: 60.0,
        band_high_hz: 250.0,
        pivot_hz: 0.0,
    };
    struct SendFix(fixloop_fix);
    // SAFETY: the fix_id pointer outlives the thread (joined below) and is only read.
    unsafe impl Send for SendFix {}
    let (handle, sent) = (SendPtr(collector), SendFix(fix));
    let (violations, statuses) = std::thread::spawn(move || {
        let (handle, sent) = (handle, sent); // capture the wrappers whole, not their fields
        let (c, fix) = (handle.0, sent.0);
        let mut statuses = Vec::with_capacity(16); // allocated before the checked region
        reset_violation_count();
        assert_no_alloc(|| {
            // SAFETY: live handle and valid pointers, or deliberately NULL.
            unsafe {
                for _ in 0..200 {
                    let mut event = fixloop_event_id::default();
                    if fixloop_collector_fix_applied(c, &fix, &mut event) == FIXLOOP_OK {
                        let _ = fixloop_collector_user_action(c, event, 3, -2.2);
                        let _ = fixloop_collector_outcome(c, event, 0.4);
                    }
                    let _ = fixloop_collector_session_saved(c);
                    let _ = fixloop_collector_track_bounced(c);
                }
                let mut event = fixloop_event_id::default();
                let bad_statuses = [
                    fixloop_collector_fix_applied(null(), &fix, &mut event),
                    fixloop_collector_fix_applied(c, null(), &mut event),
                    fixloop_collector_user_action(c, event, 9, 0.0),
                    fixloop_collector_outcome(c, event, f64::NAN),
                    fixloop_collector_session_saved(null()),
                ];
                for s in bad_statuses {
                    if statuses.len() < statuses.capacity() {
                        statuses.push(s);
                    }
                }
            }
        });
        (violation_count(), statuses)
    })
    .join()
    .unwrap();
    assert_eq!(violations, 0, "a record function allocated");
    assert_eq!(
        statuses,
        [
            FIXLOOP_ERR_NULL_ARGUMENT,
            FIXLOOP_ERR_NULL_ARGUMENT,
            FIXLOOP_ERR_INVALID_ENUM,
            FIXLOOP_ERR_INVALID_ARGUMENT,
            FIXLOOP_ERR_NULL_ARGUMENT
        ]
    );
    // Off the audio thread: flush, and every record pushed is durable or counted dropped.
    // SAFETY: live handle; valid out-pointer.
    unsafe {
        assert_eq!(fixloop_collector_flush(collector), FIXLOOP_OK);
        let mut stats = fixloop_collector_stats::default();
        assert_eq!(
            fixloop_collector_get_stats(collector, &mut stats),
            FIXLOOP_OK
        );
        assert_eq!(stats.pushed, stats.durable + stats.dropped, "{stats:?}");
        assert!(stats.durable > 0);
        assert_eq!(fixloop_collector_close(collector), FIXLOOP_OK);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
