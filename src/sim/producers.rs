//! Many simulated producers, for pooling: each one's feedback as its own event set, with
//! the A/B assignments of tests that run across all of them.
//!
//! Every producer works in the same [`World`] (profile and tracks) but decides with their
//! own random stream, and every session is assigned by [`assign`] to each test, as in a
//! real deployment where the tests are shipped to everyone. The fixes come from the
//! first test's arm policy (the others are A/A tests: their arms propose the same fixes).

use crate::error::Result;
use crate::feedback::{Arm, FeedbackEvent, Text};
use crate::learn::ab::{assign, AbTest};
use crate::rng::SplitMix64;
use crate::sim::ab_sim::{proposals, session_events};
use crate::sim::closed_loop::World;
use std::collections::BTreeMap;

/// How many producers and sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducersConfig {
    /// Producers simulated.
    pub producers: usize,
    /// Sessions per producer.
    pub sessions: usize,
}

/// The events of each producer (index = producer), sessions one minute apart from the
/// first test's `start_date`, producers interleaved in time. Session ids are unique across
/// producers (`p{producer}-s{session}`).
pub fn simulate_producers(
    world: &World,
    tests: &[AbTest],
    config: &ProducersConfig,
    seed: u64,
) -> Result<Vec<Vec<FeedbackEvent>>> {
    let first = tests.first();
    let fixes = match first {
        Some(t) => [
            proposals(world, &t.control)?,
            proposals(world, &t.treatment)?,
        ],
        None => {
            let p = proposals(world, &crate::fixes::Policy::default())?;
            [p.clone(), p]
        }
    };
    let start = first.map_or(0, |t| t.start_date.as_micros());
    (0..config.producers)
        .map(|p| {
            let mut rng =
                SplitMix64::new(seed ^ (p as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut events = Vec::new();
            for s in 0..config.sessions {
                let session_id = format!("p{p:04}-s{s:05}");
                let ab: BTreeMap<Text, Arm> = tests
                    .iter()
                    .map(|t| (Text::from(t.test_id.as_str()), assign(t, &session_id)))
                    .collect();
                let arm = first.map_or(Arm::Control, |t| ab[t.test_id.as_str()]);
                let t = start + ((s * config.producers + p) as i64 + 1) * 60_000_000;
                let proposals = &fixes[usize::from(arm == Arm::Treatment)];
                events.extend(session_events(
                    world,
                    proposals,
                    &session_id,
                    &ab,
                    t,
                    &mut rng,
                )?);
            }
            Ok(events)
        })
        .collect()
}
