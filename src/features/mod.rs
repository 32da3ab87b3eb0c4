//! Features: the catalogue of names and units, the feature vector of one track, the
//! real-time streaming [`Analyser`], the [`live`] pair that feeds it from an audio
//! thread, and offline analysis of audio files (cargo feature
//! `decode`, on with `cli`).
//!
//! The real-time part (`analyser`, `spectrum`, `modulation` and [`crate::dsp`]) imports
//! nothing from the offline part (`decode`, `batch`).

mod analyser;
#[cfg(feature = "decode")]
mod batch;
mod catalogue;
#[cfg(feature = "decode")]
mod decode;
mod live;
pub mod modulation;
pub mod spectrum;
#[cfg(feature = "decode")]
mod wav_repair;
pub use spectrum::{SpectrumPart, SpectrumProfile};
mod vector;

pub use crate::dsp::Band;
pub use analyser::{
    Analyser, BAND_FLOOR_DB, LOW_END_GATE, MAX_BLOCK_FRAMES, MAX_SAMPLE_RATE_HZ, MAX_WIDTH,
    MIN_LOUDNESS_SECONDS, MIN_LRA_SECONDS, MIN_SAMPLE_RATE_HZ, SILENCE_MEAN_SQUARE,
};
#[cfg(feature = "decode")]
pub use batch::{analyze_files, list_audio_files, Progress, TrackResult, AUDIO_EXTENSIONS};
pub use catalogue::{Direction, Feature, FeatureGroup, FixType, Unit};
#[cfg(feature = "decode")]
pub use decode::{
    analyze_file, analyze_file_through, decode_file, AudioInfo, FileAnalysis, MAX_NON_FINITE_SHARE,
    MIN_FILE_SECONDS,
};
pub use live::{live, LiveAnalyser, LiveFeed, MAX_LIVE_CAPACITY_FRAMES};
pub use vector::{Absent, FeatureVector, Measurement};
