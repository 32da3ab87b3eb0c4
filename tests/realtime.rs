//! The analyser's real-time promise: after `Analyser::new`, feeding audio (and reading
//! features, and resetting) allocates nothing.
//!
//! `assert_no_alloc`'s checker is the global allocator of this test binary only, in warn
//! mode: every allocation inside `assert_no_alloc(..)` on this thread is counted. A control
//! test proves the checker fires.

mod common;

use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count, AllocDisabler};
use common::*;
use fixloop::features::{Analyser, Feature};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

#[test]
fn control_the_checker_catches_an_allocation() {
    reset_violation_count();
    let v = assert_no_alloc(|| vec![1u8; 64]);
    assert_eq!(v.len(), 64);
    assert!(
        violation_count() > 0,
        "the allocation checker is not active"
    );
}

#[test]
fn processing_allocates_nothing() {
    let (l, r) = {
        let mut rng = Rng::new(1);
        let n = RATE as usize * 3;
        (noise(&mut rng, n, 0.1), noise(&mut rng, n, 0.1))
    };
    let inter = interleave(&l, &r);
    let mut stereo = Analyser::new(RATE, 2, 512).unwrap();
    let mut mono = Analyser::new(RATE, 1, 512).unwrap();
    reset_violation_count();
    assert_no_alloc(|| {
        // Several block sizes, longer-than-max blocks, every entry point, across FFT frames,
        // 10 ms blocks and 1 s modulation windows.
        for block in [1, 64, 512, 2000] {
            let frames = RATE as usize / 2;
            for (cl, cr) in l[..frames].chunks(block).zip(r[..frames].chunks(block)) {
                stereo.process(cl, cr);
            }
        }
        for chunk in inter.chunks(2 * 480) {
            stereo.process_interleaved(chunk);
        }
        for chunk in l.chunks(333) {
            mono.process_mono(chunk);
            mono.process_interleaved(chunk);
        }
        let f = stereo.features();
        let g = mono.features();
        stereo.reset();
        (f, g)
    });
    assert_eq!(violation_count(), 0, "the analyser allocated");
    assert!(stereo.frames() == 0);
    assert!(mono.features().value(Feature::ModulationDepth).is_some());
}

#[test]
fn the_analyser_can_move_to_another_thread() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Analyser>();
    let mut a = Analyser::new(RATE, 2, 64).unwrap();
    let h = std::thread::spawn(move || {
        a.process(&[0.5; 64], &[0.5; 64]);
        a.frames()
    });
    assert_eq!(h.join().unwrap(), 64);
}

#[test]
fn pushing_into_a_live_analysis_allocates_nothing() {
    use fixloop::ffi::{fixloop_live_push_interleaved, fixloop_live_push_planar, fixloop_status};
    let (l, r) = {
        let mut rng = Rng::new(2);
        let n = RATE as usize;
        (noise(&mut rng, n, 0.1), noise(&mut rng, n, 0.1))
    };
    let inter = interleave(&l, &r);
    // Through the library and through the C ABI (a ring too small for everything, so the
    // dropping path runs too).
    let (mut feed, mut analyser) = fixloop::features::live(RATE, RATE as usize).unwrap();
    let (mut feed_c, mut analyser_c) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: valid out-pointers.
    let s = unsafe { fixloop::ffi::fixloop_live_new(RATE, 3000, &mut feed_c, &mut analyser_c) };
    assert_eq!(s, fixloop_status::FIXLOOP_OK);
    let mut accepted = 0usize;
    reset_violation_count();
    let statuses = assert_no_alloc(|| {
        let mut ok = true;
        for (cl, cr) in l.chunks(64).zip(r.chunks(64)) {
            feed.push(cl, cr);
            // SAFETY: a live feed, `cl.len()` samples in each channel.
            ok &= unsafe {
                fixloop_live_push_planar(feed_c, cl.as_ptr(), cr.as_ptr(), cl.len(), &mut accepted)
            } == fixloop_status::FIXLOOP_OK;
        }
        for chunk in inter.chunks(2 * 480) {
            feed.push_interleaved(chunk, 2);
            // SAFETY: a live feed, chunk.len() / 2 stereo frames.
            ok &= unsafe {
                fixloop_live_push_interleaved(
                    feed_c,
                    chunk.as_ptr(),
                    chunk.len() / 2,
                    2,
                    &mut accepted,
                )
            } == fixloop_status::FIXLOOP_OK;
        }
        feed.push_mono(&l[..100]);
        ok
    });
    assert!(statuses);
    assert_eq!(
        violation_count(),
        0,
        "pushing into a live analysis allocated"
    );
    assert_eq!(analyser.pump(), RATE as u64);
    assert_eq!(feed.dropped(), RATE as u64 + 100);
    // SAFETY: handles from fixloop_live_new, released once.
    unsafe {
        let mut frames = 0u64;
        let mut dropped = 0u64;
        fixloop::ffi::fixloop_live_pump(analyser_c, &mut frames);
        fixloop::ffi::fixloop_live_dropped(analyser_c, std::ptr::null_mut(), &mut dropped);
        assert_eq!(frames, 3000);
        assert_eq!(dropped, 2 * RATE as u64 - 3000);
        fixloop::ffi::fixloop_live_feed_free(feed_c);
        fixloop::ffi::fixloop_live_analyser_free(analyser_c);
    }
}
