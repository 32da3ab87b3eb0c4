//! Audio analysis through the C ABI: a live analysis fed from the host's audio thread,
//! the analysis of an audio file, and the analysed track they give (features and spectrum),
//! from which fixes are proposed the way `fixloop analyze` proposes them.

use super::fixes::{
    features_out, fixloop_feature_value, fixloop_fix_list, fixloop_policy, policy_arg,
};
use super::profile::fixloop_profile;
use super::*;
use crate::analysis::TrackAnalysis;
use crate::features::{FeatureVector, LiveAnalyser, LiveFeed, SpectrumProfile};
use std::ffi::c_void;

/// The audio thread's end of a live analysis: push frames into it. Created with
/// [`fixloop_live_new`], released with [`fixloop_live_feed_free`]. One thread at a time
/// (the audio thread); it may move between threads.
pub struct fixloop_live_feed {
    inner: LiveFeed,
}

/// The analysing end of a live analysis: drain what the feed pushed and read the features.
/// Created with [`fixloop_live_new`], released with [`fixloop_live_analyser_free`]. One
/// thread at a time (a background thread or a timer, never the audio thread).
pub struct fixloop_live_analyser {
    inner: LiveAnalyser,
}

/// An analysed track: its features and its long-term spectrum, from
/// [`fixloop_analyze_file`] or [`fixloop_live_track`]; released with
/// [`fixloop_track_free`]. Immutable: any number of threads may read it.
pub struct fixloop_track {
    features: FeatureVector,
    spectrum: Option<SpectrumProfile>,
    seconds: f64,
}

/// Creates a live analysis of stereo audio at `sample_rate_hz` (8 000–768 000) whose ring
/// holds `capacity_frames` frames (1 to 4 194 304; a second or two of audio gives the
/// analysing thread room to be late). Writes the audio thread's end to `*out_feed` and the
/// analysing end to `*out_analyser`; the caller owns both and releases each with its
/// `_free` (in either order).
///
/// Allocates (about 0.5 MB and 8 bytes per frame of ring): call it off the audio thread.
#[no_mangle]
pub unsafe extern "C" fn fixloop_live_new(
    sample_rate_hz: u32,
    capacity_frames: usize,
    out_feed: *mut *mut fixloop_live_feed,
    out_analyser: *mut *mut fixloop_live_analyser,
) -> fixloop_status {
    boundary(|| {
        let out_feed = out_ptr(out_feed, "out_feed")?;
        let out_analyser = out_ptr(out_analyser, "out_analyser")?;
        let (feed, analyser) = crate::features::live(sample_rate_hz, capacity_frames)?;
        // SAFETY: both checked non-NULL above.
        unsafe {
            out_feed.write(Box::into_raw(Box::new(fixloop_live_feed { inner: feed })));
            out_analyser.write(Box::into_raw(Box::new(fixloop_live_analyser {
                inner: analyser,
            })));
        }
        Ok(())
    })
}

/// Pushes `frames` stereo frames from two channel buffers. Writes how many the ring took
/// to `*out_accepted` (may be NULL); frames it could not take are counted as dropped
/// ([`fixloop_live_dropped`]), never waited for. Non-finite samples are analysed as 0.
///
/// **Real-time safe**: no allocation, lock, system call or wait when the arguments are
/// valid (checked by the allocation test in `tests/realtime.rs`). A NULL `feed`, or a NULL
/// channel with `frames` > 0, returns `FIXLOOP_ERR_NULL_ARGUMENT`, and keeping its message
/// allocates: a programming error, not a path to take on the audio thread.
#[no_mangle]
pub unsafe extern "C" fn fixloop_live_push_planar(
    feed: *mut fixloop_live_feed,
    left: *const f32,
    right: *const f32,
    frames: usize,
    out_accepted: *mut usize,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live feed used by this thread only, per the contract.
        let feed = unsafe { feed.as_mut() }.ok_or_else(|| Failure::null("feed"))?;
        // SAFETY: the caller guarantees `frames` readable samples in each channel.
        let left = unsafe { arg_slice(left, frames, "left") }?;
        // SAFETY: as above.
        let right = unsafe { arg_slice(right, frames, "right") }?;
        let n = feed.inner.push(left, right);
        // SAFETY: NULL or writable per the contract.
        unsafe { write_optional(out_accepted, n) };
        Ok(())
    })
}

