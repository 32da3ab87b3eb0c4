//! Features: the catalogue of names and units, and the feature vector of one track.

mod catalogue;
mod vector;

pub use catalogue::{Band, Direction, Feature, FixType, Unit};
pub use vector::{Absent, FeatureVector, Measurement};
