//! # fixloop
//!
//! Reference-track profiles, mix gaps and prescriptive fixes, and a feedback loop that
//! learns which fixes work.
//!
//! ```text
//! audio ──► features ──► gaps/score ──► fixes ──► (user) ──► feedback records
//!  (plugin,    (RT-safe     (pure)       (pure,               │ collector: RT-safe push
//!   or files)   analyser)                 policy)             ▼
//!                                                       writer thread ──► segment log on disk
//!                                                                             │ reader (recovery, merge)
//!                                        refined profile ◄── learning ◄───────┘ (effectiveness,
//!                                                                                confidence, A/B)
//! ```
//!
//! The modules follow the picture, each concept with one owner, no import cycle:
//!
//! - [`dsp`]: the one biquad, the analysis bands, the crossover, mid/side width and the
//!   fix stage (what the plugin runs on the audio thread).
//! - [`features`]: the catalogue of feature names, units and default fix types, the
//!   [`FeatureVector`](features::FeatureVector) of one track and the real-time
//!   [`Analyser`](features::Analyser) that measures it; with cargo feature `decode`,
//!   analysis of audio files and folders.
//! - [`profile`]: the `fixloop.profile/1` model, validation, JSON I/O, the
//!   [`bundled`](profile::bundled) default, building from references and merging new ones.
//! - [`gaps`]: z-scores, in-range flags and the 0–100 score.
//! - [`fixes`]: the fix-generation policy and prescriptive fixes, and the fix model both
//!   ways (a setting and the feature value it aims for; the control of the fix stage a
//!   fix moves).
//! - [`analysis`]: one track against a profile, the `analyze` document and report.
//! - [`feedback`]: the seed's feedback event, the lifecycle record vocabulary, the fold
//!   of records into events, [`Outcomes`](feedback::Outcomes) (what every learner reads)
//!   and the JSON-lines interchange.
//! - [`store`]: the real-time collector, writer thread, crash-safe segment log and its
//!   reader; [`load_feedback`](store::load_feedback) is the one way to read feedback.
//! - [`learn`]: effectiveness, confidence, profile refinement and A/B tests, computed from
//!   statistics that merge exactly across logs ([`learn::mergeable`]).
//! - `pool` (cargo feature `parquet`, on with `cli`): pooling across producers — the
//!   Parquet export with a pseudonymous producer id and hashed track paths, and the
//!   per-session A/B table an engine computed with `sql/`.
//! - [`ffi`]: the C ABI (`include/fixloop.h`).
//! - `sim` (cargo feature `sim`, on with `cli`): a synthesiser of trance-like loops, the
//!   simulations of `fixloop demo` and their report.
//! - [`rng`]: the seeded generator and stable hashes everything random or hashed uses.
//! - [`home`]: the fixloop home directory and its layout.
//!
//! ## Real-time safety
//!
//! Functions that may run on an audio thread say so in a `# Real-time safety` section of
//! their docs: the analyser's `process`/`reset` ([`features::Analyser`]) and the collector's
//! record functions ([`store::Collector`]) never allocate, lock, make system calls or wait,
//! and neither does the fix stage ([`dsp::FixStage`]). The collector's queue item is a
//! `Copy` type, so no heap data can travel the real-time path. The real-time part imports
//! nothing from the offline part (log reader, learning, CLI).
//! Everything else may allocate, lock and do I/O.
//!
//! ## Errors
//!
//! Every fallible non-real-time function returns [`Error`], whose message names the file,
//! field and value at fault.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod analysis;
pub mod dsp;
pub mod error;
pub mod features;
pub mod feedback;
pub mod ffi;
pub mod fixes;
pub mod gaps;
pub mod home;
mod json;
pub mod learn;
#[cfg(feature = "parquet")]
pub mod pool;
pub mod profile;
pub mod rng;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;

pub use error::{Error, ErrorKind, Result};
