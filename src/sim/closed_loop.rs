//! The closed loop: references → profile → sessions → feedback → refine → next round.
//!
//! A [`World`] is built once per seed from rendered audio analysed by the real
//! [`Analyser`]: reference loops around [`reference_center`] make the starting profile; a
//! producer's work-in-progress loops are rendered with the wider spread of an unfinished
//! mix ([`WIP_SPREAD`]) and their features offset toward the producer's taste
//! ([`TasteKind`]), so the tracks sit around what the producer likes.
//!
//! Each round of [`run_loop`] runs the same work-in-progress tracks (common random
//! numbers, so rounds differ only by the profile) through sessions: gaps against the
//! current profile, fixes under the policy, the producer's decisions
//! ([`Producer::decide`]), recorded through a real [`Collector`] into a log directory
//! and read back with [`read_events`]. After each round the profile learns through its
//! lineage in the simulated producer's home ([`Lineage::learn`], what the plugin runs after
//! a session ends), and the next round runs against the version in force.
//!
//! # Learning-curve metrics (per round)
//! - **accept rate**: accepted fixes / proposed fixes (modify is not accept, as in the
//!   seed's summary);
//! - **undo rate**: undone fixes / proposed fixes;
//! - **mean |gap to taste|**: per session, the mean over the taste's features of
//!   `min(|final value − taste target| / tolerance, GAP_CAP)` after the session's kept
//!   fixes, averaged over sessions ([`GAP_CAP`] keeps one wild feature from hiding the
//!   rest).

use crate::error::{Error, ErrorKind, Result};
use crate::features::{Analyser, Feature, FeatureVector};
use crate::feedback::{FeedbackEvent, UserAction};
use crate::fixes::{propose, Fix, PlanMode, Policy, TargetStrategy};
use crate::gaps::{compare, gap};
use crate::learn::{
    Learned, LearnedTarget, Lineage, RefineOptions, RefineReport, Summary, TasteModel,
};
use crate::profile::Profile;
use crate::rng::SplitMix64;
use crate::sim::producer::{values_of, Noise, Producer, Taste};
use crate::sim::synth::{render, MixParams, Stereo};
use crate::store::{read_events, AppliedFix, Collector, SessionInfo, StoreOptions};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::Path;

/// Sample rate of every simulated render, Hz.
pub const SAMPLE_RATE_HZ: u32 = 22_050;
/// Length of every simulated render, seconds (long enough for the loudness range's 3 s).
pub const RENDER_SECONDS: f64 = 8.0;
/// Cap on one feature's taste distance in the mean |gap to taste|.
pub const GAP_CAP: f64 = 5.0;

/// Features measured by the real analyser on `audio`.
pub fn analyse(audio: &Stereo) -> Result<FeatureVector> {
    const BLOCK: usize = 4096;
    let mut a = Analyser::new(audio.sample_rate_hz, 2, BLOCK)?;
    for (l, r) in audio.left.chunks(BLOCK).zip(audio.right.chunks(BLOCK)) {
        a.process(l, r);
    }
    Ok(a.features())
}

/// Renders `params` ([`RENDER_SECONDS`] at [`SAMPLE_RATE_HZ`]) and analyses it.
pub fn render_features(params: &MixParams) -> Result<FeatureVector> {
    analyse(&render(params, RENDER_SECONDS, SAMPLE_RATE_HZ))
}

/// Standard deviations of random mix differences around a centre mix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Master gain, dB.
    pub master_db: f64,
    /// Kick, bass, pad and hats levels, dB.
    pub voice_db: f64,
    /// Pad width (side gain).
    pub width: f64,
    /// Pumping depth, dB.
    pub pump_db: f64,
    /// Pad brightness, relative (0.1 = ±10 %).
    pub brightness: f64,
}

/// Spread of the reference tracks: finished mixes of one style.
pub const REFERENCE_SPREAD: Spread = Spread {
    master_db: 1.0,
    voice_db: 1.0,
    width: 0.1,
    pump_db: 1.0,
    brightness: 0.1,
};

