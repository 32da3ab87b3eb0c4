//! Offline analysis of audio files: decode with `symphonia`, feed the streaming
//! [`Analyser`], so a file's features are exactly what the plugin would measure on the
//! same audio.
//!
//! Formats: WAV (PCM integer and float), AIFF, FLAC, MP3, Ogg Vorbis. Any sample rate the
//! analyser accepts (8–768 kHz). Mono is analysed as centred stereo (L = R). Files with more
//! than two channels are refused (`Unsupported`): a downmix would have to guess the layout
//! (5.1 centre and LFE weights), and reference tracks are stereo masters.
//!
//! Errors name the file: it cannot be opened (`Io`), is empty, is not a recognised format
//! or codec (`Unsupported`), holds no audio or less than [`MIN_FILE_SECONDS`] (`Audio`).
//! Packets the decoder reports as malformed are skipped (the usual practice for damaged
//! MP3 frames); a stream that ends early is analysed up to where it ends. Encoder delay and
//! padding that the container signals (gapless trims) are removed by symphonia's decoders.
//!
//! Samples that are not finite (NaN, ±infinity: a float WAV written by a broken render)
//! are replaced by silence before anything measures them, as the plugin does with what it
//! hears, and counted ([`AudioInfo::non_finite_samples`]); a file where more than half of
//! the samples are not finite is refused (`Audio`): it is damaged, not music. Subnormal
//! samples are flushed to zero (inaudible, and slow to compute with).

use super::{Analyser, FeatureVector};
use crate::dsp::{FixSettings, FixStage};
use crate::error::{Error, ErrorKind, Result};
use std::fs::File;
use std::path::Path;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Shortest file `analyze_file` accepts, in seconds: one 400 ms loudness gating block.
pub const MIN_FILE_SECONDS: f64 = 0.4;

/// Largest block (frames) the analyser takes at once; longer decoded packets are split.
const FEED_FRAMES: usize = 4096;

/// What [`decode_file`] found: the stream's format and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioInfo {
    /// Sample rate in Hz.
    pub sample_rate_hz: u32,
    /// Channels (1 or 2).
    pub channels: usize,
    /// Frames decoded so far (all of them, once decoding has finished).
    pub frames: u64,
    /// Samples (not frames) that were NaN or infinite and were replaced by silence.
    pub non_finite_samples: u64,
    /// A WAV file whose header sizes were never finalised (a streaming writer or a crashed
    /// recorder left the `data` size 0 or `0xFFFFFFFF`): it was read to the end of the file,
    /// as libsndfile reads it.
    pub header_unfinalised: bool,
}

/// A file's features and what decoding it found.
#[derive(Clone, Debug, PartialEq)]
pub struct FileAnalysis {
    /// The features of the (repaired) audio.
    pub features: FeatureVector,
    /// The stream's format, length and the non-finite samples replaced.
    pub info: AudioInfo,
    /// The long-term spectrum with its side shares, for the fix plan's response model
    /// (`None` for silence).
    pub spectrum: Option<super::SpectrumProfile>,
}

/// Largest share of non-finite samples a file may have and still be analysed.
pub const MAX_NON_FINITE_SHARE: f64 = 0.5;

impl AudioInfo {
    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.frames as f64 / self.sample_rate_hz as f64
    }
}

/// Decodes the audio file at `path` and returns its features, with the stream's format and
/// the count of non-finite samples replaced by silence.
///
/// Fails with an error naming the file when it cannot be read, is empty, is not a supported
/// format, has more than two channels, holds less than [`MIN_FILE_SECONDS`] of audio, or is
/// mostly not finite numbers (more than [`MAX_NON_FINITE_SHARE`] of its samples).
///
/// A decoder that panics on a damaged file (a bug in the decoder, but not one the caller
/// should pay for with a crash) is reported as an `Audio` error naming the file.
pub fn analyze_file(path: &Path) -> Result<FileAnalysis> {
    analyze_guarded(path, None)
}

