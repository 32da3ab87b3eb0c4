//! What the host tells the plugin without saying it (SPEC §7, end): state saves seen through
//! the serialisation of a persisted field, and offline renders seen either through
//! `ProcessMode::Offline` at activation (CLAP's render extension) or, for VST3, through a
//! faster-than-real-time heuristic.
//!
//! The detectors here are pure: they are fed counters and wall-clock instants and decide,
//! so tests drive them with synthetic clocks.

use fixloop::feedback::records::BounceEvidence;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A persisted field whose only job is to notice state saves. nice-plug serialises every
/// `#[persist]` field whenever the host saves the plugin state (there is no save callback),
/// so each serialisation bumps a counter. No I/O, no lock: the counter is read later by the
/// background thread. Its persisted value is the number of serialisations seen so far.
#[derive(Debug, Default)]
pub struct SaveProbe {
    serialisations: AtomicU64,
}

impl SaveProbe {
    /// Serialisations seen since the plugin was created.
    pub fn count(&self) -> u64 {
        self.serialisations.load(Ordering::Acquire)
    }
}

impl<'a> nice_plug::params::persist::PersistentField<'a, u64> for SaveProbe {
    fn set(&self, _restored: u64) {
        // Restoring a state is not a save; the restored count means nothing to this instance.
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&u64) -> R,
    {
        // nice-plug calls `map` only to serialise the field.
        let n = self.serialisations.fetch_add(1, Ordering::AcqRel) + 1;
        f(&n)
    }
}

/// A host state save, after debouncing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateSave {
    /// Serialisations counted into this record so far (1 unless a burst was merged).
    pub serialisations: u64,
}

/// Turns a serialisation counter into "state saved by the host" events: serialisations
/// before [`arm`](Self::arm) (the first activation) are ignored, because hosts serialise at
/// instantiation, and serialisations closer than `burst_gap` to the previous one belong to
/// the same save (auto-backups and snapshots come in bursts). A save is reported at its
/// first serialisation, so it is durable at once.
#[derive(Clone, Debug)]
pub struct SaveDebounce {
    burst_gap: Duration,
    armed: bool,
    last_count: u64,
    last_seen: Option<Instant>,
}

impl SaveDebounce {
    /// Default gap that separates two saves: 2 s.
    pub const DEFAULT_BURST_GAP: Duration = Duration::from_secs(2);

    /// A disarmed detector.
    pub fn new(burst_gap: Duration) -> SaveDebounce {
        SaveDebounce {
            burst_gap,
            armed: false,
            last_count: 0,
            last_seen: None,
        }
    }

    /// Starts counting from `count` (the counter's value at the first activation).
    /// Arming again is a no-op.
    pub fn arm(&mut self, count: u64) {
        if !self.armed {
            self.armed = true;
            self.last_count = count;
        }
    }

    /// Whether [`arm`](Self::arm) was called.
    pub fn is_armed(&self) -> bool {
        self.armed
    }

    /// Feeds the counter's value at `now`; returns a save when a new burst begins.
    pub fn observe(&mut self, count: u64, now: Instant) -> Option<StateSave> {
        if !self.armed {
            self.last_count = count;
            return None;
        }
        if count <= self.last_count {
            return None;
        }
        let new = count - self.last_count;
        self.last_count = count;
        let within_burst = self
            .last_seen
            .is_some_and(|t| now.saturating_duration_since(t) < self.burst_gap);
        self.last_seen = Some(now);
        (!within_burst).then_some(StateSave {
            serialisations: new,
        })
    }
}

/// Thresholds of the faster-than-real-time heuristic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenderPaceConfig {
    /// Audio time over wall-clock time that counts as "much faster than real time".
    pub min_speed_ratio: f64,
    /// Audio that must be processed at that pace, without a break, before a render is reported.
    pub min_audio_seconds: f64,
    /// Observations closer together than this are merged (scheduler jitter makes a single
    /// short interval meaningless).
    pub min_observation_gap: Duration,
}

impl Default for RenderPaceConfig {
    /// 4× real time sustained over 10 s of audio, observed in steps of at least 10 ms: a
    /// real-time host delivers audio at 1× on average, and even a large buffer arriving in
    /// one burst cannot keep 4× up for 10 s of audio (2.5 s of wall-clock time).
    fn default() -> Self {
        RenderPaceConfig {
            min_speed_ratio: 4.0,
            min_audio_seconds: 10.0,
            min_observation_gap: Duration::from_millis(10),
        }
    }
}

/// The evidence behind a *likely* offline render.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaceEvidence {
    /// Audio seconds processed per wall-clock second over the stretch.
    pub speed_ratio: f64,
    /// Audio processed in the stretch, seconds.
    pub audio_seconds: f64,
    /// Wall-clock time the stretch took, seconds.
    pub wall_seconds: f64,
}

impl PaceEvidence {
    /// The evidence as the store records it (`likely {rt, ms}`).
    pub fn record(&self) -> BounceEvidence {
        BounceEvidence::Likely {
            realtime_factor: self.speed_ratio as f32,
            audio_ms: (self.audio_seconds * 1000.0)
                .round()
                .clamp(0.0, f64::from(u32::MAX)) as u32,
        }
    }
}