/// Spread of work-in-progress tracks around the producer's preferred mix.
pub const WIP_SPREAD: Spread = Spread {
    master_db: 1.5,
    voice_db: 1.5,
    width: 0.15,
    pump_db: 1.5,
    brightness: 0.15,
};

/// The centre of the reference set.
pub fn reference_center() -> MixParams {
    MixParams::default()
}

/// `center` with random differences of `spread` (normal, seeded) and a new render seed.
pub fn jitter(center: &MixParams, spread: &Spread, seed: u64) -> MixParams {
    let mut r = SplitMix64::new(seed);
    let mut n = |sd: f64| sd * r.next_normal();
    MixParams {
        bpm: (center.bpm + n(2.0)).clamp(128.0, 140.0),
        master_db: center.master_db + n(spread.master_db),
        drive: center.drive,
        kick_db: center.kick_db + n(spread.voice_db),
        bass_db: center.bass_db + n(spread.voice_db),
        pad_db: center.pad_db + n(spread.voice_db),
        hats_db: center.hats_db + n(spread.voice_db),
        width: (center.width + n(spread.width)).max(0.05),
        bass_width: center.bass_width,
        pump_db: (center.pump_db + n(spread.pump_db)).max(0.0),
        brightness_hz: center.brightness_hz * (1.0 + n(spread.brightness)).clamp(0.5, 1.5),
        seed,
    }
}

/// Whose taste the simulated producer has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TasteKind {
    /// Likes more bass, a wider image and less top than the references: targets
    /// [`SHIFT_Z`] standard deviations away from the profile's means on three features,
    /// the means elsewhere; tolerances the profile's standard deviations. Their
    /// work-in-progress tracks sit around that taste.
    Shifted,
    /// Likes exactly what the references are: targets the profile's means, tolerances
    /// its standard deviations.
    MatchesProfile,
    /// Likes something inside the references' ranges but off their centre: targets
    /// [`OFF_CENTRE_Z`] standard deviations from the means on three features (the range
    /// is one standard deviation either side), the means elsewhere.
    OffCentre,
    /// Likes what the references are, but cares more about some features than others:
    /// targets the profile's means, tolerances its standard deviations scaled by
    /// [`PICKY_TOLERANCE`] (half on the bass, the top and loudness; two and a half times
    /// on the width, the pumping and the loudness range).
    Picky,
}

/// The picky taste: (feature, its tolerance in the profile's standard deviations).
pub const PICKY_TOLERANCE: [(Feature, f64); 6] = [
    (Feature::BassLevel, 0.5),
    (Feature::HighLevel, 0.5),
    (Feature::Loudness, 0.5),
    (Feature::StereoWidth, 2.5),
    (Feature::ModulationDepth, 2.5),
    (Feature::LoudnessRange, 2.5),
];

/// The off-centre taste: (feature, shift of the target in the profile's standard
/// deviations), each inside the range.
pub const OFF_CENTRE_Z: [(Feature, f64); 3] = [
    (Feature::LowMidLevel, 0.7),
    (Feature::StereoCorrelation, -0.7),
    (Feature::HighMidLevel, 0.7),
];

/// The shifted taste: (feature, shift of the target in the profile's standard deviations).
pub const SHIFT_Z: [(Feature, f64); 3] = [
    (Feature::BassLevel, 2.0),
    (Feature::StereoWidth, 2.0),
    (Feature::HighLevel, -2.0),
];

impl TasteKind {
    /// The features whose taste differs from the profile, and by how many standard
    /// deviations.
    pub fn shift_z(self) -> Vec<(Feature, f64)> {
        match self {
            TasteKind::Shifted => SHIFT_Z.to_vec(),
            TasteKind::MatchesProfile => Vec::new(),
            TasteKind::OffCentre => OFF_CENTRE_Z.to_vec(),
            TasteKind::Picky => Vec::new(),
        }
    }