/// [`analyze_file`] of the file as the fix stage ([`FixStage`]) outputs it at `settings`:
/// every block runs through the stage (snapped to the settings, no ramp) before the
/// analyser hears it. What a plan's fixes would measure once applied, from the audio
/// itself (the joint plan checks its predictions with it). A mono file runs through the
/// stage as L = R and is analysed as mono.
pub fn analyze_file_through(path: &Path, settings: &FixSettings) -> Result<FileAnalysis> {
    analyze_guarded(path, Some(settings))
}

fn analyze_guarded(path: &Path, settings: Option<&FixSettings>) -> Result<FileAnalysis> {
    std::panic::catch_unwind(|| analyze_file_inner(path, settings)).unwrap_or_else(|_| {
        Err(Error::new(
            ErrorKind::Audio,
            "the decoder failed on this file (it may be damaged)",
        )
        .with_origin(path.display().to_string()))
    })
}

fn analyze_file_inner(path: &Path, settings: Option<&FixSettings>) -> Result<FileAnalysis> {
    let mut analyser: Option<Analyser> = None;
    let mut stage: Option<(FixStage, Vec<f32>, Vec<f32>)> = None;
    let info = decode_file(path, |info, samples| {
        let a = match &mut analyser {
            Some(a) => a,
            None => analyser.insert(
                Analyser::new(info.sample_rate_hz, info.channels, FEED_FRAMES)
                    .map_err(|e| e.with_origin(path.display().to_string()))?,
            ),
        };
        let Some(settings) = settings else {
            a.process_interleaved(samples);
            return Ok(());
        };
        let (stage, l, r) = stage.get_or_insert_with(|| {
            let mut s = FixStage::new(info.sample_rate_hz as f64);
            s.snap_to(*settings);
            (s, Vec::new(), Vec::new())
        });
        let channels = info.channels.max(1);
        l.clear();
        r.clear();
        for frame in samples.chunks_exact(channels) {
            l.push(frame[0]);
            r.push(frame[channels - 1]);
        }
        stage.process(l, r, *settings);
        if channels == 1 {
            a.process_mono(l);
        } else {
            a.process(l, r);
        }
        Ok(())
    })?;
    match analyser {
        Some(a) => Ok(FileAnalysis {
            features: a.features(),
            info,
            spectrum: a.spectrum_profile(),
        }),
        None => Err(Error::new(ErrorKind::Audio, "the file holds no audio")
            .with_origin(path.display().to_string())),
    }
}

/// Decodes the audio file at `path`, handing each decoded block (interleaved `f32`, the
/// stream's format in `info`) to `on_block`; stops at the first error `on_block` returns.
/// Non-finite samples reach `on_block` as silence (counted in `info`), subnormal ones as
/// zero.
///
/// The errors are those of [`analyze_file`], naming the file.
pub fn decode_file(
    path: &Path,
    on_block: impl FnMut(&AudioInfo, &[f32]) -> Result<()>,
) -> Result<AudioInfo> {
    decode_inner(path, on_block).map_err(|e| e.with_origin(path.display().to_string()))
}

