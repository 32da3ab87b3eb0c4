//! Simulation: a synthesiser of trance-like loops with controlled mix parameters, and the
//! seeded random generator the simulations use.

pub mod rng;
pub mod synth;