    /// The producer's taste relative to `profile`.
    pub fn taste(self, profile: &Profile) -> Taste {
        let mut t = profile_taste(profile);
        for (f, z) in self.shift_z() {
            if let (Some(target), Some(tol)) = (t.target.get_mut(&f), t.tolerance.get(&f)) {
                *target += z * tol;
            }
        }
        if self == TasteKind::Picky {
            for (f, k) in PICKY_TOLERANCE {
                if let Some(tol) = t.tolerance.get_mut(&f) {
                    *tol *= k;
                }
            }
        }
        t
    }

    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            TasteKind::Shifted => "shifted",
            TasteKind::MatchesProfile => "matches_profile",
            TasteKind::OffCentre => "off_centre",
            TasteKind::Picky => "picky",
        }
    }
}

/// How a [`World`] is built.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorldConfig {
    /// Reference tracks rendered for the starting profile.
    pub references: usize,
    /// Work-in-progress tracks rendered for the producer.
    pub wip_tracks: usize,
    /// The producer's taste.
    pub taste: TasteKind,
    /// The producer's decision noise.
    pub noise: Noise,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            references: 16,
            wip_tracks: 24,
            taste: TasteKind::Shifted,
            noise: Noise::default(),
        }
    }
}

/// Everything a simulation run starts from.
#[derive(Clone, Debug)]
pub struct World {
    /// The starting profile, built from the rendered references.
    pub profile: Profile,
    /// The simulated producer.
    pub producer: Producer,
    /// The producer's work-in-progress tracks, analysed.
    pub wip: Vec<FeatureVector>,
    /// The seed the world was built from.
    pub seed: u64,
}

fn sub_seed(seed: u64, tag: u64, i: u64) -> u64 {
    let mut r = SplitMix64::new(seed ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    for _ in 0..=(i % 7) {
        r.next_u64();
    }
    r.next_u64() ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03)
}

impl World {
    /// Renders and analyses references and work-in-progress tracks for `seed`.
    pub fn build(config: &WorldConfig, seed: u64) -> Result<World> {
        let refs: Vec<FeatureVector> = (0..config.references)
            .map(|i| {
                render_features(&jitter(
                    &reference_center(),
                    &REFERENCE_SPREAD,
                    sub_seed(seed, 1, i as u64),
                ))
            })
            .collect::<Result<_>>()?;
        let mut profile = crate::profile::profile_from_vectors("trance", &refs)?;
        profile.version = "trance_v1".into();
        let taste = config.taste.taste(&profile);
        let wip: Vec<FeatureVector> = (0..config.wip_tracks)
            .map(|i| {
                let mut fv = render_features(&jitter(
                    &reference_center(),
                    &WIP_SPREAD,
                    sub_seed(seed, 2, i as u64),
                ))?;
                for (f, z) in config.taste.shift_z() {
                    if let (Some(v), Some(st)) = (fv.value(f), profile.stats(f)) {
                        fv.set(f, v + z * st.std)?;
                    }
                }
                Ok(fv)
            })
            .collect::<Result<_>>()?;
        Ok(World {
            profile,
            producer: Producer {
                name: config.taste.name().into(),
                taste,
                noise: config.noise,
            },
            wip,
            seed,
        })
    }