/// Pushes `frames` frames of `channels` interleaved channels (`frames × channels`
/// samples): one channel is analysed as centred stereo, two as stereo, more by their first
/// two. As [`fixloop_live_push_planar`] (real-time safe with valid arguments); `channels`
/// 0 is `FIXLOOP_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn fixloop_live_push_interleaved(
    feed: *mut fixloop_live_feed,
    samples: *const f32,
    frames: usize,
    channels: u32,
    out_accepted: *mut usize,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live feed used by this thread only, per the contract.
        let feed = unsafe { feed.as_mut() }.ok_or_else(|| Failure::null("feed"))?;
        if channels == 0 {
            return Err(Failure::new(
                FIXLOOP_ERR_INVALID_ARGUMENT,
                "argument channels is 0",
            ));
        }
        let len = frames.checked_mul(channels as usize).ok_or_else(|| {
            Failure::new(FIXLOOP_ERR_INVALID_ARGUMENT, "frames × channels overflows")
        })?;
        // SAFETY: the caller guarantees frames × channels readable samples.
        let samples = unsafe { arg_slice(samples, len, "samples") }?;
        let n = feed.inner.push_interleaved(samples, channels as usize);
        // SAFETY: NULL or writable per the contract.
        unsafe { write_optional(out_accepted, n) };
        Ok(())
    })
}

/// Releases the audio thread's end of a live analysis. NULL is ignored; releasing twice is
/// undefined. Not real-time safe (it frees memory): release it when audio has stopped.
#[no_mangle]
pub unsafe extern "C" fn fixloop_live_feed_free(feed: *mut fixloop_live_feed) {
    // SAFETY: NULL or from Box::into_raw in fixloop_live_new, per the contract.
    unsafe { free_box(feed) }
}

/// Analyses every frame waiting in the ring; writes how many to `*out_frames` (may be
/// NULL). Not real-time safe: call it from a background thread or a timer, often enough
/// that the ring does not fill (the analysis costs about a millisecond per second of
/// audio).
#[no_mangle]
pub unsafe extern "C" fn fixloop_live_pump(
    analyser: *mut fixloop_live_analyser,
    out_frames: *mut u64,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live analyser used by this thread only, per the contract.
        let a = unsafe { analyser.as_mut() }.ok_or_else(|| Failure::null("analyser"))?;
        let n = a.inner.pump();
        // SAFETY: NULL or writable per the contract.
        unsafe { write_optional(out_frames, n) };
        Ok(())
    })
}

/// Writes the frames analysed so far to `*out_frames` and the frames the feed dropped
/// because the ring was full to `*out_dropped` (either may be NULL).
#[no_mangle]
pub unsafe extern "C" fn fixloop_live_dropped(
    analyser: *const fixloop_live_analyser,
    out_frames: *mut u64,
    out_dropped: *mut u64,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live analyser, per the contract.
        let a = unsafe { arg_ref(analyser, "analyser") }?;
        // SAFETY: NULL or writable per the contract.
        unsafe { write_optional(out_frames, a.inner.frames()) };
        // SAFETY: NULL or writable per the contract.
        unsafe { write_optional(out_dropped, a.inner.dropped()) };
        Ok(())
    })
}

/// Starts the live analysis over: frames waiting in the ring are discarded, the analysis
/// cleared (a new song, a new take). Not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_live_reset(
    analyser: *mut fixloop_live_analyser,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live analyser used by this thread only, per the contract.
        let a = unsafe { analyser.as_mut() }.ok_or_else(|| Failure::null("analyser"))?;
        a.inner.reset();
        Ok(())
    })
}

/// Takes what the live analysis has measured so far (features and spectrum of every frame
/// pumped) as a track into `*out`, which the caller owns and releases with
/// [`fixloop_track_free`]. Does not pump first.
#[no_mangle]
pub unsafe extern "C" fn fixloop_live_track(
    analyser: *const fixloop_live_analyser,
    out: *mut *mut fixloop_track,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or a live analyser, per the contract.
        let a = unsafe { arg_ref(analyser, "analyser") }?;
        let track = fixloop_track {
            features: a.inner.features(),
            spectrum: a.inner.spectrum_profile(),
            seconds: a.inner.frames() as f64 / f64::from(a.inner.sample_rate_hz()),
        };
        // SAFETY: checked non-NULL above.
        unsafe { out.write(Box::into_raw(Box::new(track))) };
        Ok(())
    })
}

/// Releases the analysing end of a live analysis. NULL is ignored; releasing twice is
/// undefined.
#[no_mangle]
pub unsafe extern "C" fn fixloop_live_analyser_free(analyser: *mut fixloop_live_analyser) {
    // SAFETY: NULL or from Box::into_raw in fixloop_live_new, per the contract.
    unsafe { free_box(analyser) }
}