fn decode_inner(
    path: &Path,
    mut on_block: impl FnMut(&AudioInfo, &[f32]) -> Result<()>,
) -> Result<AudioInfo> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "open", e))?;
    if meta.is_dir() {
        return Err(Error::new(
            ErrorKind::Io,
            "is a directory, not an audio file",
        ));
    }
    if meta.len() == 0 {
        return Err(Error::new(ErrorKind::Audio, "the file is empty"));
    }
    let file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let (source, header_unfinalised): (Box<dyn symphonia::core::io::MediaSource>, bool) =
        match super::wav_repair::open(file).map_err(|e| Error::io(path, "read", e))? {
            Ok(patched) => (Box::new(patched), true),
            Err(file) => (Box::new(file), false),
        };
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::Unsupported,
                format!("not a supported audio file (WAV, AIFF, FLAC, MP3, Ogg Vorbis): {e}"),
            )
            .with_source(e)
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| Error::new(ErrorKind::Unsupported, "the file has no audio track"))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                "the audio track has no codec parameters",
            )
        })?;
    if let Some(channels) = &params.channels {
        check_channels(channels.count())?;
    }
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| {
            Error::new(ErrorKind::Unsupported, format!("unsupported codec: {e}")).with_source(e)
        })?;

    let mut info: Option<AudioInfo> = None;
    let mut interleaved: Vec<f32> = Vec::new();
    let mut skipped_packets = 0u64;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A truncated file: analyse what was there.
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(SymphoniaError::DecodeError(_)) => {
                skipped_packets += 1;
                continue;
            }
            Err(e) => {
                return Err(
                    Error::new(ErrorKind::Audio, format!("cannot read the stream: {e}"))
                        .with_source(e),
                )
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            Err(SymphoniaError::DecodeError(_)) => {
                skipped_packets += 1;
                continue;
            }
            Err(e) => {
                return Err(
                    Error::new(ErrorKind::Audio, format!("cannot decode: {e}")).with_source(e)
                )
            }
        };
        let spec = buf.spec();
        let rate = spec.rate();
        let channels = spec.channels().count();
        let current = match &mut info {
            Some(i) => {
                if i.sample_rate_hz != rate || i.channels != channels {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "the stream changes from {} Hz, {} channels to {rate} Hz, {channels} channels",
                            i.sample_rate_hz, i.channels
                        ),
                    ));
                }
                i
            }
            None => {
                check_channels(channels)?;
                info.insert(AudioInfo {
                    sample_rate_hz: rate,
                    channels,
                    frames: 0,
                    non_finite_samples: 0,
                    header_unfinalised,
                })
            }
        };
        if buf.frames() == 0 {
            continue;
        }
        interleaved.resize(buf.samples_interleaved(), 0.0);
        buf.copy_to_slice_interleaved(&mut interleaved[..]);
        current.non_finite_samples += repair(&mut interleaved);
        current.frames += buf.frames() as u64;
        on_block(current, &interleaved)?;
    }
    let info = match info {
        Some(i) if i.frames > 0 => i,
        _ => {
            let why = if skipped_packets > 0 {
                format!("no audio could be decoded ({skipped_packets} damaged packets)")
            } else {
                "the file holds no audio".to_string()
            };
            return Err(Error::new(ErrorKind::Audio, why));
        }
    };
    let samples = info.frames * info.channels as u64;
    if info.non_finite_samples as f64 > MAX_NON_FINITE_SHARE * samples as f64 {
        return Err(Error::new(
            ErrorKind::Audio,
            format!(
                "{} of its {samples} samples ({:.1} %) are not finite numbers (NaN or \
                 infinity): the file is damaged, not analysed",
                info.non_finite_samples,
                100.0 * info.non_finite_samples as f64 / samples as f64
            ),
        ));
    }
    let seconds = info.seconds();
    if seconds < MIN_FILE_SECONDS {
        return Err(Error::new(
            ErrorKind::Audio,
            format!("too short: {seconds:.3} s of audio, at least {MIN_FILE_SECONDS} s needed"),
        ));
    }
    Ok(info)
}

/// Replaces non-finite samples by silence and flushes subnormal ones to zero, in place;
/// returns how many were not finite.
fn repair(samples: &mut [f32]) -> u64 {
    let mut bad = 0u64;
    for x in samples {
        if !x.is_finite() {
            *x = 0.0;
            bad += 1;
        }
        *x = crate::dsp::flush_subnormal(*x);
    }
    bad
}

fn check_channels(channels: usize) -> Result<()> {
    if channels == 0 || channels > 2 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!("{channels} channels: fixloop analyses mono or stereo files (downmix to stereo first)"),
        ));
    }
    Ok(())
}