    /// The world with a profile that already knows the producer's taste (the floor
    /// learning should approach): a taste model holding the producer's targets as known
    /// ([`LearnedTarget::certain`]), so that under `targets: learned` each feature's
    /// statistics move to the taste's target (range, quantiles, extremes and samples with
    /// it, the spread kept) and fixes aim at the target itself; and holding how much the
    /// producer cares about each feature as its weight (the profile's scale over the
    /// taste's tolerance, relative to their geometric mean over the features).
    pub fn oracle(&self) -> World {
        let mut profile = self.profile.clone();
        let mut taste = TasteModel::default();
        // ln(scale / tolerance) per feature: how much the producer cares, before
        // normalising to a geometric mean of 1.
        let mut care = Vec::new();
        for (f, target) in &self.producer.taste.target {
            let (Some(s), Some(tol)) = (
                profile.features.get(f.name()),
                self.producer.taste.tolerance.get(f),
            ) else {
                continue;
            };
            let scale = crate::gaps::scale(s);
            care.push((
                *f,
                LearnedTarget::certain(s.mean, scale, *target),
                (scale / tol).ln(),
            ));
        }
        let level = care.iter().map(|c| c.2).sum::<f64>() / care.len().max(1) as f64;
        for (f, mut t, ln_care) in care {
            t.weight = (ln_care - level).exp();
            taste.features.insert(f.name().to_owned(), t);
        }
        profile.taste = Some(taste);
        profile.version = format!("{}_oracle", profile.version);
        World {
            profile,
            ..self.clone()
        }
    }
}

/// A taste equal to `profile`: targets its means, tolerances its standard deviations
/// (floored at 1e-6 so a constant feature has a finite distance).
pub fn profile_taste(profile: &Profile) -> Taste {
    let mut target = BTreeMap::new();
    let mut tolerance = BTreeMap::new();
    for f in Feature::ALL {
        if let Some(s) = profile.stats(f) {
            target.insert(f, s.mean);
            tolerance.insert(f, s.std.max(1e-6));
        }
    }
    Taste { target, tolerance }
}

/// How the loop runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoopConfig {
    /// Rounds (round 0 uses the starting profile; each later round the refined one).
    pub rounds: usize,
    /// Sessions per round (work-in-progress tracks are reused in order).
    pub sessions_per_round: usize,
    /// The fix-generation policy.
    pub policy: Policy,
    /// Refinement options (the date is advanced by one day per round).
    pub refine: RefineOptions,
    /// How applying a fix moves the track's features.
    pub outcome: Outcome,
}

/// The outcome model of the loop (see [`crate::sim::producer`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Outcome {
    /// The fix's feature moves to its applied value, nothing else moves
    /// ([`crate::sim::producer::Producer::decide`]): the first model of the loop, kept to
    /// compare with (it ignores side effects, so a fix that hurts another feature the
    /// producer cares about is judged only by its own).
    FeatureOnly,
    /// Every feature moves by the fix stage's response model, side effects and repeated
    /// moves of one control included ([`crate::sim::producer::Producer::play`]); the
    /// model is checked against re-analysed renders (`tests/fix_response.rs`). The default.
    #[default]
    Response,
}

/// Most fixes one simulated session decides on when it proposes again after each decision.
const MAX_DECISIONS: usize = 24;

/// The fixes of one session, in the order a producer meets them.
///
/// Under the single-feature outcome: the list proposed for the track, one after another.
/// Under the response outcome, as in the plugin, whose analysis of its output changes after
/// every applied fix: while the producer keeps fixes the rest of the proposal is taken in
/// order; after a rejection or an undo the fixes are proposed again from the track as it
/// now is (the rest was computed with the skipped fix applied): the joint plan is solved
/// again with the levers already decided on this session held (a skipped fix's lever is not
/// proposed again, an applied one's move is in the track), independent fixes skip the
/// features already decided on.
struct Session<'a> {
    profile: &'a Profile,
    policy: &'a Policy,
    first: Option<std::vec::IntoIter<Fix>>,
    held: Vec<crate::fixes::plan::Lever>,
    decided: Vec<Feature>,
    count: usize,
    /// The rest of the last proposal, taken in order while the producer keeps fixes.
    pending: std::collections::VecDeque<Fix>,
    /// The last fix was rejected or undone: the rest of its proposal no longer fits.
    stale: bool,
}

