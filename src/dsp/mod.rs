//! Signal processing shared by the analyser and the plugin: the one biquad
//! implementation, the analyser's Linkwitz–Riley crossover, mid/side width, and the fix
//! stage that chains band filters, width and output gain (what the plugin runs on the
//! audio thread and what C/C++ hosts can run too). Plain Rust, no plugin framework types,
//! so every piece is tested on its own.
//!
//! # Real-time safety
//!
//! Nothing in this module allocates, locks or blocks after construction.

pub mod bands;
pub mod biquad;
pub mod crossover;
pub mod fix_stage;
pub mod mid_side;
pub mod subnormal;

pub use bands::{Band, BANDS, BAND_COUNT};
pub use biquad::{Biquad, Coefficients, FilterShape};
pub use fix_stage::{BandLayout, FixSettings, FixStage};
pub use subnormal::{flush_subnormal, flush_subnormals};