/// The faster-than-real-time heuristic for hosts that do not say they render offline
/// (VST3 through nice-plug). Fed the audio thread's published frame counter and the
/// wall-clock instant of each observation, off the audio thread.
///
/// A *stretch* starts at an observation and continues while every interval between
/// observations runs at `min_speed_ratio` or faster; any slower interval (including one
/// with no audio, a stopped transport) starts a new stretch. A stretch that reaches
/// `min_audio_seconds` of audio at an overall pace of at least `min_speed_ratio` is
/// reported once.
#[derive(Clone, Debug)]
pub struct RenderPace {
    config: RenderPaceConfig,
    sample_rate_hz: f64,
    stretch_start: Option<(u64, Instant)>,
    last: Option<(u64, Instant)>,
    reported: bool,
}

impl RenderPace {
    /// A detector for audio at `sample_rate_hz`.
    pub fn new(config: RenderPaceConfig, sample_rate_hz: f64) -> RenderPace {
        RenderPace {
            config,
            sample_rate_hz: if sample_rate_hz.is_finite() && sample_rate_hz > 0.0 {
                sample_rate_hz
            } else {
                48_000.0
            },
            stretch_start: None,
            last: None,
            reported: false,
        }
    }

    /// Starts observing from `frames_total` at `at` (the activation), so audio processed
    /// before the first regular observation is part of the first interval.
    pub fn start(&mut self, frames_total: u64, at: Instant) {
        self.restart();
        self.last = Some((frames_total, at));
        self.stretch_start = Some((frames_total, at));
    }

    /// Forgets the current stretch (on activation and deactivation).
    pub fn restart(&mut self) {
        self.stretch_start = None;
        self.last = None;
        self.reported = false;
    }

    /// Feeds the total frames processed so far, observed at `now`. Returns the evidence the
    /// first time the current stretch qualifies as a likely offline render.
    pub fn observe(&mut self, frames_total: u64, now: Instant) -> Option<PaceEvidence> {
        self.observe_with_gap(frames_total, now, self.config.min_observation_gap)
    }

    /// The last observation of a run (at deactivation): like [`observe`](Self::observe), but
    /// an interval shorter than `min_observation_gap` still counts, so a render that ends
    /// right before the host deactivates the plugin is not lost.
    pub fn finish(&mut self, frames_total: u64, now: Instant) -> Option<PaceEvidence> {
        self.observe_with_gap(frames_total, now, Duration::from_nanos(1))
    }

