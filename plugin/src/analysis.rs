//! Where features come from: the [`FeatureSource`] trait the background thread feeds with
//! the audio the plugin hears, implemented by the library's streaming analyser
//! ([`fixloop::features::Analyser`], the 16 features of SPEC §1).

use fixloop::features::{Analyser, FeatureVector, SpectrumProfile};

/// Largest block the background thread hands a source at once (frames). The engine reads
/// the ring in chunks of at most this many frames, and the analyser is sized for it.
pub const MAX_CHUNK_FRAMES: usize = 8192;

/// A streaming analyser of stereo audio. Called only from the plugin's background thread.
pub trait FeatureSource: Send {
    /// Prepares for audio at `sample_rate_hz` in blocks of at most `max_block_frames`,
    /// and forgets everything heard (called at each activation).
    ///
    /// Fails when the source cannot analyse audio at that rate; the engine then stops
    /// feeding it until the next successful `prepare` and reports the error.
    fn prepare(&mut self, sample_rate_hz: f64, max_block_frames: usize) -> fixloop::Result<()>;
    /// Analyses one block. Both slices have the same length; samples are finite (the caller
    /// replaces non-finite input by silence and counts it).
    fn process(&mut self, left: &[f32], right: &[f32]);
    /// The features of everything heard since the last `prepare` or `reset`.
    fn features(&self) -> FeatureVector;
    /// Forgets everything heard.
    fn reset(&mut self);
    /// The long-term spectrum of everything heard, when the source measures one: the fix
    /// plan predicts side effects from it, as `fixloop analyze` does for a file.
    fn spectrum(&self) -> Option<SpectrumProfile> {
        None
    }
}

/// The library's analyser as the plugin's source. `prepare` builds a new analyser (it
/// allocates about 0.5 MB at 48 kHz; the background thread calls it at activation). Host
/// rates are rounded to whole hertz; a rate outside the analyser's range (8–768 kHz) fails
/// and leaves the previous analyser in place, reset.
impl FeatureSource for Analyser {
    fn prepare(&mut self, sample_rate_hz: f64, max_block_frames: usize) -> fixloop::Result<()> {
        let rate = if sample_rate_hz.is_finite() && sample_rate_hz > 0.0 {
            sample_rate_hz.round().min(f64::from(u32::MAX)) as u32
        } else {
            0
        };
        match Analyser::new(rate, 2, max_block_frames) {
            Ok(fresh) => {
                *self = fresh;
                Ok(())
            }
            Err(e) => {
                Analyser::reset(self);
                Err(e)
            }
        }
    }

    fn process(&mut self, left: &[f32], right: &[f32]) {
        Analyser::process(self, left, right);
    }

    fn features(&self) -> FeatureVector {
        Analyser::features(self)
    }

    fn reset(&mut self) {
        Analyser::reset(self);
    }

    fn spectrum(&self) -> Option<SpectrumProfile> {
        self.spectrum_profile()
    }
}

/// The source the plugin uses: the library's streaming analyser, prepared for 48 kHz until
/// the first activation says otherwise.
pub fn default_source() -> Box<dyn FeatureSource> {
    match Analyser::new(48_000, 2, MAX_CHUNK_FRAMES) {
        Ok(analyser) => Box::new(analyser),
        // 48 kHz stereo is inside the analyser's range, so this is unreachable in practice;
        // a source that measures nothing keeps the plugin passing audio regardless.
        Err(_) => Box::new(Nothing),
    }
}

/// A source that measures nothing (every feature absent).
struct Nothing;

impl FeatureSource for Nothing {
    fn prepare(&mut self, _sample_rate_hz: f64, _max_block_frames: usize) -> fixloop::Result<()> {
        Ok(())
    }
    fn process(&mut self, _left: &[f32], _right: &[f32]) {}
    fn features(&self) -> FeatureVector {
        FeatureVector::new()
    }
    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixloop::features::{Absent, Feature, Measurement};

    fn tone(frames: usize, rate: f64) -> Vec<f32> {
        (0..frames)
            .map(|i| 0.25 * (std::f64::consts::TAU * 1000.0 * i as f64 / rate).sin() as f32)
            .collect()
    }

    #[test]
    fn default_source_measures_every_feature_of_a_stereo_mix() {
        let mut s = default_source();
        s.prepare(44_100.0, 512).unwrap();
        let mix =
            fixloop::sim::synth::render(&fixloop::sim::synth::MixParams::default(), 4.0, 44_100);
        for (l, r) in mix
            .left
            .chunks(MAX_CHUNK_FRAMES)
            .zip(mix.right.chunks(MAX_CHUNK_FRAMES))
        {
            s.process(l, r);
        }
        let v = s.features();
        // 4 s covers the longest window (3 s loudness range); every band lies below Nyquist.
        let missing: Vec<Feature> = Feature::ALL
            .into_iter()
            .filter(|&f| v.value(f).is_none())
            .collect();
        assert!(missing.is_empty(), "{missing:?} in {v:?}");
    }

    #[test]
    fn rate_outside_the_analysers_range_fails_and_leaves_a_usable_source() {
        let mut s = default_source();
        assert!(s.prepare(4_000.0, 512).is_err());
        assert!(s.prepare(f64::NAN, 512).is_err());
        s.process(&[0.1; 64], &[0.1; 64]);
        assert!(s.prepare(48_000.0, 512).is_ok());
    }

    #[test]
    fn reset_forgets_and_short_audio_is_absent_not_nan() {
        let mut s = default_source();
        s.prepare(48_000.0, 512).unwrap();
        let t = tone(48_000, 48_000.0);
        s.process(&t, &t);
        assert!(s.features().value(Feature::Loudness).is_some());
        s.reset();
        // 0.1 s is shorter than one 400 ms loudness block.
        s.process(&t[..4_800], &t[..4_800]);
        assert_eq!(
            s.features().get(Feature::Loudness),
            Measurement::Absent(Absent::TooShort)
        );
        // A centred tone: no side signal at all.
        assert_eq!(s.features().value(Feature::StereoWidth), Some(0.0));
    }
}
