//! A/B-test simulation: how often [`AbStatus`] recommends the treatment when the arms are
//! the same (A/A: the false-positive rate) and when they differ (power), with the status
//! looked at repeatedly while the test runs.
//!
//! Each run is a fresh test: sessions arrive one by one, each on a work-in-progress track
//! drawn from the [`World`], assigned to an arm by [`assign`]; fixes are proposed under the
//! arm's policy against the world's profile (once per track: the profile does not change
//! during a test) and decided by the world's producer, who hears each fix's whole change
//! through the response model ([`crate::sim::producer::Producer::play`]); events
//! are built in memory with their `ab` field (the closed loop goes through the on-disk
//! store; here thousands of tests are run, so the store is skipped). At every look the
//! status is computed from the events so far. Counted per run:
//! - **adopt**: `adopt_treatment` at any look (the decision a user would act on; before
//!   `end_date` it rests on the anytime-valid p-value);
//! - **anytime**: the anytime-valid p-value below 0.05 at any look;
//! - **naive**: the fixed-horizon session-level p-value below 0.05 at any look (what
//!   peeking at an ordinary t-test gives).

use crate::error::Result;
use crate::features::Feature;
use crate::feedback::{improvement_ratio, Arm, FeedbackEvent, Text, Timestamp, UserAction};
use crate::fixes::{propose, Policy};
use crate::gaps::{compare, gap};
use crate::learn::ab::{assign, AbRecommendation, AbStatus, AbTest, Metric};
use crate::rng::SplitMix64;
use crate::sim::closed_loop::World;
use crate::sim::producer::values_of;
use std::collections::BTreeMap;

/// How the A/B simulation runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AbSimConfig {
    /// Independent tests simulated.
    pub runs: usize,
    /// Sessions per test.
    pub sessions: usize,
    /// Evenly spaced looks at the status (the last at the final session).
    pub looks: usize,
    /// The test's `min_samples` (the seed's 50).
    pub min_samples: u64,
}

impl Default for AbSimConfig {
    fn default() -> Self {
        AbSimConfig {
            runs: 200,
            sessions: 120,
            looks: 5,
            min_samples: 50,
        }
    }
}

/// Rates over the runs of [`simulate_ab`].
#[derive(Clone, Debug)]
pub struct AbSimResult {
    /// Runs simulated.
    pub runs: usize,
    /// Sessions seen at each look.
    pub looks: Vec<usize>,
    /// Runs with `adopt_treatment` at any look.
    pub adopt: u64,
    /// Runs with the anytime-valid p-value < 0.05 at any look.
    pub anytime: u64,
    /// Runs with the fixed-horizon session-level p-value < 0.05 at any look.
    pub naive_any_look: u64,
    /// Runs with the fixed-horizon session-level p-value < 0.05 at the last look only.
    pub naive_final: u64,
    /// Mean events per arm at the last look.
    pub mean_events_per_arm: f64,
    /// The status of the first run at its last look (for display).
    pub example: Option<AbStatus>,
}

impl AbSimResult {
    /// `count / runs`.
    pub fn rate(&self, count: u64) -> f64 {
        count as f64 / self.runs.max(1) as f64
    }

    /// The binomial standard error of a rate `p` over the runs.
    pub fn standard_error(&self, p: f64) -> f64 {
        (p * (1.0 - p) / self.runs.max(1) as f64).sqrt()
    }
}

/// The test of the simulation: accept rate as the primary metric, open-ended.
pub fn sim_test(test_id: &str, control: Policy, treatment: Policy, min_samples: u64) -> AbTest {
    AbTest {
        test_id: test_id.into(),
        name: format!(
            "{} vs {}",
            control.target_strategy, treatment.target_strategy
        ),
        description: "simulated".into(),
        control,
        treatment,
        assignment_ratio: 0.5,
        start_date: Timestamp::from_micros(START_MICROS),
        end_date: None,
        min_samples,
        planned_sessions: None,
        primary_metric: Metric::AcceptRate,
        secondary_metrics: vec![Metric::ImprovementRatio, Metric::UndoRate],
        bandit: None,
    }
}

/// 2026-01-01T00:00:00Z.
const START_MICROS: i64 = 1_767_225_600_000_000;

/// The fixes proposed for each of the world's work-in-progress tracks under `policy`
/// (the profile does not change during an A/B simulation, so each track's proposal is
/// computed once).
pub fn proposals(world: &World, policy: &Policy) -> Result<Vec<Vec<crate::fixes::Fix>>> {
    world
        .wip
        .iter()
        .map(|track| {
            let profile = world.profile.aimed(policy.targets);
            propose(&profile, &compare(&profile, track), policy)
        })
        .collect()
}

