//! The fix stage's signal processing: biquad filters, mid/side width and the stage that
//! chains them behind the output gain. Plain Rust, no plugin framework types, so every
//! piece is tested on its own.
//!
//! # Real-time safety
//!
//! Nothing in this module allocates, locks or blocks after construction.

pub mod biquad;
pub mod fix_stage;
pub mod mid_side;

pub use biquad::{Biquad, Coefficients, FilterShape};
pub use fix_stage::{BandLayout, FixSettings, FixStage, BAND_COUNT};
