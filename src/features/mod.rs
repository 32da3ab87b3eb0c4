//! Features: the catalogue of names and units, the feature vector of one track, the
//! real-time streaming [`Analyser`], and offline analysis of audio files.
//!
//! The real-time part (`analyser` and the DSP modules under it) imports nothing from the
//! offline part (`decode`, `batch`).

mod analyser;
mod batch;
mod catalogue;
mod decode;
pub mod modulation;
pub mod spectrum;
mod vector;

pub use analyser::{
    Analyser, BAND_FLOOR_DB, LOW_END_GATE, MAX_BLOCK_FRAMES, MAX_SAMPLE_RATE_HZ, MAX_WIDTH,
    MIN_LOUDNESS_SECONDS, MIN_LRA_SECONDS, MIN_SAMPLE_RATE_HZ, SILENCE_MEAN_SQUARE,
};
pub use batch::{analyze_files, list_audio_files, Progress, TrackResult, AUDIO_EXTENSIONS};
pub use catalogue::{Band, Direction, Feature, FixType, Unit};
pub use decode::{analyze_file, decode_file, AudioInfo, MIN_FILE_SECONDS};
pub use vector::{Absent, FeatureVector, Measurement};