/// The events of one simulated session with the fixes `proposals` holds for each track
/// ([`proposals`] of the session's policy; see the module docs).
pub fn session_events(
    world: &World,
    proposals: &[Vec<crate::fixes::Fix>],
    session_id: &str,
    ab: &BTreeMap<Text, Arm>,
    time_micros: i64,
    rng: &mut SplitMix64,
) -> Result<Vec<FeedbackEvent>> {
    let track_index = (rng.next_u64() % world.wip.len() as u64) as usize;
    let track = &world.wip[track_index];
    let profile = &world.profile;
    let mut values = values_of(track);
    let covariate = compare(profile, track).mean_abs_z();
    let mut out = Vec::new();
    let fixes = proposals.get(track_index).cloned().unwrap_or_default();
    for (i, fix) in fixes.into_iter().enumerate() {
        let f: Feature = fix.gap_feature;
        let current = values.get(&f).copied().unwrap_or(fix.current_value);
        let d = world.producer.play(&fix, &mut values, rng);
        let kept = matches!(d.action, UserAction::Accept | UserAction::Modify);
        let gap_after = d
            .measured_after
            .filter(|_| kept)
            .and_then(|m| profile.stats(f).map(|s| gap(f, s, m).z));
        out.push(FeedbackEvent {
            event_id: format!("{session_id}-{i}").into(),
            timestamp: Timestamp::from_micros(time_micros + i as i64),
            fix_id: fix.fix_id.as_str().into(),
            fix_type: fix.action_type,
            feature_name: f.name().into(),
            track_path: format!("wip/track{track_index:02}.wav").into(),
            session_id: session_id.into(),
            profile_version: profile.version.as_str().into(),
            original_value: current,
            target_value: fix.target_value,
            applied_value: fix.new_value,
            user_action: Some(d.action),
            was_applied: d.action != UserAction::Reject,
            was_undone: d.action == UserAction::Undo,
            gap_before: fix.z_score,
            gap_after,
            improvement_ratio: gap_after.map(|a| improvement_ratio(fix.z_score, a)),
            user_modified_value: d.modified_value,
            session_saved_after: true,
            track_bounced_after: false,
            notes: None,
            ab: ab.clone(),
            session_start_mean_abs_z: covariate,
        });
    }
    Ok(out)
}

/// Simulates `config.runs` tests of `control` against `treatment` in `world`.
pub fn simulate_ab(
    world: &World,
    control: Policy,
    treatment: Policy,
    config: &AbSimConfig,
    seed: u64,
) -> Result<AbSimResult> {
    let looks: Vec<usize> = (1..=config.looks.max(1))
        .map(|k| (config.sessions * k).div_ceil(config.looks.max(1)))
        .collect();
    let mut result = AbSimResult {
        runs: config.runs,
        looks: looks.clone(),
        adopt: 0,
        anytime: 0,
        naive_any_look: 0,
        naive_final: 0,
        mean_events_per_arm: 0.0,
        example: None,
    };
    let mut events_last = 0u64;
    let control_fixes = proposals(world, &control)?;
    let treatment_fixes = proposals(world, &treatment)?;
    for run in 0..config.runs {
        let test_id = format!("sim_{seed}_{run}");
        let test = sim_test(&test_id, control, treatment, config.min_samples);
        let mut rng = SplitMix64::new(seed ^ (run as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        let mut events = Vec::new();
        let (mut adopt, mut anytime, mut naive) = (false, false, false);
        let mut next_look = 0;
        for s in 0..config.sessions {
            let session_id = format!("s{s:04}");
            let arm = assign(&test, &session_id);
            let fixes = if arm == Arm::Treatment {
                &treatment_fixes
            } else {
                &control_fixes
            };
            let ab = BTreeMap::from([(Text::from(test_id.as_str()), arm)]);
            let t = START_MICROS + (s as i64 + 1) * 60_000_000;
            events.extend(session_events(world, fixes, &session_id, &ab, t, &mut rng)?);
            if next_look < looks.len() && s + 1 == looks[next_look] {
                next_look += 1;
                let now = Timestamp::from_micros(t + 30_000_000);
                let status = AbStatus::compute(&test, &events, now)?;
                adopt |= status.recommendation == AbRecommendation::AdoptTreatment;
                anytime |= status.anytime.p_value.is_some_and(|p| p < 0.05);
                let naive_now = status.sessions.p_value.is_some_and(|p| p < 0.05);
                naive |= naive_now;
                if next_look == looks.len() {
                    result.naive_final += u64::from(naive_now);
                    events_last += status.events.control.n + status.events.treatment.n;
                    if run == 0 {
                        result.example = Some(status);
                    }
                }
            }
        }
        result.adopt += u64::from(adopt);
        result.anytime += u64::from(anytime);
        result.naive_any_look += u64::from(naive);
    }
    result.mean_events_per_arm = events_last as f64 / (2.0 * config.runs.max(1) as f64);
    Ok(result)
}