    fn observe_with_gap(
        &mut self,
        frames_total: u64,
        now: Instant,
        min_gap: Duration,
    ) -> Option<PaceEvidence> {
        let Some((last_frames, last_t)) = self.last else {
            self.last = Some((frames_total, now));
            self.stretch_start = Some((frames_total, now));
            return None;
        };
        if frames_total < last_frames {
            // A counter that went back: a new plugin run; start over.
            self.restart();
            return self.observe_with_gap(frames_total, now, min_gap);
        }
        let dt = now.saturating_duration_since(last_t);
        if dt < min_gap {
            return None;
        }
        let audio = (frames_total - last_frames) as f64 / self.sample_rate_hz;
        let pace = audio / dt.as_secs_f64();
        self.last = Some((frames_total, now));
        if pace < self.config.min_speed_ratio {
            self.stretch_start = Some((frames_total, now));
            self.reported = false;
            return None;
        }
        let (start_frames, start_t) = self.stretch_start.unwrap_or((last_frames, last_t));
        let audio_seconds = (frames_total - start_frames) as f64 / self.sample_rate_hz;
        let wall_seconds = now.saturating_duration_since(start_t).as_secs_f64();
        if self.reported || audio_seconds < self.config.min_audio_seconds || wall_seconds <= 0.0 {
            return None;
        }
        let speed_ratio = audio_seconds / wall_seconds;
        if speed_ratio < self.config.min_speed_ratio {
            return None;
        }
        self.reported = true;
        Some(PaceEvidence {
            speed_ratio,
            audio_seconds,
            wall_seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nice_plug::params::persist::PersistentField;

    const SR: f64 = 48_000.0;

    /// Feeds `blocks` blocks of `block` frames, one every `every`, from `t0`; returns the reports.
    fn feed(
        pace: &mut RenderPace,
        t0: Instant,
        frames0: u64,
        block: u64,
        every: Duration,
        blocks: u32,
    ) -> Vec<PaceEvidence> {
        (1..=blocks)
            .filter_map(|i| pace.observe(frames0 + block * u64::from(i), t0 + every * i))
            .collect()
    }

    #[test]
    fn fast_feed_is_a_likely_offline_render_with_evidence() {
        let mut pace = RenderPace::new(RenderPaceConfig::default(), SR);
        let t0 = Instant::now();
        assert_eq!(pace.observe(0, t0), None);
        // 1024 frames every 2 ms: 10.7× real time. Merged into 10 ms observation steps.
        let reports = feed(&mut pace, t0, 0, 1024, Duration::from_millis(2), 1000);
        assert_eq!(reports.len(), 1, "reported once per stretch");
        let e = reports[0];
        assert!(e.audio_seconds >= 10.0 && e.audio_seconds < 10.2, "{e:?}");
        assert!((e.speed_ratio - 1024.0 / SR / 0.002).abs() < 0.2, "{e:?}");
        assert!((e.wall_seconds - e.audio_seconds / e.speed_ratio).abs() < 1e-9);
    }

    #[test]
    fn real_time_pace_is_not_a_render() {
        let mut pace = RenderPace::new(RenderPaceConfig::default(), SR);
        let t0 = Instant::now();
        pace.observe(0, t0);
        // 512 frames every 10.67 ms for a minute of audio.
        let every = Duration::from_secs_f64(512.0 / SR);
        assert!(feed(&mut pace, t0, 0, 512, every, 5625).is_empty());
        // Bursty real time: 8192 frames at once, then nothing for 170 ms.
        let mut pace = RenderPace::new(RenderPaceConfig::default(), SR);
        pace.observe(0, t0);
        let mut reports = 0;
        for i in 1..400u32 {
            let t = t0 + Duration::from_secs_f64(8192.0 / SR) * i;
            reports += usize::from(pace.observe(8192 * u64::from(i), t).is_some());
            reports += usize::from(
                pace.observe(8192 * u64::from(i), t + Duration::from_millis(20))
                    .is_some(),
            );
        }
        assert_eq!(reports, 0);
    }

    #[test]
    fn a_short_fast_stretch_is_not_a_render_and_a_pause_restarts() {
        let mut pace = RenderPace::new(RenderPaceConfig::default(), SR);
        let t0 = Instant::now();
        pace.observe(0, t0);
        // 5 s of audio fast, then a one-second pause, then 6 s fast: neither stretch qualifies.
        let ms = Duration::from_millis;
        let a = feed(&mut pace, t0, 0, 4800, ms(10), 50);
        let frames = 4800 * 50;
        let t1 = t0 + ms(500) + Duration::from_secs(1);
        assert!(pace.observe(frames, t1).is_none());
        let b = feed(&mut pace, t1, frames, 4800, ms(10), 60);
        assert!(a.is_empty() && b.is_empty());
        // A third stretch long enough is reported.
        let t2 = t1 + ms(600) + Duration::from_secs(1);
        let frames = frames + 4800 * 60;
        assert!(pace.observe(frames, t2).is_none());
        assert_eq!(feed(&mut pace, t2, frames, 4800, ms(10), 120).len(), 1);
    }

    #[test]
    fn a_render_ending_right_before_deactivation_is_seen_at_finish() {
        let mut pace = RenderPace::new(RenderPaceConfig::default(), SR);
        let t0 = Instant::now();
        pace.observe(0, t0);
        // 20 s of audio in 4 ms: shorter than the observation gap, so `observe` waits…
        let t1 = t0 + Duration::from_millis(4);
        assert_eq!(pace.observe(960_000, t1), None);
        // …and the deactivation's last look sees it.
        let e = pace.finish(960_000, t1).unwrap();
        assert!(
            (e.audio_seconds - 20.0).abs() < 1e-9 && e.speed_ratio > 4000.0,
            "{e:?}"
        );
        // Real-time audio ending at deactivation is still not a render.
        let mut pace = RenderPace::new(RenderPaceConfig::default(), SR);
        pace.observe(0, t0);
        assert_eq!(pace.finish(480_000, t0 + Duration::from_secs(10)), None);
    }

    #[test]
    fn counter_going_back_restarts() {
        let mut pace = RenderPace::new(RenderPaceConfig::default(), SR);
        let t0 = Instant::now();
        pace.observe(1_000_000, t0);
        assert!(pace.observe(10, t0 + Duration::from_millis(50)).is_none());
    }

    #[test]
    fn saves_before_arming_are_ignored_and_bursts_merge() {
        let mut d = SaveDebounce::new(SaveDebounce::DEFAULT_BURST_GAP);
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // Serialisations at instantiation.
        assert_eq!(d.observe(2, t0), None);
        d.arm(2);
        assert_eq!(d.observe(2, t0 + s(1)), None);
        // A save.
        assert_eq!(
            d.observe(3, t0 + s(10)),
            Some(StateSave { serialisations: 1 })
        );
        // A burst right after it (an auto-backup of the same moment) merges.
        assert_eq!(d.observe(5, t0 + s(11)), None);
        // Much later: a new save of two serialisations seen at once.
        assert_eq!(
            d.observe(7, t0 + s(30)),
            Some(StateSave { serialisations: 2 })
        );
        // Re-arming does not move the baseline.
        d.arm(100);
        assert_eq!(
            d.observe(8, t0 + s(60)),
            Some(StateSave { serialisations: 1 })
        );
    }

    #[test]
    fn probe_counts_serialisations_and_ignores_restores() {
        let probe = SaveProbe::default();
        let json = probe.map(|n| serde_json::to_string(n).unwrap());
        assert_eq!(json, "1");
        probe.set(41);
        assert_eq!(probe.count(), 1);
        probe.map(|_| ());
        assert_eq!(probe.count(), 2);
    }
}