/// Decodes and analyses the audio file at `path` (WAV, FLAC, MP3, Ogg Vorbis, AIFF) into
/// `*out`, which the caller owns and releases with [`fixloop_track_free`]. A file that
/// cannot be read is `FIXLOOP_ERR_IO`; one that cannot be decoded or is too short
/// `FIXLOOP_ERR_AUDIO` or `FIXLOOP_ERR_UNSUPPORTED`, with the file named in
/// [`fixloop_last_error`]. A library built without the `decode` feature returns
/// `FIXLOOP_ERR_UNSUPPORTED`.
///
/// Any thread; not real-time safe (it reads and decodes the whole file).
#[no_mangle]
pub unsafe extern "C" fn fixloop_analyze_file(
    path: *const c_char,
    out: *mut *mut fixloop_track,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or a NUL-terminated string, per the contract.
        let path = unsafe { arg_str(path, "path") }?;
        let track = analyze_file(path)?;
        // SAFETY: checked non-NULL above.
        unsafe { out.write(Box::into_raw(Box::new(track))) };
        Ok(())
    })
}

#[cfg(feature = "decode")]
fn analyze_file(path: &str) -> FfiResult<fixloop_track> {
    let a = crate::features::analyze_file(std::path::Path::new(path))?;
    Ok(fixloop_track {
        seconds: a.info.seconds(),
        features: a.features,
        spectrum: a.spectrum,
    })
}

#[cfg(not(feature = "decode"))]
fn analyze_file(path: &str) -> FfiResult<fixloop_track> {
    Err(Failure::new(
        FIXLOOP_ERR_UNSUPPORTED,
        format!("cannot analyse {path}: this fixloop library was built without the decode feature"),
    ))
}

/// Writes the track's measured features (those present; an absent one, such as the
/// loudness range of a clip under 3 s, is left out) into `values`, which holds
/// `values_cap` entries, in catalogue order, and their number to `*out_count`. A buffer of
/// `FIXLOOP_FEATURE_COUNT` always suffices; a smaller one that cannot hold them all gives
/// `FIXLOOP_ERR_BUFFER_TOO_SMALL` and writes nothing but the count. The values feed
/// [`fixloop_score_track`](super::fixloop_score_track) and the collector.
#[no_mangle]
pub unsafe extern "C" fn fixloop_track_features(
    track: *const fixloop_track,
    values: *mut fixloop_feature_value,
    values_cap: usize,
    out_count: *mut usize,
) -> fixloop_status {
    boundary(|| {
        // SAFETY: NULL or a live track, per the contract.
        let track = unsafe { arg_ref(track, "track") }?;
        // SAFETY: NULL or `values_cap` writable entries, per the contract.
        unsafe { features_out(&track.features, values, values_cap, out_count) }
    })
}

/// Writes the duration of the audio the track was measured on, in seconds, to `*out`.
#[no_mangle]
pub unsafe extern "C" fn fixloop_track_seconds(
    track: *const fixloop_track,
    out: *mut f64,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or a live track, per the contract.
        let track = unsafe { arg_ref(track, "track") }?;
        // SAFETY: checked non-NULL above.
        unsafe { out.write(track.seconds) };
        Ok(())
    })
}

/// Proposes fixes for an analysed track against `profile` under `policy` (NULL = the
/// default policy) into `*out`: the fixes `fixloop analyze` proposes for the same audio,
/// profile version and policy (the joint plan predicts side effects from the track's
/// spectrum). The caller owns `*out` and releases it with
/// [`fixloop_fix_list_free`](super::fixloop_fix_list_free).
///
/// Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_track_propose_fixes(
    profile: *const fixloop_profile,
    track: *const fixloop_track,
    policy: *const fixloop_policy,
    out: *mut *mut fixloop_fix_list,
) -> fixloop_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: NULL or live handles, per the contract.
        let profile = unsafe { arg_ref(profile, "profile") }?;
        // SAFETY: as above.
        let track = unsafe { arg_ref(track, "track") }?;
        // SAFETY: NULL or a valid policy struct.
        let policy = policy_arg(unsafe { policy.as_ref() })?;
        let analysis = TrackAnalysis::with_spectrum(
            "track",
            track.features,
            track.spectrum.clone(),
            Some(&profile.inner),
            &policy,
        )?;
        let fixes = analysis.compared.map(|c| c.fixes).unwrap_or_default();
        let list = Box::into_raw(Box::new(fixloop_fix_list::from_fixes(fixes)));
        // SAFETY: checked non-NULL above.
        unsafe { out.write(list) };
        Ok(())
    })
}

/// Releases a track. NULL is ignored; releasing twice is undefined.
#[no_mangle]
pub unsafe extern "C" fn fixloop_track_free(track: *mut fixloop_track) {
    // SAFETY: NULL or from Box::into_raw in this module, per the contract.
    unsafe { free_box(track) }
}

/// Called as each file of [`fixloop_profile_build`] is finished: `done` of `total` files,
/// the file's path (NUL-terminated UTF-8, valid during the call) and whether it was
/// analysed (false: it failed and is left out of the profile). `user_data` is the pointer
/// given to [`fixloop_profile_build`].
pub type fixloop_build_progress = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        done: usize,
        total: usize,
        path: *const c_char,
        ok: bool,
    ),
