//! Simulation: a synthesiser of trance-like loops with controlled mix parameters.

pub mod synth;
