//! Simulation: a synthesiser of trance-like loops with controlled mix parameters, simulated
//! producers with a hidden taste, the closed learning loop over rounds, A/B-test
//! simulations and the HTML report of `fixloop demo`.

pub mod ab_power;
pub mod ab_sim;
pub mod closed_loop;
pub mod demo;
pub mod producer;
pub mod producers;
pub mod report;
pub mod synth;