impl<'a> Session<'a> {
    fn new(
        profile: &'a Profile,
        policy: &'a Policy,
        outcome: Outcome,
        report: &crate::gaps::GapReport,
    ) -> Result<Session<'a>> {
        let first = match outcome {
            Outcome::FeatureOnly => Some(propose(profile, report, policy)?.into_iter()),
            Outcome::Response => None,
        };
        Ok(Session {
            profile,
            policy,
            first,
            held: Vec::new(),
            decided: Vec::new(),
            count: 0,
            pending: Default::default(),
            stale: true,
        })
    }

    fn fix(&mut self, values: &BTreeMap<Feature, f64>) -> Result<Option<Fix>> {
        if let Some(list) = &mut self.first {
            return Ok(list.next());
        }
        if self.count >= MAX_DECISIONS {
            return Ok(None);
        }
        if self.stale || self.pending.is_empty() {
            let fv = super::producer::vector_of(values);
            let report = compare(self.profile, &fv);
            let fixes = match self.policy.plan {
                PlanMode::Joint => {
                    crate::fixes::plan::solve_without(
                        self.profile,
                        &report,
                        Some(&fv),
                        None,
                        self.policy,
                        &self.held,
                    )
                    .1
                }
                PlanMode::Independent => propose(self.profile, &report, self.policy)?,
            };
            self.pending = fixes.into();
            self.stale = false;
        }
        let fixes = std::mem::take(&mut self.pending);
        let mut rest = fixes.into_iter();
        let next = rest.by_ref().find(|f| {
            !self.decided.contains(&f.gap_feature)
                && crate::fixes::plan::Lever::all_of(f)
                    .iter()
                    .all(|l| !self.held.contains(l))
        });
        self.pending = rest.collect();
        if let Some(f) = &next {
            self.count += 1;
            if self.policy.plan == PlanMode::Joint {
                self.held.extend(crate::fixes::plan::Lever::all_of(f));
            } else {
                self.decided.push(f.gap_feature);
            }
        }
        Ok(next)
    }

    /// What the producer did with the last fix: a rejection or undo makes the rest of its
    /// proposal stale (it was computed with that fix applied).
    fn decided_on(&mut self, action: UserAction) {
        self.stale = matches!(action, UserAction::Reject | UserAction::Undo);
    }
}

/// The default: 4 rounds of 48 sessions, conservative targets, amount 1,
/// `min_confidence` 0.3 with confidence learned per (fix type, feature), independent fixes
/// (the loop the refinement was tuned on; the demo runs the joint plan beside it) and the
/// response outcome. With confidence per fix type only, the same threshold let rejections
/// of one band's EQ fixes lower the confidence shared by every band's EQ fixes until useful
/// ones disappeared too (mean |gap to taste| 0.660 → 0.866 over three refinements, against
/// 0.660 → 0.624 without a threshold); per feature it does not (0.660 → 0.636): the demo
/// prints the comparison.
impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            rounds: 4,
            sessions_per_round: 48,
            policy: Policy {
                target_strategy: TargetStrategy::Conservative,
                amount: 1.0,
                min_confidence: 0.3,
                plan: PlanMode::Independent,
                ..Policy::default()
            },
            refine: RefineOptions::new(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()),
            outcome: Outcome::Response,
        }
    }
}

/// One round of the learning curve.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundStats {
    /// Round number, from 0.
    pub round: usize,
    /// The profile version the round ran against.
    pub profile_version: String,
    /// Sessions run.
    pub sessions: usize,
    /// Fixes proposed.
    pub proposed: u64,
    /// Fixes accepted.
    pub accepted: u64,
    /// Fixes modified.
    pub modified: u64,
    /// Fixes rejected.
    pub rejected: u64,
    /// Fixes undone.
    pub undone: u64,
    /// accepted / proposed (0 without fixes).
    pub accept_rate: f64,
    /// undone / proposed (0 without fixes).
    pub undo_rate: f64,
    /// Mean |gap to taste| of the untouched tracks.
    pub gap_before: f64,
    /// Mean |gap to taste| after the kept fixes.
    pub gap_after: f64,
    /// Per-session |gap to taste| after the kept fixes.
    pub session_gaps: Vec<f64>,
    /// Per feature, the mean over sessions of its capped distance to taste after the kept
    /// fixes (where the gap after is made).
    pub feature_gaps: BTreeMap<Feature, f64>,
    /// Per feature a fix was for: fixes proposed and kept (accepted or modified).
    pub fixes_by_feature: BTreeMap<Feature, (u64, u64)>,
}