>;

/// The user data of a progress callback, sent to the analysing threads. The callback is
/// called one call at a time (under a lock), as its documentation promises.
#[cfg_attr(not(feature = "decode"), allow(dead_code))]
struct ProgressSink {
    callback: unsafe extern "C" fn(*mut c_void, usize, usize, *const c_char, bool),
    user_data: *mut c_void,
}

// SAFETY: the caller of fixloop_profile_build promises the callback may be called from
// fixloop's threads with its user data; calls are serialised by the Mutex around the sink.
unsafe impl Send for ProgressSink {}

/// Builds a profile named `name` from the audio files in the folder `dir` (WAV, FLAC, MP3,
/// Ogg Vorbis, AIFF; not recursive), analysing them in parallel, into `*out_profile`
/// (released with [`fixloop_profile_free`](super::fixloop_profile_free)). `progress` (may
/// be NULL) is called once per file, from fixloop's worker threads but never two calls at
/// once. When `out_report_json` is not NULL it receives `{"tracks": N, "failed":
/// [{"path", "error"}…], "repaired": [{"path", "non_finite_samples"}…], "unfinalised":
/// [path…]}` (WAV files whose header sizes were never finalised, read to their end; released with
/// [`fixloop_string_free`]): files that fail are left out and listed; the build fails only
/// when no file can be analysed (`FIXLOOP_ERR_AUDIO`, the first failure named) or the
/// folder cannot be read (`FIXLOOP_ERR_IO`). Without the `decode` feature:
/// `FIXLOOP_ERR_UNSUPPORTED`.
///
/// Blocks until every file is analysed. Any thread; not real-time safe.
#[no_mangle]
pub unsafe extern "C" fn fixloop_profile_build(
    dir: *const c_char,
    name: *const c_char,
    progress: fixloop_build_progress,
    user_data: *mut c_void,
    out_profile: *mut *mut fixloop_profile,
    out_report_json: *mut *mut c_char,
) -> fixloop_status {
    boundary(|| {
        let out_profile = out_ptr(out_profile, "out_profile")?;
        // SAFETY: NULL or NUL-terminated strings, per the contract.
        let dir = unsafe { arg_str(dir, "dir") }?;
        // SAFETY: as above.
        let name = unsafe { arg_str(name, "name") }?;
        if name.trim().is_empty() {
            return Err(Failure::new(
                FIXLOOP_ERR_INVALID_ARGUMENT,
                "argument name is empty",
            ));
        }
        let sink = progress.map(|callback| {
            std::sync::Mutex::new(ProgressSink {
                callback,
                user_data,
            })
        });
        let (profile, report) = build(dir, name, sink.as_ref())?;
        if !out_report_json.is_null() {
            super::learn::json_out(out_report_json, &report)?;
        }
        super::profile::write_profile(out_profile, profile);
        Ok(())
    })
}

#[cfg(feature = "decode")]
fn build(
    dir: &str,
    name: &str,
    sink: Option<&std::sync::Mutex<ProgressSink>>,
) -> FfiResult<(crate::profile::Profile, serde_json::Value)> {
    let paths = crate::features::list_audio_files(std::path::Path::new(dir))?;
    let tick = |p: crate::features::Progress<'_>| {
        let Some(sink) = sink else { return };
        let path =
            std::ffi::CString::new(p.path.to_string_lossy().into_owned()).unwrap_or_default();
        // A poisoned lock only means an earlier callback panicked across the boundary,
        // which C cannot do; keep calling.
        let sink = sink.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the caller's callback, with its user data, one call at a time.
        unsafe { (sink.callback)(sink.user_data, p.done, p.total, path.as_ptr(), p.ok) };
    };
    let built = crate::profile::build_profile(name, &paths, &tick)?;
    let report = serde_json::json!({
        "tracks": built.profile.track_count,
        "failed": built.failed.iter().map(|(p, e)| serde_json::json!({
            "path": p.display().to_string(),
            "error": format!("{e:#}"),
        })).collect::<Vec<_>>(),
        "repaired": built.repaired.iter().map(|(p, n)| serde_json::json!({
            "path": p.display().to_string(),
            "non_finite_samples": n,
        })).collect::<Vec<_>>(),
        "unfinalised": built.unfinalised.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    });
    Ok((built.profile, report))
}

#[cfg(not(feature = "decode"))]
fn build(
    dir: &str,
    _name: &str,
    _sink: Option<&std::sync::Mutex<ProgressSink>>,
) -> FfiResult<(crate::profile::Profile, serde_json::Value)> {
    Err(Failure::new(
        FIXLOOP_ERR_UNSUPPORTED,
        format!("cannot build a profile from {dir}: this fixloop library was built without the decode feature"),
    ))
}
