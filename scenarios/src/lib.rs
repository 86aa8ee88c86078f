//! `scenarios`: what-if engines on the CPU (flood reference solver, traffic assignment,
//! impacts) over a [`twin_core::Twin`].

#![warn(missing_docs)]

pub mod error;
pub mod flood;

pub use error::{Result, ScenarioError};
pub use twin_core;