/// The result of [`run_loop`].
#[derive(Clone, Debug)]
pub struct LoopRun {
    /// The world's seed.
    pub seed: u64,
    /// The learning curve.
    pub rounds: Vec<RoundStats>,
    /// The refinements the lineage made after the rounds (one per round but the last,
    /// unless a round gave no feature enough events or changed nothing).
    pub refinements: Vec<RefineReport>,
    /// The seed-style summary of each round's events.
    pub summaries: Vec<Summary>,
    /// The profile each round used.
    pub profiles: Vec<Profile>,
}

fn capped_mean_distance(taste: &Taste, values: &BTreeMap<Feature, f64>) -> f64 {
    let d: Vec<f64> = values
        .iter()
        .filter_map(|(f, v)| taste.distance(*f, *v))
        .map(|d| d.min(GAP_CAP))
        .collect();
    if d.is_empty() {
        0.0
    } else {
        d.iter().sum::<f64>() / d.len() as f64
    }
}

fn push_err(e: crate::store::PushError) -> Error {
    Error::new(ErrorKind::Io, format!("simulated session: {e}"))
}

/// Runs `config.rounds` rounds of sessions in `world`. `log_dir` is the simulated
/// producer's home: every round's feedback goes to its log (`feedback/`) and, after every
/// round but the last, the profile learns through its lineage (`profiles/<name>/`,
/// [`crate::learn::Lineage`]) exactly as the plugin does after a session ends: refined from
/// the events of the version in force once a feature has the guard rail's minimum, the new
/// version put in force for the next round. A previous run's `feedback/` and `profiles/`
/// under `log_dir` are removed first, so a run never learns from another's events.
pub fn run_loop(world: &World, config: &LoopConfig, log_dir: &Path) -> Result<LoopRun> {
    let home = crate::home::Home::at(log_dir);
    let feedback = home.feedback_dir();
    for dir in [feedback.clone(), home.profiles_dir()] {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&dir, "remove", e)),
        }
    }
    let noon = |date: NaiveDate| date.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc();
    let lineage = Lineage::open(&home, &world.profile.name)?;
    let producer = &world.producer;
    let mut profile = lineage.adopt(&world.profile, noon(config.refine.date))?;
    let mut out = LoopRun {
        seed: world.seed,
        rounds: Vec::new(),
        refinements: Vec::new(),
        summaries: Vec::new(),
        profiles: Vec::new(),
    };
    for round in 0..config.rounds {
        let collector = Collector::open(&feedback, &StoreOptions::default())?;
        let session_prefix = format!("seed{}-round{round}-", world.seed);
        let mut stats = RoundStats {
            round,
            profile_version: profile.version.clone(),
            sessions: config.sessions_per_round,
            proposed: 0,
            accepted: 0,
            modified: 0,
            rejected: 0,
            undone: 0,
            accept_rate: 0.0,
            undo_rate: 0.0,
            gap_before: 0.0,
            gap_after: 0.0,
            session_gaps: Vec::new(),
            feature_gaps: BTreeMap::new(),
            fixes_by_feature: BTreeMap::new(),
        };
        let mut before_sum = 0.0;
        // The profile fixes are proposed against: the learned targets under the policy.
        let aimed = profile.aimed(config.policy.targets);
        for s in 0..config.sessions_per_round {
            let track = &world.wip[s % world.wip.len()];
            let mut rng = SplitMix64::new(sub_seed(world.seed, 10 + round as u64, s as u64));
            let report = compare(&aimed, track);
            collector.start_session(&SessionInfo {
                track_path: format!("wip/track{:02}.wav", s % world.wip.len()),
                session_id: format!("{session_prefix}session{s}"),
                profile_version: profile.version.clone(),
                ab: BTreeMap::new(),
                start_mean_abs_z: report.mean_abs_z(),
            })?;
            let mut values = values_of(track);
            before_sum += capped_mean_distance(&producer.taste, &values);
            let mut next = Session::new(&aimed, &config.policy, config.outcome, &report)?;
            while let Some(fix) = next.fix(&values)? {
                let f = fix.gap_feature;
                let current = values.get(&f).copied().unwrap_or(fix.current_value);
                let decision = match config.outcome {
                    Outcome::Response => producer.play(&fix, &mut values, &mut rng),
                    Outcome::FeatureOnly => {
                        let d = producer.decide(f, current, fix.new_value, &mut rng);
                        values.insert(f, d.final_value);
                        d
                    }
                };
                next.decided_on(decision.action);
                let id = crate::feedback::records::FixId::new(&fix.fix_id).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidInput,
                        format!("fix id {} is {} bytes", fix.fix_id, e.len_bytes),
                    )
                })?;
                let event = collector
                    .fix_applied(&AppliedFix {
                        fix_id: id,
                        feature: f,
                        fix_type: fix.action_type,
                        original_value: current,
                        target_value: fix.target_value,
                        applied_value: fix.new_value,
                        gap_before: fix.z_score,
                        was_applied: true,
                    })
                    .map_err(push_err)?;
                collector
                    .user_action(event, decision.action, decision.modified_value)
                    .map_err(push_err)?;
                stats.proposed += 1;
                let by = stats.fixes_by_feature.entry(f).or_default();
                by.0 += 1;
                by.1 += u64::from(matches!(
                    decision.action,
                    UserAction::Accept | UserAction::Modify
                ));
                match decision.action {
                    UserAction::Accept => stats.accepted += 1,
                    UserAction::Modify => stats.modified += 1,
                    UserAction::Reject => stats.rejected += 1,
                    UserAction::Undo => stats.undone += 1,
                }
                if let (Some(measured), UserAction::Accept | UserAction::Modify) =
                    (decision.measured_after, decision.action)
                {
                    if let Some(st) = aimed.stats(f) {
                        collector
                            .outcome(event, gap(f, st, measured).z)
                            .map_err(push_err)?;
                    }
                }
            }
            collector.session_saved().map_err(push_err)?;
            let g = capped_mean_distance(&producer.taste, &values);
            stats.session_gaps.push(g);
            for (f, v) in &values {
                if let Some(d) = producer.taste.distance(*f, *v) {
                    *stats.feature_gaps.entry(*f).or_insert(0.0) +=
                        d.min(GAP_CAP) / config.sessions_per_round.max(1) as f64;
                }
            }
        }
        collector.close()?;
        let n = config.sessions_per_round.max(1) as f64;
        let proposed = stats.proposed.max(1) as f64;
        stats.accept_rate = stats.accepted as f64 / proposed;
        stats.undo_rate = stats.undone as f64 / proposed;
        stats.gap_before = before_sum / n;
        stats.gap_after = stats.session_gaps.iter().sum::<f64>() / n;
        let events: Vec<FeedbackEvent> = read_events(&feedback)?
            .into_iter()
            .filter(|e| e.session_id.as_str().starts_with(&session_prefix))
            .collect();
        if !events.is_empty() {
            out.summaries.push(Summary::compute(
                &events,
                None,
                crate::feedback::Timestamp::now(),
            )?);
        }
        out.profiles.push(profile.clone());
        out.rounds.push(stats);
        if round + 1 < config.rounds {
            let date = config.refine.date + chrono::Days::new(round as u64);
            if let Learned::Refined { report, .. } =
                lineage.learn(&feedback, &config.refine, noon(date))?
            {
                out.refinements.push(*report);
                profile = lineage.current()?.ok_or_else(|| {
                    Error::new(ErrorKind::Corrupt, "the lineage lost its version in force")
                })?;
            }
        }
    }
    Ok(out)
}
